# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`triage` reads each stack's verdict from the set_stats artifacts; a stack without one is never called healthy."""

from __future__ import annotations

import json
import pathlib
import tempfile
import typing as t

import pytest

from usdx_incident_cli import runner as runner_mod

P0 = {"severity": "P0", "reason": "API unavailable: connection refused", "scenario": "api_unavailable",
      "data_at_risk": False, "findings": "/var/tmp/usdx-incident/findings/stack-a.json"}
HEALTHY = {"severity": None, "reason": "HEALTHY", "scenario": None, "data_at_risk": False,
           "findings": "/var/tmp/usdx-incident/findings/stack-b.json"}


@pytest.fixture
def triage_with(monkeypatch: pytest.MonkeyPatch, run_cli: t.Any, inventory: pathlib.Path,
                tmp_path: pathlib.Path) -> t.Callable[..., t.Any]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the private data dir a failed triage keeps

    def run(artifact_data: dict[str, t.Any], *argv: str, started: bool = True) -> t.Any:
        calls = []

        def fake(**kwargs: t.Any) -> runner_mod.Run:
            calls.append(kwargs)
            return runner_mod.Run(kwargs["ident"], status="successful" if started else "failed", rc=0 if started else 4,
                                  started=started, finished=started, artifact_data=artifact_data)
        monkeypatch.setattr(runner_mod, "run", fake)
        result = run_cli("triage", "-i", str(inventory), *argv)
        assert len(calls) == 1 and calls[0]["playbook"].endswith("/playbooks/triage.yml") and calls[0]["check"] is False
        return result
    return run


@pytest.mark.parametrize("verdicts, code", [
    ({"stack-a": HEALTHY, "stack-b": HEALTHY}, 0),
    ({"stack-a": P0, "stack-b": HEALTHY}, 1),
    ({"stack-b": HEALTHY}, 1),
    ({"{{ inventory_hostname }}": HEALTHY}, 1),
], ids=["all healthy", "one P0", "a stack without a verdict", "a key that is not a host"])
def test_exit_code_and_verdicts(verdicts: dict[str, t.Any], code: int, triage_with: t.Any) -> None:
    result = triage_with({"usdx_triage": verdicts}, "--json")
    assert result.code == code
    document = json.loads(result.stdout)
    assert set(document["stacks"]) == {"stack-a", "stack-b"}
    assert document["stacks"]["stack-a"] == verdicts.get("stack-a")


def test_plain_lines_name_severity_scenario_and_findings(triage_with: t.Any) -> None:
    result = triage_with({"usdx_triage": {"stack-a": P0}})
    lines = result.stdout.splitlines()
    assert lines[0].startswith("triage of stack-a, stack-b")
    assert ("stack-a: P0 (respond: Immediate): API unavailable: connection refused; scenario api_unavailable; "
            "no data at risk; findings /var/tmp/usdx-incident/findings/stack-a.json") in lines
    assert "stack-b: no verdict (the triage did not finish on this stack)" in lines
    assert "\x1b" not in result.stdout


def test_ansible_that_did_not_run_is_exit_4(triage_with: t.Any, tmp_path: pathlib.Path) -> None:
    result = triage_with({}, started=False)
    assert result.code == 4
    kept = result.stdout.split("its output: ", 1)[1].strip()
    assert kept.startswith(str(tmp_path)) and kept.endswith("/artifacts/triage/stdout")
