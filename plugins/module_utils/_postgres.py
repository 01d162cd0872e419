# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Read-only PostgreSQL queries over TCP (psycopg2) or through the db container (docker exec psql).

Both paths run the same SQL, which returns one JSON document, so both give the same answer.
"""

from __future__ import annotations

import json
import re
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerCli, DockerError

try:
    import psycopg2
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the target
    psycopg2 = None
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = str(exc)

# Seconds any one diagnostic statement may run on the server.
STATEMENT_TIMEOUT_MS = 15000
APPLICATION_NAME = "usdx.incident"

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
    }


class PostgresError(Exception):
    """A query could not run; C(unavailable) tells a refused/failed connection from a failed query."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable

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

    The options are O(params) when given, else the module's; the module is only used to run C(docker).
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any] | None = None) -> None:
        self.module = module
        self.params = module.params if params is None else params
        self.password = self.params.get("login_password")

    def query_json(self, sql: str) -> t.Any:
        if self.params["connect_via"] == "container":
            return self._query_container(sql)
        return self._query_tcp(sql)

    def _query_tcp(self, sql: str) -> t.Any:
        if not HAS_PSYCOPG2:
            raise PostgresError(f"connect_via=tcp needs the psycopg2 Python library on the target: {PSYCOPG2_IMPORT_ERROR}")
        kwargs: dict[str, t.Any] = {
            "host": self.params["login_host"],
            "port": self.params["login_port"],
            "user": self.params["login_user"],
            "dbname": self.params["login_db"],
            "connect_timeout": self.params["connect_timeout"],
            "application_name": APPLICATION_NAME,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c default_transaction_read_only=on",
        }
        if self.password:
            kwargs["password"] = self.password
        try:
            conn = psycopg2.connect(**kwargs)
        except psycopg2.Error as exc:
            raise PostgresError(scrub(str(exc), self.password), unavailable=True) from exc
        try:
            conn.set_session(readonly=True, autocommit=True)
            with conn.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
        except psycopg2.Error as exc:
            raise PostgresError(scrub(str(exc), self.password)) from exc
        finally:
            conn.close()
        value = row[0] if row else None
        # psycopg2 decodes json columns itself; text columns are parsed here.
        return json.loads(value) if isinstance(value, str) else value

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
            "PGOPTIONS": f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c default_transaction_read_only=on",
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
