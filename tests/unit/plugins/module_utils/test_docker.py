# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime as dt
import json

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _docker
from ansible_collections.usdx.incident.plugins.module_utils._docker import (
    DockerCli,
    DockerError,
    parse_docker_time,
    parse_percent,
    parse_size,
    parse_stats_line,
    primary_container,
    seconds_since,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0B", 0),
        ("896KiB", 896 * 1024),
        ("12.5MiB", 13107200),
        ("256MiB", 268435456),
        ("1.944GiB", int(round(1.944 * 1024**3))),
        ("1TiB", 1024**4),
        ("806B", 806),
        ("1.5kB", 1500),
        ("2MB", 2_000_000),
        ("3.1GB", 3_100_000_000),
        (" 7 MiB ", 7 * 1024**2),
        ("--", None),
        ("", None),
        (None, None),
        ("12.5 parsecs", None),
        ("-1MiB", None),
    ],
    ids=["zero", "kib", "mib-fraction", "mib", "gib", "tib", "bytes", "kb-decimal", "mb-decimal", "gb-decimal",
         "blanks", "dashes", "empty", "none", "unknown-unit", "negative"],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2.06%", 2.06), ("0.00%", 0.0), ("101.5%", 101.5), ("--", None), ("", None), (None, None)],
    ids=["plain", "zero", "over-one-core", "dashes", "empty", "none"],
)
def test_parse_percent(text, expected):
    assert parse_percent(text) == expected


def test_parse_stats_line_recorded(fixture_text):
    doc = json.loads(fixture_text("docker/stats_running.jsonl").splitlines()[0])
    assert parse_stats_line(doc) == {
        "memory_usage_bytes": 944 * 1024,
        "memory_limit_bytes": 256 * 1024**2,
        "memory_percent": 0.36,
        "cpu_percent": 0.78,
        "pids": 2,
    }


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"MemUsage": "-- / --", "MemPerc": "--", "CPUPerc": "--", "PIDs": "--"},
         {"memory_usage_bytes": None, "memory_limit_bytes": None, "memory_percent": None, "cpu_percent": None, "pids": None}),
        ({"MemUsage": "1.2GiB / 7.6GiB", "MemPerc": "15.79%", "CPUPerc": "150.01%", "PIDs": "31"},
         {"memory_usage_bytes": int(round(1.2 * 1024**3)), "memory_limit_bytes": int(round(7.6 * 1024**3)),
          "memory_percent": 15.79, "cpu_percent": 150.01, "pids": 31}),
        ({}, {"memory_usage_bytes": None, "memory_limit_bytes": None, "memory_percent": None, "cpu_percent": None, "pids": None}),
    ],
    ids=["stopped-container", "no-limit-host-memory", "empty-document"],
)
def test_parse_stats_line_odd(doc, expected):
    assert parse_stats_line(doc) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T07:03:10.556875283Z", dt.datetime(2026, 11, 28, 7, 3, 10, 556875, tzinfo=dt.timezone.utc)),
        ("2026-11-28T07:03:10Z", dt.datetime(2026, 11, 28, 7, 3, 10, tzinfo=dt.timezone.utc)),
        ("2026-11-28T07:03:10.5Z", dt.datetime(2026, 11, 28, 7, 3, 10, 500000, tzinfo=dt.timezone.utc)),
        ("2026-11-28T08:03:10.000000001+01:00", dt.datetime(2026, 11, 28, 7, 3, 10, tzinfo=dt.timezone.utc)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
    ids=["nanoseconds", "no-fraction", "short-fraction", "offset", "zero-time", "empty", "none", "garbage"],
)
def test_parse_docker_time(text, expected):
    assert parse_docker_time(text) == expected


def test_seconds_since():
    now = dt.datetime(2026, 11, 28, 7, 4, 10, 556875, tzinfo=dt.timezone.utc)
    assert seconds_since("2026-11-28T07:03:10.556875283Z", now) == 60.0
    assert seconds_since("0001-01-01T00:00:00Z", now) is None


def _container(cid, running=False, started="2026-11-28T07:00:00Z", oneoff="False"):
    return {"Id": cid, "State": {"Running": running, "StartedAt": started},
            "Config": {"Labels": {"com.docker.compose.oneoff": oneoff}}}


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        ([], None),
        ([_container("a")], "a"),
        ([_container("old", started="2026-11-28T06:00:00Z"), _container("new", started="2026-11-28T07:00:00Z")], "new"),
        ([_container("up", running=True, started="2026-11-28T06:00:00Z"), _container("down")], "up"),
        ([_container("oneoff", running=True, oneoff="True"), _container("service")], "service"),
    ],
    ids=["none", "single", "latest-started", "running-wins", "one-off-loses"],
)
def test_primary_container(containers, expected):
    chosen = primary_container(containers)
    assert (chosen or {}).get("Id") == expected


class _Module:
    def __init__(self, fake):
        self.fake = fake

    def get_bin_path(self, name, required=False):
        return f"/usr/bin/{name}"


def test_run_passes_arguments_verbatim_with_the_module_deadline(fake_docker):
    fake = fake_docker({("ps",): (0, "", "")})
    module = _Module(fake)
    module.deadline = 1234.5
    DockerCli(module, "docker", "p").run(["ps", "--filter", "label=$HOME ~x"])
    argv, kwargs = fake.calls[0]
    assert argv == ["/usr/bin/docker", "ps", "--filter", "label=$HOME ~x"]
    assert kwargs["deadline"] == 1234.5


def test_a_timed_out_call_raises_even_unchecked(fake_docker):
    fake = fake_docker({("stats",): (-9, "", "", True)})
    with pytest.raises(_docker.DockerTimeout, match="docker stats --no-stream --no-trunc did not finish by its deadline"):
        DockerCli(_Module(fake)).run(["stats", "--no-stream", "--no-trunc"], check=False)


def test_a_cli_that_cannot_start_is_a_docker_error(monkeypatch):
    def missing(argv, **_kwargs):
        raise FileNotFoundError(2, "No such file or directory", argv[0])
    monkeypatch.setattr(_docker._proc, "run", missing)
    with pytest.raises(DockerError, match=r"docker ps could not be started \(/usr/bin/docker\): No such file or directory"):
        DockerCli(_Module(None)).run(["ps"])


@pytest.mark.parametrize(
    ("answer", "found", "vanished"),
    [
        ((0, json.dumps([{"Id": "a"}, {"Id": "b"}]), ""), ["a", "b"], []),
        ((1, json.dumps([{"Id": "a"}]), "Error: No such container: b\n"), ["a"], ["b"]),
        ((1, "[]", "Error response from daemon: No such container: a\nError: No such object: b\n"), [], ["a", "b"]),
    ],
    ids=["all-there", "one-vanished", "all-vanished"],
)
def test_inspect_leaves_out_containers_that_vanished(fake_docker, answer, found, vanished):
    client = DockerCli(_Module(fake_docker({("container", "inspect"): answer})))
    assert [d["Id"] for d in client.inspect(["a", "b"])] == found
    assert client.vanished == vanished


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((1, "[]", "permission denied while trying to connect to the Docker daemon socket"), "permission denied"),
        ((0, "not json", ""), "printed no JSON"),
    ],
    ids=["daemon-error", "garbage"],
)
def test_inspect_errors_other_than_vanished_containers_raise(fake_docker, answer, message):
    with pytest.raises(DockerError, match=message):
        DockerCli(_Module(fake_docker({("container", "inspect"): answer}))).inspect(["a"])


def test_run_raises_with_stderr(fake_docker):
    fake = fake_docker({("logs",): (1, "", "Error: No such container: abc\n")})
    with pytest.raises(DockerError, match=r"docker logs abc failed \(rc=1\): Error: No such container: abc"):
        DockerCli(_Module(fake), "docker", "p").run(["logs", "abc"])


def test_exec_hands_env_values_through_the_environment(fake_docker):
    fake = fake_docker({("exec",): (0, "ok", "")})
    DockerCli(_Module(fake)).exec("cid", ["psql"], user="postgres", data="SELECT 1", env={"PGPASSWORD": "s3cret"})
    argv, kwargs = fake.calls[0]
    assert argv == ["/usr/bin/docker", "exec", "--interactive", "--user", "postgres", "--env", "PGPASSWORD", "cid", "psql"]
    assert "s3cret" not in " ".join(argv)
    assert kwargs["environ_update"] == {"PGPASSWORD": "s3cret"}
    assert kwargs["data"] == "SELECT 1"


def test_stats_parses_recorded_output_and_skips_garbage(fake_docker, fixture_text):
    out = fixture_text("docker/stats_running.jsonl") + "not json\n" + json.dumps({"no": "id"}) + "\n"
    fake = fake_docker({("stats",): (0, out, "")})
    cid = "cbe0b3568c4be3b220879282183586c9329aece243455c496142149279bc2920"
    stats = DockerCli(_Module(fake)).stats([cid])
    assert list(stats) == [cid]
    assert stats[cid]["memory_limit_bytes"] == 268435456
    assert fake.called("stats")[0][1:5] == ["stats", "--no-stream", "--no-trunc", "--format"]
    assert DockerCli(_Module(fake)).stats([]) == {}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((0, json.dumps([{"Id": "sha256:a", "Created": "2026-11-28T06:56:20.5Z"}]), ""), ["sha256:a"]),
        ((1, json.dumps([{"Id": "sha256:a"}]), "Error: No such image: sha256:b"), ["sha256:a"]),
        ((1, "", "Error: No such image: sha256:b"), []),
        ((1, "garbage", ""), []),
    ],
    ids=["found", "one-missing", "all-missing", "garbage"],
)
def test_image_inspect_tolerates_missing_images(fake_docker, answer, expected):
    fake = fake_docker({("image", "inspect"): answer})
    assert sorted(DockerCli(_Module(fake)).image_inspect(["sha256:a", "sha256:b", None])) == expected


def test_logs_command(fake_docker):
    fake = fake_docker({("logs",): (0, "out\n", "err\n")})
    assert DockerCli(_Module(fake)).logs("cid", 500, since="10m") == ("out\n", "err\n")
    assert fake.calls[0][0] == ["/usr/bin/docker", "logs", "--timestamps", "--tail", "500", "--since", "10m", "cid"]


def _answers_in_turn(*answers):
    """A fake docker answer that gives each of C(answers) in turn, then the last one again."""
    calls = []

    def answer(_args, _kwargs):
        calls.append(1)
        return answers[min(len(calls), len(answers)) - 1]
    return answer


@pytest.mark.parametrize(
    ("listings", "inspections"),
    [
        ([(0, "", ""), (0, "cbe0\n0c48\n", "")], None),
        ([(0, "cbe0\n0c48\n", "")], [(1, "[]", "Error: No such object: cbe0\nError: No such object: 0c48\n"), None]),
    ],
    ids=["empty-listing-read-again", "vanished-read-again"],
)
def test_service_containers_reads_a_gone_stack_twice_before_believing_it(fake_docker, fixture_text, listings, inspections):
    inspect = (0, fixture_text("docker/inspect_running_unhealthy_and_exited.json"), "")
    inspections = [inspect if answer is None else answer for answer in (inspections or [inspect])]
    fake = fake_docker({("ps",): _answers_in_turn(*listings), ("container", "inspect"): _answers_in_turn(*inspections)})
    client = DockerCli(_Module(fake), "docker", "rectest")
    assert sorted(client.service_containers()) == ["crasher", "worker"]
    assert len(fake.called("ps")) == 2


def test_a_stack_that_is_really_gone_is_read_twice_and_reported_empty(fake_docker):
    fake = fake_docker({("ps",): (0, "", "")})
    assert DockerCli(_Module(fake), "docker", "rectest").service_containers() == {}
    assert len(fake.called("ps")) == 2


def test_service_containers_groups_recorded_inspect(fake_docker, fixture_text):
    inspect = fixture_text("docker/inspect_running_unhealthy_and_exited.json")
    fake = fake_docker({("ps",): (0, "cbe0\n0c48\n", ""), ("container", "inspect"): (0, inspect, "")})
    services = DockerCli(_Module(fake), "docker", "rectest").service_containers()
    assert sorted(services) == ["crasher", "worker"]
    assert fake.called("ps")[0][-1] == f"label={_docker.COMPOSE_PROJECT_LABEL}=rectest"
