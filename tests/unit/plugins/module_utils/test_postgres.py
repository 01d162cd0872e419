# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import socket
import time

import psycopg2
import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _postgres
from ansible_collections.usdx.incident.plugins.module_utils._postgres import (
    PostgresError,
    PostgresQuery,
    is_exhausted_error,
    parse_psql_json,
    psql_error_text,
    scrub,
)

SECRET = "sandbox-superuser-pw"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ('connection to server at "127.0.0.1", port 55432 failed: FATAL:  sorry, too many clients already', True),
        ('FATAL:  too many connections for role "usdx"', True),
        ('FATAL:  too many connections for database "usdx_wexel"', True),
        ("FATAL:  remaining connection slots are reserved for non-replication superuser connections", True),
        ('connection to server at "127.0.0.1", port 55432 failed: Connection refused', False),
        ('FATAL:  password authentication failed for user "postgres"', False),
        ("", False),
    ],
    ids=["server-wide", "role-limit", "database-limit", "reserved-slots", "refused", "bad-password", "empty"],
)
def test_is_exhausted_error(message, expected):
    assert is_exhausted_error(message) is expected
    assert PostgresError(message, unavailable=True).exhausted is expected


def test_parse_psql_json_recorded(fixture_text):
    text = fixture_text("postgres/activity_exhausted_role_limit.psql")
    assert "\n" in text.strip()  # json_agg breaks lines between array elements
    doc = parse_psql_json(text)
    assert doc["max_connections"] == 20
    assert doc["total"] == 15
    assert doc["by_state"] == {"active": 1, "idle": 13, "idle in transaction": 1}
    assert doc["waiting_locks"][0]["blocking_pids"] == [doc["idle_in_transaction"][0]["pid"]]


@pytest.mark.parametrize(
    ("output", "error"),
    [
        ("", "psql printed nothing"),
        ("\n \n", "psql printed nothing"),
        ("not json\n", "psql printed no JSON document: 'not json'"),
        ("{\"a\": 1}\ntrailing\n", "psql printed no JSON document"),
    ],
    ids=["empty", "blank-lines", "not-json", "trailing-garbage"],
)
def test_parse_psql_json_bad(output, error):
    with pytest.raises(PostgresError, match=error):
        parse_psql_json(output)


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (None, ""),
        ("psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  sorry, too many clients already\n",
         "connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: FATAL:  sorry, too many clients already"),
        ("psql:<stdin>:3: ERROR:  permission denied for table x\n", "<stdin>:3: ERROR:  permission denied for table x"),
        ("line one\n  line two\n", "line one line two"),
    ],
    ids=["none", "connection-failed", "statement-failed", "multi-line"],
)
def test_psql_error_text(stderr, expected):
    assert psql_error_text(stderr) == expected


def test_psql_error_text_recorded(fixture_text):
    assert is_exhausted_error(psql_error_text(fixture_text("postgres/psql_too_many_clients.stderr")))


def test_scrub():
    assert scrub(f"  bad {SECRET} here ", SECRET) == "bad ******** here"
    assert scrub("nothing", None) == "nothing"


class _Module:
    def __init__(self, params, fake=None):
        self.params = params
        self.fake = fake

    def get_bin_path(self, name, required=False):
        return f"/usr/bin/{name}"

    def run_command(self, argv, **kwargs):
        return self.fake(list(argv), **kwargs)


def _params(**over):
    params = {"connect_via": "tcp", "login_host": "127.0.0.1", "login_port": 55432, "login_user": "postgres",
              "login_password": SECRET, "login_db": "usdx_wexel", "connect_timeout": 5, "db_service": "db",
              "project_name": "usdx-wexel", "docker_cli": "docker"}
    params.update(over)
    return params


_DB_INSPECT = json.dumps([{"Id": "dbcid", "Name": "/usdx-wexel-db-1", "State": {"Running": True},
                           "Config": {"Labels": {"com.docker.compose.service": "db"}}}])


def test_container_path_runs_psql_without_secrets_on_the_command_line(fake_docker, fixture_text):
    fake = fake_docker({
        ("ps",): (0, "dbcid\n", ""),
        ("container", "inspect"): (0, _DB_INSPECT, ""),
        ("exec",): (0, fixture_text("postgres/activity_exhausted_role_limit.psql"), ""),
    })
    doc = PostgresQuery(_Module(_params(connect_via="container"), fake)).query_json("SELECT 1")
    assert doc["total"] == 15
    argv, kwargs = fake.called("exec")[0], [kw for a, kw in fake.calls if a[1] == "exec"][0]
    assert argv[:4] == ["/usr/bin/docker", "exec", "--interactive", "--user"]
    assert argv[argv.index("dbcid"):] == ["dbcid", "psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1",
                                          "-U", "postgres", "-d", "usdx_wexel"]
    assert SECRET not in " ".join(argv)
    assert kwargs["environ_update"]["PGPASSWORD"] == SECRET
    assert kwargs["environ_update"]["PGCONNECT_TIMEOUT"] == "5"
    assert kwargs["data"] == "SELECT 1"


@pytest.mark.parametrize(
    ("answer", "unavailable", "exhausted"),
    [
        ((2, "", "psql: error: connection to server on socket \"/x\" failed: FATAL:  sorry, too many clients already\n"), True, True),
        ((2, "", f"psql: error: FATAL:  password authentication failed, tried {SECRET}\n"), True, False),
        ((3, "", "psql:<stdin>:1: ERROR:  permission denied\n"), False, False),
        ((126, "", "unable to find user postgres: no matching entries in passwd file\n"), True, False),
    ],
    ids=["too-many-clients", "auth-failed-secret-scrubbed", "statement-failed", "no-postgres-user"],
)
def test_container_path_errors(fake_docker, answer, unavailable, exhausted):
    fake = fake_docker({("ps",): (0, "dbcid\n", ""), ("container", "inspect"): (0, _DB_INSPECT, ""), ("exec",): answer})
    with pytest.raises(PostgresError) as info:
        PostgresQuery(_Module(_params(connect_via="container"), fake)).query_json("SELECT 1")
    assert info.value.unavailable is unavailable
    assert info.value.exhausted is exhausted
    assert SECRET not in str(info.value)


def test_container_path_without_db_container(fake_docker):
    fake = fake_docker({("ps",): (0, "", "")})
    with pytest.raises(PostgresError, match="no running container for service 'db' in compose project 'usdx-wexel'") as info:
        PostgresQuery(_Module(_params(connect_via="container"), fake)).query_json("SELECT 1")
    assert info.value.unavailable


def test_tcp_path_connect_error(monkeypatch):
    seen = {}

    def connect(**kwargs):
        seen.update(kwargs)
        raise psycopg2.OperationalError('connection to server at "127.0.0.1", port 55432 failed: FATAL:  sorry, too many clients already\n')

    monkeypatch.setattr(psycopg2, "connect", connect)
    with pytest.raises(PostgresError) as info:
        PostgresQuery(_Module(_params())).query_json("SELECT 1")
    assert info.value.unavailable and info.value.exhausted and not info.value.timed_out
    assert str(info.value).startswith("connection to server at")
    assert seen["password"] == SECRET and seen["port"] == 55432 and seen["connect_timeout"] == 5
    assert "statement_timeout" in seen["options"]


class _Cursor:
    def __init__(self, answer):
        self.answer = answer

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, sql):
        self.sql = sql

    def fetchone(self):
        return self.answer() if callable(self.answer) else self.answer


class _Conn:
    """A psycopg2 connection as community.postgresql's connect_to_db() leaves it."""

    def __init__(self, answer=('{"total": 3}',), sock=None):
        self.answer, self.sock, self.closed, self.session = answer, sock, False, {}

    def set_session(self, **kwargs):
        self.session.update(kwargs)

    def cursor(self):
        return _Cursor(self.answer)

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.closed = True


def test_tcp_path_reads_json(monkeypatch):
    conn, seen = _Conn(), {}

    def connect(**kwargs):
        seen.update(kwargs)
        return conn
    monkeypatch.setattr(psycopg2, "connect", connect)
    assert PostgresQuery(_Module(_params(login_password=None))).query_json("SELECT 1") == {"total": 3}
    assert conn.closed and conn.session == {"autocommit": True}
    assert "password" not in seen and "-c default_transaction_read_only=on" in seen["options"]


@pytest.mark.parametrize("row", [({"doc": '{"total": 3}'}), ([{"total": 3}])], ids=["dict-row", "decoded-json"])
def test_tcp_path_reads_rows_of_either_driver(monkeypatch, row):
    monkeypatch.setattr(psycopg2, "connect", lambda **kw: _Conn(answer=row))
    assert PostgresQuery(_Module(_params())).query_json("SELECT 1") == {"total": 3}


def test_tcp_path_passes_the_tls_options_of_community_postgresql(monkeypatch):
    seen = {}

    def connect(**kwargs):
        seen.update(kwargs)
        return _Conn()
    monkeypatch.setattr(psycopg2, "connect", connect)
    params = _params(ssl_mode="verify-full", ca_cert="/etc/ssl/db-ca.pem", ssl_cert="/etc/ssl/me.pem", ssl_key="/etc/ssl/me.key")
    PostgresQuery(_Module(params)).query_json("SELECT 1")
    assert {k: seen[k] for k in ("sslmode", "sslrootcert", "sslcert", "sslkey", "host", "port", "user", "dbname")} == {
        "sslmode": "verify-full", "sslrootcert": "/etc/ssl/db-ca.pem", "sslcert": "/etc/ssl/me.pem",
        "sslkey": "/etc/ssl/me.key", "host": "127.0.0.1", "port": 55432, "user": "postgres", "dbname": "usdx_wexel"}


def test_the_argument_spec_has_community_postgresqls_tls_options():
    spec = _postgres.postgres_argument_spec()
    assert spec["ssl_mode"]["choices"] == ["allow", "disable", "prefer", "require", "verify-ca", "verify-full"]
    assert spec["ssl_mode"]["default"] == "prefer" and spec["ca_cert"]["aliases"] == ["ssl_rootcert"]
    assert spec["ssl_cert"]["type"] == spec["ssl_key"]["type"] == "path"


def test_a_server_that_stops_answering_is_unavailable_and_timed_out(monkeypatch):
    ours, server = socket.socketpair()

    def hang():
        # Like libpq waiting for a frozen server: blocked until the socket is shut down.
        if ours.recv(1) == b"":
            raise psycopg2.OperationalError("server closed the connection unexpectedly")
        raise AssertionError("the server sent something")

    module = _Module(_params())
    module.deadline = time.monotonic() + 1.0
    monkeypatch.setattr(psycopg2, "connect", lambda **kw: _Conn(answer=hang, sock=ours))
    started = time.monotonic()
    try:
        with pytest.raises(PostgresError, match="no answer from the server within 0.5 s") as info:
            PostgresQuery(module).query_json("SELECT 1")
    finally:
        ours.close()
        server.close()
    assert info.value.unavailable and info.value.timed_out
    assert time.monotonic() - started < 5


def test_a_connection_given_up_at_connect_timeout_is_timed_out(monkeypatch):
    def connect(**_kwargs):
        raise psycopg2.OperationalError('connection to server at "10.0.0.9", port 5432 failed: timeout expired\n')
    monkeypatch.setattr(psycopg2, "connect", connect)
    with pytest.raises(PostgresError) as info:
        PostgresQuery(_Module(_params())).query_json("SELECT 1")
    assert info.value.unavailable and info.value.timed_out
