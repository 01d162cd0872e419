# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`notify --test` reads each stack's notify_results (or its configuration error) from the set_stats artifacts:
one line per backend, exit 0 only when every backend of every stack delivered."""

from __future__ import annotations

import json
import pathlib
import tempfile
import typing as t

import pytest

from usdx_incident_cli import runner as runner_mod

SLACK = {"backend": "slack", "name": "ops-slack", "kind": "test", "delivered": True, "attempts": 1, "error": None}
PAGER = {"backend": "pagerduty", "name": "oncall", "kind": "test", "delivered": True, "attempts": 2, "error": None}
HOOK_404 = {"backend": "webhook", "name": "relay", "kind": "test", "delivered": False, "attempts": 1,
            "error": 'HTTP 404: {"error": "no such hook"} (after 1 attempt in 0.0 s)'}
# ansible's message around the filter's line, as the playbook's rescue hands it over: ansible-core 2.19's, and
# 2.16's, which adds where the task is on the lines after it.
WRAPPED = ("Task failed: Finalization of task args for 'ansible.builtin.assert' failed: Error while resolving value\n"
           "for 'that': The filter plugin 'usdx.incident.notifier_config' failed: notifier_config: notify_backends[0] "
           "(name 'oncall'): routing_key is required for type pagerduty (required: routing_key)")
WRAPPED_BEFORE_2_19 = (
    "The conditional check 'notify_backends | usdx.incident.notifier_config('notify_backends') is sequence' failed. "
    "The error was: notifier_config: notify_backends[0] (name 'oncall'): routing_key is required for type pagerduty "
    "(required: routing_key)\n\nThe error appears to be in '/x/roles/notify/tasks/main.yml': line 17, column 11, but may\n"
    "be elsewhere in the file depending on the exact syntax problem.\n\nThe offending line appears to be:\n\n"
    "    ansible.builtin.assert:\n      that: notify_backends | usdx.incident.notifier_config('notify_backends') is sequence\n"
    "          ^ here\n")


def ok(results: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    return {"results": results, "error": None}


@pytest.fixture
def notify_with(monkeypatch: pytest.MonkeyPatch, run_cli: t.Any, inventory: pathlib.Path,
                tmp_path: pathlib.Path) -> t.Callable[..., t.Any]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def run(artifact_data: dict[str, t.Any], *argv: str, started: bool = True) -> t.Any:
        calls = []

        def fake(**kwargs: t.Any) -> runner_mod.Run:
            calls.append(kwargs)
            return runner_mod.Run(kwargs["ident"], status="successful" if started else "failed", rc=0 if started else 4,
                                  started=started, finished=started, artifact_data=artifact_data)
        monkeypatch.setattr(runner_mod, "run", fake)
        result = run_cli("notify", "--test", "-i", str(inventory), *argv)
        assert len(calls) == 1 and calls[0]["playbook"].endswith("/playbooks/notify_test.yml")
        assert calls[0]["check"] is False and calls[0]["extravars"] == {}
        return result
    return run


def test_every_backend_delivered_is_exit_0(notify_with: t.Any) -> None:
    result = notify_with({"usdx_notify_test": {"stack-a": ok([SLACK, PAGER]), "stack-b": ok([SLACK])}})
    assert result.code == 0
    assert result.stdout.splitlines()[-3:] == ["stack-a: ops-slack (slack): delivered", "stack-a: oncall (pagerduty): delivered",
                                               "stack-b: ops-slack (slack): delivered"]
    assert result.stderr == ""


def test_a_backend_not_delivered_is_exit_1_with_its_error(notify_with: t.Any) -> None:
    result = notify_with({"usdx_notify_test": {"stack-a": ok([SLACK, HOOK_404]), "stack-b": ok([SLACK])}})
    assert result.code == 1
    assert 'stack-a: relay (webhook): NOT delivered: HTTP 404: {"error": "no such hook"} (after 1 attempt in 0.0 s)' \
        in result.stdout.splitlines()


def test_backends_never_tried_are_not_delivered(notify_with: t.Any) -> None:
    # What the role records when the module sending to the HTTP backends could not run: every one, 0 attempts.
    unsent = {"kind": "test", "delivered": False, "attempts": 0,
              "error": "The module interpreter '/usr/bin/python3' was not found."}
    result = notify_with({"usdx_notify_test": {"stack-a": ok([{"backend": "slack", "name": "ops-slack", **unsent},
                                                              {"backend": "pagerduty", "name": "oncall", **unsent}]),
                                               "stack-b": ok([SLACK])}})
    assert result.code == 1
    assert result.stdout.splitlines()[-3:-1] == [
        "stack-a: ops-slack (slack): NOT delivered: The module interpreter '/usr/bin/python3' was not found.",
        "stack-a: oncall (pagerduty): NOT delivered: The module interpreter '/usr/bin/python3' was not found."]


@pytest.mark.parametrize("reports, line", [
    ({"stack-a": ok([SLACK])}, "stack-b: no result (the test did not finish on this stack)"),
    ({"stack-a": ok([SLACK]), "stack-b": ok([])}, "stack-b: no notifier configured (notify_backends is empty)"),
], ids=["a stack without results", "a stack without notifiers"])
def test_nothing_delivered_is_no_success(notify_with: t.Any, reports: dict[str, t.Any], line: str) -> None:
    result = notify_with({"usdx_notify_test": reports})
    assert result.code == 1 and line in result.stdout.splitlines()


@pytest.mark.parametrize("wrapped", [WRAPPED, WRAPPED_BEFORE_2_19], ids=["ansible-core-2.19", "before-2.19"])
def test_configuration_error_is_exit_2_with_one_line_naming_the_variable(notify_with: t.Any, wrapped: str) -> None:
    result = notify_with({"usdx_notify_test": {"stack-a": {"results": [], "error": wrapped}, "stack-b": ok([SLACK])}})
    assert result.code == 2
    assert result.stderr.splitlines() == ["usdx-incident notify: stack-a: notifier_config: notify_backends[0] (name 'oncall'): "
                                          "routing_key is required for type pagerduty (required: routing_key)"]


def test_json_document(notify_with: t.Any) -> None:
    result = notify_with({"usdx_notify_test": {"stack-a": ok([SLACK]), "stack-b": ok([HOOK_404])}}, "--json")
    document = json.loads(result.stdout)
    assert result.code == document["exit_code"] == 1
    assert document["stacks"] == {"stack-a": ok([SLACK]), "stack-b": ok([HOOK_404])}
    assert document["runner"]["ansible_failed"] is False


def test_ansible_that_did_not_run_is_exit_4(notify_with: t.Any, tmp_path: pathlib.Path) -> None:
    result = notify_with({}, started=False)
    assert result.code == 4
    kept = result.stdout.split("its output: ", 1)[1].strip()
    assert kept.startswith(str(tmp_path)) and kept.endswith("/artifacts/notify_test/stdout")


def test_without_test_nothing_runs(run_cli: t.Any, inventory: pathlib.Path, no_runner: None) -> None:
    result = run_cli("notify", "-i", str(inventory))
    assert result.code == 2 and result.stderr.strip() == "usdx-incident notify: the following arguments are required: --test"


def test_limit_matching_no_stack_runs_nothing(run_cli: t.Any, inventory: pathlib.Path, no_runner: None) -> None:
    result = run_cli("notify", "--test", "-i", str(inventory), "--limit", "bystander")
    assert result.code == 2 and "--limit 'bystander' matches no host of usdx_stacks" in result.stderr
