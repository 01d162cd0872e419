# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`respond` over several stacks: --severity auto (assess first, then each stack's own chain), stacks dropped when a
run fails on them while the others go on, and the summary table per stack.

ansible-runner is replaced by conftest's FakeRunner, which plans each stack with the collection's own
_chain.response_plan, as the dispatcher does.
"""

from __future__ import annotations

import json
import pathlib
import typing as t

import pytest

from usdx_incident_cli import outcome, render
from usdx_incident_cli import runner as runner_mod

LEVELS = ("P0", "P1", "P2", "P3")
VERIFY_FAILS = {"status": "failed", "summary": "still down", "stop": "verify failed",
                "escalations": [{"trigger": "verify_failed", "reason": "verify failed: still down"}]}


@pytest.fixture
def respond(run_cli: t.Any, inventory: pathlib.Path, tmp_path: pathlib.Path) -> t.Callable[..., t.Any]:
    def run(*argv: str, **kwargs: t.Any) -> t.Any:
        return run_cli("respond", "-i", str(inventory), "--incidents-dir", str(tmp_path / "incidents"), *argv, **kwargs)
    return run


def respond_json(respond: t.Any, *argv: str, **kwargs: t.Any) -> t.Tuple[int, dict[str, t.Any]]:
    result = respond(*argv, "--json", **kwargs)
    return result.code, json.loads(result.stdout)


def chain_ids(lib: t.Any, level: str, assessed: bool = False) -> list[str]:
    return [step["id"] for step in lib.chain.selected_steps(level, None, assessed)]


# --- severity auto ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("level", LEVELS)
def test_auto_assesses_every_stack_once_then_runs_the_assessed_chain_without_assess(respond: t.Any, fake_runner: t.Any,
                                                                                    lib: t.Any, level: str) -> None:
    fake_runner.assessed = {"stack-a": level, "stack-b": level}
    code, document = respond_json(respond, "--severity", "auto")
    assert code == 0, document
    assert fake_runner.steps_run() == [["assess"]] + [[sid] for sid in chain_ids(lib, level, assessed=True)]
    assert all(call["extravars"]["respond_severity"] == "auto" for call in fake_runner.calls)
    assert fake_runner.limits() == [None] * len(fake_runner.calls), "every stack has every step: the user's limit"
    for host in ("stack-a", "stack-b"):
        record = document["hosts"][host]
        assert [entry["id"] for entry in record["steps"]] == ["assess"] + chain_ids(lib, level, assessed=True)
        assert record["severity"] == level
    assert document["dropped"] == {}


def test_auto_gives_each_stack_its_own_chain_merged_in_the_runbooks_order(respond: t.Any, fake_runner: t.Any, lib: t.Any) -> None:
    fake_runner.assessed = {"stack-a": "P0", "stack-b": "P2"}
    code, document = respond_json(respond, "--severity", "auto")
    assert code == 0, document
    p0 = chain_ids(lib, "P0", assessed=True)
    assert [call["ident"] for call in fake_runner.calls] == (
        ["01-assess"] + [f"{n:02d}-{sid}" for n, sid in enumerate(lib.chain.merged_order(["P0", "P2"], True), 2)])
    by_step = {call["extravars"]["respond_steps"][0]: call["limit"] for call in fake_runner.calls}
    assert by_step == {"assess": None, **{sid: "stack-a" for sid in p0}, "record": "stack-b"}
    assert [entry["id"] for entry in document["hosts"]["stack-b"]["steps"]] == ["assess", "record"]
    assert {host: row["outcome"] for host, row in ((r["host"], r) for r in document["stacks"])} == {
        "stack-a": "resolved", "stack-b": "recorded"}
    assert document["result"] == "recorded, resolved"


def test_a_healthy_stack_is_recorded_healthy_and_left_alone(respond: t.Any, fake_runner: t.Any, lib: t.Any) -> None:
    fake_runner.assessed = {"stack-a": "P1", "stack-b": None}
    code, document = respond_json(respond, "--severity", "auto")
    assert code == 0, document
    assert all(call["limit"] == "stack-a" for call in fake_runner.calls[1:])
    healthy = document["hosts"]["stack-b"]
    assert (healthy["outcome"], healthy["severity"], healthy["healthy"]) == ("healthy", None, True)
    assert [entry["id"] for entry in healthy["steps"]] == ["assess"]
    assert fake_runner.ever_locked == {"stack-a"}, "a healthy stack never takes the lock"
    assert fake_runner.locked == set(), "stack-a's lock is released at its chain's end"


def test_all_healthy_is_one_run_and_exit_0(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.assessed = {"stack-a": None, "stack-b": None}
    result = respond("--severity", "auto")
    assert result.code == 0, result.stdout
    assert fake_runner.steps_run() == [["assess"]]
    assert "exit 0 (healthy)" in result.stdout
    assert "stack-a: healthy (no severity): left alone" in result.stdout


def test_a_failed_assessment_drops_the_stack_and_is_never_read_as_healthy(respond: t.Any, fake_runner: t.Any) -> None:
    def assess(host: str, _extravars: dict[str, t.Any]) -> dict[str, t.Any]:
        return {"status": "failed", "summary": "the triage timed out"} if host == "stack-b" else {"status": "ok"}
    fake_runner.script["assess"] = assess
    code, document = respond_json(respond, "--severity", "auto")
    assert code == outcome.NOT_RESOLVED
    assert document["dropped"] == {
        "stack-b": "01-assess: a task failed: Settle the severity and the steps to run: response_plan: respond_severity=auto: "
                   "the assess step ended failed on this stack (the triage timed out), so no severity was decided"}
    assert document["hosts"]["stack-b"]["outcome"] != "healthy"
    assert all(call["limit"] == "stack-a" for call in fake_runner.calls[1:])


def test_a_stack_without_an_assessment_after_the_assess_run_is_dropped_not_healthy(
        respond: t.Any, fake_runner: t.Any, lib: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def record_lost(**kwargs: t.Any) -> t.Any:
        run = fake_runner(**kwargs)
        if kwargs["ident"] == "01-assess":
            pathlib.Path(lib.incident.host_file(kwargs["private_data_dir"], "stack-b")).unlink()
        return run
    monkeypatch.setattr(runner_mod, "run", record_lost)
    code, document = respond_json(respond, "--severity", "auto")
    assert code == outcome.NOT_RESOLVED
    assert document["dropped"] == {"stack-b": "01-assess: the run succeeded but the stack's record holds no assessment"}
    assert document["hosts"]["stack-b"] is None
    assert all(call["limit"] == "stack-a" for call in fake_runner.calls[1:])


def test_an_auto_approval_rerun_is_limited_to_the_refused_stack(respond: t.Any, fake_runner: t.Any, gate_on: t.Any,
                                                                terminal_stdin: t.Any) -> None:
    fake_runner.assessed = {"stack-a": "P0", "stack-b": "P0"}
    fake_runner.script["contain"] = gate_on("stack-a", "contain", "maintenance on")
    result = respond("--severity", "auto", stdin=terminal_stdin("y\n"))
    assert result.code == 0, result.stdout
    rerun = next(call for call in fake_runner.calls if call["ident"].endswith("-approved"))
    assert (rerun["ident"], rerun["limit"], rerun["extravars"]["respond_approve"]) == ("03-contain-approved", "stack-a", ["contain"])


# --- dropped stacks --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("severity", ["P0", "auto"])
def test_a_stack_held_by_another_incident_is_dropped_and_the_other_goes_on(respond: t.Any, fake_runner: t.Any,
                                                                           lib: t.Any, severity: str) -> None:
    fake_runner.held_by = {"stack-b": "INC-2026-11-28-07"}
    code, document = respond_json(respond, "--severity", severity)
    assert code == outcome.REFUSED
    assert document["dropped"] == {"stack-b": f"01-{'alert' if severity == 'P0' else 'assess'}: refused, "
                                              "incident INC-2026-11-28-07 is in progress on this stack"}
    assert [call["limit"] for call in fake_runner.calls[1:]] == ["stack-a"] * (len(fake_runner.calls) - 1)
    assert document["hosts"]["stack-a"]["outcome"] == "resolved"
    expected = chain_ids(lib, "P0") if severity == "P0" else ["assess"] + chain_ids(lib, "P0", assessed=True)
    assert [entry["id"] for entry in document["hosts"]["stack-a"]["steps"]] == expected
    assert {row["host"]: row["dropped"] for row in document["stacks"]}["stack-b"] == document["dropped"]["stack-b"]


@pytest.mark.parametrize(("kind", "words"), [("failed", "a task failed: Step role runs"), ("unreachable", "unreachable")])
@pytest.mark.parametrize("severity", ["P0", "P1"])
def test_a_stack_a_step_fails_on_is_dropped_there(respond: t.Any, fake_runner: t.Any, lib: t.Any, kind: str, words: str,
                                                  severity: str) -> None:
    fake_runner.fail[("fix", "stack-a")] = kind
    code, document = respond_json(respond, "--severity", severity)
    assert code == outcome.NOT_RESOLVED, "never 0 with a dropped stack"
    chain = chain_ids(lib, severity)
    fix_index = chain.index("fix") + 1
    assert document["dropped"]["stack-a"].startswith(f"{fix_index:02d}-fix: {words}")
    after = [call for call in fake_runner.calls if chain.index(call["extravars"]["respond_steps"][0]) > chain.index("fix")]
    assert after and all(call["limit"] == "stack-b" for call in after)
    assert document["hosts"]["stack-b"]["outcome"] == "resolved"
    assert document["stopped_by"] is None


def test_every_stack_dropped_ends_the_chain(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.fail.update({("alert", "stack-a"): "unreachable", ("alert", "stack-b"): "failed"})
    result = respond("--severity", "P0")
    assert result.code == outcome.NOT_RESOLVED
    assert len(fake_runner.calls) == 1
    assert "every stack was dropped" in result.stdout
    assert "dropped stack-a: 01-alert: unreachable" in result.stdout


def test_a_run_without_a_recap_is_a_whole_run_failure_not_a_drop(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.status, fake_runner.recap = "failed", False
    code, document = respond_json(respond, "--severity", "auto")
    assert len(fake_runner.calls) == 1
    assert document["dropped"] == {} and "left no recap" in document["stopped_by"]
    assert code == outcome.NOT_RESOLVED


def test_a_failed_run_whose_recap_names_no_stack_ends_the_chain(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.status = "failed"
    code, document = respond_json(respond, "--severity", "P0")
    assert len(fake_runner.calls) == 1
    assert document["dropped"] == {} and "its recap names no stack" in document["stopped_by"]
    assert code == outcome.NOT_RESOLVED


def test_a_stack_failed_at_its_chains_end_for_its_verdict_is_not_dropped(respond: t.Any, fake_runner: t.Any, lib: t.Any) -> None:
    """The dispatcher fails a stack its chain did not resolve at the chain's last step (ansible's rc, AWX); that is
    the outcome speaking, not a stack to drop: a P1 stack whose verify failed, beside a P0 stack that goes on."""
    fake_runner.assessed = {"stack-a": "P1", "stack-b": "P0"}
    fake_runner.script["verify"] = lambda host, _extravars: VERIFY_FAILS if host == "stack-a" else {"status": "ok"}
    code, document = respond_json(respond, "--severity", "auto")
    assert document["dropped"] == {}
    assert document["hosts"]["stack-a"]["outcome"] == "not_resolved"
    assert code == outcome.NOT_RESOLVED
    assert [call["extravars"]["respond_steps"][0] for call in fake_runner.calls][-2:] == ["communicate", "postmortem"]


@pytest.mark.parametrize(("outcomes", "dropped", "code"), [
    ({"a": "resolved", "b": "resolved"}, {"b": "05-fix: unreachable"}, 1),
    ({"a": "healthy", "b": None}, {"b": "01-assess: unreachable"}, 1),
    ({"a": "resolved", "b": "refused"}, {"b": "01-alert: refused, incident X"}, 3),
    ({"a": "resolved", "b": "resolved"}, {}, 0),
])
def test_a_dropped_stack_is_never_exit_0(outcomes: dict[str, t.Any], dropped: dict[str, str], code: int) -> None:
    assert outcome.exit_code(outcomes, dropped=dropped) == code


# --- the summary table -----------------------------------------------------------------------------------------------

def test_respond_ends_with_one_row_per_stack(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.assessed = {"stack-a": "P0", "stack-b": None}
    result = respond("--severity", "auto", "--scenario", "api_unavailable")
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["host", "severity", "scenario"])
    assert lines[header].split("  ")[0] == "host" and "steps run" in lines[header] and "last step T+" in lines[header]
    row_a, row_b = lines[header + 1].split(), lines[header + 2].split()
    assert row_a[:5] == ["stack-a", "P0", "api_unavailable", "resolved", "8"] and row_a[5].startswith("T+0:")
    assert row_b[:5] == ["stack-b", "-", "-", "healthy", "1"]


def test_one_stack_has_no_summary_table(run_cli: t.Any, inventory: pathlib.Path, tmp_path: pathlib.Path, fake_runner: t.Any) -> None:
    result = run_cli("respond", "-i", str(inventory), "--limit", "stack-a", "--incidents-dir", str(tmp_path / "i"),
                     "--severity", "P2")
    assert result.code == 0
    assert "steps run" not in result.stdout


def test_show_ends_with_the_table_and_its_json_has_the_rows(respond: t.Any, run_cli: t.Any, fake_runner: t.Any,
                                                            tmp_path: pathlib.Path) -> None:
    fake_runner.assessed = {"stack-a": "P1", "stack-b": "P3"}
    _code, document = respond_json(respond, "--severity", "auto")
    shown = run_cli("show", document["incident_id"], "--incidents-dir", str(tmp_path / "incidents"))
    assert shown.code == 0
    tail = shown.stdout.splitlines()[-5:]
    assert tail[0].split()[:3] == ["host", "severity", "scenario"]
    assert tail[1].split()[:5] == ["stack-a", "P1", "api_unavailable", "resolved", "4"]
    assert tail[2].split()[:5] == ["stack-b", "P3", "api_unavailable", "recorded", "2"]
    as_json = json.loads(run_cli("show", document["incident_id"], "--incidents-dir", str(tmp_path / "incidents"), "--json").stdout)
    assert as_json["stacks"] == [dict(row, dropped=None) for row in document["stacks"]]


def test_the_help_tells_auto_dropped_stacks_and_the_table(run_cli: t.Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli("respond", "--help")
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "auto: assess on every stack, then each stack's own chain without assess" in text
    assert "or auto: each stack's severity from its assessment" in text
    assert "is dropped and the others go on" in text and "one row per stack" in text
    assert "1 not resolved or escalated, or a stack was dropped" in text


@pytest.mark.parametrize(("given", "record", "scenario"), [
    ("auto", {"scenario": "disk_full", "decision": {"scenario": {"scenario": "indexer_lag"}}}, "disk_full"),
    ("indexer_lag", {"decision": {"scenario": {"scenario": "api_unavailable", "reason": "top-ranked"}}}, "api_unavailable"),
    ("indexer_lag", {"decision": {"scenario": {"scenario": None}}}, "indexer_lag"),
    ("auto", {"decision": {"scenario": {"scenario": None}}}, None),
    ("auto", {}, None),
    ("auto", {"outcome": "healthy", "decision": {"scenario": {"scenario": "db_connections_exhausted"}}}, None),
], ids=["fixed", "diagnosed", "given", "none", "no-record", "healthy"])
def test_a_rows_scenario_is_the_fixed_else_the_diagnosed_else_the_given_one(given: str, record: dict[str, t.Any],
                                                                            scenario: t.Optional[str]) -> None:
    rows = render.stack_rows({"incident": {"scenario": given}, "hosts": {"s1": record or None}})
    assert rows[0]["scenario"] == scenario


def test_a_row_counts_each_step_once_and_ends_at_the_latest_t_plus() -> None:
    record = {"severity": "P0", "outcome": "resolved", "steps": [
        {"id": "contain", "tplus_end": 40}, {"id": "contain", "tplus_end": 95}, {"id": "fix", "tplus_end": None}]}
    (row,) = render.stack_rows({"incident": {}, "hosts": {"s1": record}}, {"s1": "05-fix: unreachable"})
    assert row == {"host": "s1", "severity": "P0", "scenario": None, "outcome": "resolved", "steps": ["contain", "fix"],
                   "tplus_end": 95, "dropped": "05-fix: unreachable"}
    (line,) = render.stacks_table([row], render.Painter(False))[1:]
    assert line.split() == ["s1", "P0", "-", "resolved", "(dropped)", "2", "T+1:35"]
