# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_activity_info, compose_service_info and container_log_scan against the live sandbox and its faults.

Run: .venv/bin/pytest -m sandbox tests/integration/test_diagnostics_modules.py
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import psycopg2
import pytest
import yaml

from sandbox_stack import STACK

pytestmark = pytest.mark.sandbox

PROJECT = STACK.project
SERVICES = ["chain", "db", "indexer", "redis", "webapp"]


# ------------------------------------------------------------------ healthy stack

def test_healthy_compose_services(healthy_sandbox, module_runner, assert_no_secret):
    run = module_runner("compose_service_info", {"project_name": PROJECT})
    result = run.result
    assert result["changed"] is False
    assert result["project_found"] is True
    assert sorted(result["services"]) == SERVICES
    assert result["running"] == SERVICES
    assert result["not_running"] == [] and result["unhealthy"] == [] and result["missing"] == []
    indexer = result["services"]["indexer"]
    assert indexer["health"] == "healthy" and indexer["exit_code"] == 0
    assert indexer["memory_limit_set"] is True and indexer["memory_limit_bytes"] == 256 * 1024**2
    assert 0 < indexer["memory_usage_bytes"] < indexer["memory_limit_bytes"]
    assert indexer["cpu_percent"] is not None and indexer["uptime_seconds"] > 0
    assert indexer["image"] == "usdx-sandbox/indexer:v1.4.0" and indexer["image_age_seconds"] > 0  # the default release
    assert {"container_port": 3001, "protocol": "tcp", "host_ip": "127.0.0.1",
            "host_port": int(healthy_sandbox["USDX_INDEXER_PORT"])} in indexer["ports"]
    assert_no_secret(run)


def test_missing_project_is_not_a_failure(sandbox, module_runner):
    result = module_runner("compose_service_info", {"project_name": f"usdx-absent-{uuid.uuid4().hex[:6]}"}).result
    assert result.get("failed") is None
    assert (result["project_found"], result["services"]) == (False, {})


@pytest.mark.parametrize("connect_via", ["tcp", "container"], ids=["tcp", "container"])
def test_healthy_pg_activity(healthy_sandbox, module_runner, pg_args, assert_no_secret, connect_via):
    run = module_runner("pg_activity_info", pg_args(connect_via))
    result = run.result
    assert result["changed"] is False
    assert result["is_available"] is True, result.get("error")
    assert result["connect_via"] == connect_via
    assert result["server_version"].startswith("15")
    assert (result["max_connections"], result["superuser_reserved_connections"]) == (20, 3)
    assert result["exhausted"] is False
    assert 0 < result["use_percent"] < 100
    assert result["connections"]["by_user"].get("usdx", 0) >= 1  # the indexer's pool and worker
    assert result["waiting_locks"] == [] and result["blocking_pids"] == []
    assert_no_secret(run)


def test_healthy_logs_have_no_causes(healthy_sandbox, module_runner, helpers):
    since = helpers.utc_now()
    time.sleep(5)  # a few seconds of normal operation
    result = module_runner("container_log_scan", {"project_name": PROJECT, "since": since}).result
    assert result["changed"] is False and result["project_found"] is True
    assert sorted(result["services"]) == SERVICES
    assert result["causes"] == {}, json.dumps(result["causes"], indent=1)
    assert result["services"]["indexer"]["lines"] > 0


def test_check_mode_changes_nothing(healthy_sandbox, module_runner, pg_args):
    for module, args in [("compose_service_info", {"stats": False}), ("container_log_scan", {"tail": 10}),
                         ("pg_activity_info", pg_args("container"))]:
        result = module_runner(module, args, check_mode=True).result
        assert result["changed"] is False and not result.get("failed"), (module, result.get("msg"))


def test_bad_option_names_value_and_accepted(sandbox, module_runner):
    result = module_runner("container_log_scan", {"tail": 20000}).result
    assert result["failed"] is True
    assert result["msg"] == "tail=20000 is out of range: accepted values are 1 to 10000"
    result = module_runner("pg_activity_info", {"connect_via": "ssh"}).result
    assert result["failed"] is True
    assert "connect_via must be one of: tcp, container, got: ssh" in result["msg"]


# ------------------------------------------------------------------ db-connections

@pytest.mark.parametrize("connect_via", ["tcp", "container"], ids=["tcp", "container"])
def test_db_connections_fault_pg_activity(sandbox_fault, module_runner, pg_args, assert_no_secret, connect_via):
    sandbox_fault("db-connections")
    run = module_runner("pg_activity_info", pg_args(connect_via))
    result = run.result
    assert result["is_available"] is True, result.get("error")
    assert result["exhausted"] is True
    # the sandbox caps role usdx at 15 of the 20 slots: the role is at 100 %, the server at 75 % or more
    usdx = next(r for r in result["role_limits"] if r["user"] == "usdx")
    assert usdx["at_limit"] is True and usdx["use_percent"] >= 100
    assert result["use_percent"] >= 75
    assert result["connections"]["by_application"].get("usdx-reconciler", 0) >= 10
    holders = {s["pid"] for s in result["idle_in_transaction"]}
    assert holders, "no session idle in transaction"
    assert all(s["xact_age_seconds"] >= 0 for s in result["idle_in_transaction"])
    assert result["waiting_locks"], "no ungranted lock"
    assert all(lock["blocking_pids"] for lock in result["waiting_locks"])
    assert set(result["blocking_pids"]) & holders
    assert any(q["wait_event_type"] == "Lock" for q in result["active_queries"])
    assert all(len(q["query"]) <= 1000 for q in result["active_queries"] + result["idle_in_transaction"])
    assert_no_secret(run)


def test_db_connections_fault_logs(sandbox_fault, module_runner, helpers):
    since = sandbox_fault("db-connections")

    def scan():
        result = module_runner("container_log_scan", {"project_name": PROJECT, "services": ["indexer"], "since": since}).result
        return result if "db_connections_exhausted" in result["causes"] else None

    result = helpers.wait_until(scan, timeout=60)
    assert result, "db_connections_exhausted not found in the indexer's logs"
    cause = result["causes"]["db_connections_exhausted"]
    assert cause["services"] == ["indexer"] and cause["count"] >= 1
    assert "too many" in cause["sample"]
    assert result["services"]["indexer"]["signatures"][0]["level"] in ("ERROR", "FATAL")


def test_pg_still_reports_when_even_superuser_slots_are_full(healthy_sandbox, module_runner, pg_args, assert_no_secret):
    """Fill every slot, the superuser ones too (bounded, loopback only): the module must report, not fail."""
    held = []
    try:
        for _attempt in range(40):
            try:
                held.append(psycopg2.connect(host="127.0.0.1", port=int(healthy_sandbox["USDX_DB_PORT"]), user="postgres",
                                             password=healthy_sandbox["USDX_DB_SUPERUSER_PASSWORD"], dbname="usdx_wexel",
                                             application_name="usdx-itest-filler", connect_timeout=5))
            except psycopg2.OperationalError as exc:
                assert "too many clients" in str(exc)
                break
        else:
            pytest.fail("the server accepted 40 connections")
        for connect_via in ("tcp", "container"):
            run = module_runner("pg_activity_info", pg_args(connect_via))
            assert run.result.get("failed") is None, run.result.get("msg")
            assert run.result["is_available"] is False
            assert run.result["exhausted"] is True
            assert "too many clients" in run.result["error"]
            assert_no_secret(run)
    finally:
        for conn in held:
            conn.close()


# ------------------------------------------------------------------ api-down

def test_api_down_fault_compose_services(sandbox_fault, module_runner):
    sandbox_fault("api-down")
    result = module_runner("compose_service_info", {"project_name": PROJECT}).result
    indexer = result["services"]["indexer"]
    assert "indexer" in result["not_running"] and "indexer" not in result["running"]
    assert (indexer["state"], indexer["running"], indexer["exit_code"]) == ("exited", False, 137)
    assert indexer["oom_killed"] is False
    assert indexer["uptime_seconds"] is None and indexer["memory_usage_bytes"] is None
    assert indexer["finished_at"] is not None
    assert set(result["running"]) == set(SERVICES) - {"indexer"}
    # the logs of the dead container can still be read
    logs = module_runner("container_log_scan", {"project_name": PROJECT, "services": ["indexer"], "tail": 50}).result
    assert logs["services"]["indexer"]["running"] is False and logs["services"]["indexer"]["exit_code"] == 137
    assert 0 < logs["services"]["indexer"]["lines"] <= 50


# ------------------------------------------------------------------ rpc-down

def test_rpc_down_fault_logs(sandbox_fault, module_runner, helpers):
    since = sandbox_fault("rpc-down")

    def scan():
        result = module_runner("container_log_scan", {"project_name": PROJECT, "since": since}).result
        return result if "rpc_failure" in result["causes"] else None

    result = helpers.wait_until(scan, timeout=60)
    assert result, "rpc_failure not found in the logs"
    assert "indexer" in result["causes"]["rpc_failure"]["services"]
    assert "db_connections_exhausted" not in result["causes"]
    services = module_runner("compose_service_info", {"project_name": PROJECT, "services": ["chain"], "stats": False}).result
    assert services["not_running"] == ["chain"]


# ------------------------------------------------------------------ a throw-away project: odd logs, crash, templating

@pytest.fixture
def scratch_project(sandbox):
    """Containers of a compose project of their own (never the sandbox's), removed afterwards."""
    project = f"usdx-itest-{uuid.uuid4().hex[:8]}"
    started: list[str] = []

    def start(service: str, script: str, detach: bool = True) -> str:
        name = f"{project}-{service}-1"
        started.append(name)
        proc = subprocess.run(["docker", "run", *(["--detach"] if detach else []), "--name", name,
                               "--label", f"com.docker.compose.project={project}",
                               "--label", f"com.docker.compose.service={service}",
                               "usdx-sandbox/base:bookworm", "sh", "-c", script], capture_output=True, text=True, check=False)
        assert not detach or proc.returncode == 0, proc.stderr
        return name

    yield project, start
    subprocess.run(["docker", "rm", "--force", *started], capture_output=True, check=False)


def test_crash_on_startup_and_odd_output(scratch_project, module_runner, helpers):
    project, start = scratch_project
    start("crasher", "printf 'starting\\nTraceback (most recent call last):\\n  File \"app.py\", line 1\\nMemoryError\\n' >&2; exit 1",
          detach=False)
    start("noisy", "printf '\\033[31mERROR\\033[0m bad \\377\\376 bytes\\n'; head -c 20000 /dev/zero | tr '\\0' x; echo; "
                   "echo 'ERROR disk: No space left on device'; sleep 600")

    def scan():
        result = module_runner("container_log_scan", {"project_name": project}).result
        return result if result["services"].get("noisy", {}).get("lines", 0) >= 3 else None

    result = helpers.wait_until(scan, timeout=30)
    assert result, "scratch containers did not log"
    crasher = result["services"]["crasher"]
    assert crasher["running"] is False and crasher["exit_code"] == 1
    assert "crash_on_startup" in crasher["causes"] and "out_of_memory" in crasher["causes"]
    noisy = result["services"]["noisy"]
    assert noisy["truncated_lines"] == 1 and noisy["running"] is True
    assert "disk_full" in noisy["causes"] and "crash_on_startup" not in noisy["causes"]
    assert all(len(s["sample"]) <= 300 and "\x1b" not in s["sample"] for s in noisy["signatures"])
    assert any("\ufffd" in s["sample"] for s in noisy["signatures"])
    assert sorted(result["causes"]) == ["crash_on_startup", "disk_full", "out_of_memory"]


def test_log_text_is_never_templated(scratch_project, helpers, tmp_path):
    project, start = scratch_project
    marker = tmp_path / "templated"
    start("evil", f"echo \"ERROR {{{{ lookup('pipe', 'touch {marker}') }}}}\"; sleep 600")
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False, "connection": "local",
        "tasks": [
            {"usdx.incident.container_log_scan": {"project_name": project}, "register": "scan",
             "until": "scan.services.evil.signatures | length > 0", "retries": 10, "delay": 1},
            {"ansible.builtin.debug": {"msg": "{{ scan.services.evil.signatures[0].sample }}"}},
            {"ansible.builtin.set_fact": {"copied": "{{ scan.services.evil.signatures[0].sample }}"}},
            {"ansible.builtin.debug": {"msg": "{{ copied }}"}},
        ],
    }]))
    proc = subprocess.run(helpers.playbook_command(playbook), capture_output=True, text=True, timeout=120,
                          env=helpers.ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("{{ lookup('pipe', 'touch") >= 2
    assert not marker.exists(), "log text was templated"
