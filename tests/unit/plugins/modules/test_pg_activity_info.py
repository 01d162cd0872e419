# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import sys

import pytest

from core_compat import arg_type_message
from ansible_collections.usdx.incident.plugins.module_utils._postgres import parse_psql_json
from ansible_collections.usdx.incident.plugins.modules import pg_activity_info
from ansible_collections.usdx.incident.plugins.module_utils._pg_activity import activity_sql, summarize

SECRET = "sandbox-superuser-pw"
DB_INSPECT = json.dumps([{"Id": "dbcid", "Name": "/usdx-wexel-db-1", "State": {"Running": True},
                          "Config": {"Labels": {"com.docker.compose.service": "db"}}}])


def _docker(fake_docker, exec_answer):
    return fake_docker({("ps",): (0, "dbcid\n", ""), ("container", "inspect"): (0, DB_INSPECT, ""), ("exec",): exec_answer})


def test_summarize_recorded_role_limit(fixture_text):
    result = summarize(parse_psql_json(fixture_text("postgres/activity_exhausted_role_limit.psql")))
    assert result["is_available"] is True
    assert result["exhausted"] is True
    assert result["max_connections"] == 20
    assert result["superuser_reserved_connections"] == 3
    assert result["available_connections"] == 2
    assert result["use_percent"] == 75.0
    assert result["connections"]["total"] == 15
    assert result["connections"]["by_user"] == {"usdx": 15}
    assert result["role_limits"] == [{"user": "usdx", "limit": 15, "connections": 15, "at_limit": True, "use_percent": 100.0}]
    assert len(result["idle_connections"]) == 13
    assert result["idle_in_transaction"][0]["query"] == "SELECT * FROM locktest WHERE id = 1 FOR UPDATE"
    holder = result["idle_in_transaction"][0]["pid"]
    assert result["waiting_locks"][0]["blocking_pids"] == [holder]
    assert result["waiting_locks"][0]["mode"] == "ShareLock"
    assert result["blocking_pids"] == [holder]
    assert result["active_queries"][0]["wait_event_type"] == "Lock"


@pytest.mark.parametrize(
    ("total", "reserved", "limits", "exhausted", "available", "percent"),
    [
        (2, 3, [], False, 15, 10.0),
        (17, 3, [], True, 0, 85.0),
        (19, 3, [], True, 0, 95.0),
        (5, 3, [{"user": "usdx", "limit": 5, "connections": 5}], True, 12, 25.0),
        (5, 3, [{"user": "retired", "limit": 0, "connections": 0}], False, 12, 25.0),
        (5, 3, [{"user": "retired", "limit": 0, "connections": 0}, {"user": "usdx", "limit": 5, "connections": 5}], True, 12, 25.0),
        (4, 3, [{"user": "usdx", "limit": 5, "connections": 4}], False, 13, 20.0),
    ],
    ids=["quiet", "ordinary-slots-full", "into-reserved-slots", "role-at-limit", "retired-role-limit-0",
         "retired-role-beside-one-at-limit", "role-below-limit"],
)
def test_summarize_exhaustion(total, reserved, limits, exhausted, available, percent):
    doc = {"server_version": "15", "max_connections": 20, "superuser_reserved_connections": reserved, "total": total,
           "role_limits": limits, "waiting_locks": None}
    result = summarize(doc)
    assert (result["exhausted"], result["available_connections"], result["use_percent"]) == (exhausted, available, percent)
    # A role with CONNECTION LIMIT 0 is retired: not listed, never "at its limit".
    assert [r["at_limit"] for r in result["role_limits"]] == [r["connections"] >= r["limit"] for r in limits if r["limit"] > 0]
    assert result["waiting_locks"] == [] and result["idle_connections"] == []


def test_activity_sql_counts_only_login_roles_with_a_limit():
    assert "WHERE r.rolcanlogin AND r.rolconnlimit > 0" in activity_sql(300, 10, 1000)


def test_activity_sql_embeds_only_integers():
    sql = activity_sql(300, 10, 1000)
    assert "make_interval(secs => 300)" in sql
    assert "LIMIT 10" in sql
    assert "left(query, 1000)" in sql
    assert "{" not in sql.replace("'{}'", "")  # every template field was filled


def test_activity_sql_lists_sessions_only_when_asked():
    assert "'session_list'" not in activity_sql(300, 10, 1000)
    sql = activity_sql(300, 10, 1000, list_sessions=True, app_user="usdx")
    assert "'session_list'" in sql and "'sessions'" in sql and "'work_mem_bytes'" in sql
    assert "WHERE rolname = convert_from(decode('75736478', 'hex'), 'UTF8')" in sql
    assert "WHERE rolname = NULL" in activity_sql(300, 10, 1000, list_sessions=True)


@pytest.mark.parametrize("name", ["x'); DROP TABLE blocks; --", "a\\' OR true --", "{app_user}", "$$; SELECT 1; $$", "rôle"],
                         ids=["quote", "backslash", "braces", "dollar-quote", "non-ascii"])
def test_app_user_reaches_the_sql_only_as_hex(name):
    sql = activity_sql(300, 10, 1000, list_sessions=True, app_user=name)
    assert name not in sql
    assert f"decode('{name.encode().hex()}', 'hex')" in sql
    assert "{" not in sql.replace("'{}'", "")


def test_module_lists_sessions_in_the_same_statement(run_module, fake_docker, fixture_text):
    doc = parse_psql_json(fixture_text("postgres/activity_exhausted_role_limit.psql"))
    session_list = {"settings": {"max_connections": 20, "reserved_connections": 3, "work_mem_bytes": 4194304,
                                 "shared_buffers_bytes": 134217728},
                    "role_connection_limit": 15,
                    "sessions": [{"pid": 42, "user": "usdx", "database": "usdx_wexel", "application": "usdx-reconciler",
                                  "client_addr": "127.0.0.1", "state": "idle", "backend_type": "client backend",
                                  "superuser": False, "replication": False, "own": False, "idle_seconds": 612.4}]}
    fake = _docker(fake_docker, (0, json.dumps({**doc, "session_list": session_list}), ""))
    result = run_module(pg_activity_info.main, {"connect_via": "container", "list_sessions": True, "app_user": "usdx"}, fake)
    assert result["is_available"] is True and result["exhausted"] is True
    assert result["session_list"] == session_list
    assert len(fake.called("exec")) == 1, "one statement answers both"
    assert "decode('75736478', 'hex')" in fake.calls[-1][1]["data"]


def test_module_without_list_sessions_returns_no_session_list(run_module, fake_docker, fixture_text):
    fake = _docker(fake_docker, (0, fixture_text("postgres/activity_exhausted_role_limit.psql"), ""))
    result = run_module(pg_activity_info.main, {"connect_via": "container"}, fake)
    assert "session_list" not in result and "'session_list'" not in fake.calls[-1][1]["data"]


def test_module_container_path(run_module, fake_docker, fixture_text):
    fake = _docker(fake_docker, (0, fixture_text("postgres/activity_exhausted_role_limit.psql"), ""))
    result = run_module(pg_activity_info.main, {"connect_via": "container", "login_password": SECRET, "idle_threshold": 2}, fake)
    assert result["changed"] is False
    assert result["is_available"] is True
    assert result["connect_via"] == "container"
    assert result["exhausted"] is True
    assert result["server_version"].startswith("15.")
    assert SECRET not in json.dumps(result)
    assert "make_interval(secs => 2)" in fake.calls[-1][1]["data"]


@pytest.mark.parametrize(
    ("stderr", "exhausted"),
    [
        ('psql: error: connection to server on socket "/s" failed: FATAL:  sorry, too many clients already\n', True),
        ('psql: error: connection to server on socket "/s" failed: No such file or directory\n', False),
    ],
    ids=["too-many-clients", "server-down"],
)
def test_module_reports_unavailable_server(run_module, fake_docker, stderr, exhausted):
    result = run_module(pg_activity_info.main, {"connect_via": "container"}, _docker(fake_docker, (2, "", stderr)))
    assert result.get("failed") is None
    assert result["is_available"] is False
    assert result["exhausted"] is exhausted
    assert result["error"] == stderr.strip().replace("psql: error: ", "")
    assert "connections" not in result


def test_module_fails_on_query_error(run_module, fake_docker):
    result = run_module(pg_activity_info.main, {"connect_via": "container"},
                        _docker(fake_docker, (3, "", "psql:<stdin>:2: ERROR:  permission denied for view pg_roles\n")))
    assert result["failed"] is True
    assert result["msg"] == "pg_activity_info: <stdin>:2: ERROR:  permission denied for view pg_roles"


def test_module_never_echoes_password(run_module, fake_docker):
    result = run_module(pg_activity_info.main, {"connect_via": "container", "login_password": SECRET},
                        _docker(fake_docker, (2, "", f"psql: error: FATAL: password {SECRET} rejected\n")))
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"active_limit": 0}, "active_limit=0 is out of range: accepted values are 1 to 100"),
        ({"max_query_length": 20000}, "max_query_length=20000 is out of range: accepted values are 1 to 10000"),
        ({"idle_threshold": -1}, "idle_threshold=-1 is out of range: accepted values are 0 to 315360000"),
        ({"connect_via": "socket"}, "value of connect_via must be one of: tcp, container, got: socket"),
        ({"idle_threshold": "five"}, "argument 'idle_threshold' is of type str and we were unable to convert to int"),
        ({"app_user": ""}, "app_user='' is not a role name: accepted values are non-empty strings without NUL"),
        ({"app_user": "us\u0000dx"}, "app_user='us\\x00dx' is not a role name"),
    ],
    ids=["active-limit-low", "query-length-high", "idle-negative", "bad-connect-via", "not-an-int", "empty-app-user",
         "nul-in-app-user"],
)
def test_module_bad_options(run_module, fake_docker, args, message):
    result = run_module(pg_activity_info.main, args, fake_docker({}))
    assert result["failed"] is True
    if sys.version_info >= (3, 12) and "\x00" in str(args.get("app_user")):
        # AnsibleModule logs its arguments to syslog before the module sees them, and the syslog of Python 3.12 on
        # refuses the NUL: the module fails closed with ansible-core's message instead.
        message = "Failed to log to syslog (embedded null character)"
    assert message in arg_type_message(result["msg"])
