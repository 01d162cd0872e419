# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The api_unavailable role (playbooks/api_unavailable.yml) against the live sandbox.

molecule/api_unavailable covers the plain path (api-down -> converge -> idempotence -> verify).
These tests cover the rest: check mode, the api_unavailable_restart gate, a fault in front of the
API (a "load balancer" that fails while the indexer is healthy: nothing may be restarted), the
verify deadline, and bad input (which must fail at once, naming the variable, and change nothing).

Run: .venv/bin/pytest -m sandbox tests/integration/test_api_unavailable_role.py
The fixtures `sandbox` and `sandbox_fault` come from conftest.py (sandbox.sh up / fault / clear).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import typing as t

import pytest
import yaml

from sandbox_stack import STACK

pytestmark = pytest.mark.sandbox

REPO = pathlib.Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "api_unavailable.yml"
INVENTORY = REPO / "inventories" / "sandbox"
# The ansible of the Python running the tests (the project's virtualenv).
VENV_BIN = pathlib.Path(sys.executable).parent
PROJECT = STACK.project
HOST = "sandbox"


class Run(t.NamedTuple):
    rc: int
    doc: dict[str, t.Any]
    stderr: str

    @property
    def stats(self) -> dict[str, int]:
        return self.doc["stats"][HOST]

    def results(self) -> t.Iterator[tuple[str, dict[str, t.Any]]]:
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                if HOST in task["hosts"]:
                    # "usdx.incident.api_unavailable : Task name" -> "Task name"
                    yield task["task"]["name"].partition(" : ")[2] or task["task"]["name"], task["hosts"][HOST]

    def task(self, prefix: str) -> dict[str, t.Any]:
        """The result of the first task whose name starts with prefix."""
        for name, result in self.results():
            if name.startswith(prefix):
                return result
        raise AssertionError(f"no task {prefix!r} ran; tasks: {[name for name, _result in self.results()]}")

    def failure(self) -> tuple[str, str]:
        """(task name, message) of the failed task."""
        for name, result in self.results():
            if result.get("failed"):
                # A looped task says "One or more items failed"; the reason is in the items.
                items = [str(item.get("msg", "")) for item in result.get("results", []) if item.get("failed")]
                return name, " | ".join([str(result.get("msg", "")), *items])
        raise AssertionError("no task failed")

    @property
    def outcome(self) -> dict[str, t.Any]:
        """The fact api_unavailable_result the role sets."""
        return self.task("Record the result of the role")["ansible_facts"]["api_unavailable_result"]


def run_role(*, extra_vars: dict[str, t.Any] | None = None, check: bool = False,
             inventory: pathlib.Path = INVENTORY, timeout: float = 400) -> Run:
    """ansible-playbook playbooks/api_unavailable.yml with the json callback."""
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK)]
    if check:
        cmd.append("--check")
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_RETRY_FILES_ENABLED": "0",
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, check=False)
    try:
        doc = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(f"no JSON from ansible-playbook (rc={proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
    return Run(proc.returncode, doc, proc.stderr)


def indexer_state() -> dict[str, t.Any]:
    """Id and State of the indexer container of the sandbox project."""
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--filter", "label=com.docker.compose.service=indexer"],
        capture_output=True, text=True, check=True).stdout.split()
    assert len(ids) == 1, f"expected one indexer container, found {ids}"
    info = json.loads(subprocess.run(["docker", "inspect", ids[0]], capture_output=True, text=True, check=True).stdout)[0]
    state = info["State"]
    return {"id": info["Id"], "status": state["Status"], "exit_code": state["ExitCode"],
            "started_at": state["StartedAt"], "finished_at": state["FinishedAt"]}


def bystanders() -> dict[str, tuple[str, str]]:
    """Container id and start time of every service the role must leave alone."""
    ids = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={PROJECT}"],
                         capture_output=True, text=True, check=True).stdout.split()
    found = {}
    for info in json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout):
        service = info["Config"]["Labels"]["com.docker.compose.service"]
        if service != "indexer":
            found[service] = (info["Id"], info["State"]["StartedAt"])
    return found


# ------------------------------------------------------------------ check mode, then real runs

@pytest.mark.newest
def test_check_mode_then_fix_then_idempotent(sandbox_fault):
    """check (reports the start, changes nothing) -> real (starts the indexer) -> check -> real (no change)."""
    sandbox_fault("api-down")
    killed = indexer_state()
    untouched = bystanders()

    check1 = run_role(check=True)
    after_check1 = indexer_state()
    real1 = run_role()
    after_real1 = indexer_state()
    check2 = run_role(check=True)
    real2 = run_role()
    after_real2 = indexer_state()

    assert killed["status"] == "exited" and killed["exit_code"] == 137
    # 1. check mode: diagnoses, predicts the start, changes nothing, skips verify
    assert check1.rc == 0, check1.failure()
    assert check1.stats["changed"] >= 1
    assert check1.outcome["start"] == ["indexer"] and check1.outcome["restart"] == []
    assert check1.outcome["check_mode"] is True and check1.outcome["healthy_before"] is False
    assert check1.outcome["api_status"] == -1 and check1.outcome["api_port_open"] is False
    assert "Would start: indexer" in check1.task("Report what check mode would do")["msg"]
    assert check1.task("Verify the API stack is healthy").get("skipped") is True
    assert after_check1 == killed, "check mode changed the indexer container"
    # 2. real run: the same container is started again (not recreated) and verified healthy
    assert real1.rc == 0, real1.failure()
    assert real1.stats["changed"] >= 1
    assert real1.outcome["start"] == ["indexer"]
    assert real1.task("Start the services that are not running")["changed"] is True
    assert real1.task("Restart the running services").get("skipped") is True
    assert "answer 200" in real1.task("Report the stack healthy")["msg"]
    assert after_real1["id"] == killed["id"] and after_real1["status"] == "running"
    assert after_real1["finished_at"] == killed["finished_at"]
    # 3./4. healthy stack: nothing to do, in check mode or not
    for run in (check2, real2):
        assert run.rc == 0, run.failure()
        assert run.stats["changed"] == 0
        assert run.outcome["healthy_before"] is True
        assert run.outcome["start"] == [] and run.outcome["restart"] == []
    assert after_real2 == after_real1
    # Only the broken service was started: db, redis, chain and webapp were neither restarted nor recreated.
    assert set(untouched) == {"db", "redis", "chain", "webapp"}
    assert bystanders() == untouched, "the role restarted or recreated a service that was not broken"


# ------------------------------------------------------------------ the restart gate

def test_restart_false_withholds_the_fix(sandbox_fault):
    sandbox_fault("api-down")
    before = indexer_state()

    run = run_role(extra_vars={"api_unavailable_restart": False})
    after = indexer_state()

    assert run.rc == 0, run.failure()
    assert run.stats["changed"] == 0
    assert run.outcome["withheld"] is True and run.outcome["start"] == ["indexer"]
    message = run.task("Report the fix withheld")["msg"]
    assert message.startswith("WITHHELD") and "docker compose up -d --no-deps --no-recreate indexer" in message
    assert run.task("Start the services that are not running").get("skipped") is True
    assert run.task("Verify the API stack is healthy").get("skipped") is True
    assert after == before and after["status"] == "exited"


# ------------------------------------------------------------------ a fault in front of the API

class _BadGateway(http.server.BaseHTTPRequestHandler):
    """A load balancer whose backend pool is empty: 502 to everything."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: t.Any) -> None:
        pass


@contextlib.contextmanager
def bad_gateway() -> t.Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BadGateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def closed_port() -> t.Iterator[str]:
    """A port nothing listens on (bound, then released): the load balancer is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(("front", "url_error"), [(bad_gateway, "answered 502"), (closed_port, "did not answer")],
                         ids=["load balancer answers 502", "load balancer port closed"])
def test_fault_in_front_of_the_api_changes_nothing(healthy_sandbox, front, url_error):
    """The indexer is healthy, only usdx_api_url fails: no restart, and the fault is named with its evidence."""
    before = indexer_state()
    untouched = bystanders()
    with front() as url:
        run = run_role(extra_vars={"usdx_api_url": url})
    after = indexer_state()

    assert run.rc != 0
    assert run.stats["changed"] == 0
    task, message = run.failure()
    assert task.startswith("Stop, the fault is in front of the API"), (task, message)
    assert message.startswith("FAULT IN FRONT OF THE API")
    assert "in front of the API (DNS, TLS, load balancer, network)" in message
    assert f"{url}/health {url_error}" in message
    assert f"http://127.0.0.1:{STACK.port(3001)}/health answered 200" in message  # the direct probe of the container's own port
    assert run.task("Probe the API container's own published port").get("skipped") is not True
    assert run.outcome["front_fault"] and run.outcome["direct_status"] == 200
    assert run.outcome["start"] == [] and run.outcome["restart"] == []
    ran = [name for name, _result in run.results()]
    assert not [name for name in ran if name.startswith(("Start the services", "Restart the running"))], ran
    assert after == before and after["status"] == "running", "the healthy indexer was restarted"
    assert bystanders() == untouched


# ------------------------------------------------------------------ cause outranks effect

def test_crashed_indexer_is_not_started_into_a_full_database(sandbox_fault):
    """db-connections, then api-down: the indexer is down because of the database; starting it does not help."""
    sandbox_fault("db-connections")
    sandbox_fault("api-down")
    before = indexer_state()
    untouched = bystanders()

    run = run_role()

    assert run.rc != 0
    assert run.stats["changed"] == 0
    task, message = run.failure()
    assert task.startswith("Refuse to act"), (task, message)
    assert message.startswith("REFUSED: indexer")
    assert "out of connections" in message and "Database Connection Exhausted" in message
    assert message.endswith("Nothing was started or restarted.")
    assert run.outcome["start"] == [] and run.outcome["refused"][0]["service"] == "indexer"
    assert indexer_state() == before and before["status"] == "exited"
    assert bystanders() == untouched


# ------------------------------------------------------------------ the verify deadline

def _task_seconds(run: Run, prefix: str) -> float:
    for play in run.doc["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].partition(" : ")[2].startswith(prefix):
                duration = task["task"]["duration"]
                start, end = (dt.datetime.fromisoformat(duration[key].replace("Z", "+00:00")) for key in ("start", "end"))
                return (end - start).total_seconds()
    raise AssertionError(f"no task {prefix!r}")


def test_verify_gives_up_at_its_deadline(sandbox_fault):
    """The webapp serves its maintenance page (its container is healthy, so nothing is restarted):
    the indexer is started, then verify fails at its one deadline, however many polls that took."""
    sandbox_fault("api-down")
    subprocess.run(["docker", "compose", "-p", PROJECT, "exec", "-T", "redis", "redis-cli", "SET", "usdx:maintenance", "1"],
                   check=True, capture_output=True)
    run = run_role(extra_vars={"api_unavailable_verify_timeout": 4, "api_unavailable_probe_timeout": 1})

    task, message = run.failure()
    assert task.startswith("Fail with what did not become healthy"), (task, message)
    assert "did not become healthy within 4 s" in message and f"http://127.0.0.1:{STACK.port(3000)}/ answered 503" in message
    assert run.outcome["start"] == ["indexer"] and run.outcome["restart"] == []
    wait = run.task("Wait for the API, the webapp and the containers")
    # A second poll is the point; how many fit in 4 s is the machine's speed (3 here, 2 on a loaded runner).
    assert wait["attempts"] >= 2, "verify did not poll again"
    # One deadline: 4 s, plus the poll running when it passed (its probes are bounded by 1 s) and one poll delay.
    assert _task_seconds(run, "Wait for the API, the webapp and the containers") <= 4 + 1 + 0.5 + 1


# ------------------------------------------------------------------ bad input

def _absolute(value: t.Any) -> t.Any:
    """The sandbox inventory's paths, which are relative to its own directory, made absolute."""
    if isinstance(value, list):
        return [_absolute(item) for item in value]
    if isinstance(value, str):
        return value.replace("inventory_dir ~ '/../..", f"'{REPO}")
    return value


def _inventory(tmp_path: pathlib.Path, **overrides: t.Any) -> pathlib.Path:
    """A copy of the sandbox inventory with absolute paths; an override of None removes the variable."""
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    shutil.copy(INVENTORY / "hosts.yml", inv / "hosts.yml")
    group_vars = {key: _absolute(value) for key, value in
                  yaml.safe_load((INVENTORY / "group_vars" / "usdx_stacks.yml").read_text()).items()}
    for key, value in overrides.items():
        if value is None:
            group_vars.pop(key)
        else:
            group_vars[key] = value
    (inv / "group_vars" / "usdx_stacks.yml").write_text(yaml.safe_dump(group_vars))
    return inv


BAD_EXTRA_VARS = [
    ({"api_unavailable_log_tail": "many"}, "api_unavailable_log_tail"),
    ({"api_unavailable_restart": "maybe"}, "api_unavailable_restart"),
    ({"api_unavailable_services": ["indexer", "db"]}, "api_unavailable_services"),
    ({"api_unavailable_services": "indexer"}, "api_unavailable_services"),
    ({"api_unavailable_verify_timeout": 0}, "api_unavailable_verify_timeout"),
    ({"api_unavailable_verify_timeout": 100000}, "api_unavailable_verify_timeout"),
    ({"api_unavailable_health_path": "health"}, "api_unavailable_health_path"),
    ({"api_unavailable_log_levels": ["ERROR", "PANIC"]}, "api_unavailable_log_levels"),
]

BAD_INVENTORY = [
    ({"usdx_api_url": None}, "usdx_api_url"),
    ({"usdx_compose_project_name": None}, "usdx_compose_project_name"),
    ({"usdx_compose_files": "compose.yaml"}, "usdx_compose_files"),
    ({"usdx_compose_env_files": {"file": "x.env"}}, "usdx_compose_env_files"),
    ({"usdx_webapp_url": "ftp://127.0.0.1:3000"}, "usdx_webapp_url"),
]


@pytest.fixture(scope="module")
def api_down(sandbox, helpers) -> t.Iterator[t.Callable[[], dict[str, t.Any]]]:
    """The api-down fault, (re)injected on demand (cheap when already in place), cleared at the end."""
    def ensure() -> dict[str, t.Any]:
        helpers.sandbox_sh("fault", "api-down")
        return indexer_state()

    yield ensure
    helpers.sandbox_sh("fault", "clear")


def _assert_rejected(run: Run, variable: str, before: dict[str, t.Any]) -> None:
    task, message = run.failure()
    assert run.rc != 0
    assert variable in message, f"{task}: {message}"
    # It failed in validation, before diagnose: nothing was listed, started or restarted.
    assert task.startswith(("Validating arguments", "Check ")), task
    assert run.stats["changed"] == 0
    assert indexer_state() == before, "a rejected run changed the indexer container"


@pytest.mark.parametrize(("extra_vars", "variable"), BAD_EXTRA_VARS,
                         ids=[f"{v}={json.dumps(e[v])}" for e, v in BAD_EXTRA_VARS])
def test_bad_role_variable_is_rejected(api_down, extra_vars, variable):
    before = api_down()
    _assert_rejected(run_role(extra_vars=extra_vars), variable, before)


@pytest.mark.parametrize(("overrides", "variable"), BAD_INVENTORY,
                         ids=[f"{v}={'missing' if o[v] is None else json.dumps(o[v])}" for o, v in BAD_INVENTORY])
def test_bad_inventory_variable_is_rejected(api_down, tmp_path, overrides, variable):
    """The argument spec is checked against inventory variables too, not only role parameters."""
    before = api_down()
    _assert_rejected(run_role(inventory=_inventory(tmp_path, **overrides)), variable, before)


def test_inventory_copy_is_valid(api_down, tmp_path):
    """Control for the two tests above: the unmodified copy passes validation (check mode, no change)."""
    before = api_down()
    run = run_role(inventory=_inventory(tmp_path), check=True)
    assert run.rc == 0, run.failure()
    assert run.outcome["start"] == ["indexer"]
    assert indexer_state() == before
