# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`respond` drives the chain: one run per step in the runbook's order, the approval asked once, stops when it must.

ansible-runner is replaced by conftest's FakeRunner, which writes the records as the dispatcher does.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import typing as t

import pytest

from usdx_incident_cli import collection, prompt
from usdx_incident_cli import runner as runner_mod


@pytest.fixture
def respond(run_cli: t.Any, inventory: pathlib.Path, tmp_path: pathlib.Path) -> t.Callable[..., t.Any]:
    def run(*argv: str, **kwargs: t.Any) -> t.Any:
        return run_cli("respond", "-i", str(inventory), "--incidents-dir", str(tmp_path / "incidents"), *argv, **kwargs)
    return run


def test_each_step_is_one_run_in_the_runbooks_order(respond: t.Any, fake_runner: t.Any, lib: t.Any,
                                                    tmp_path: pathlib.Path, inventory: pathlib.Path) -> None:
    result = respond("--severity", "P0", "--scenario", "api_unavailable")
    assert result.code == 0, result.stderr
    chain = [step["id"] for step in lib.chain.chain_steps("P0")]
    assert fake_runner.steps_run() == [[step] for step in chain]
    assert [call["ident"] for call in fake_runner.calls] == [f"{n:02d}-{step}" for n, step in enumerate(chain, 1)]
    incident_ids = {call["extravars"]["respond_incident_id"] for call in fake_runner.calls}
    assert len(incident_ids) == 1
    folder = str(tmp_path / "incidents" / incident_ids.pop())
    for call in fake_runner.calls:
        assert call["private_data_dir"] == folder
        assert os.path.isabs(call["playbook"]) and call["playbook"].endswith("/playbooks/respond.yml")
        assert call["inventories"] == (str(inventory),)
        assert call["check"] is False
        assert call["extravars"]["respond_scenario"] == "api_unavailable"


def test_check_mode_reaches_every_run(respond: t.Any, fake_runner: t.Any) -> None:
    result = respond("--severity", "P1", "--check")
    assert result.code == 0, result.stderr
    assert [call["check"] for call in fake_runner.calls] == [True] * 4


def test_a_yes_reruns_the_refused_step_once_on_the_refused_stack(respond: t.Any, fake_runner: t.Any, gate_on: t.Any,
                                                                 terminal_stdin: t.Any) -> None:
    fake_runner.script["contain"] = gate_on("stack-b", "contain", "maintenance on")
    result = respond("--severity", "P0", stdin=terminal_stdin("y\n"))
    assert result.code == 0, result.stderr
    idents = [call["ident"] for call in fake_runner.calls]
    assert idents[2:5] == ["03-contain", "03-contain-approved", "04-diagnose"]
    rerun = fake_runner.calls[3]
    assert rerun["limit"] == "stack-b" and rerun["extravars"]["respond_steps"] == ["contain"]
    assert rerun["extravars"]["respond_approve"] == ["contain"]
    assert fake_runner.calls[4]["extravars"]["respond_approve"] == ["contain"]
    assert result.stderr.count("[y/N]") == 1
    assert "contain needs the approval contain on stack-b" in result.stderr


@pytest.mark.parametrize("answer", ["n\n", "\n", "maybe\n"])
def test_anything_but_yes_goes_on_without_the_gate(answer: str, respond: t.Any, fake_runner: t.Any, gate_on: t.Any,
                                                   terminal_stdin: t.Any, tmp_path: pathlib.Path) -> None:
    fake_runner.script["contain"] = gate_on("stack-b", "contain", "maintenance on")
    result = respond("--severity", "P0", "--json", stdin=terminal_stdin(answer))
    assert "03-contain-approved" not in [call["ident"] for call in fake_runner.calls]
    assert all(call["extravars"]["respond_approve"] == [] for call in fake_runner.calls)
    document = json.loads(result.stdout)
    contain = [s for s in document["hosts"]["stack-b"]["steps"] if s["id"] == "contain"]
    assert [s["status"] for s in contain] == ["refused"]
    assert any("contain not approved" in e["reason"] for e in document["hosts"]["stack-b"]["escalations"])


def test_without_a_terminal_nobody_is_asked(respond: t.Any, fake_runner: t.Any, gate_on: t.Any) -> None:
    fake_runner.script["contain"] = gate_on("stack-a", "contain", "maintenance on")
    result = respond("--severity", "P0")
    assert "[y/N]" not in result.stderr + result.stdout
    assert len(fake_runner.calls) == 8


def test_an_approval_given_in_advance_is_never_asked_for(respond: t.Any, fake_runner: t.Any, gate_on: t.Any, terminal_stdin: t.Any) -> None:
    fake_runner.script["contain"] = gate_on("stack-a", "contain", "maintenance on")
    result = respond("--severity", "P0", "--approve", "contain", stdin=terminal_stdin(None))
    assert result.code == 0, result.stderr
    assert "[y/N]" not in result.stderr
    assert all(call["extravars"]["respond_approve"] == ["contain"] for call in fake_runner.calls)


def test_past_the_steps_deadline_nobody_is_asked(respond: t.Any, fake_runner: t.Any, gate_on: t.Any, terminal_stdin: t.Any) -> None:
    fake_runner.started_at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=11)
    fake_runner.script["contain"] = gate_on("stack-a", "contain", "maintenance on")
    result = respond("--severity", "P0", stdin=terminal_stdin(None))
    assert "not asked, the step's deadline has passed" in result.stderr
    assert "03-contain-approved" not in [call["ident"] for call in fake_runner.calls]


def test_the_question_waits_no_longer_than_given(terminal_stdin: t.Any, tty_stream: t.Any) -> None:
    out = tty_stream()
    assert prompt.ask("approve contain", 0.3, terminal_stdin(None), out) is False
    assert "no answer before the step's deadline" in out.getvalue()
    assert prompt.ask("approve contain", 5, terminal_stdin("YES\n"), out) is True


def test_a_stack_held_by_another_incident_stops_the_chain_at_once(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.lock_holder = "INC-2026-11-28-01"
    result = respond("--severity", "P0")
    assert result.code == 3
    assert len(fake_runner.calls) == 1
    assert "incident INC-2026-11-28-01 is in progress on this stack" in result.stdout


def test_ansible_that_cannot_run_is_exit_4_and_ends_the_chain(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.started = False
    fake_runner.status = "failed"
    result = respond("--severity", "P0")
    assert result.code == 4
    assert len(fake_runner.calls) == 1
    assert "ansible did not run the playbook to its end" in result.stdout


def test_a_run_that_fails_ends_the_chain(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.status = "failed"
    result = respond("--severity", "P1")
    assert len(fake_runner.calls) == 1
    assert result.code == 1  # the records say "open": no verify ran


def test_json_is_one_document_and_nothing_else(respond: t.Any, fake_runner: t.Any, lib: t.Any) -> None:
    result = respond("--severity", "P2", "--json")
    document = json.loads(result.stdout)
    assert document["exit_code"] == 0 and document["result"] == "recorded"
    assert document["incident"]["id"] == document["incident_id"]
    assert set(document["hosts"]) == {"stack-a", "stack-b"}
    assert [run["ident"] for run in document["runs"]] == ["01-record"]
    assert lib.incident.INCIDENT_ID.match(document["incident_id"])


def test_every_variable_passed_is_the_dispatchers_with_the_same_choices(respond: t.Any, fake_runner: t.Any, lib: t.Any) -> None:
    """The dispatcher's argument spec is the reference (docs/chains.md): no variable it does not take, and the
    command accepts exactly the values it does."""
    respond("--severity", "P0", "--fix-option", "C", "--deploy-ref", "v1.2.3", "--approve", "rollback")
    options = collection.locate().role_options("respond")
    for call in fake_runner.calls:
        assert set(call["extravars"]) <= set(options)
    assert options["respond_severity"]["choices"] == [*lib.runbook.LEVELS, "auto"]
    assert options["respond_scenario"]["choices"] == list(lib.chain.RESPONSE_SCENARIOS)
    assert options["respond_fix_option"]["choices"] == list(lib.chain.FIX_OPTIONS)
    assert options["respond_approve"]["choices"] == list(lib.chain.GATES)


def test_a_dry_run_cut_short_is_not_exit_0(respond: t.Any, fake_runner: t.Any) -> None:
    fake_runner.status = "failed"
    result = respond("--severity", "P0", "--check")
    assert len(fake_runner.calls) == 1
    assert result.code == 1


def test_ctrl_c_during_a_run_stops_the_chain_with_130(respond: t.Any, fake_runner: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(**kwargs: t.Any) -> t.Any:
        run = fake_runner(**kwargs)
        run.status, run.interrupted = "canceled", True
        return run
    monkeypatch.setattr(runner_mod, "run", interrupted)
    result = respond("--severity", "P0")
    assert result.code == 130
    assert len(fake_runner.calls) == 1
    assert "01-alert: interrupted" in result.stdout
