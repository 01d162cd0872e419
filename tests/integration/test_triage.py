# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/triage.yml against the live sandbox: every fault is named first, with its severity."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import typing as t

import pytest
import yaml

from sandbox_stack import STACK

pytestmark = pytest.mark.sandbox

REPO = pathlib.Path(__file__).resolve().parents[2]
# The role's default triage_checks: every one is asked for, and recorded as asked for.
CHECKS = ["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment", "users"]


class Triage(t.NamedTuple):
    findings: dict[str, t.Any]
    stdout: str
    rc: int


@pytest.fixture
def triage(helpers: t.Any, tmp_path: pathlib.Path) -> t.Callable[..., Triage]:
    """Run the triage playbook on the sandbox inventory; return its findings document and output."""
    def run(log_since: str, *extra: str) -> Triage:
        command = [str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(REPO / "inventories/sandbox"),
                   str(REPO / "playbooks/triage.yml"), "-e", f"triage_findings_dir={tmp_path}",
                   "-e", f"triage_log_since={log_since}", *extra]
        proc = subprocess.run(command, cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=300, check=False)
        document = tmp_path / "sandbox.json"
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return Triage(json.loads(document.read_text()), proc.stdout + proc.stderr, proc.returncode)
    return run


def summary_lines(stdout: str) -> list[str]:
    """The summary the role printed: the Summary task's msg, read back from the default callback's YAML."""
    task = stdout.split("TASK [usdx.incident.triage : Summary]", 1)[1].split("PLAY RECAP", 1)[0]
    return yaml.safe_load(task.split("=>", 1)[1])["msg"]


@pytest.mark.newest
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
    assert result.findings["checks"] == CHECKS
    assert summary_lines(result.stdout)[0] == "HEALTHY: no severity, all checks passed"
    for check in CHECKS:
        assert result.findings[check].get("failed") is not True, (check, result.findings[check])


@pytest.mark.parametrize("verbosity", ["-v", "-vvv"])
def test_verbose_output_shows_no_password(sandbox_fault: t.Callable[[str], str], triage: t.Callable[..., Triage],
                                          secrets: list[str], verbosity: str) -> None:
    # db-connections: the database refuses clients, so error texts from it are in the results too.
    since = sandbox_fault("db-connections")
    result = triage(since, verbosity)
    assert "timings:" in result.stdout, "the module's result was not printed: the test would prove nothing"
    for secret in secrets:
        assert secret not in result.stdout, f"a password appears in the {verbosity} output"
        assert secret not in json.dumps(result.findings), "a password appears in the findings"


def test_failing_docker_cli_is_incomplete_never_healthy(healthy_sandbox: dict[str, str], triage: t.Callable[..., Triage],
                                                        helpers: t.Any, tmp_path: pathlib.Path) -> None:
    # A docker CLI that cannot reach the engine, as with the daemon down or a user outside the docker group.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\n"
                      "echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\n"
                      "exit 1\n")
    docker.chmod(0o755)
    result = triage(helpers.utc_now(), "-e", f"usdx_docker_cli={docker}")
    findings = result.findings
    assert findings["checks"] == CHECKS
    assert findings["services"].get("failed") is True, findings["services"]
    lines = summary_lines(result.stdout)
    assert not any(line.startswith("HEALTHY") for line in lines), lines
    incomplete = [line for line in lines if line.startswith("INCOMPLETE")]
    assert incomplete and "services" in incomplete[0], lines
    # services covers the critical db, redis and indexer: an incomplete triage of them is P1, never below.
    assert findings["severity"]["level"] in {"P0", "P1"}, findings["severity"]


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
    state = subprocess.run(["docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", f"{STACK.project}-indexer-1"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert state == ["exited", "137"], "triage must not start the indexer"


def test_hung_docker_cli_yields_a_partial_result(healthy_sandbox: dict[str, str], triage: t.Callable[..., Triage],
                                                 helpers: t.Any, tmp_path: pathlib.Path) -> None:
    # A docker CLI that never answers: the role's per-check deadline reaches triage_info, which reports the
    # hung checks and every other check's result, within the task's own (larger) deadline.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\nexec sleep 600\n")
    docker.chmod(0o755)
    result = triage(helpers.utc_now(), "-e", f"usdx_docker_cli={docker}", "-e", "triage_check_timeout=3")
    findings = result.findings
    assert findings["services"].get("timed_out") is True, findings["services"]
    assert findings["api"].get("failed") is not True and findings["api"]["status"] == 200, findings["api"]
    assert findings["timings"]["total"] < 10, findings["timings"]
    assert not any(line.startswith("HEALTHY") for line in summary_lines(result.stdout))


@pytest.mark.parametrize("extra, message", [
    (["-e", "triage_timeout=10", "-e", "triage_check_timeout=10"], "triage_timeout=10 must be larger than triage_check_timeout=10"),
    (["-e", '{"triage_checks": []}'], "triage_checks is empty: name at least one of api, webapp, services"),
], ids=["deadlines", "no-checks"])
def test_bad_role_variables_are_refused_before_any_check(sandbox: dict[str, str], helpers: t.Any, tmp_path: pathlib.Path,
                                                         extra: list[str], message: str) -> None:
    command = [str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(REPO / "inventories/sandbox"), str(REPO / "playbooks/triage.yml"),
               "-e", f"triage_findings_dir={tmp_path}", *extra]
    proc = subprocess.run(command, cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert message in " ".join(proc.stdout.split()), proc.stdout[-2000:]
    assert "Run every diagnostic side by side" not in proc.stdout, "a check ran although the variables were refused"
    assert list(tmp_path.iterdir()) == [], "findings were written although the variables were refused"
