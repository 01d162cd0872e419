# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.pg_activity_info (and of triage_info's C(postgres) check)."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._postgres import PostgresError, PostgresQuery

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
      FROM pg_roles r WHERE r.rolcanlogin AND r.rolconnlimit > 0) x),
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
      WHERE NOT l.granted AND l.pid <> pg_backend_pid()) x){session_list}
)::text
"""

# With list_sessions: every backend (this module's own session marked C(own)) with what a decision to terminate it
# needs, the settings that bound max_connections by memory, and the CONNECTION LIMIT of the application role. Read in
# the same statement as the counts, so both describe one moment. Superuser/replication: unknown counts as yes.
SESSION_LIST_SQL = """,
  'session_list', json_build_object(
    'settings', json_build_object(
      'max_connections', current_setting('max_connections')::int,
      'reserved_connections', current_setting('superuser_reserved_connections')::int
          + coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int,
      'work_mem_bytes', pg_size_bytes(current_setting('work_mem')),
      'shared_buffers_bytes', pg_size_bytes(current_setting('shared_buffers'))),
    'role_connection_limit', (SELECT rolconnlimit FROM pg_roles WHERE rolname = {app_user}),
    'sessions', (SELECT coalesce(json_agg(json_build_object(
        'pid', a.pid, 'user', a.usename, 'database', a.datname, 'application', a.application_name,
        'client_addr', host(a.client_addr), 'state', a.state, 'backend_type', a.backend_type,
        'superuser', coalesce(r.rolsuper, a.usesysid IS NOT NULL),
        'replication', coalesce(r.rolreplication, a.usesysid IS NOT NULL),
        'own', a.pid = pg_backend_pid(),
        'idle_seconds', round(extract(epoch FROM clock_timestamp() - a.state_change)::numeric, 1))
        ORDER BY a.pid), '[]'::json)
      FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid))"""

LIMITS = {
    "idle_threshold": (0, 10 * 365 * 86400),
    "active_limit": (1, 100),
    "max_query_length": (1, 10000),
}


def text_literal(value: str) -> str:
    """A SQL expression for the text O(value) that no content can break out of (hex, decoded by the server)."""
    return f"convert_from(decode('{value.encode('utf-8').hex()}', 'hex'), 'UTF8')"


def activity_sql(idle_threshold: int, active_limit: int, max_query_length: int, list_sessions: bool = False,
                 app_user: str | None = None) -> str:
    """The diagnostic query; the options are integers checked by the argument spec and bounds, and the role name
    (O(app_user)) is embedded as hex (L(text_literal)), so the same SQL runs over TCP and through psql."""
    session_list = ""
    if list_sessions:
        session_list = SESSION_LIST_SQL.format(app_user="NULL" if app_user is None else text_literal(app_user))
    return ACTIVITY_SQL.format(
        idle_threshold=int(idle_threshold), active_limit=int(active_limit), max_query_length=int(max_query_length),
        session_list=session_list,
    )


def summarize(doc: dict[str, t.Any]) -> dict[str, t.Any]:
    """Module results from the query's JSON document."""
    max_connections = int(doc["max_connections"])
    reserved = int(doc["superuser_reserved_connections"])
    total = int(doc["total"])
    # Only a role that can log in and has a positive limit can be "at its limit": CONNECTION LIMIT 0 (or NOLOGIN)
    # is how a role is retired, not a pool that filled up. The query keeps only those; documents recorded from the
    # query before it did list limit 0 too.
    role_limits = [
        {
            "user": row["user"],
            "limit": int(row["limit"]),
            "connections": int(row["connections"]),
            "at_limit": int(row["connections"]) >= int(row["limit"]),
            "use_percent": round(100.0 * int(row["connections"]) / int(row["limit"]), 1),
        }
        for row in doc.get("role_limits") or []
        if int(row["limit"]) > 0
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
        **({"session_list": doc["session_list"]} if "session_list" in doc else {}),
    }


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    for name, (low, high) in LIMITS.items():
        value = params[name]
        if not low <= value <= high:
            raise OptionError(f"{name}={value} is out of range: accepted values are {low} to {high}", option=name)
    app_user = params.get("app_user")
    if app_user is not None and (not app_user or "\x00" in app_user):
        raise OptionError(f"app_user={app_user!r} is not a role name: accepted values are non-empty strings without NUL", option="app_user")


class PgActivity:
    """Connections, idle sessions, long queries and lock waits of a PostgreSQL server.

    O(params) holds the options of the C(connection) and C(connection.postgres) doc fragments and
    C(idle_threshold), C(active_limit), C(max_query_length), and may hold C(list_sessions) and C(app_user)
    (triage_info's check does not). run() raises OptionError for a bad option, and PostgresError (a failed query) or
    DockerError; an unreachable server is a result, not an exception.
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params

    def run(self) -> dict[str, t.Any]:
        validate(self.params)
        sql = activity_sql(self.params["idle_threshold"], self.params["active_limit"], self.params["max_query_length"],
                           list_sessions=bool(self.params.get("list_sessions")), app_user=self.params.get("app_user"))
        result: dict[str, t.Any] = {"changed": False, "connect_via": self.params["connect_via"]}
        try:
            doc = PostgresQuery(self.module, self.params).query_json(sql)
        except PostgresError as exc:
            if not exc.unavailable:
                raise
            # The broken thing is the answer: report it instead of failing.
            result.update(is_available=False, exhausted=exc.exhausted, error=str(exc), timed_out=exc.timed_out)
            return result
        result.update(summarize(doc))
        return result
