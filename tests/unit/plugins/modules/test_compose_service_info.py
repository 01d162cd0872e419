# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime as dt
import json

import pytest

from ansible_collections.usdx.incident.plugins.module_utils._docker import parse_stats_line
from ansible_collections.usdx.incident.plugins.modules import compose_service_info
from ansible_collections.usdx.incident.plugins.module_utils._compose_service_info import container_info, parse_ports

NOW = dt.datetime(2026, 11, 28, 7, 4, 10, 556875, tzinfo=dt.timezone.utc)
IMAGE = {"Id": "sha256:41a7873846838a2a33c8e3a43af6d4a5ba2acc376b46317e4e698436c8ba79c8", "Created": "2026-11-28T06:56:20.559730664Z"}


@pytest.fixture
def recorded(fixture_text):
    containers = json.loads(fixture_text("docker/inspect_running_unhealthy_and_exited.json"))
    stats = parse_stats_line(json.loads(fixture_text("docker/stats_running.jsonl")))
    return containers, stats


def test_container_info_running_unhealthy(recorded):
    containers, stats = recorded
    info = container_info(containers[0], IMAGE, stats, NOW)
    assert info["service"] == "worker"
    assert info["container"] == "rec-test-1"
    assert (info["state"], info["running"], info["restarting"]) == ("running", True, False)
    assert (info["health"], info["health_failing_streak"], info["health_last_output"]) == ("unhealthy", 3, "")
    assert info["exit_code"] == 0 and info["oom_killed"] is False
    assert info["started_at"] == "2026-11-28T07:03:10.556875283Z"
    assert info["finished_at"] is None
    assert info["uptime_seconds"] == 60.0
    assert info["image"] == "usdx-sandbox/base:bookworm"
    assert info["image_created"] == "2026-11-28T06:56:20.559730664Z"
    assert info["image_age_seconds"] == 469.997
    assert info["memory_limit_set"] is True
    assert (info["memory_usage_bytes"], info["memory_limit_bytes"], info["cpu_percent"]) == (944 * 1024, 256 * 1024**2, 0.78)
    assert info["ports"] == [{"container_port": 8080, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 45999}]


def test_container_info_exited(recorded):
    containers, stats = recorded
    info = container_info(containers[1], None, stats, NOW)  # stats of a stopped container are ignored
    assert (info["service"], info["state"], info["running"], info["exit_code"]) == ("crasher", "exited", False, 3)
    assert info["finished_at"] == "2026-11-28T07:03:10.746678529Z"
    assert info["uptime_seconds"] is None
    assert info["health"] is None and info["health_last_output"] is None
    assert info["image_created"] is None and info["image_age_seconds"] is None
    assert info["memory_usage_bytes"] is None and info["cpu_percent"] is None
    assert info["ports"] == []


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"Status": "exited", "Running": False, "ExitCode": 137, "OOMKilled": False, "StartedAt": "2026-11-28T07:00:00Z",
          "FinishedAt": "2026-11-28T07:04:00Z"}, ("exited", False, 137, False)),
        ({"Status": "exited", "Running": False, "ExitCode": 137, "OOMKilled": True}, ("exited", False, 137, True)),
        ({"Status": "restarting", "Running": True, "Restarting": True, "ExitCode": 1}, ("restarting", False, 1, False)),
        ({"Status": "paused", "Running": True, "Paused": True, "ExitCode": 0}, ("paused", True, 0, False)),
    ],
    ids=["killed-137", "oom-killed", "restarting-is-not-running", "paused"],
)
def test_container_info_states(state, expected):
    container = {"Id": "c", "Name": "/p-indexer-1", "State": state, "Config": {"Labels": {"com.docker.compose.service": "indexer"}}}
    info = container_info(container, None, None, NOW)
    assert (info["state"], info["running"], info["exit_code"], info["oom_killed"]) == expected


def test_health_output_is_bounded_and_cleaned():
    output = "\x1b[31mcurl: (7) Failed to connect\x1b[0m " + "z" * 1000
    container = {"Id": "c", "Name": "/x", "State": {"Status": "running", "Running": True,
                 "Health": {"Status": "unhealthy", "FailingStreak": 9, "Log": [{"Output": "old"}, {"Output": output}]}}}
    info = container_info(container, None, None, NOW)
    assert info["health_last_output"].startswith("curl: (7) Failed to connect z")
    assert len(info["health_last_output"]) == 300


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ({"NetworkSettings": {"Ports": {"3001/tcp": [{"HostIp": "127.0.0.1", "HostPort": "3001"}], "9229/tcp": None}}},
         [{"container_port": 3001, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 3001},
          {"container_port": 9229, "protocol": "tcp", "host_ip": None, "host_port": None}]),
        ({"NetworkSettings": {"Ports": {}}, "HostConfig": {"PortBindings": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "55432"}]}}},
         [{"container_port": 5432, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 55432}]),
        ({"NetworkSettings": {"Ports": {"53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}, {"HostIp": "::", "HostPort": "5353"}]}}},
         [{"container_port": 53, "protocol": "udp", "host_ip": "0.0.0.0", "host_port": 5353},
          {"container_port": 53, "protocol": "udp", "host_ip": "::", "host_port": 5353}]),
        ({}, []),
    ],
    ids=["live-and-unpublished", "stopped-uses-configured", "udp-two-families", "none"],
)
def test_parse_ports(container, expected):
    assert parse_ports(container) == expected


def _answers(fixture_text, stats=True):
    return {
        ("ps",): (0, "cbe0\n0c48\n", ""),
        ("container", "inspect"): (0, fixture_text("docker/inspect_running_unhealthy_and_exited.json"), ""),
        ("stats",): (0, fixture_text("docker/stats_running.jsonl"), ""),
        ("image", "inspect"): (0, json.dumps([IMAGE]), ""),
    }


def test_module_reports_services(run_module, fake_docker, fixture_text):
    fake = fake_docker(_answers(fixture_text))
    result = run_module(compose_service_info.main, {"project_name": "rectest"}, fake)
    assert result["changed"] is False
    assert result["project_found"] is True
    assert sorted(result["services"]) == ["crasher", "worker"]
    assert result["running"] == ["worker"]
    assert result["not_running"] == ["crasher"]
    assert result["unhealthy"] == ["worker"]
    assert result["missing"] == []
    assert result["services"]["worker"]["memory_limit_bytes"] == 268435456
    assert result["services"]["worker"]["replicas"] == 1
    assert result["services"]["crasher"]["exit_code"] == 3
    # only the running container is sampled
    assert fake.called("stats")[0][-1] == "cbe0b3568c4be3b220879282183586c9329aece243455c496142149279bc2920"


def test_module_restricts_services_and_skips_stats(run_module, fake_docker, fixture_text):
    fake = fake_docker(_answers(fixture_text))
    result = run_module(compose_service_info.main, {"project_name": "rectest", "services": ["worker", "nope"], "stats": False}, fake)
    assert sorted(result["services"]) == ["worker"]
    assert result["missing"] == ["nope"]
    assert result["services"]["worker"]["cpu_percent"] is None
    assert fake.called("stats") == []


def test_module_missing_project(run_module, fake_docker):
    result = run_module(compose_service_info.main, {"project_name": "absent"}, fake_docker({("ps",): (0, "", "")}))
    assert result.get("failed") is None
    assert (result["project_found"], result["services"], result["running"], result["not_running"]) == (False, {}, [], [])


def test_module_fails_when_docker_fails(run_module, fake_docker):
    result = run_module(compose_service_info.main, {},
                        fake_docker({("ps",): (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")}))
    assert result["failed"] is True
    assert "Cannot connect to the Docker daemon" in result["msg"]


def test_module_bad_option(run_module, fake_docker):
    result = run_module(compose_service_info.main, {"stats": "perhaps"}, fake_docker({}))
    assert result["failed"] is True
    assert "stats" in result["msg"] and "perhaps" in result["msg"]
