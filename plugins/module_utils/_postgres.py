# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Read-only PostgreSQL queries over TCP or through the db container (docker exec psql).

Both paths run the same SQL, which returns one JSON document, so both give the same answer. The TCP path connects
with community.postgresql's public module_utils (its TLS options, its connection parameters, its connect function)
and is bounded on both ends: libpq's C(connect_timeout) for the connection, and for the statement the server's
C(statement_timeout) plus a watchdog that shuts the socket down when the server itself does not answer any more.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
import typing as t

from ansible_collections.community.postgresql.plugins.module_utils import postgres as community_postgres
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerCli, DockerError

# Seconds any one diagnostic statement may run on the server, unless the caller's params say (C(statement_timeout)).
STATEMENT_TIMEOUT = 15
# Seconds the client waits for the answer beyond the server's own timeout, for a server that hangs.
ANSWER_MARGIN = 2.0
APPLICATION_NAME = "usdx.incident"
# The TLS options of community.postgresql's common argument spec, taken as they are.
TLS_OPTIONS = ("ssl_mode", "ca_cert", "ssl_cert", "ssl_key")
_PREFIX = "unable to connect to database: "
_COMMUNITY_SPEC = community_postgres.postgres_common_argument_spec()

# How the server words "no connection slot left" (server-wide, reserved slots, per role or per database).
_EXHAUSTED_RE = re.compile(
    r"too many clients|too many connections|remaining connection slots are reserved",
    re.IGNORECASE,
)


def postgres_argument_spec() -> dict[str, t.Any]:
    """Options of the C(usdx.incident.connection.postgres) doc fragment."""
    return {
        "connect_via": {"type": "str", "choices": ["tcp", "container"], "default": "tcp"},
        "login_host": {"type": "str", "default": "127.0.0.1"},
        "login_port": {"type": "int", "default": 5432},
        "login_user": {"type": "str", "default": "postgres"},
        "login_password": {"type": "str", "no_log": True},
        "login_db": {"type": "str", "default": "usdx_wexel"},
        "connect_timeout": {"type": "int", "default": 5},
        "db_service": {"type": "str", "default": "db"},
        **{name: dict(_COMMUNITY_SPEC[name]) for name in TLS_OPTIONS},
    }


class PostgresError(Exception):
    """A query could not run; C(unavailable) tells a refused/failed connection from a failed query."""

    def __init__(self, message: str, unavailable: bool = False, timed_out: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable
        self.timed_out = timed_out

    @property
    def exhausted(self) -> bool:
        return is_exhausted_error(str(self))


def is_exhausted_error(message: str) -> bool:
    """Whether a connection error means the server ran out of connection slots."""
    return bool(_EXHAUSTED_RE.search(message or ""))


def scrub(message: str, secret: str | None) -> str:
    """The message with the password (if any) masked, stripped of surrounding blanks."""
    text = (message or "").strip()
    if secret:
        text = text.replace(secret, "********")
    return text


def parse_psql_json(output: str) -> t.Any:
    """The single JSON document that C(psql -X -A -t -q) printed for a C(json_build_object) query.

    The document may span lines: C(json_agg) puts a newline between array elements.
    """
    text = (output or "").strip()
    if not text:
        raise PostgresError("psql printed nothing")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PostgresError(f"psql printed no JSON document: {text[:200]!r}") from exc


def psql_error_text(stderr: str) -> str:
    """The useful part of psql's error output (drops the C(psql: error:) prefix, joins lines)."""
    text = " ".join(line.strip() for line in (stderr or "").splitlines() if line.strip())
    return re.sub(r"^psql:\s*(?:error:\s*)?", "", text)


class PostgresQuery:
    """Runs read-only JSON-returning SQL as the options say (TCP or container).

    The options are O(params) when given, else the module's; the module is only used to run C(docker). A
    C(statement_timeout) among them (seconds) replaces L(STATEMENT_TIMEOUT).
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any] | None = None) -> None:
        self.module = module
        self.params = module.params if params is None else params
        self.password = self.params.get("login_password")
        self.statement_timeout = int(self.params.get("statement_timeout") or STATEMENT_TIMEOUT)
        self.server_options = f"-c statement_timeout={self.statement_timeout * 1000} -c default_transaction_read_only=on"

    def query_json(self, sql: str) -> t.Any:
        if self.params["connect_via"] == "container":
            return self._query_container(sql)
        return self._query_tcp(sql)

    def _query_tcp(self, sql: str) -> t.Any:
        connector = _Connector(self.password)
        community_postgres.ensure_required_libs(connector)
        params = {name: self.params.get(name) for name in ("login_host", "login_port", "login_user", "login_db", *TLS_OPTIONS)}
        # community.postgresql 4 reads the port from login_port, 3 (ansible 9 to 11) from port: each takes its own key.
        params.update(login_password=self.password or "", login_unix_socket="", port=self.params.get("login_port"))
        conn_params = community_postgres.get_conn_params(connector, params, warn_db_default=False)
        conn_params.update(
            connect_timeout=self.params["connect_timeout"],
            application_name=APPLICATION_NAME,
            options=self.server_options,
        )
        conn, _error = community_postgres.connect_to_db(connector, conn_params, autocommit=True)
        watchdog = _Watchdog(conn, self._answer_seconds())
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
        except Exception as exc:  # pylint: disable=broad-exception-caught  # psycopg2 and psycopg 3 raise their own
            if watchdog.fired:
                raise PostgresError(f"no answer from the server within {watchdog.seconds:g} s: the query was abandoned",
                                    unavailable=True, timed_out=True) from exc
            raise PostgresError(scrub(str(exc), self.password)) from exc
        finally:
            watchdog.cancel()
            conn.close()
        value = (next(iter(row.values()), None) if isinstance(row, dict) else row[0]) if row else None
        # psycopg decodes json columns itself; text columns are parsed here.
        return json.loads(value) if isinstance(value, str) else value

    def _answer_seconds(self) -> float:
        """The statement timeout and L(ANSWER_MARGIN), or less when the caller's deadline (triage_info's check
        deadline) is nearer."""
        answer_seconds = self.statement_timeout + ANSWER_MARGIN
        deadline = getattr(self.module, "deadline", None)
        if deadline is None:
            return answer_seconds
        return max(0.5, min(answer_seconds, deadline - time.monotonic() - 0.5))

    def _query_container(self, sql: str) -> t.Any:
        docker = DockerCli(self.module, self.params["docker_cli"], self.params["project_name"])
        service = self.params["db_service"]
        container = docker.service_container_id(service, running=True)
        if container is None:
            raise PostgresError(
                f"no running container for service {service!r} in compose project {self.params['project_name']!r}",
                unavailable=True,
            )
        env = {
            "PGCONNECT_TIMEOUT": str(self.params["connect_timeout"]),
            "PGAPPNAME": APPLICATION_NAME,
            "PGOPTIONS": self.server_options,
        }
        if self.password:
            env["PGPASSWORD"] = self.password
        argv = [
            "psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
            "-U", self.params["login_user"], "-d", self.params["login_db"],
        ]
        # The SQL goes on stdin: nothing of it lands on a command line.
        rc, out, err = docker.exec(container, argv, user="postgres", data=sql, env=env)
        if rc != 0:
            message = scrub(psql_error_text(err) or out, self.password) or f"psql exited with {rc}"
            # psql exits 2 when the connection fails, 3 when a statement fails under ON_ERROR_STOP;
            # docker exec itself gives 125-127 (no container, no psql).
            raise PostgresError(message, unavailable=rc != 3)
        return parse_psql_json(out)


class _Connector:
    """What community.postgresql's connect function needs of a module: a failed connection raises PostgresError."""

    def __init__(self, password: str | None) -> None:
        self.params: dict[str, t.Any] = {}
        self.password = password

    def fail_json(self, msg: str, **_kwargs: t.Any) -> t.NoReturn:
        text = msg[len(_PREFIX):] if msg.startswith(_PREFIX) else msg
        # libpq's words when connect_timeout passed.
        raise PostgresError(scrub(text, self.password), unavailable=True, timed_out="timeout expired" in text)

    def warn(self, _warning: str) -> None:
        """Its warnings repeat the failure that fail_json reports."""


class _Watchdog:
    """Shuts a connection's socket down after C(seconds): a server that stopped answering ends the read at once.

    A shutdown, not a close: the connection's own descriptor stays with libpq, which then reports the lost server.
    """

    def __init__(self, conn: t.Any, seconds: float) -> None:
        self.seconds = round(seconds, 1)
        self.fired = False
        self._conn = conn
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        try:
            with socket.socket(fileno=os.dup(self._conn.fileno())) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError, AttributeError):
            pass  # the connection is already gone

    def cancel(self) -> None:
        self._timer.cancel()


__all__ = [
    "DockerError",
    "PostgresError",
    "PostgresQuery",
    "is_exhausted_error",
    "parse_psql_json",
    "postgres_argument_spec",
    "psql_error_text",
    "scrub",
]
