# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import types
import uuid
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _disk, _disk_usage, _http, _proc
from ansible_collections.usdx.incident.plugins.modules import (
    compose_service_info,
    container_log_scan,
    deployment_info,
    disk_usage_info,
    indexer_lag_info,
    pg_activity_info,
    triage_info,
)

ALL = ["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment"]
API = "http://api.test:3001"
WEBAPP = "http://webapp.test:3000"
RPC = "http://rpc.test:8545"
METRICS = API + "/metrics"
SECRET = "sandbox-superuser-pw"
# Values that depend on when the check ran, not on what it saw.
VOLATILE = {"uptime_seconds", "image_age_seconds", "age_days", "age_hours", "latency_ms", "elapsed", "seconds", "invocation"}
DB = {"Id": "dbcid", "Name": "/rectest-db-1", "Created": "2026-11-28T06:56:20.5Z", "Image": "sha256:" + "d" * 64,
      "State": {"Status": "running", "Running": True, "ExitCode": 0, "StartedAt": "2026-11-28T06:56:21Z",
                "FinishedAt": "0001-01-01T00:00:00Z"},
      "Config": {"Image": "postgres:15", "Labels": {"com.docker.compose.service": "db"}}}
HEALTH = {"status": "degraded", "checks": {"db": "ok", "redis": "ok", "chain": "connection refused"}}


def _stable(value):
    """The value without the keys that depend on the time of the run."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


class Http:
    """open_url of the API, the webapp, the RPC and the metrics, as the sandbox answers them."""

    def __init__(self, api_status=503, webapp_down=False):
        self.api_status, self.webapp_down = api_status, webapp_down
        self.urls = []

    def __call__(self, url, data=None, headers=None, method=None, timeout=None, **_options):
        self.urls.append(url)
        if url == API + "/health":
            body = json.dumps(HEALTH).encode()
            if self.api_status != 200:
                raise HTTPError(url, self.api_status, "Service Unavailable", {"Content-Type": "application/json"}, io.BytesIO(body))
            return self._answer(url, 200, body, "application/json")
        if url == WEBAPP + "/":
            if self.webapp_down:
                raise URLError(ConnectionRefusedError(111, "Connection refused"))
            return self._answer(url, 200, b"<html>USDX</html>", "text/html")
        if url == RPC:
            call = json.loads(data)
            if call["method"] == "eth_blockNumber":
                result = hex(1002)
            else:
                result = {"number": call["params"][0], "timestamp": hex(1_795_000_000 + int(call["params"][0], 16))}
            return self._answer(url, 200, json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": result}).encode(), "application/json")
        if url == METRICS:
            text = ("usdx_indexer_last_indexed_block 1000\nusdx_indexer_chain_head_block 1002\nusdx_indexer_lag_blocks 2\n"
                    "usdx_indexer_lag_seconds 2.5\nusdx_indexer_paused 0\nusdx_maintenance_mode 0\n")
            return self._answer(url, 200, text.encode(), "text/plain")
        raise URLError(f"no such host in this test: {url}")

    @staticmethod
    def _answer(url, status, body, content_type):
        stream = io.BytesIO(body)
        return types.SimpleNamespace(getcode=lambda: status, read=stream.read, geturl=lambda: url, close=stream.close,
                                     headers={"Content-Type": content_type})


@pytest.fixture
def http(monkeypatch):
    def make(**kwargs):
        fake = Http(**kwargs)
        monkeypatch.setattr(_http, "open_url", fake)
        return fake
    return make


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("needs the git CLI")
    path = tmp_path / "deploy"
    path.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="Jane Doe", GIT_AUTHOR_EMAIL="jane@example.com", GIT_COMMITTER_NAME="Jane Doe",
               GIT_COMMITTER_EMAIL="jane@example.com", LC_ALL="C")
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "indexer: batch inserts"], ["tag", "v1.0.0"]):
        subprocess.run(["git", "-C", str(path), *args], check=True, env=env, capture_output=True)
    return path


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    for name, size in (("log/indexer.log", 300), ("backups/usdx_wexel.sql.gz", 1000)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"\0" * size)
    return root


@pytest.fixture
def host(fake_docker, fixture_text):
    """run_command of a host with the recorded containers plus a db, their logs, and real git."""
    def make(override=None):
        containers = json.loads(fixture_text("docker/inspect_running_unhealthy_and_exited.json")) + [DB]
        logs = {
            containers[0]["Id"]: (0, fixture_text("logs/mixed_formats.stdout"), fixture_text("logs/mixed_formats.stderr")),
            containers[1]["Id"]: (0, fixture_text("logs/traceback_exit.stdout"), fixture_text("logs/traceback_exit.stderr")),
            "dbcid": (0, fixture_text("logs/sandbox_db.stdout"), fixture_text("logs/sandbox_db.stderr")),
        }
        answers = {
            ("ps",): (0, "\n".join(c["Id"] for c in containers) + "\n", ""),
            ("container", "inspect"): (0, json.dumps(containers), ""),
            ("stats",): (0, fixture_text("docker/stats_running.jsonl"), ""),
            ("image", "inspect"): (0, json.dumps([{"Id": containers[0]["Image"], "Created": "2026-11-28T06:56:20.559730664Z"}]), ""),
            ("logs",): lambda args, kwargs: logs[args[-1]],
            ("system", "df"): (0, fixture_text("disk/system_df_clean.jsonl"), ""),
            ("exec",): (0, fixture_text("postgres/activity_exhausted_role_limit.psql"), ""),
        }
        answers.update(override or {})
        docker = fake_docker(answers)
        lock = threading.Lock()

        def run(argv, **kwargs):
            if argv[0].endswith("git"):
                proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False,
                                      env=dict(os.environ, **(kwargs.get("environ_update") or {})))
                return proc.returncode, proc.stdout, proc.stderr
            with lock:  # the checks call docker from several threads at once
                return docker(argv, **kwargs)
        run.docker = docker
        return run
    return make


def _args(data=None, repo=None, **extra):
    args = {"project_name": "rectest", "api_url": API, "webapp_url": WEBAPP, "rpc_url": RPC, "connect_via": "container",
            "login_password": SECRET, "lag_sample_seconds": 0, "log_tail": 200, "idle_threshold": 2}
    if data is not None:
        args.update(paths=[str(data)], log_dirs=[str(data / "log")], backup_dirs=[str(data / "backups")], largest=3)
    if repo is not None:
        args["repo_path"] = str(repo)
    args.update(extra)
    return args


def test_every_check_by_default(run_module, host, http, data, repo):
    http()
    result = run_module(triage_info.main, _args(data, repo), host())
    assert result["changed"] is False and result.get("failed") is None
    assert set(ALL) <= set(result)
    assert sorted(result["timings"]) == sorted([*ALL, "total"])
    assert all(isinstance(v, float) and v >= 0 for v in result["timings"].values())
    assert result["timings"]["total"] >= max(v for k, v in result["timings"].items() if k != "total")
    assert not any(result[name].get("failed") for name in ALL), {n: result[n].get("msg") for n in ALL}
    assert SECRET not in json.dumps(result)


def test_api_and_webapp_look_like_uri_results(run_module, http, host):
    fake = http(api_status=503, webapp_down=True)
    result = run_module(triage_info.main, _args(checks=["api", "webapp"]), host())
    api, webapp = result["api"], result["webapp"]
    assert (api["status"], api["healthy"], api["url"]) == (503, False, API + "/health")
    assert api["json"] == HEALTH and api["msg"] == "HTTP Error 503: Service Unavailable"
    assert isinstance(api["elapsed"], float)
    assert (webapp["status"], webapp["healthy"], "json" in webapp) == (-1, False, False)
    assert webapp["msg"].startswith("Request failed: ") and "Connection refused" in webapp["msg"]
    assert sorted(fake.urls) == [API + "/health", WEBAPP + "/"]
    http(api_status=200)
    degraded = run_module(triage_info.main, _args(checks=["api"]), host())["api"]
    # A 200 whose body names a failing dependency is not healthy (_runbook.health_verdict, the one rule).
    assert (degraded["status"], degraded["healthy"], degraded["json"]) == (200, False, HEALTH)
    assert degraded["msg"] == f"OK ({len(json.dumps(HEALTH))} bytes)"


@pytest.mark.parametrize(
    ("checks", "docker_calls"),
    [
        (["disk"], [("system", "df")]),
        (["api", "lag"], []),
        (["services", "services"], [("ps",), ("container", "inspect"), ("stats",), ("image", "inspect")]),
    ],
    ids=["disk-only", "http-only", "duplicate-runs-once"],
)
def test_only_the_checks_asked_for(run_module, host, http, data, checks, docker_calls):
    fake_http = http()
    runner = host()
    result = run_module(triage_info.main, _args(data, checks=checks), runner)
    asked = list(dict.fromkeys(checks))
    assert [k for k in ALL if k in result] == [k for k in ALL if k in asked]
    assert sorted(result["timings"]) == sorted([*asked, "total"])
    calls = [argv for argv, _kw in runner.docker.calls]
    assert [tuple(argv[1:1 + len(prefix)]) for argv, prefix in zip(calls, docker_calls)] == docker_calls
    assert len(calls) == len(docker_calls)
    assert bool(fake_http.urls) == any(c in asked for c in ("api", "webapp", "lag"))


def test_a_failing_check_does_not_sink_the_others(run_module, host, http, data, repo, monkeypatch):
    http()
    runner = host({("ps",): (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")})

    def broken(self):
        raise RuntimeError("disk scan exploded")
    monkeypatch.setattr(_disk_usage.DiskUsage, "run", broken)
    result = run_module(triage_info.main, _args(data, repo), runner)
    assert result.get("failed") is None and result["changed"] is False
    assert result["services"]["failed"] is True
    assert result["services"]["msg"].startswith("compose_service_info: docker ps --all --quiet failed (rc=1): Cannot connect")
    assert result["logs"]["failed"] is True and result["logs"]["msg"].startswith("container_log_scan: docker ps")
    assert result["postgres"]["failed"] is True and result["postgres"]["msg"].startswith("pg_activity_info: docker ps")
    assert result["disk"]["failed"] is True and result["disk"]["msg"] == "RuntimeError: disk scan exploded"
    assert "Traceback" in result["disk"]["exception"]
    # deployment reports a broken Docker engine as a finding, like the standalone module
    assert result["deployment"].get("failed") is None and "Cannot connect" in result["deployment"]["docker_error"]
    assert result["deployment"]["repo_found"] is True
    for name in ("api", "webapp", "lag"):
        assert result[name].get("failed") is None, result[name]
    assert result["lag"]["status"] == "ok"
    assert sorted(result["timings"]) == sorted([*ALL, "total"])


def test_a_command_that_cannot_start_is_a_failed_check(run_module, http):
    http()

    def run(argv, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", argv[0])
    result = run_module(triage_info.main, _args(checks=["services", "logs", "api"]), run)
    for name, module in (("services", "compose_service_info"), ("logs", "container_log_scan")):
        assert result[name]["failed"] is True
        assert result[name]["msg"] == f"{module}: docker ps --all --quiet could not be started (/usr/bin/docker): No such file or directory"
    assert result["api"]["status"] == 503
    assert result["checks"] == ["services", "logs", "api"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"checks": ["api", "bogus"]},
         "value of checks must be one or more of: api, webapp, services, logs, postgres, disk, lag, deployment, users. Got no match for: bogus"),
        ({"log_tail": 0}, "log_tail=0 is out of range: accepted values are 1 to 10000 (check logs)"),
        ({"log_since": "yesterday"}, "log_since='yesterday' is not a time docker logs understands"),
        ({"lag_sample_seconds": 301}, "lag_sample_seconds=301.0 is out of range: accepted values are 0 to 300 (check lag)"),
        ({"http_timeout": 0, "checks": ["webapp"]}, "http_timeout=0.0 is out of range: accepted values are > 0 (check webapp)"),
        ({"api_url": "ftp://api"}, "api_url='ftp://api/health' is not supported: accepted values are http:// or https:// URLs (check api)"),
        ({"largest": -1}, "largest=-1 is negative: accepted values are integers >= 0 (check disk)"),
        ({"idle_threshold": -1}, "idle_threshold=-1 is out of range: accepted values are 0 to 315360000 (check postgres)"),
    ],
    ids=["unknown-check", "log-tail", "log-since", "lag-sample", "http-timeout", "api-url", "largest", "idle-threshold"],
)
def test_bad_options_fail_before_any_check(run_module, fake_docker, http, args, message):
    fake_http = http()
    docker = fake_docker({})
    result = run_module(triage_info.main, _args(**args), docker)
    assert result["failed"] is True
    assert message in result["msg"]
    assert docker.calls == [] and fake_http.urls == []


def test_a_bad_option_of_a_check_not_run_is_ignored(run_module, http, host):
    http()
    result = run_module(triage_info.main, _args(checks=["api"], log_tail=0), host())
    assert result.get("failed") is None and result["api"]["status"] == 503


def test_results_equal_the_standalone_modules(run_module, host, http, data, repo, monkeypatch):
    http()
    disk = types.SimpleNamespace(f_frsize=4096, f_blocks=65536, f_bfree=2000, f_bavail=2000, f_files=1000, f_ffree=900, f_favail=900)
    monkeypatch.setattr(_disk.os, "statvfs", lambda path: disk)  # the same answer for both runs
    result = run_module(triage_info.main, _args(data, repo, log_since="1h"), host())
    docker = {"project_name": "rectest"}
    standalone = {
        "services": (compose_service_info.main, docker),
        "logs": (container_log_scan.main, dict(docker, tail=200, since="1h")),
        "postgres": (pg_activity_info.main, dict(docker, connect_via="container", login_password=SECRET, idle_threshold=2)),
        "disk": (disk_usage_info.main, dict(docker, paths=[str(data)], log_dirs=[str(data / "log")],
                                            backup_dirs=[str(data / "backups")], largest=3)),
        "lag": (indexer_lag_info.main, {"rpc_url": RPC, "metrics_url": METRICS, "sample_seconds": 0}),
        "deployment": (deployment_info.main, dict(docker, repo_path=str(repo))),
    }
    for name, (main, args) in standalone.items():
        alone = run_module(main, args, host())
        assert alone.get("failed") is None, (name, alone.get("msg"))
        assert _stable(result[name]) == _stable(alone), name
    assert sorted(result["services"]["services"]) == sorted(result["logs"]["services"]) == ["crasher", "db", "worker"]
    assert result["postgres"]["exhausted"] is True and result["logs"]["error_count"] > 0
    assert (result["lag"]["status"], result["lag"]["lag_blocks"]) == ("ok", 2)
    assert result["deployment"]["repo"]["tag"] == "v1.0.0" and len(result["deployment"]["commits"]) == 1
    assert result["services"]["services"]["worker"]["cpu_percent"] == 0.78
    assert result["disk"]["full"] == [str(data)]


def test_a_hung_check_is_given_up_at_its_deadline(run_module, host, http, data, monkeypatch):
    http()
    release = threading.Event()

    def hang(self):
        release.wait(60)  # a worker stuck outside any subprocess (a library call that never returns)
        return {"changed": False}
    monkeypatch.setattr(_disk_usage.DiskUsage, "run", hang)
    started = time.monotonic()
    try:
        result = run_module(triage_info.main, _args(data, checks=["disk", "services", "api"], check_timeout=0.8), host())
    finally:
        release.set()
    assert time.monotonic() - started < 5
    assert result["disk"] == {"changed": False, "failed": True, "timed_out": True, "msg": "disk did not finish within 0.8s"}
    assert result["services"].get("failed") is None and result["services"]["running"] == ["db", "worker"]
    assert result["api"]["status"] == 503
    assert result["checks"] == ["disk", "services", "api"]


def test_a_hung_command_is_killed_at_the_deadline(run_module, host, http, tmp_path):
    """The docker CLI hangs for real: its process group is killed, the check reports timed_out."""
    http()
    marker = f"usdx-hung-{uuid.uuid4().hex}"
    real_run = _proc.__dict__["run"]

    def hung_docker(args, kwargs):
        done = real_run([sys.executable, "-c", "import time; time.sleep(60)", marker], deadline=kwargs["deadline"])
        return done.rc, done.out, done.err, done.timed_out
    started = time.monotonic()
    result = run_module(triage_info.main, _args(checks=["services", "logs", "api"], check_timeout=1),
                        host({("ps",): hung_docker}))
    assert time.monotonic() - started < 5
    for name in ("services", "logs"):
        assert result[name]["failed"] is True and result[name]["timed_out"] is True, result[name]
        assert "did not finish" in result[name]["msg"]
    assert result["api"]["status"] == 503
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).stdout == b""


@pytest.mark.parametrize("timeout", [0, -1])
def test_check_timeout_must_be_positive(run_module, fake_docker, http, timeout):
    http()
    result = run_module(triage_info.main, _args(check_timeout=timeout), fake_docker({}))
    assert result["failed"] is True
    assert result["msg"] == f"check_timeout={float(timeout)!r} is out of range: accepted values are > 0"


def test_unreadable_logs_of_one_service_are_partial(run_module, host, http):
    http()
    runner = host({("logs",): lambda args, kwargs: (1, "", "Error response from daemon: read /var/lib/docker: input/output error")
                   if args[-1] == "dbcid" else (0, "", "")})
    logs = run_module(triage_info.main, _args(checks=["logs"]), runner)["logs"]
    assert logs.get("failed") is None
    assert logs["partial"] == ["logs of db could not be read: docker logs --timestamps --tail failed (rc=1): "
                               "Error response from daemon: read /var/lib/docker: input/output error"]


def test_vanished_container_is_noted_not_fatal(run_module, host, http, fixture_text):
    http()
    containers = json.loads(fixture_text("docker/inspect_running_unhealthy_and_exited.json"))
    runner = host({
        ("ps",): (0, "\n".join([c["Id"] for c in containers] + ["gonecid"]) + "\n", ""),
        ("container", "inspect"): (1, json.dumps(containers), "Error: No such container: gonecid\n"),
    })
    result = run_module(triage_info.main, _args(checks=["services", "logs"]), runner)
    for name in ("services", "logs"):
        assert result[name].get("failed") is None, result[name]
        assert result[name]["vanished"] == ["gonecid"]
    assert sorted(result["services"]["services"]) == ["crasher", "worker"]


def test_credentials_never_leave_the_module(run_module, host, http):
    fake = http()
    secret_url = "http://ops:hunter2-pw@api.test:3001"
    result = run_module(triage_info.main, _args(checks=["api", "postgres"], api_url=secret_url), host(
        {("exec",): (1, "", f"psql: error: password authentication failed; tried {SECRET}")}))
    text = json.dumps(result)
    assert "hunter2-pw" not in text and SECRET not in text
    assert fake.urls == [secret_url + "/health"] and "api.test:3001" in result["api"]["msg"]
    assert "password authentication failed" in result["postgres"].get("error", result["postgres"].get("msg", ""))


def test_users_is_left_out_without_access_logs(run_module, host, http):
    http()
    result = run_module(triage_info.main, _args(checks=triage_info.CHECKS), host())
    assert "users" not in result["checks"] and "users" not in result


def test_users_asked_for_explicitly_needs_access_logs(run_module, host, http):
    http()
    result = run_module(triage_info.main, _args(checks=["users", "api"]), host())
    assert result["failed"] is True
    assert result["msg"].startswith("access_logs=[] is empty") and "(check users)" in result["msg"]


def test_users_counts_the_clients_of_the_access_logs(run_module, host, http, fixture_text, tmp_path):
    http()
    # The recorded api-down logs, read as if written now: every line in the window.
    logs = []
    for name in ("api_down_webapp-access.log", "api_down_indexer-access.log"):
        lines = [json.loads(line) for line in fixture_text(f"access_log/{name}").splitlines() if line.strip()]
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
        target = tmp_path / name
        target.write_text("".join(json.dumps(dict(line, time=now)) + "\n" for line in lines))
        logs.append(str(target))
    result = run_module(triage_info.main, _args(checks=["users"], access_logs=logs), host())
    users = result["users"]
    assert result["checks"] == ["users"] and not users.get("failed"), users
    assert 0 < users["clients_failed"] <= users["clients_total"]
    assert users["requests_failed"] > 0 and users["failed_paths"]


def test_users_with_no_readable_access_log_is_a_failed_check(run_module, host, http, tmp_path):
    http()
    result = run_module(triage_info.main, _args(checks=["users", "api"], access_logs=[str(tmp_path / "missing.log")]), host())
    assert result["users"]["failed"] is True and result["users"]["msg"].startswith("access_log_info: ")
    assert result["api"].get("failed") is not True
