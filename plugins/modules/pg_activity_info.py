#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_activity_info
short_description: Report PostgreSQL connections, idle sessions, long queries and lock waits
version_added: 0.1.0
description:
  - Answers the runbook's Diagnose step (C(pg_stat_activity), C(pg_locks)) and its
    "Database Connection Exhausted" scenario in one read-only query.
  - Counts client connections in total and by state, user, database and application, and relates
    them to C(max_connections) and C(superuser_reserved_connections).
  - Lists idle connections older than O(idle_threshold), sessions idle in a transaction, the longest
    running active queries and every lock that is waited for, with the sessions blocking it
    (C(pg_blocking_pids())).
  - Connects as a superuser by default, so the slots reserved for superusers let it answer even when
    the server refuses ordinary clients. When even that fails it reports RV(is_available=false) with the
    server's error and RV(exhausted=true) when the error says the connection slots are used up; it does not fail.
  - A server that does not answer is reported the same way, in bounded time. The connection is given up after
    O(connect_timeout), the query after the server's 15 second C(statement_timeout) and, for a server that stops
    answering altogether, two seconds later on the client side (then RV(timed_out=true)).
  - Query texts and application names are data from the database clients; they are returned as plain
    strings, truncated to O(max_query_length) characters.
  - The module never changes anything; C(changed) is always V(false).
options:
  idle_threshold:
    description:
      - Connections idle for more than this many seconds are listed in RV(idle_connections).
      - The runbook terminates idle connections older than five minutes.
    type: int
    default: 300
  active_limit:
    description:
      - How many of the longest-running active queries to list in RV(active_queries), 1 to 100.
    type: int
    default: 10
  max_query_length:
    description:
      - Query texts are cut to this many characters, 1 to 10000.
    type: int
    default: 1000
  list_sessions:
    description:
      - Also return RV(session_list) - every backend with what a decision to terminate it needs, the settings that
        bound C(max_connections) by memory, and the connection limit of O(app_user) - read in the same statement as
        the counts, so that one module run answers both.
    type: bool
    default: false
    version_added: 0.2.0
  app_user:
    description:
      - The application's login role, whose C(CONNECTION LIMIT) RV(session_list.role_connection_limit) reports.
      - Sent to the server hex-encoded, never spliced into the SQL as text.
    type: str
    version_added: 0.2.0
extends_documentation_fragment:
  - usdx.incident.attributes
  - usdx.incident.connection
  - usdx.incident.connection.postgres
notes:
  - With O(connect_via=container) the module runs C(docker exec --user postgres <db container> psql -X -A -t),
    relying on the container trusting local socket connections, as the runbook's
    C(docker-compose exec db psql) does. O(login_password) is then handed to C(psql) through the environment,
    never on a command line.
  - Connection counts leave out the module's own session and server background processes.
requirements:
  - psycopg2 on the target host, with O(connect_via=tcp).
seealso:
  - module: community.postgresql.postgresql_ping
  - module: community.postgresql.postgresql_info
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: Who holds the database connections (over the published port)
  usdx.incident.pg_activity_info:
    login_host: 127.0.0.1
    login_port: 55432
    login_user: postgres
    login_password: "{{ vault_db_superuser_password }}"
  register: pg

- name: The same through the db container, like docker-compose exec db psql
  usdx.incident.pg_activity_info:
    connect_via: container
    project_name: usdx-wexel
    db_service: db
    idle_threshold: 300
  register: pg

- name: Every session and the application role's limit, for a decision to terminate some
  usdx.incident.pg_activity_info:
    login_host: 127.0.0.1
    login_port: 55432
    login_password: "{{ vault_db_superuser_password }}"
    list_sessions: true
    app_user: usdx
  register: pg

- name: Stop when the database is out of connection slots
  ansible.builtin.assert:
    that:
      - pg.is_available
      - not pg.exhausted
    fail_msg: >-
      {{ pg.connections.total | default('?') }} of {{ pg.max_connections | default('?') }} connections in use,
      {{ pg.idle_connections | default([]) | length }} idle for more than 5 minutes
"""

RETURN = r"""
is_available:
  description: Whether the module could connect and query the server.
  returned: always
  type: bool
  sample: true
exhausted:
  description:
    - Whether ordinary clients are out of connection slots.
    - When connected, V(true) when the client connections fill every slot not reserved for superusers,
      or when a role has reached its connection limit (RV(role_limits)).
    - When the connection failed, V(true) when the server's error says so (C(too many clients),
      C(too many connections), C(remaining connection slots are reserved)).
  returned: always
  type: bool
  sample: false
error:
  description: Why the server could not be queried; the password never appears in it.
  returned: when RV(is_available=false)
  type: str
  sample: "connection to server at \"127.0.0.1\", port 55432 failed: FATAL:  sorry, too many clients already"
timed_out:
  description: Whether the connection or the query was given up at its deadline (the server did not answer).
  returned: when RV(is_available=false)
  type: bool
  sample: false
connect_via:
  description: The access path used, O(connect_via).
  returned: always
  type: str
  sample: tcp
server_version:
  description: The server's C(server_version) setting.
  returned: when RV(is_available=true)
  type: str
  sample: "15.10 (Debian 15.10-0+deb12u1)"
max_connections:
  description: The server's C(max_connections).
  returned: when RV(is_available=true)
  type: int
  sample: 20
superuser_reserved_connections:
  description: Slots kept for superusers, C(superuser_reserved_connections) (plus C(reserved_connections) on PostgreSQL 16 and later).
  returned: when RV(is_available=true)
  type: int
  sample: 3
available_connections:
  description: Slots still free for ordinary clients, never below 0.
  returned: when RV(is_available=true)
  type: int
  sample: 12
use_percent:
  description: Client connections as a percentage of C(max_connections), one decimal.
  returned: when RV(is_available=true)
  type: float
  sample: 25.0
connections:
  description: Client connections (not background processes, not this module's session).
  returned: when RV(is_available=true)
  type: dict
  contains:
    total:
      description: Number of client connections.
      type: int
      sample: 5
    by_state:
      description: Connections by C(state) (C(active), C(idle), C(idle in transaction), ...).
      type: dict
      sample: {"active": 1, "idle": 3, "idle in transaction": 1}
    by_user:
      description: Connections by role name.
      type: dict
      sample: {"usdx": 5}
    by_database:
      description: Connections by database name.
      type: dict
      sample: {"usdx_wexel": 5}
    by_application:
      description: Connections by C(application_name) (empty string when unset).
      type: dict
      sample: {"indexer": 4, "": 1}
  sample: {"total": 5, "by_state": {"idle": 5}, "by_user": {"usdx": 5}, "by_database": {"usdx_wexel": 5}, "by_application": {"": 5}}
role_limits:
  description:
    - Roles with a connection limit (C(CONNECTION LIMIT)), their client connections, whether the limit is
      reached and the connections as a percentage of the limit (V(100.0) for a limit of 0).
  returned: when RV(is_available=true)
  type: list
  elements: dict
  sample: [{"user": "usdx", "limit": 15, "connections": 15, "at_limit": true, "use_percent": 100.0}]
idle_connections:
  description: Connections idle for more than O(idle_threshold) seconds, the longest idle first.
  returned: when RV(is_available=true)
  type: list
  elements: dict
  sample: [{"pid": 4242, "user": "usdx", "database": "usdx_wexel", "application": "indexer",
            "client_addr": "172.18.0.5", "idle_seconds": 612.4}]
idle_in_transaction:
  description:
    - Sessions idle inside an open transaction (they hold their locks), the oldest transaction first.
    - Each entry's C(query) is the last statement the session ran.
  returned: when RV(is_available=true)
  type: list
  elements: dict
  sample: [{"pid": 4243, "user": "usdx", "database": "usdx_wexel", "application": "", "client_addr": null,
            "state": "idle in transaction", "xact_age_seconds": 95.1, "idle_seconds": 95.0,
            "query": "SELECT * FROM blocks WHERE number = 1 FOR UPDATE"}]
active_queries:
  description: The O(active_limit) longest-running active queries, the longest first.
  returned: when RV(is_available=true)
  type: list
  elements: dict
  sample: [{"pid": 4244, "user": "usdx", "database": "usdx_wexel", "application": "", "client_addr": null,
            "duration_seconds": 93.2, "wait_event_type": "Lock", "wait_event": "transactionid",
            "query": "UPDATE blocks SET hash = hash WHERE number = 1"}]
waiting_locks:
  description: Locks requested but not granted (C(pg_locks) with C(NOT granted)), with the sessions blocking them.
  returned: when RV(is_available=true)
  type: list
  elements: dict
  sample: [{"pid": 4244, "locktype": "transactionid", "mode": "ShareLock", "relation": null,
            "user": "usdx", "database": "usdx_wexel", "wait_seconds": 93.2, "blocking_pids": [4243],
            "query": "UPDATE blocks SET hash = hash WHERE number = 1"}]
blocking_pids:
  description: Every session that blocks another, sorted.
  returned: when RV(is_available=true)
  type: list
  elements: int
  sample: [4243]
session_list:
  description: Every backend and the settings a decision to terminate sessions or to raise C(max_connections) needs.
  returned: when O(list_sessions=true) and RV(is_available=true)
  type: dict
  version_added: 0.2.0
  contains:
    settings:
      description:
        - C(max_connections), C(reserved_connections) (C(superuser_reserved_connections) plus C(reserved_connections)
          on PostgreSQL 16 and later), C(work_mem_bytes) and C(shared_buffers_bytes).
      type: dict
      sample: {"max_connections": 20, "reserved_connections": 3, "work_mem_bytes": 4194304, "shared_buffers_bytes": 134217728}
    role_connection_limit:
      description: C(CONNECTION LIMIT) of O(app_user) (V(-1) for none), V(null) without O(app_user) or when it does not exist.
      type: int
      sample: 15
    sessions:
      description:
        - Every backend, this module's own session included (C(own=true)), by pid. C(superuser) and C(replication)
          are V(true) when the role is unknown. C(idle_seconds) is the age of the current C(state).
      type: list
      elements: dict
      sample: [{"pid": 4242, "user": "usdx", "database": "usdx_wexel", "application": "usdx-reconciler",
                "client_addr": "127.0.0.1", "state": "idle", "backend_type": "client backend", "superuser": false,
                "replication": false, "own": false, "idle_seconds": 612.4}]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerError, docker_argument_spec
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._pg_activity import PgActivity
from ansible_collections.usdx.incident.plugins.module_utils._postgres import PostgresError, postgres_argument_spec


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(postgres_argument_spec())
    argument_spec.update(
        idle_threshold={"type": "int", "default": 300},
        active_limit={"type": "int", "default": 10},
        max_query_length={"type": "int", "default": 1000},
        list_sessions={"type": "bool", "default": False},
        app_user={"type": "str"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = PgActivity(module, module.params).run()
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    except (PostgresError, DockerError) as exc:
        module.fail_json(msg=f"pg_activity_info: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
