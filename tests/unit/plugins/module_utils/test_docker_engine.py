# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Engine API client against a real HTTP server on a unix socket that answers as dockerd does."""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
import time

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _docker_engine as E
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerCli

# One one-shot reading of a container as dockerd (cgroup v1) answers it: no previous CPU sample.
ONE_SHOT = {"cpu_stats": {"cpu_usage": {"total_usage": 1_050_000_000}, "system_cpu_usage": 101_000_000_000, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 0}},
            "memory_stats": {"usage": 50_000_000, "limit": 268_435_456, "stats": {"total_inactive_file": 10_000_000}},
            "pids_stats": {"current": 7}}
# A reading taken while dockerd's collector runs holds the previous sample: 0.05 s of CPU in 0.5 s of 2 CPUs.
WITH_PREVIOUS = dict(ONE_SHOT, precpu_stats={"cpu_usage": {"total_usage": 1_000_000_000}, "system_cpu_usage": 100_000_000_000,
                                             "online_cpus": 2})


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "/var/run/docker.sock"),
        ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "/run/user/1000/docker.sock"),
        ({"DOCKER_HOST": "tcp://10.0.0.5:2376"}, None),
        ({"DOCKER_HOST": "ssh://ops@host"}, None),
        ({"DOCKER_CONTEXT": "prod"}, None),
    ],
    ids=["default", "rootless-unix", "tcp", "ssh", "context"],
)
def test_engine_socket(environ, expected):
    assert E.engine_socket(environ) == expected


@pytest.mark.parametrize(
    ("doc", "cpu", "expected"),
    [
        (ONE_SHOT, 3.5, {"memory_usage_bytes": 40_000_000, "memory_limit_bytes": 268_435_456, "memory_percent": 14.9,
                         "cpu_percent": 3.5, "pids": 7}),
        (ONE_SHOT, None, {"memory_usage_bytes": 40_000_000, "memory_limit_bytes": 268_435_456, "memory_percent": 14.9,
                          "cpu_percent": None, "pids": 7}),
        (WITH_PREVIOUS, None, {"memory_usage_bytes": 40_000_000, "memory_limit_bytes": 268_435_456, "memory_percent": 14.9,
                               "cpu_percent": 10.0, "pids": 7}),
        ({"memory_stats": {"usage": 1000, "limit": 4000, "stats": {"inactive_file": 200}}}, None,
         {"memory_usage_bytes": 800, "memory_limit_bytes": 4000, "memory_percent": 20.0, "cpu_percent": None, "pids": None}),
        ({"memory_stats": {"usage": "lots", "limit": True}, "pids_stats": [], "cpu_stats": "x", "precpu_stats": 5}, None,
         {"memory_usage_bytes": None, "memory_limit_bytes": None, "memory_percent": None, "cpu_percent": None, "pids": None}),
    ],
    ids=["cgroup-cpu", "no-cpu", "engine-previous-sample", "cgroup-v2-memory", "wrong-types"],
)
def test_parse_engine_stats(doc, cpu, expected):
    assert E.parse_engine_stats(doc, cpu) == expected


def _fake_host(root, version, usage):
    """/proc/<pid>/cgroup, /proc/self/mounts and the container's CPU counter, as the kernel shows them."""
    proc = root / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "self").mkdir()
    group = "/docker/abc"
    if version == "v1":
        (proc / "42" / "cgroup").write_text(f"4:memory:{group}\n2:cpu,cpuacct:{group}\n1:name=systemd:{group}\n")
        (proc / "self" / "mounts").write_text(f"cgroup {root}/cg/cpu,cpuacct cgroup rw,relatime,cpu,cpuacct 0 0\n")
        counter = root / "cg" / "cpu,cpuacct" / "docker" / "abc" / "cpuacct.usage"
    else:
        (proc / "42" / "cgroup").write_text(f"0::{group}\n")
        (proc / "self" / "mounts").write_text(f"cgroup2 {root}/cg cgroup2 rw,nosuid 0 0\n")
        counter = root / "cg" / "docker" / "abc" / "cpu.stat"
    counter.parent.mkdir(parents=True)

    def write(ns):
        counter.write_text(str(ns) + "\n" if version == "v1" else f"usage_usec {ns // 1000}\nuser_usec 1\n")
    write(usage)
    return str(proc), counter, write


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_cgroup_cpu_percent(tmp_path, monkeypatch, version):
    proc, counter, write = _fake_host(tmp_path, version, 5_000_000_000)
    assert E.cgroup_cpu_counter(42, proc) == (str(counter), version)
    # The container uses 0.1 s of CPU while 0.5 s pass: 20 % of one CPU.
    clock = iter([100.0, 100.5])
    monkeypatch.setattr(E.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(E.time, "sleep", lambda seconds: write(5_100_000_000))
    assert E.cgroup_cpu_percent({"abc": 42, "stopped": 0}, 0.5, proc) == {"abc": 20.0}


def test_cgroup_unreadable_means_no_cpu(tmp_path):
    assert E.cgroup_cpu_counter(42, str(tmp_path / "no-proc")) is None
    assert E.cgroup_cpu_percent({"abc": 42}, 0.0, str(tmp_path / "no-proc")) == {}


class _Engine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def engine(tmp_path):
    """A fake dockerd: C(answers) maps a container id to the stats documents it gives in turn (or a status)."""
    answers: dict[str, list[object]] = {}
    delay = {"seconds": 0.0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802  (the name http.server calls)
            container = self.path.split("/")[2]
            queue = answers.get(container) or [404]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            time.sleep(delay["seconds"])
            status, body = (answer, b'{"message": "No such container"}') if isinstance(answer, int) else (200, json.dumps(answer).encode())
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self):
            return "unix"

        def log_message(self, *args):
            pass

    path = str(tmp_path / "docker.sock")
    server = _Engine(path, Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path, answers, delay
    server.shutdown()
    server.server_close()


def test_one_shot_stats_reads_every_container_at_once(engine):
    path, answers, delay = engine
    answers.update(a=[WITH_PREVIOUS], b=[ONE_SHOT])
    delay["seconds"] = 0.3
    started = time.monotonic()
    stats = E.one_shot_stats(path, ["a", "b", "gone"], deadline=time.monotonic() + 10, sample_seconds=0.1)
    elapsed = time.monotonic() - started
    assert sorted(stats) == ["a", "b"]  # a container removed meanwhile (404) is simply missing
    assert stats["a"]["cpu_percent"] == 10.0 and stats["b"]["cpu_percent"] is None and stats["b"]["pids"] == 7
    assert 0.3 <= elapsed < 0.3 * 3  # the containers were read side by side, not one after another


def test_an_engine_that_does_not_answer_in_time_is_an_error(engine):
    path, answers, delay = engine
    answers.update(a=[ONE_SHOT])
    delay["seconds"] = 3
    started = time.monotonic()
    with pytest.raises(E.EngineError, match="deadline|timed out"):
        E.one_shot_stats(path, ["a"], deadline=time.monotonic() + 0.5)
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize(("answer", "message"), [(500, "HTTP 500"), ([1, 2], "HTTP 200")], ids=["server-error", "not-a-mapping"])
def test_engine_errors(engine, answer, message):
    path, answers, _delay = engine
    answers.update(a=[answer])
    with pytest.raises(E.EngineError, match=message):
        E.one_shot_stats(path, ["a"], deadline=time.monotonic() + 5)


def test_no_socket_is_an_error(tmp_path):
    with pytest.raises(E.EngineError, match="no Docker socket"):
        E.one_shot_stats(str(tmp_path / "absent.sock"), ["a"], deadline=time.monotonic() + 5)


class _Module:
    def get_bin_path(self, name, required=False):
        return f"/usr/bin/{name}"


def test_docker_stats_prefer_the_engine_and_fall_back_to_the_cli(engine, fake_docker, monkeypatch, fixture_text):
    path, answers, _delay = engine
    cli = fake_docker({("stats",): (0, fixture_text("docker/stats_running.jsonl"), "")})
    monkeypatch.setattr(E, "engine_socket", lambda environ: path)
    answers.update(a=[ONE_SHOT])
    assert DockerCli(_Module()).stats(["a"])["a"]["memory_usage_bytes"] == 40_000_000
    assert cli.called("stats") == []
    cid = "cbe0b3568c4be3b220879282183586c9329aece243455c496142149279bc2920"
    answers[cid] = [500]  # an engine that cannot answer: the CLI's sample instead
    assert DockerCli(_Module()).stats([cid])[cid]["memory_limit_bytes"] == 268435456
    assert cli.called("stats")[0][1:3] == ["stats", "--no-stream"]
