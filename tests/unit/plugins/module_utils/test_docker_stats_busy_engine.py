# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Container stats from an engine too busy to answer for every container in time (several stacks on one host, the
sandbox fleet): the CLI is asked for the ones it left out, instead of a healthy stack's triage reporting its services
check incomplete ("memory and CPU use of webapp not read", a P1)."""

from __future__ import annotations

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _docker, _docker_engine
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerCli

ENGINE_READING = {"memory_bytes": 1, "memory_limit_bytes": 2, "memory_percent": 50.0, "cpu_percent": 1.0, "pids": 3}
CLI_LINE = ('{"ID": "%s", "Name": "x", "CPUPerc": "0.50%%", "MemUsage": "10MiB / 256MiB", "MemPerc": "3.91%%",'
            ' "PIDs": "4", "NetIO": "0B / 0B", "BlockIO": "0B / 0B"}\n')


class _Module:
    def __init__(self, fake):
        self.run_command = fake
        self.deadline = None

    def get_bin_path(self, name, required=False):
        return "/usr/bin/docker"


@pytest.fixture
def engine(monkeypatch, fake_docker):
    """An engine socket that answers for the containers in `answered` only; returns the fake CLI's maker."""
    def make(answered, cli_answer):
        fake = fake_docker({("stats",): cli_answer})
        monkeypatch.setattr(_docker_engine, "engine_socket", lambda environ: "/run/docker.sock")
        monkeypatch.setattr(_docker_engine, "one_shot_stats",
                            lambda socket, ids, deadline, pids=None: {cid: dict(ENGINE_READING) for cid in ids if cid in answered})
        return fake
    return make


def test_the_cli_reads_the_containers_the_engine_left_out(engine):
    fake = engine({"aaa"}, lambda args, kwargs: (0, "".join(CLI_LINE % cid for cid in args[5:]), ""))
    stats = DockerCli(_Module(fake)).stats(["aaa", "bbb"], {"aaa": 1, "bbb": 2})
    assert stats["aaa"] == ENGINE_READING
    assert stats["bbb"]["memory_percent"] == pytest.approx(3.91)
    assert [argv[6:] for argv in fake.called("stats")] == [["bbb"]]


def test_no_cli_call_when_the_engine_answered_for_all(engine):
    fake = engine({"aaa", "bbb"}, (1, "", "unexpected"))
    assert set(DockerCli(_Module(fake)).stats(["aaa", "bbb"])) == {"aaa", "bbb"}
    assert fake.called("stats") == []


def test_an_engine_that_cannot_be_used_leaves_everything_to_the_cli(engine, monkeypatch):
    fake = engine(set(), lambda args, kwargs: (0, "".join(CLI_LINE % cid for cid in args[5:]), ""))

    def broken(socket, ids, deadline, pids=None):
        raise _docker_engine.EngineError("no stats by the deadline")
    monkeypatch.setattr(_docker_engine, "one_shot_stats", broken)
    assert set(DockerCli(_Module(fake)).stats(["aaa", "bbb"])) == {"aaa", "bbb"}
    assert [argv[6:] for argv in fake.called("stats")] == [["aaa", "bbb"]]


def test_a_container_neither_answers_for_stays_unread(engine):
    fake = engine({"aaa"}, (1, "", "Error response from daemon: No such container: bbb"))
    assert set(DockerCli(_Module(fake)).stats(["aaa", "bbb"])) == {"aaa"}
    assert _docker.ENGINE_TIMEOUT > 0
