# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exit codes (docs/chains.md) from the stacks' records, built with the collection's own chain functions."""

from __future__ import annotations

import datetime
import typing as t

import pytest

from usdx_incident_cli import outcome

T0 = datetime.datetime(2026, 11, 28, 3, 0, tzinfo=datetime.timezone.utc)


def record_of(lib: t.Any, severity: str, results: dict[str, dict[str, t.Any]], **fields: t.Any) -> dict[str, t.Any]:
    """A stack's record after the given steps of the chain ran with the given results, as the dispatcher writes it."""
    record: dict[str, t.Any] = {"host": "sandbox", "severity": severity, "steps": [], "escalations": [], "stopped": None,
                                **fields}
    for offset, step in enumerate(lib.chain.chain_steps(severity)):
        if step["id"] in results:
            now = T0 + datetime.timedelta(seconds=10 * offset)
            lib.chain.start_step(record, step, now)
            lib.chain.end_step(record, lib.incident.iso(T0), results[step["id"]], now + datetime.timedelta(seconds=5))
    record["outcome"] = lib.chain.outcome(record, severity)
    return record


OK = {"status": "ok", "summary": "done"}
P0_ALL_OK = {step: OK for step in ("alert", "assess", "contain", "diagnose", "fix", "verify", "communicate", "postmortem")}
RECORDS = {
    "P0 verified": ("P0", P0_ALL_OK, {}, 0),
    "P0 verify failed": ("P0", {**P0_ALL_OK, "verify": {"status": "failed", "stop": "verify failed"}}, {}, 1),
    "P0 fix failed, verify passed after": ("P0", {**P0_ALL_OK, "fix": {"status": "failed", "stop": "fix failed"}}, {}, 1),
    "P0 breaker tripped at fix": ("P0", {**P0_ALL_OK, "fix": {"status": "refused", "summary": "breaker tripped"}}, {}, 3),
    "P0 rollback not approved": ("P0", {**P0_ALL_OK, "fix": {"status": "refused", "needs_approval": "rollback"}}, {}, 3),
    "P0 chain cut before verify": ("P0", {"alert": OK, "assess": OK}, {}, 1),
    "P0 another incident holds the stack": ("P0", {}, {"refused": "incident INC-2026-11-28-01 is in progress"}, 3),
    "P1 verified": ("P1", {"respond": OK, "assess": OK, "fix": OK, "verify": OK}, {}, 0),
    "P2 recorded": ("P2", {"record": OK}, {}, 0),
    "P3 record failed": ("P3", {"record": {"status": "failed"}}, {}, 1),
    "P0 dry run": ("P0", P0_ALL_OK, {"check_mode": True}, 0),
    "P0 dry run on a stack another incident holds": ("P0", {}, {"check_mode": True, "refused": "incident INC-1 holds it"}, 3),
}


@pytest.mark.parametrize("severity, results, fields, code", RECORDS.values(), ids=RECORDS.keys())
def test_exit_code_of_one_stack(severity: str, results: dict[str, t.Any], fields: dict[str, t.Any], code: int,
                                lib: t.Any) -> None:
    record = record_of(lib, severity, results, **fields)
    assert outcome.exit_code({"sandbox": record["outcome"]}) == code


@pytest.mark.parametrize("outcomes, code", [
    ({"a": "resolved", "b": "resolved"}, 0),
    ({"a": "resolved", "b": "not_resolved"}, 1),
    ({"a": "resolved", "b": "refused"}, 3),
    ({"a": "not_resolved", "b": "refused"}, 3),
    ({"a": "resolved", "b": None}, 1),
    ({"a": "resolved", "b": "open"}, 1),
    ({"a": "resolved", "b": "something new"}, 1),
    ({}, 1),
], ids=["all resolved", "one not resolved", "one refused", "refused outranks", "a stack without a record",
        "a stack left open", "an unknown outcome is not a success", "no stack"])
def test_the_worst_stack_decides(outcomes: dict[str, t.Any], code: int) -> None:
    assert outcome.exit_code(outcomes) == code


def test_a_runner_failure_wins_over_the_records() -> None:
    assert outcome.exit_code({"a": "resolved"}, ansible_failed=True) == 4
    assert outcome.exit_code({"a": "refused"}, ansible_failed=True) == 4


@pytest.mark.parametrize("code, outcomes, words", [
    (0, {"a": "resolved", "b": "recorded"}, "recorded, resolved"),
    (0, {"a": "dry_run"}, "dry_run"),
    (1, {"a": "resolved", "b": "open"}, "not resolved or escalated"),
    (3, {"a": "refused"}, "refused"),
])
def test_the_exit_code_in_words_says_which_success(code: int, outcomes: dict[str, str], words: str) -> None:
    assert outcome.meaning(code, outcomes) == words


def test_a_chain_cut_short_is_no_success(lib: t.Any) -> None:
    dry_run = record_of(lib, "P0", {"alert": OK, "assess": OK}, check_mode=True)
    assert dry_run["outcome"] == "dry_run"
    assert outcome.exit_code({"sandbox": dry_run["outcome"]}) == 0
    assert outcome.exit_code({"sandbox": dry_run["outcome"]}, cut_short=True) == 1
    assert outcome.exit_code({"sandbox": "refused"}, cut_short=True) == 3


def test_every_outcome_the_chain_can_write_has_a_code(lib: t.Any) -> None:
    assert set(outcome.OUTCOME_CODES) | {"open"} == set(lib.chain.OUTCOMES)


def test_the_latest_entry_of_a_re_run_step_is_read(lib: t.Any) -> None:
    record = record_of(lib, "P0", {"alert": OK, "contain": {"status": "refused", "needs_approval": "contain"}})
    assert outcome.needs_approval(outcome.last_entry(record, "contain")) == "contain"
    step = lib.chain.chain_steps("P0")[2]
    lib.chain.start_step(record, step, T0)
    lib.chain.end_step(record, lib.incident.iso(T0), {"status": "changed", "summary": "maintenance on"}, T0)
    latest = outcome.last_entry(record, "contain")
    assert latest is not None and latest["status"] == "changed"
    assert outcome.needs_approval(latest) is None
    assert outcome.last_entry(record, "verify") is None


def test_lock_refusal_is_read_from_the_record_not_from_a_step(lib: t.Any) -> None:
    refused = record_of(lib, "P0", {}, refused="incident INC-2026-11-28-01 is in progress on this stack")
    assert outcome.lock_refused(refused) == "incident INC-2026-11-28-01 is in progress on this stack"
    breaker = record_of(lib, "P0", {"alert": OK, "fix": {"status": "refused", "summary": "breaker tripped"}})
    assert outcome.lock_refused(breaker) is None
    assert outcome.lock_refused(None) is None
