# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The triage judges the sandbox correctly: a retired role, a removed container, combined faults, made for real."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import typing as t

import pytest

pytestmark = pytest.mark.sandbox

REPO = pathlib.Path(__file__).resolve().parents[2]
RETIRED_ROLE = "usdx_itest_retired"


class Triage(t.NamedTuple):
    findings: dict[str, t.Any]
    stdout: str


@pytest.fixture
def triage(helpers: t.Any, tmp_path: pathlib.Path) -> t.Callable[[str], Triage]:
    """Run playbooks/triage.yml on the sandbox inventory; its findings document and output."""
    def run(log_since: str) -> Triage:
        command = [str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(REPO / "inventories/sandbox"),
                   str(REPO / "playbooks/triage.yml"), "-e", f"triage_findings_dir={tmp_path}", "-e", f"triage_log_since={log_since}"]
        proc = subprocess.run(command, cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return Triage(json.loads((tmp_path / "sandbox.json").read_text()), proc.stdout + proc.stderr)
    return run


def container(helpers: t.Any, service: str) -> str:
    proc = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={helpers.project}",
                           "--filter", f"label=com.docker.compose.service={service}"],
                          capture_output=True, text=True, timeout=30, check=True)
    ids = proc.stdout.split()
    assert len(ids) == 1, f"expected one {service} container, found {ids}"
    return ids[0]


def psql(helpers: t.Any, sql: str) -> str:
    """One statement as the postgres superuser inside the db container (local socket: no password on a command line)."""
    proc = subprocess.run(["docker", "exec", container(helpers, "db"), "psql", "-U", "postgres", "-d", "usdx_wexel", "-AtXq",
                           "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.fixture
def retired_role(healthy_sandbox: dict[str, str], helpers: t.Any) -> t.Iterator[str]:
    """A login role retired the usual way, CONNECTION LIMIT 0; dropped afterwards whatever the test did."""
    psql(helpers, f"DROP ROLE IF EXISTS {RETIRED_ROLE}")
    psql(helpers, f"CREATE ROLE {RETIRED_ROLE} LOGIN CONNECTION LIMIT 0")
    try:
        yield RETIRED_ROLE
    finally:
        psql(helpers, f"DROP ROLE IF EXISTS {RETIRED_ROLE}")


def test_a_retired_role_does_not_make_a_healthy_stack_p0(
        retired_role: str, triage: t.Callable[[str], Triage], helpers: t.Any) -> None:
    assert psql(helpers, f"SELECT rolconnlimit FROM pg_roles WHERE rolname = '{retired_role}'") == "0"
    result = triage(helpers.utc_now())
    postgres = result.findings["postgres"]
    assert postgres["exhausted"] is False, postgres["role_limits"]
    assert retired_role not in [row["user"] for row in postgres["role_limits"]]
    assert result.findings["severity"]["level"] != "P0", result.findings["severity"]
    assert "db_connections_exhausted" not in [s["scenario"] for s in result.findings["scenarios"]]
    assert "database connections exhausted" not in result.stdout


def test_a_removed_critical_container_is_named_missing_and_p0(sandbox: dict[str, str], triage: t.Callable[[str], Triage],
                                                              helpers: t.Any) -> None:
    helpers.sandbox_sh("fault", "clear")
    since = helpers.utc_now()
    try:
        subprocess.run(["docker", "rm", "-f", container(helpers, "redis")], capture_output=True, text=True, timeout=60, check=True)
        result = triage(since)
    finally:
        # fault clear runs `compose up -d`, which recreates the removed container, and waits until all are healthy.
        helpers.sandbox_sh("fault", "clear")
    verdict = result.findings["severity"]
    assert verdict["level"] == "P0", verdict
    assert "API unavailable: redis container missing" in verdict["reason"]
    assert result.findings["scenarios"][0]["scenario"] == "api_unavailable"
    assert "redis container missing" in result.findings["scenarios"][0]["evidence"]
    assert "redis container missing" in result.stdout
    container(helpers, "redis")  # restored


def test_exhaustion_outranks_the_indexer_it_crashed(sandbox_fault: t.Callable[[str], str], triage: t.Callable[[str], Triage]) -> None:
    since = sandbox_fault("db-connections")
    sandbox_fault("api-down")
    result = triage(since)
    ranked = result.findings["scenarios"]
    assert ranked[0]["scenario"] == "db_connections_exhausted", [(s["scenario"], s["score"], s["evidence"]) for s in ranked]
    assert "api_unavailable" in ranked[0]["explains"]
    assert result.findings["severity"]["level"] == "P0"
    assert "scenario 1: db_connections_exhausted " in result.stdout


def test_a_bad_deploy_is_ranked_first_and_a_major_feature_broken(
        sandbox_fault: t.Callable[[str], str], triage: t.Callable[[str], Triage]) -> None:
    """A release whose one API path fails (500) while /health stays 200: the deploy is the suspect, not a log line."""
    since = sandbox_fault("bad-deploy")
    result = triage(since)
    ranked = result.findings["scenarios"]
    assert ranked[0]["scenario"] == "bad_deployment", [(s["scenario"], s["score"], s["evidence"]) for s in ranked]
    evidence = ranked[0]["evidence"]
    assert any(text.startswith("indexer logs ") and "new error signature" in text for text in evidence), evidence
    assert result.findings["api"]["status"] == 200, "the fault must leave /health answering 200"
    verdict = result.findings["severity"]
    assert verdict["level"] == "P1", verdict
    assert verdict["reason"].startswith("major feature broken: "), verdict["reason"]
    assert "scenario 1: bad_deployment " in result.stdout
