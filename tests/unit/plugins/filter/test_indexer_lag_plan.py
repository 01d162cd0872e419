# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The indexer_lag_plan filter: the decision of the indexer_lag role.

Over what the role's two diagnosis tasks read on the sandbox (tests/unit/fixtures/indexer_lag/, made by record.py
there: healthy, the indexer-lag fault, the rpc-down fault) and over hand-made results, hostile ones included;
the catch-up progress over hand-made poll series; the blocks-table judgement over query rows.
"""

from __future__ import annotations

import copy
import json
import pathlib
import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.indexer_lag_plan import FilterModule, indexer_lag_plan

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "indexer_lag"
OPTIONS = {"max_lag_blocks": 10, "catch_up_timeout": 300, "stall_window": 30}
PING_OK = {"rc": 0, "stdout": '{"ok": true, "url": "http://chain:8545", "chain_id": 31337, "block_number": 100}'}


def recorded(name: str) -> dict[str, t.Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def lag(status: str = "ok", lag_blocks: int | None = 1, catch_up: float | None = 0.0, **fields: t.Any) -> dict[str, t.Any]:
    doc = {"changed": False, "status": status, "lag_blocks": lag_blocks, "catch_up_blocks_per_second": catch_up,
           "chain_head_block": 100, "last_indexed_block": None if lag_blocks is None else 100 - lag_blocks,
           "timed_out": False, "rpc": {"reachable": status != "rpc_unreachable", "error": None},
           "indexer": {"reachable": lag_blocks is not None, "error": None}}
    doc.update(fields)
    return doc


def decide(lag_result: t.Any, ping: t.Any = None, **options: t.Any) -> dict[str, t.Any]:
    """The plan with rpc:ping ok unless another ping result is given."""
    return indexer_lag_plan(lag_result, {**OPTIONS, **options}, ping=PING_OK if ping is None else ping)


# ------------------------------------------------------------------ recorded on the sandbox

@pytest.mark.parametrize(
    ("state", "action"),
    [("healthy", "nothing"), ("indexer_lag", "restart"), ("rpc_down", "escalate")],
)
def test_recorded_states(state, action):
    doc = recorded(state)
    result = decide(doc["lag"], doc["ping"])
    assert result["action"] == action, result["report"]
    assert result["restart"] is (action == "restart")
    assert result["healthy"] is (action == "nothing")
    assert not result["refused"]


def test_recorded_indexer_lag_names_the_restart_and_the_stall():
    result = decide(recorded("indexer_lag")["lag"], recorded("indexer_lag")["ping"])
    assert result["summary"].startswith("PLAN: restart the indexer service only (docker compose restart indexer)")
    assert "stalled" in result["why"] and result["lag"]["lag_blocks"] >= 15
    assert result["rpc"]["ok"] is True


def test_recorded_rpc_down_escalates_as_external_and_does_not_restart():
    doc = recorded("rpc_down")
    result = decide(doc["lag"], doc["ping"])
    assert result["escalate"].startswith("ESCALATE to External: Infrastructure Provider: the chain RPC is down")
    assert "Connection refused" in result["escalate"] and "was not restarted" in result["escalate"]
    assert result["summary"] == result["escalate"]
    assert result["rpc"]["ok"] is False and not result["act"]


def test_recorded_rpc_down_escalates_even_when_only_the_ping_fails():
    """The host's RPC URL answers but the indexer cannot reach the chain: still the RPC, not the indexer."""
    result = decide(recorded("healthy")["lag"], recorded("rpc_down")["ping"])
    assert result["action"] == "escalate"


def test_recorded_rpc_down_escalates_even_when_only_the_lag_module_sees_it():
    result = decide(recorded("rpc_down")["lag"], recorded("healthy")["ping"])
    assert result["action"] == "escalate" and "Connection refused" in result["escalate"]


# ------------------------------------------------------------------ refusals (fail closed)

@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda d: d.update(failed=True, msg="boom"), "the lag diagnosis failed: boom"),
        (lambda d: d.update(timed_out=True), "the lag diagnosis timed out"),
        (lambda d: d.update(partial=["block timestamps not read"]), "the lag diagnosis is partial: block timestamps not read"),
        (lambda d: d.update(status="weird"), "the lag diagnosis has no known status"),
        (lambda d: d.clear(), "no indexer_lag_info result"),
    ],
)
def test_incomplete_lag_diagnosis_refuses(mutate, reason):
    doc = copy.deepcopy(recorded("indexer_lag")["lag"])
    mutate(doc)
    result = decide(doc, recorded("indexer_lag")["ping"])
    assert result["action"] == "refuse" and not result["restart"] and not result["act"]
    assert result["summary"].startswith("REFUSED: " + reason), result["summary"]


@pytest.mark.parametrize(
    ("ping", "reason"),
    [
        ({"skipped": True, "changed": False}, "rpc:ping did not run"),
        ({"failed": True, "msg": "No such container"}, "rpc:ping could not run: No such container"),
        ({"rc": 0, "stdout": "npm ERR! missing script: rpc:ping"}, "rpc:ping said nothing readable (rc 0)"),
        ({"rc": 1, "stdout": ""}, "rpc:ping said nothing readable (rc 1)"),
        ({"rc": 0, "stdout": '{"ok": false}'}, "rpc:ping said nothing readable"),
        ({"rc": 1, "stdout": '{"ok": true}'}, "rpc:ping said nothing readable"),
        ("not a dict", "rpc:ping did not run"),
        ({"service": "indexer", "container": None, "rc": None, "stdout": "", "timed_out": False,
          "error": "0 running containers of service 'indexer' in compose project 'usdx-wexel': rpc:ping runs in exactly one"},
         "rpc:ping did not run: 0 running containers of service 'indexer'"),
        ({"service": "indexer", "container": "abc", "rc": None, "stdout": "", "timed_out": True,
          "error": "docker exec abc npm did not finish by its deadline and was killed"},
         "rpc:ping did not run: docker exec abc npm did not finish by its deadline"),
    ],
)
def test_unreadable_ping_refuses(ping, reason):
    """A ping that did not run at all (None) is covered by test_ping_that_did_not_run_refuses."""
    result = decide(recorded("indexer_lag")["lag"], ping)
    assert result["action"] == "refuse" and reason in result["summary"], result["summary"]


def test_ping_that_did_not_run_refuses():
    result = indexer_lag_plan(recorded("indexer_lag")["lag"], OPTIONS, ping=None)
    assert result["action"] == "refuse" and "rpc:ping did not run" in result["summary"]


# ------------------------------------------------------------------ decisions over hand-made results

@pytest.mark.parametrize(
    ("lag_result", "action"),
    [
        (lag("ok", 0), "nothing"),
        (lag("ok", 10), "nothing"),
        (lag("lagging", 11, catch_up=-0.5), "restart"),  # falling further behind
        (lag("lagging", 11, catch_up=None), "restart"),  # rate unknown: the runbook's restart
        (lag("lagging", 40, catch_up=2.5), "wait"),  # catching up: a restart would lose the progress
        (lag("stalled", 40, catch_up=-1.0), "restart"),
        (lag("stalled", 40, catch_up=3.0), "restart"),  # paused or stalled wins over an old rate
        (lag("indexer_unreachable", None, catch_up=None), "restart"),
        (lag("rpc_unreachable", 0, catch_up=None), "escalate"),
        # a status judged with another threshold: the lag decides
        (lag("ok", 12, catch_up=-1.0), "restart"),
    ],
)
def test_decision(lag_result, action):
    assert decide(lag_result)["action"] == action


def test_threshold_is_an_option():
    assert decide(lag("lagging", 12, catch_up=-1.0), max_lag_blocks=20)["action"] == "nothing"
    assert decide(lag("ok", 3), max_lag_blocks=0)["action"] == "restart"


def test_host_data_of_any_shape_never_raises():
    for junk in ([], "x", 3, {"status": ["ok"]}, {"status": "ok", "lag_blocks": "many", "rpc": "x", "indexer": 7}):
        result = decide(junk)
        assert result["action"] in ("refuse", "restart", "nothing")
    assert decide({"status": "ok", "lag_blocks": "many", "timed_out": False})["action"] == "restart"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"max_lag_blocks": -1}, "max_lag_blocks must be an integer from 0"),
        ({"max_lag_blocks": "ten"}, "max_lag_blocks must be an integer"),
        ({"catch_up_timeout": -5}, "catch_up_timeout must be an integer from 0"),
        ({"stall_window": 0}, "stall_window must be an integer from 1"),
        ({"stall_window": 2.5}, "stall_window must be an integer"),
        ({"service": ""}, "service must be a non-empty string"),
        ({"threshold": 3}, "unknown option 'threshold'"),
    ],
)
def test_bad_options_raise_naming_the_option(options, named):
    with pytest.raises(AnsibleFilterError, match=named):
        decide(lag(), **options)


def test_options_must_be_a_dict():
    with pytest.raises(AnsibleFilterError, match="options must be a dict"):
        indexer_lag_plan(lag(), [1], ping=PING_OK)


def test_filter_is_registered():
    assert FilterModule().filters()["indexer_lag_plan"] is indexer_lag_plan


# ------------------------------------------------------------------ catch-up progress

def polls(*readings: tuple[float, t.Any]) -> list[dict[str, t.Any]]:
    """(seconds after the start, lag blocks or a whole lag result) -> polls."""
    out = []
    for at, value in readings:
        doc = value if isinstance(value, dict) else lag("lagging" if value > 10 else "ok", value, catch_up=None)
        out.append({"at": 1000.0 + at, "lag": doc})
    return out


def progress(series: list[dict[str, t.Any]], **options: t.Any) -> dict[str, t.Any]:
    last = series[-1]["lag"] if series else lag()
    return indexer_lag_plan(last, {**OPTIONS, **options}, ping=PING_OK, polls=series, started=1000.0)["progress"]


UNREACHABLE = lag("indexer_unreachable", None, catch_up=None, indexer={"reachable": False, "error": "Connection refused"})


@pytest.mark.parametrize(
    ("series", "state", "eta"),
    [
        ([(3, 8)], "caught_up", 0),
        ([(3, 10)], "caught_up", 0),
        ([(3, UNREACHABLE)], "waiting", None),  # the indexer is still starting
        ([(3, 40)], "waiting", None),  # one reading: no rate yet
        ([(3, 40), (6, 34)], "progressing", 12),  # 2 blocks/s, 24 blocks to go
        ([(3, 40), (6, 40)], "waiting", None),  # flat, but not yet for the whole window
        ([(3, 40), (20, 41), (36, 41)], "not_shrinking", None),  # 33 s flat
        ([(3, 40), (20, 30), (36, 35)], "progressing", 165),  # 40 -> 35 over the 33 s window: 0.152 blocks/s
        ([(3, UNREACHABLE), (20, UNREACHABLE), (33, UNREACHABLE)], "not_shrinking", None),  # silent for 33 s
        ([(3, 5000), (6, 4997)], "too_slow", 4987),  # 1 block/s, 4987 s to go, 294 s left
        ([(3, 40), (301, 40)], "not_shrinking", None),
        ([(290, 40), (301, 39)], "timed_out", 319),  # out of time wins over an ETA
        ([(3, lag("rpc_unreachable", 0, catch_up=None, rpc={"error": "refused"}))], "rpc_down", None),
    ],
)
def test_progress(series, state, eta):
    result = progress(polls(*series))
    assert result["state"] == state, result["message"]
    if eta is not None:
        assert result["eta_seconds"] == eta, result["message"]


def test_progress_message_reports_lag_rate_and_eta():
    result = progress(polls((3, 40), (6, 34)))
    assert result["message"] == "lag 34 blocks, catching up at 2 blocks/s, ETA 12 s to within 10 (6 s of 300 s)"


def test_too_slow_says_the_eta_instead_of_waiting():
    result = progress(polls((3, 5000), (6, 4997)))
    assert "would take about 4987 s at 1 blocks/s, past the 300 s timeout" in result["message"]
    assert "not waited out" in result["message"]


def test_rate_falls_back_to_the_indexers_own_with_one_reading():
    series = polls((3, lag("lagging", 40, catch_up=3.0)))
    result = progress(series)
    assert result["state"] == "progressing" and result["rate"] == 3.0 and result["eta_seconds"] == 10


def test_progress_over_a_failed_poll_is_not_a_reading():
    failed = {"failed": True, "msg": "metrics_url refused", "timed_out": False}
    assert progress(polls((3, 40), (6, failed)))["state"] == "waiting"
    assert progress(polls((3, 40), (40, failed)))["state"] == "not_shrinking"


def test_progress_without_a_start_waits():
    result = indexer_lag_plan(lag(), OPTIONS, ping=PING_OK, polls=[], started=None)["progress"]
    assert result["state"] == "waiting"


def test_zero_timeout_reports_the_eta_after_one_poll():
    result = progress(polls((1, 40), (2, 39)), catch_up_timeout=0)
    assert result["state"] == "timed_out"
    assert result["message"] == "lag still 39 blocks after 2 s of 0 s (catching up at 1 blocks/s, ETA 29 s to within 10)"


# ------------------------------------------------------------------ verify: the blocks table

@pytest.mark.parametrize(
    ("row", "ok", "message"),
    [
        ({"count": 101, "distinct_numbers": 101, "distinct_hashes": 101, "min": 0, "max": 100, "gaps": []},
         True, "blocks 0..100, 101 rows: no gap, no duplicate"),
        ({"count": 98, "distinct_numbers": 98, "distinct_hashes": 98, "min": 0, "max": 100, "gaps": [[40, 42]]},
         False, "3 block(s) missing between 0 and 100 (40-42)"),
        ({"count": 101, "distinct_numbers": 100, "distinct_hashes": 101, "min": 0, "max": 100, "gaps": [[7, 7]]},
         False, "1 duplicate block number(s)"),
        ({"count": 101, "distinct_numbers": 101, "distinct_hashes": 100, "min": 0, "max": 100, "gaps": []},
         False, "1 duplicate block hash(es)"),
        ({"count": 0, "distinct_numbers": 0, "distinct_hashes": 0, "min": None, "max": None, "gaps": []},
         False, "could not be judged"),
        ({"count": "x"}, False, "could not be judged"),
        ("no rows", False, "could not be judged"),
        ({}, False, "could not be judged"),
        ({"error": 'relation "blocks" does not exist', "timed_out": False}, False,
         'the blocks table could not be read: relation "blocks" does not exist'),
        ({"error": "no answer from the server within 17 s: the query was abandoned", "timed_out": True,
          "count": 5, "distinct_numbers": 5, "distinct_hashes": 5, "min": 1, "max": 5, "gaps": []}, False,
         "could not be read: no answer from the server"),
    ],
)
def test_integrity(row, ok, message):
    result = indexer_lag_plan(lag(), OPTIONS, ping=PING_OK, blocks=row)["integrity"]
    assert result["ok"] is ok
    assert message in result["message"], result["message"]
