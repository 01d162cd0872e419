# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sandbox integration fixtures: run the collection's modules for real, inject and clear faults.

Nothing here is mocked: modules run through ansible-playbook against the live sandbox
(sandbox/sandbox.sh up). Faults are injected with `sandbox.sh fault NAME` and always cleared
afterwards. `sandbox.sh down` is never run: other people may be using the sandbox.

The stack is the default one (project usdx-wexel) unless USDX_SANDBOX_STACK names a fleet stack (1..8: project
usdx-wexel-N, state in sandbox/.state/stacks/N, every port + 10*N), as sandbox.sh and the sandbox inventory read it.
The tools (ansible-playbook, usdx-incident) are those next to this Python (its virtualenv's bin).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t

import pytest
import yaml

from sandbox_stack import STACK, Stack

REPO = pathlib.Path(__file__).resolve().parents[2]
SANDBOX_SH = REPO / "sandbox" / "sandbox.sh"
STATE_DIR = STACK.state_dir
ENV_FILE = STACK.env_file
DATA_DIR = STACK.data_dir
PROJECT = STACK.project
TOOLS_BIN = pathlib.Path(sys.executable).parent
SECRETS_DEFAULTS = {"USDX_DB_SUPERUSER_PASSWORD": "sandbox-superuser-pw", "USDX_DB_PASSWORD": "sandbox-usdx-pw"}


def _bin(name: str) -> str:
    candidate = TOOLS_BIN / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


def read_sandbox_env() -> dict[str, str]:
    """The stack's sandbox.env (written by sandbox.sh up) over the contract's defaults."""
    values = {"USDX_DB_PORT": str(STACK.port(55432)), "USDX_INDEXER_PORT": str(STACK.port(3001)), **SECRETS_DEFAULTS}
    if ENV_FILE.exists():
        for line in ENV_FILE.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    return values


def utc_now() -> str:
    """Now as an RFC 3339 time that docker logs --since takes (whole seconds, a second early)."""
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_until(probe: t.Callable[[], t.Any], timeout: float = 60, interval: float = 2) -> t.Any:
    """Call probe until it returns something true; return that, or the last value after the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def sandbox_sh(*args: str, timeout: float = 600, check: bool = True, stack: int | None = None) -> subprocess.CompletedProcess[str]:
    """sandbox.sh ARGS on this session's stack (or the given one)."""
    env = {**os.environ, "USDX_SANDBOX_STACK": str(STACK.number if stack is None else stack)}
    proc = subprocess.run([str(SANDBOX_SH), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False,
                          env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"sandbox.sh {' '.join(args)} failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


class ModuleRun(t.NamedTuple):
    result: dict[str, t.Any]
    stdout: str
    stderr: str


def run_module(module: str, args: dict[str, t.Any] | None = None, check_mode: bool = False, timeout: float = 180) -> ModuleRun:
    """Run usdx.incident.<module> once through ansible-playbook (json callback) on localhost.

    Module arguments are written into a temporary playbook, so passwords never reach a command line.
    """
    with tempfile.TemporaryDirectory(prefix="usdx-itest-") as tmp:
        playbook = pathlib.Path(tmp, "play.yml")
        playbook.write_text(yaml.safe_dump([{
            "name": "integration", "hosts": "localhost", "gather_facts": False, "connection": "local",
            "tasks": [{"name": f"run {module}", f"usdx.incident.{module}": args or {}, "check_mode": check_mode}],
        }], sort_keys=False))
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
               "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0"}
        proc = subprocess.run(
            [_bin("ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={_bin('python')}", str(playbook)],
            capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, check=False,
        )
    try:
        doc = json.loads(proc.stdout)
        result = doc["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError(f"no result from ansible-playbook (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
    return ModuleRun(result, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def sandbox() -> t.Iterator[dict[str, str]]:
    """The running sandbox (started with sandbox.sh up if needed), its settings, and a lock against
    other test sessions of this checkout injecting faults at the same time."""
    if not SANDBOX_SH.exists():
        pytest.skip("sandbox/sandbox.sh does not exist")
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no usable Docker engine")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / "integration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sandbox_sh("up", timeout=1200)
        yield read_sandbox_env()


@pytest.fixture
def healthy_sandbox(sandbox: dict[str, str]) -> dict[str, str]:
    """The sandbox with every fault cleared."""
    sandbox_sh("fault", "clear")
    return sandbox


@pytest.fixture
def sandbox_fault(sandbox: dict[str, str]) -> t.Iterator[t.Callable[[str], str]]:
    """Inject a fault (sandbox.sh fault NAME); returns the time just before it, for docker logs --since.
    Every fault is cleared at teardown, whatever the test did."""
    injected: list[str] = []

    def inject(name: str) -> str:
        since = utc_now()
        injected.append(name)
        sandbox_sh("fault", name)
        return since

    sandbox_sh("fault", "clear")
    yield inject
    if injected:
        sandbox_sh("fault", "clear")


@pytest.fixture
def pg_args(sandbox: dict[str, str]) -> t.Callable[[str], dict[str, t.Any]]:
    """pg_activity_info arguments for one access path, as the superuser."""
    def args(connect_via: str) -> dict[str, t.Any]:
        common = {"connect_via": connect_via, "project_name": PROJECT, "login_user": "postgres",
                  "login_password": sandbox["USDX_DB_SUPERUSER_PASSWORD"], "login_db": "usdx_wexel"}
        if connect_via == "tcp":
            common.update(login_host="127.0.0.1", login_port=int(sandbox["USDX_DB_PORT"]))
        return common
    return args


@pytest.fixture
def secrets(sandbox: dict[str, str]) -> list[str]:
    return [sandbox["USDX_DB_SUPERUSER_PASSWORD"], sandbox["USDX_DB_PASSWORD"]]


@pytest.fixture
def assert_no_secret(secrets: list[str]) -> t.Callable[[ModuleRun], None]:
    def check(run: ModuleRun) -> None:
        for secret in secrets:
            assert secret not in run.stdout, "a password appears in the module output"
            assert secret not in run.stderr, "a password appears in ansible's stderr"
    return check


@pytest.fixture(scope="session")
def module_runner() -> t.Callable[..., ModuleRun]:
    """run_module(): run usdx.incident.<module> through ansible-playbook; see run_module()."""
    return run_module


@pytest.fixture(scope="session")
def helpers() -> t.Any:
    """Plain helpers for tests: utc_now, wait_until, sandbox_sh, playbook_command, ansible_env, tool; the stack."""
    class Helpers:
        utc_now = staticmethod(utc_now)
        wait_until = staticmethod(wait_until)
        sandbox_sh = staticmethod(sandbox_sh)
        tool = staticmethod(_bin)
        project = PROJECT
        stack = STACK
        stack_of = staticmethod(Stack.of)

        @staticmethod
        def playbook_command(playbook: str | pathlib.Path) -> list[str]:
            return [_bin("ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={_bin('python')}", str(playbook)]

        @staticmethod
        def ansible_env() -> dict[str, str]:
            return {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    return Helpers
