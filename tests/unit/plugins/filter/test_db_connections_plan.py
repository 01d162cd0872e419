# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The db_connections_plan filter: the decision of the db_connections_exhausted role.

Over what the role read on the sandbox (tests/unit/fixtures/db_connections/, made by record.py there: healthy,
the db-connections fault right after injection, and 6 s later with an active pg_sleep() and an idle-in-transaction
session of the test's own) and over hand-made session lists, hostile ones included.
"""

from __future__ import annotations

import copy
import json
import pathlib
import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.db_connections_plan import FilterModule, db_connections_plan

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "db_connections"
OPTIONS = {"database": "usdx_wexel", "app_user": "usdx"}
MEMINFO = "MemTotal:       24683520 kB\nMemFree:        22000000 kB\n"
SETTINGS = {"max_connections": 20, "reserved_connections": 3, "work_mem_bytes": 4 * 2**20, "shared_buffers_bytes": 32 * 2**20}
HEALTHY_ACTIVITY = {"changed": False, "is_available": True, "exhausted": False}


def recorded(name: str) -> dict[str, t.Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def session(pid: int, state: str = "idle", idle: float = 600.0, **fields: t.Any) -> dict[str, t.Any]:
    row = {"pid": pid, "user": "usdx", "database": "usdx_wexel", "application": "usdx-indexer-worker",
           "client_addr": "172.18.0.5", "state": state, "backend_type": "client backend", "superuser": False,
           "replication": False, "own": False, "idle_seconds": idle}
    row.update(fields)
    return row


def doc(rows: list[dict[str, t.Any]], role_limit: int | None = 15, **settings: t.Any) -> dict[str, t.Any]:
    return {"settings": {**SETTINGS, **settings}, "role_connection_limit": role_limit, "sessions": rows}


def decide(activity: t.Any, sessions: t.Any, **options: t.Any) -> dict[str, t.Any]:
    return db_connections_plan(activity, sessions, {**OPTIONS, "meminfo": MEMINFO, **options})


def full_role(idle_pids: range, **extra_rows: t.Any) -> list[dict[str, t.Any]]:
    """Role usdx at its limit of 15: the given pids idle for 600 s, the rest busy."""
    rows = [session(pid, application="usdx-reconciler", client_addr="127.0.0.1") for pid in idle_pids]
    rows += [session(900 + n, state="active", idle=1.0) for n in range(15 - len(rows))]
    return rows


EXHAUSTED = {"changed": False, "is_available": True, "exhausted": True}


# ------------------------------------------------------------------ recorded on the sandbox

def test_recorded_healthy_changes_nothing():
    doc_ = recorded("healthy")
    result = decide(doc_["activity"], doc_["sessions"], idle_threshold=5)
    assert result["healthy"] and not result["act"] and not result["refused"]
    assert result["terminate_pids"] == [] and result["raise_max_connections"] is None
    assert result["summary"].startswith("HEALTHY")


def test_recorded_exhausted_fresh_waits_for_the_threshold():
    """Right after the fault nothing has been idle for 5 minutes: nothing is terminated, the role limit is named."""
    doc_ = recorded("exhausted_fresh")
    result = decide(doc_["activity"], doc_["sessions"])
    assert result["act"] and result["terminate_pids"] == []
    assert result["use_before"]["scope"] == "role" and result["use_before"]["percent"] == 100.0
    assert result["top_holder"].startswith("application 'usdx-reconciler' from 127.0.0.1 holds ")
    assert result["top_holder"].endswith(" of 15 (role usdx's limit)")
    assert any("CONNECTION LIMIT" in line for line in result["escalate"])
    # max_connections would not help a role at its own limit, and the server still has slots
    assert result["raise_max_connections"] is None


def test_recorded_exhausted_terminates_only_the_long_idle_sessions():
    doc_ = recorded("exhausted_6s")
    rows = {row["pid"]: row for row in doc_["sessions"]["sessions"]}
    result = decide(doc_["activity"], doc_["sessions"], idle_threshold=5)
    expected = sorted(pid for pid, row in rows.items()
                      if row["backend_type"] == "client backend" and row["database"] == "usdx_wexel"
                      and not row["superuser"] and row["state"] == "idle" and row["idle_seconds"] > 5)
    holder = [pid for pid in expected if rows[pid]["application"] == "usdx-reconciler"]
    assert len(holder) >= 5
    assert result["terminate_pids"] == expected
    for pid, row in rows.items():
        if (row["application"] or "").startswith("usdx-survivor") or row["state"] != "idle" or row["superuser"]:
            assert pid not in result["terminate_pids"], row
    assert result["kept"]["idle in transaction (not opted in)"] >= 2
    assert result["kept"]["active"] >= 2
    assert result["use_after"]["percent"] < 80 <= result["use_before"]["percent"]
    assert result["raise_max_connections"] is None and result["escalate"] == []
    assert all(line.startswith(("PLAN", "top holder", "terminate pid", "keep")) for line in result["report"])


def test_recorded_exhausted_plan_is_the_same_when_computed_twice():
    doc_ = recorded("exhausted_6s")
    assert decide(doc_["activity"], doc_["sessions"], idle_threshold=5) == decide(
        copy.deepcopy(doc_["activity"]), copy.deepcopy(doc_["sessions"]), idle_threshold=5)


# ------------------------------------------------------------------ which sessions are terminated

@pytest.mark.parametrize(
    ("row", "terminated", "kept_as"),
    [
        (session(1), True, None),
        (session(1, idle=300.0), False, "idle below the threshold"),
        (session(1, idle=300.1), True, None),
        (session(1, state="active", idle=9999), False, "active"),
        (session(1, state="idle in transaction", idle=9999), False, "idle in transaction (not opted in)"),
        (session(1, state="idle in transaction (aborted)", idle=9999), False, "idle in transaction (not opted in)"),
        (session(1, state="fastpath function call", idle=9999), False, "fastpath function call"),
        (session(1, superuser=True), False, "superuser or replication role"),
        (session(1, replication=True), False, "superuser or replication role"),
        (session(1, superuser=None), False, "superuser or replication role"),  # unknown: never terminated
        (session(1, own=True), False, None),
        (session(1, backend_type="walsender"), False, None),
        (session(1, backend_type="autovacuum worker"), False, None),
        (session(1, database="postgres"), False, "another database"),
        (session(1, database=None), False, "another database"),
        (session(1, application="pg_dump"), False, "maintenance application"),
        (session(1, idle=None), False, "idle below the threshold"),
        (session(1, idle=-5), False, "idle below the threshold"),
        (session(1, idle="NaN"), False, "idle below the threshold"),
        (session(1, state=None), False, "unknown state"),
    ],
)
def test_one_session(row, terminated, kept_as):
    rows = full_role(range(2, 16)) + [row]
    result = decide(EXHAUSTED, doc(rows))
    assert (1 in result["terminate_pids"]) is terminated
    if kept_as:
        assert result["kept"].get(kept_as, 0) >= 1


def test_idle_in_transaction_opt_in():
    rows = full_role(range(2, 15)) + [session(1, state="idle in transaction", idle=700),
                                      session(99, state="idle in transaction", idle=400)]
    result = decide(EXHAUSTED, doc(rows), idle_in_transaction_threshold=600)
    assert 1 in result["terminate_pids"] and 99 not in result["terminate_pids"]


def test_nothing_terminated_while_healthy_even_if_long_idle():
    rows = [session(1, idle=10_000), session(2, state="active", idle=1)]
    result = decide(HEALTHY_ACTIVITY, doc(rows))
    assert result["healthy"] and not result["act"] and result["terminate_pids"] == []
    assert result["summary"] == "HEALTHY: use 13.3% (role), below 80%"


def test_report_names_each_session():
    rows = full_role(range(1, 15))
    result = decide(EXHAUSTED, doc(rows))
    assert len(result["terminate"]) == 14
    assert "terminate pid 1: user 'usdx', application 'usdx-reconciler', client 127.0.0.1, idle for 600.0 s" in result["report"]
    assert result["top_holder"] == "application 'usdx-reconciler' from 127.0.0.1 holds 14 of 15 (role usdx's limit)"
    assert result["holders"][0]["by_state"] == {"idle": 14}


def test_server_scope_when_no_role_limit():
    rows = [session(n, application="indexer", client_addr="10.0.0.5") for n in range(1, 15)] + [session(20, client_addr=None)]
    result = decide(EXHAUSTED, doc(rows, role_limit=-1))
    assert result["use_before"]["scope"] == "server" and result["use_before"]["role"] is None
    assert result["top_holder"] == "application 'indexer' from 10.0.0.5 holds 14 of 17 (slots for ordinary clients)"
    assert result["holders"][1]["client"] == "local socket"


# ------------------------------------------------------------------ max_connections

def _busy_server(n: int = 17) -> dict[str, t.Any]:
    return doc([session(pid, state="active", idle=1) for pid in range(1, n + 1)], role_limit=-1)


def test_raise_to_the_ceiling_restart_required_by_default():
    result = decide(EXHAUSTED, _busy_server())
    assert result["raise_max_connections"]["from"] == 20 and result["raise_max_connections"]["to"] == 200
    assert result["raise_max_connections"]["memory_source"] == "the host's MemTotal"
    assert result["restart"] == "required"
    assert "raise max_connections 20 -> 200 (restart required)" in result["summary"]


def test_raise_with_restart_allowed():
    assert decide(EXHAUSTED, _busy_server(), allow_restart=True)["restart"] == "run"


@pytest.mark.parametrize(
    ("container_memory", "meminfo", "to"),
    [
        (256 * 2**20, None, 56),  # (256 MiB - 32 MiB) / 4 MiB
        (0, "MemTotal: 131072 kB\n", 24),  # 128 MiB host
        (0, MEMINFO, 200),
    ],
)
def test_memory_bounds_the_raise(container_memory, meminfo, to):
    result = decide(EXHAUSTED, _busy_server(), container_memory=container_memory, meminfo=meminfo)
    assert result["raise_max_connections"]["to"] == to


@pytest.mark.parametrize(
    ("options", "settings", "blocked"),
    [
        ({"meminfo": "garbage"}, {}, "not raised blind"),
        ({"container_memory": 100 * 2**20}, {}, "no higher value is allowed"),  # memory allows 17
        ({"max_connections_ceiling": 20}, {}, "no higher value is allowed"),
        ({}, {"work_mem_bytes": 4 * 2**30}, "no higher value is allowed"),  # memory allows 5
    ],
)
def test_raise_blocked_is_escalated(options, settings, blocked):
    rows = [session(pid, state="active", idle=1) for pid in range(1, 18)]
    result = decide(EXHAUSTED, doc(rows, role_limit=-1, **settings), **options)
    assert result["raise_max_connections"] is None and result["restart"] is None
    assert any(blocked in line for line in result["escalate"]), result["escalate"]


def test_no_raise_when_the_clean_up_suffices():
    rows = [session(pid) for pid in range(1, 15)] + [session(20, state="active", idle=1)]
    result = decide(EXHAUSTED, doc(rows, role_limit=-1))
    assert len(result["terminate_pids"]) == 14 and result["raise_max_connections"] is None


@pytest.mark.parametrize(
    ("activity", "sessions", "needed"),
    [
        (HEALTHY_ACTIVITY, doc([session(1)]), False),
        (EXHAUSTED, doc([session(pid) for pid in range(1, 15)] + [session(20, state="active", idle=1)], role_limit=-1), False),
        (EXHAUSTED, doc(full_role(range(1, 3))), False),  # the role at its own limit: max_connections does not help it
        (EXHAUSTED, _busy_server(), True),
        ({"failed": True, "msg": "no answer"}, _busy_server(), False),
    ],
    ids=["healthy", "clean-up-suffices", "role-bound", "server-slots-short", "refused"],
)
def test_memory_needed_only_when_max_connections_is_in_question(activity, sessions, needed):
    without = db_connections_plan(activity, sessions, OPTIONS)
    with_memory = decide(activity, sessions)
    assert without["memory_needed"] is with_memory["memory_needed"] is needed
    if not needed:
        # What a caller decides without reading the memory is what it would decide with it.
        assert without == with_memory
    else:
        assert without["raise_max_connections"] is None and any("not raised blind" in e for e in without["escalate"])
        assert with_memory["raise_max_connections"]["to"] == 200


@pytest.mark.parametrize("name", ["healthy", "exhausted_fresh", "exhausted_6s"])
def test_recorded_plans_need_no_memory(name):
    """The role reads the server's memory only when the plan says so; none of the recorded states needs it."""
    doc_ = recorded(name)
    without = db_connections_plan(doc_["activity"], doc_["sessions"], {**OPTIONS, "idle_threshold": 5})
    assert without["memory_needed"] is False
    assert without == decide(doc_["activity"], doc_["sessions"], idle_threshold=5)


# ------------------------------------------------------------------ fail closed

@pytest.mark.parametrize(
    ("activity", "reason"),
    [
        ({"failed": True, "msg": "pg_activity_info: query failed"}, "failed: pg_activity_info: query failed"),
        ({"failed": True, "timed_out": True, "msg": "deadline"}, "timed out"),
        ({**EXHAUSTED, "partial": ["role limits not read"]}, "partial: role limits not read"),
        ({**EXHAUSTED, "partial": "odd"}, "partial: odd"),
        ({"changed": False, "is_available": False, "exhausted": True, "error": "too many clients"}, "too many clients"),
        ({"changed": False, "is_available": False, "timed_out": True}, "timed out"),
        ({}, "did not run"),
        (None, "did not run"),
        ("text", "did not run"),
        ({"postgres": {"failed": True, "msg": "no answer"}, "api": {}}, "failed: no answer"),
        ({"postgres": None, "api": {}}, "did not run"),
    ],
)
def test_incomplete_diagnosis_refuses(activity, reason):
    result = decide(activity, doc(full_role(range(1, 15))))
    assert result["refused"] and any(reason in r for r in result["refused"]), result["refused"]
    assert result["terminate_pids"] == [] and result["raise_max_connections"] is None
    assert not result["healthy"] and not result["act"]
    assert result["summary"].startswith("REFUSED")


def test_triage_result_with_postgres_check_is_read():
    result = decide({"postgres": EXHAUSTED, "api": {}}, doc(full_role(range(1, 15))))
    assert not result["refused"] and len(result["terminate_pids"]) == 14


@pytest.mark.parametrize(
    "sessions",
    [
        None, [], "x", {}, {"sessions": None}, {"settings": SETTINGS, "sessions": "all"},
        {"settings": {**SETTINGS, "max_connections": None}, "sessions": []},
        {"settings": {**SETTINGS, "max_connections": 0}, "sessions": []},
        {"settings": {**SETTINGS, "work_mem_bytes": "4MB"}, "sessions": []},
        doc([session(1), {"pid": "abc"}]),
        doc([session(1), None]),
        doc([session(1), {"pid": -3}]),
    ],
)
def test_unreadable_session_list_refuses(sessions):
    result = decide(EXHAUSTED, sessions)
    assert result["refused"] and result["terminate_pids"] == []


def test_hostile_text_is_data():
    name = "{{ lookup('pipe', 'id') }}\x00\udcff" + "x" * 5000
    rows = full_role(range(2, 15)) + [session(1, application=name, client_addr=["odd"], user={"a": 1})]
    result = decide(EXHAUSTED, doc(rows))
    assert 1 in result["terminate_pids"]
    entry = next(s for s in result["terminate"] if s["pid"] == 1)
    assert entry["application"].startswith("{{ lookup") and len(entry["application"]) == 200


def test_pid_as_numeric_string_is_read():
    rows = full_role(range(2, 15)) + [session("1")]
    assert 1 in decide(EXHAUSTED, doc(rows))["terminate_pids"]


# ------------------------------------------------------------------ options

@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"database": ""}, "database must be a non-empty string"),
        ({"database": None}, "database must be a non-empty string"),
        ({"app_user": 5}, "app_user must be a non-empty string"),
        ({"idle_threshold": -1}, "idle_threshold must be an integer from 1"),
        ({"idle_threshold": "five"}, "idle_threshold must be an integer from 1"),
        ({"idle_threshold": 1.5}, "idle_threshold must be an integer from 1"),
        ({"idle_threshold": True}, "idle_threshold must be an integer from 1"),
        ({"idle_in_transaction_threshold": 300}, "idle_in_transaction_threshold must be longer than idle_threshold (300)"),
        ({"idle_in_transaction_threshold": -1}, "idle_in_transaction_threshold must be an integer from 1"),
        ({"use_threshold": 0}, "use_threshold must be an integer from 1 to 100"),
        ({"use_threshold": 101}, "use_threshold must be an integer from 1 to 100"),
        ({"max_connections_ceiling": 0}, "max_connections_ceiling must be an integer"),
        ({"allow_restart": "yes"}, "allow_restart must be true or false"),
        ({"protected_applications": "pg_dump"}, "protected_applications must be a list of strings"),
        ({"meminfo": 5}, "meminfo must be the text of /proc/meminfo or null"),
        ({"container_memory": -1}, "container_memory must be an integer"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(AnsibleFilterError, match="^db_connections_plan: ") as err:
        decide(EXHAUSTED, doc([]), **options)
    assert message in str(err.value)


def test_options_numeric_strings_from_jinja():
    result = decide(EXHAUSTED, doc(full_role(range(1, 15))), idle_threshold="5", use_threshold="80")
    assert len(result["terminate_pids"]) == 14


def test_options_not_a_dict():
    with pytest.raises(AnsibleFilterError, match="options must be a dict"):
        db_connections_plan({}, {}, ["database"])


def test_filter_is_registered():
    assert FilterModule().filters()["db_connections_plan"] is db_connections_plan
