# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/triage.yml against the live sandbox: every fault is named first, with its severity."""

from __future__ import annotations

import json
import pathlib
import subprocess
import typing as t

import pytest

pytestmark = pytest.mark.sandbox

REPO = pathlib.Path(__file__).resolve().parents[2]


class Triage(t.NamedTuple):
    findings: dict[str, t.Any]
    stdout: str
    rc: int


@pytest.fixture
def triage(helpers: t.Any, tmp_path: pathlib.Path) -> t.Callable[..., Triage]:
    """Run the triage playbook on the sandbox inventory; return its findings document and output."""
    def run(log_since: str, *extra: str) -> Triage:
        command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", str(REPO / "inventories/sandbox"),
                   str(REPO / "playbooks/triage.yml"), "-e", f"triage_findings_dir={tmp_path}",
                   "-e", f"triage_log_since={log_since}", *extra]
        proc = subprocess.run(command, cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=300, check=False)
        document = tmp_path / "sandbox.json"
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return Triage(json.loads(document.read_text()), proc.stdout + proc.stderr, proc.returncode)
    return run


def test_healthy_sandbox_is_p_nothing(healthy_sandbox: dict[str, str], triage: t.Callable[..., Triage], helpers: t.Any,
                                      secrets: list[str]) -> None:
    since = helpers.utc_now()
    result = triage(since)
    assert result.findings["severity"]["level"] is None, result.findings["severity"]
    assert result.findings["scenarios"] == []
    assert result.findings["data_at_risk"] == {"at_risk": False, "reasons": []}
    assert "HEALTHY: no severity, all checks passed" in result.stdout
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in json.dumps(result.findings)


@pytest.mark.parametrize(
    "fault, scenario, levels, at_risk",
    [
        ("api-down", "api_unavailable", {"P0"}, False),
        ("db-connections", "db_connections_exhausted", {"P0"}, False),
        ("indexer-lag", "indexer_lag", {"P1"}, False),
        ("disk-full", "disk_full", {"P0", "P1"}, True),
        ("rpc-down", "external_service_failure", {"P1"}, False),
    ],
    ids=["api-down", "db-connections", "indexer-lag", "disk-full", "rpc-down"],
)
def test_triage_names_the_fault_first(sandbox_fault: t.Callable[[str], str], triage: t.Callable[..., Triage],
                                      secrets: list[str], fault: str, scenario: str, levels: set[str], at_risk: bool) -> None:
    since = sandbox_fault(fault)
    result = triage(since)
    findings = result.findings
    assert findings["scenarios"], f"no scenario named for {fault}: {findings['severity']}"
    assert findings["scenarios"][0]["scenario"] == scenario, [(s["scenario"], s["score"], s["evidence"]) for s in findings["scenarios"]]
    assert findings["scenarios"][0]["evidence"], "the first scenario carries no evidence"
    assert findings["severity"]["level"] in levels, findings["severity"]
    assert findings["data_at_risk"]["at_risk"] is at_risk, findings["data_at_risk"]
    assert f"scenario 1: {scenario} " in result.stdout
    for secret in secrets:
        assert secret not in result.stdout
        assert secret not in json.dumps(findings)


def test_triage_in_check_mode_reports_and_changes_nothing(sandbox_fault: t.Callable[[str], str],
                                                          triage: t.Callable[..., Triage]) -> None:
    since = sandbox_fault("api-down")
    result = triage(since, "--check")
    assert result.findings["scenarios"][0]["scenario"] == "api_unavailable"
    assert "changed=0" in result.stdout
    state = subprocess.run(["docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "usdx-wexel-indexer-1"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert state == ["exited", "137"], "triage must not start the indexer"
