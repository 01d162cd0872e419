# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A docker CLI that fails or hangs for real: the triage says so, on time, and leaves nothing running.

Run: .venv/bin/pytest -m sandbox tests/integration/test_fail_closed.py
"""

from __future__ import annotations

import json
import pathlib
import random
import subprocess
import sys
import time
import typing as t

import pytest
import yaml

from sandbox_stack import REPO, STACK

pytestmark = pytest.mark.sandbox

DATA = STACK.data_dir
CHECKS = ["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment"]
DENIED = ("permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: "
          "Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.41/containers/json\": dial unix /var/run/docker.sock: connect: permission denied")


@pytest.fixture
def docker_cli(tmp_path: pathlib.Path) -> t.Callable[[str], pathlib.Path]:
    """A C(docker) executable in a temporary directory running the given shell script."""
    def make(script: str) -> pathlib.Path:
        path = tmp_path / "bin" / "docker"
        path.parent.mkdir(exist_ok=True)
        path.write_text("#!/bin/sh\n" + script)
        path.chmod(0o755)
        return path
    return make


@pytest.fixture
def sleep_marker() -> t.Iterator[str]:
    """A unique extra argument for sleep (GNU sleep adds up its arguments), for pgrep -f; killed at teardown if left."""
    marker = f"0.{random.randrange(10**11, 10**12)}"
    yield marker
    left = _running(marker)
    if left:
        subprocess.run(["kill", "-KILL", *left], check=False, capture_output=True)


def _running(marker: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", f"sleep 600 {marker}"], capture_output=True, text=True, check=False).stdout.split()


def _args(sandbox: dict[str, str], pg: dict[str, t.Any], docker: pathlib.Path, **extra: t.Any) -> dict[str, t.Any]:
    return {
        **pg, "docker_cli": str(docker),
        "api_url": f"http://127.0.0.1:{sandbox['USDX_INDEXER_PORT']}",
        "webapp_url": f"http://127.0.0.1:{sandbox.get('USDX_WEBAPP_PORT', '3000')}",
        "rpc_url": f"http://127.0.0.1:{sandbox.get('USDX_CHAIN_PORT', '58545')}",
        "paths": [str(DATA)], "largest": 0, "repo_path": str(REPO), "lag_sample_seconds": 0, **extra,
    }


def test_a_docker_cli_without_access_fails_services_and_logs(
        healthy_sandbox, module_runner, pg_args, docker_cli, assert_no_secret):
    docker = docker_cli(f"echo '{DENIED}' >&2\nexit 1\n")
    run = module_runner("triage_info", _args(healthy_sandbox, pg_args("tcp"), docker))
    result = run.result
    assert result.get("failed") is None and result["checks"] == CHECKS
    for name, module in (("services", "compose_service_info"), ("logs", "container_log_scan")):
        assert result[name]["failed"] is True, result[name]
        assert result[name]["msg"].startswith(f"{module}: docker ps --all --quiet failed (rc=1): permission denied while trying"), result[name]
        assert "running" not in result[name] and "services" not in result[name]  # no empty "no containers" answer
    assert result["deployment"]["partial"][0].startswith("container changes not read: docker ps --all --quiet failed (rc=1): permission denied")
    assert result["deployment"]["commits"], "the checkout is still read"
    # the checks that do not need docker still answer
    assert result["api"]["status"] == 200 and result["webapp"]["status"] == 200
    assert result["postgres"]["is_available"] is True and result["lag"].get("failed") is None
    assert_no_secret(run)


def test_a_hung_docker_cli_is_killed_at_the_check_deadline(healthy_sandbox, module_runner, pg_args, docker_cli, sleep_marker):
    # Hangs in the foreground with a child in the background: both must go at the deadline.
    docker = docker_cli(f"sleep 600 {sleep_marker} &\nsleep 600 {sleep_marker}\n")
    started = time.monotonic()
    result = module_runner("triage_info", _args(healthy_sandbox, pg_args("tcp"), docker, check_timeout=4)).result
    wall = time.monotonic() - started
    assert result.get("failed") is None, result.get("msg")
    for name in ("services", "logs"):
        assert result[name]["failed"] is True and result[name]["timed_out"] is True, result[name]
    assert result["timings"]["total"] < 4 + 1.0, result["timings"]
    assert wall < 4 + 60  # ansible's own start-up, on a shared machine
    assert "did not finish" in result["deployment"]["partial"][-1]
    assert result["api"]["status"] == 200 and result["postgres"]["is_available"] is True
    assert _running(sleep_marker) == [], "a docker child outlived the module"


def test_the_triage_playbook_says_incomplete_when_docker_hangs(healthy_sandbox, helpers, docker_cli, sleep_marker,
                                                               tmp_path):
    if "INCOMPLETE" not in (REPO / "plugins" / "filter" / "summary.py").read_text():
        pytest.skip("the fail-closed summary filter is not there")
    docker = docker_cli(f"sleep 600 {sleep_marker}\n")
    findings_dir = tmp_path / "findings"
    command = [str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(REPO / "inventories/sandbox"), str(REPO / "playbooks/triage.yml"),
               "-e", f"triage_findings_dir={findings_dir}", "-e", f"usdx_docker_cli={docker}", "-e", "triage_check_timeout=4"]
    proc = subprocess.run(command, cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    findings = json.loads((findings_dir / "sandbox.json").read_text())
    assert findings["services"]["timed_out"] is True and findings["logs"]["timed_out"] is True
    task = proc.stdout.split("TASK [usdx.incident.triage : Summary]", 1)[1].split("PLAY RECAP", 1)[0]
    lines = yaml.safe_load(task.split("=>", 1)[1])["msg"]
    assert not any(line.startswith("HEALTHY") for line in lines), lines
    assert any(line.startswith("INCOMPLETE") and "services" in line for line in lines), lines
    assert findings["severity"]["level"] in {"P0", "P1"}, findings["severity"]
    assert _running(sleep_marker) == []
