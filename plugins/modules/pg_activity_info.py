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
extends_documentation_fragment:
  - usdx.incident.connection
  - usdx.incident.connection.postgres
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module only reads; check mode changes nothing about what it does.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
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
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerError, docker_argument_spec
from ansible_collections.usdx.incident.plugins.module_utils._postgres import (
    PostgresError,
    PostgresQuery,
    postgres_argument_spec,
)

# Every row is about client connections other than this module's own session.
ACTIVITY_SQL = """
WITH c AS (
  SELECT pid, usename, datname, application_name, client_addr, state, wait_event_type, wait_event,
         xact_start, query_start, state_change, query
  FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
)
SELECT json_build_object(
  'server_version', current_setting('server_version'),
  'max_connections', current_setting('max_connections')::int,
  'superuser_reserved_connections', current_setting('superuser_reserved_connections')::int
      + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int,
  'total', (SELECT count(*) FROM c),
  'by_state', (SELECT coalesce(json_object_agg(k, n), '{{}}'::json)
               FROM (SELECT coalesce(state, 'unknown') AS k, count(*) AS n FROM c GROUP BY 1) x),
  'by_user', (SELECT coalesce(json_object_agg(k, n), '{{}}'::json)
              FROM (SELECT coalesce(usename::text, '') AS k, count(*) AS n FROM c GROUP BY 1) x),
  'by_database', (SELECT coalesce(json_object_agg(k, n), '{{}}'::json)
                  FROM (SELECT coalesce(datname::text, '') AS k, count(*) AS n FROM c GROUP BY 1) x),
  'by_application', (SELECT coalesce(json_object_agg(k, n), '{{}}'::json)
                     FROM (SELECT coalesce(application_name, '') AS k, count(*) AS n FROM c GROUP BY 1) x),
  'role_limits', (SELECT coalesce(json_agg(x ORDER BY x."user"), '[]'::json) FROM (
      SELECT r.rolname::text AS "user", r.rolconnlimit AS "limit",
             (SELECT count(*) FROM c WHERE c.usename = r.rolname) AS connections
      FROM pg_roles r WHERE r.rolconnlimit >= 0) x),
  'idle_connections', (SELECT coalesce(json_agg(x ORDER BY x.idle_seconds DESC), '[]'::json) FROM (
      SELECT pid, usename AS "user", datname AS database, application_name AS application,
             host(client_addr) AS client_addr,
             round(extract(epoch FROM clock_timestamp() - state_change)::numeric, 1)::float AS idle_seconds
      FROM c WHERE state = 'idle' AND state_change < clock_timestamp() - make_interval(secs => {idle_threshold})) x),
  'idle_in_transaction', (SELECT coalesce(json_agg(x ORDER BY x.xact_age_seconds DESC), '[]'::json) FROM (
      SELECT pid, usename AS "user", datname AS database, application_name AS application,
             host(client_addr) AS client_addr, state,
             round(extract(epoch FROM clock_timestamp() - xact_start)::numeric, 1)::float AS xact_age_seconds,
             round(extract(epoch FROM clock_timestamp() - state_change)::numeric, 1)::float AS idle_seconds,
             left(query, {max_query_length}) AS query
      FROM c WHERE state LIKE 'idle in transaction%') x),
  'active_queries', (SELECT coalesce(json_agg(x ORDER BY x.duration_seconds DESC), '[]'::json) FROM (
      SELECT pid, usename AS "user", datname AS database, application_name AS application,
             host(client_addr) AS client_addr,
             round(extract(epoch FROM clock_timestamp() - query_start)::numeric, 1)::float AS duration_seconds,
             wait_event_type, wait_event, left(query, {max_query_length}) AS query
      FROM c WHERE state = 'active' ORDER BY query_start LIMIT {active_limit}) x),
  'waiting_locks', (SELECT coalesce(json_agg(x ORDER BY x.wait_seconds DESC, x.pid), '[]'::json) FROM (
      SELECT l.pid, l.locktype, l.mode,
             CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation,
             a.usename AS "user", a.datname AS database,
             round(extract(epoch FROM clock_timestamp() - coalesce(a.state_change, a.query_start))::numeric, 1)::float AS wait_seconds,
             to_json(pg_blocking_pids(l.pid)) AS blocking_pids,
             left(a.query, {max_query_length}) AS query
      FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE NOT l.granted AND l.pid <> pg_backend_pid()) x)
)::text
"""

LIMITS = {
    "idle_threshold": (0, 10 * 365 * 86400),
    "active_limit": (1, 100),
    "max_query_length": (1, 10000),
}


def activity_sql(idle_threshold: int, active_limit: int, max_query_length: int) -> str:
    """The diagnostic query; the options are integers checked by the argument spec and bounds."""
    return ACTIVITY_SQL.format(
        idle_threshold=int(idle_threshold), active_limit=int(active_limit), max_query_length=int(max_query_length)
    )


def summarize(doc: dict) -> dict:
    """Module results from the query's JSON document."""
    max_connections = int(doc["max_connections"])
    reserved = int(doc["superuser_reserved_connections"])
    total = int(doc["total"])
    role_limits = [
        {
            "user": row["user"],
            "limit": int(row["limit"]),
            "connections": int(row["connections"]),
            "at_limit": int(row["connections"]) >= int(row["limit"]),
            "use_percent": round(100.0 * int(row["connections"]) / int(row["limit"]), 1) if int(row["limit"]) else 100.0,
        }
        for row in doc.get("role_limits") or []
    ]
    available = max(0, max_connections - reserved - total)
    waiting = doc.get("waiting_locks") or []
    for lock in waiting:
        lock["blocking_pids"] = sorted(int(p) for p in lock.get("blocking_pids") or [])
    return {
        "is_available": True,
        "exhausted": available == 0 or any(r["at_limit"] for r in role_limits),
        "server_version": doc["server_version"],
        "max_connections": max_connections,
        "superuser_reserved_connections": reserved,
        "available_connections": available,
        "use_percent": round(100.0 * total / max_connections, 1) if max_connections else 0.0,
        "connections": {
            "total": total,
            "by_state": doc.get("by_state") or {},
            "by_user": doc.get("by_user") or {},
            "by_database": doc.get("by_database") or {},
            "by_application": doc.get("by_application") or {},
        },
        "role_limits": role_limits,
        "idle_connections": doc.get("idle_connections") or [],
        "idle_in_transaction": doc.get("idle_in_transaction") or [],
        "active_queries": doc.get("active_queries") or [],
        "waiting_locks": waiting,
        "blocking_pids": sorted({pid for lock in waiting for pid in lock["blocking_pids"]}),
    }


class PgActivity:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params

    def check_bounds(self) -> None:
        for name, (low, high) in LIMITS.items():
            value = self.params[name]
            if not low <= value <= high:
                self.module.fail_json(msg=f"{name}={value} is out of range: accepted values are {low} to {high}")

    def run(self) -> dict:
        self.check_bounds()
        sql = activity_sql(self.params["idle_threshold"], self.params["active_limit"], self.params["max_query_length"])
        result: dict = {"changed": False, "connect_via": self.params["connect_via"]}
        try:
            doc = PostgresQuery(self.module).query_json(sql)
        except PostgresError as exc:
            if not exc.unavailable:
                raise
            # The broken thing is the answer: report it instead of failing.
            result.update(is_available=False, exhausted=exc.exhausted, error=str(exc))
            return result
        result.update(summarize(doc))
        return result


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(postgres_argument_spec())
    argument_spec.update(
        idle_threshold={"type": "int", "default": 300},
        active_limit={"type": "int", "default": 10},
        max_query_length={"type": "int", "default": 1000},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = PgActivity(module).run()
    except (PostgresError, DockerError) as exc:
        module.fail_json(msg=f"pg_activity_info: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
