# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

import pytest

from core_compat import arg_type_message
from ansible_collections.usdx.incident.plugins.modules import container_log_scan
from ansible_collections.usdx.incident.plugins.module_utils._container_log_scan import SINCE_RE, run_context


def _container(cid, service, state):
    return {"Id": cid, "Name": f"/p-{service}-1", "State": state,
            "Config": {"Labels": {"com.docker.compose.service": service}}}


INDEXER = _container("idx", "indexer", {"Status": "running", "Running": True, "ExitCode": 0,
                                        "StartedAt": "2026-11-28T06:59:00Z", "FinishedAt": "0001-01-01T00:00:00Z"})
CRASHER = _container("crs", "crasher", {"Status": "exited", "Running": False, "ExitCode": 3,
                                        "StartedAt": "2026-11-28T07:03:10.742753895Z", "FinishedAt": "2026-11-28T07:03:10.746678529Z"})
WEBAPP = _container("web", "webapp", {"Status": "running", "Running": True, "ExitCode": 0, "StartedAt": "2026-11-28T06:59:00Z"})


def _fake(fake_docker, fixture_text, containers=(INDEXER, CRASHER, WEBAPP)):
    logs = {
        "idx": (0, fixture_text("logs/mixed_formats.stdout"), fixture_text("logs/mixed_formats.stderr")),
        "crs": (0, fixture_text("logs/traceback_exit.stdout"), fixture_text("logs/traceback_exit.stderr")),
        "web": (1, "", "Error response from daemon: configured logging driver does not support reading\n"),
    }
    return fake_docker({
        ("ps",): (0, "\n".join(c["Id"] for c in containers) + "\n", ""),
        ("container", "inspect"): (0, json.dumps(list(containers)), ""),
        ("logs",): lambda args, kwargs: logs[args[-1]],
    })


def test_module_scans_every_service(run_module, fake_docker, fixture_text):
    fake = _fake(fake_docker, fixture_text)
    result = run_module(container_log_scan.main, {}, fake)
    assert result["changed"] is False
    assert result["project_found"] is True
    assert sorted(result["services"]) == ["crasher", "indexer", "webapp"]
    indexer = result["services"]["indexer"]
    assert (indexer["lines"], indexer["error_count"], indexer["running"]) == (12, 7, True)
    assert indexer["signatures"][0]["count"] >= 1
    assert "crash_on_startup" in result["services"]["crasher"]["causes"]
    assert result["services"]["webapp"]["error"].endswith("configured logging driver does not support reading")
    assert "lines" not in result["services"]["webapp"]
    assert result["error_count"] == 7 + 2
    assert result["causes"]["out_of_memory"] == {
        "count": 3, "services": ["crasher", "indexer"], "sample": "MemoryError",
        "first_seen": "2026-11-28T07:00:08.8Z", "last_seen": "2026-11-28T07:03:10.745156395Z"}
    assert result["causes"]["db_connections_exhausted"]["services"] == ["indexer"]
    assert fake.called("logs")[0][1:5] == ["logs", "--timestamps", "--tail", "500"]


def test_module_restricts_services_and_passes_since(run_module, fake_docker, fixture_text):
    fake = _fake(fake_docker, fixture_text)
    result = run_module(container_log_scan.main, {"services": ["indexer", "ghost"], "tail": 10000, "since": "1h30m",
                                                  "max_signatures": 2}, fake)
    assert sorted(result["services"]) == ["indexer"]
    assert result["missing"] == ["ghost"]
    assert len(result["services"]["indexer"]["signatures"]) == 2
    assert result["services"]["indexer"]["signatures_dropped"] == 5
    assert fake.called("logs") == [["/usr/bin/docker", "logs", "--timestamps", "--tail", "10000", "--since", "1h30m", "idx"]]


def test_module_missing_project(run_module, fake_docker):
    result = run_module(container_log_scan.main, {"project_name": "absent"}, fake_docker({("ps",): (0, "", "")}))
    assert result.get("failed") is None
    assert (result["project_found"], result["services"], result["causes"], result["error_count"]) == (False, {}, {}, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"tail": 0}, "tail=0 is out of range: accepted values are 1 to 10000"),
        ({"tail": 10001}, "tail=10001 is out of range: accepted values are 1 to 10000"),
        ({"tail": -5}, "tail=-5 is out of range: accepted values are 1 to 10000"),
        ({"max_signatures": 0}, "max_signatures=0 is out of range: accepted values are 1 to 200"),
        ({"since": "yesterday"}, "since='yesterday' is not a time docker logs understands"),
        ({"since": "10m; rm -rf /"}, "since='10m; rm -rf /' is not a time docker logs understands"),
        ({"tail": "all"}, "argument 'tail' is of type str and we were unable to convert to int"),
    ],
    ids=["tail-zero", "tail-too-big", "tail-negative", "signatures-zero", "since-word", "since-injection", "tail-all"],
)
def test_module_bad_options(run_module, fake_docker, args, message):
    fake = fake_docker({})
    result = run_module(container_log_scan.main, args, fake)
    assert result["failed"] is True
    assert message in arg_type_message(result["msg"])
    assert fake.calls == []


@pytest.mark.parametrize(
    ("since", "ok"),
    [("10m", True), ("1h30m", True), ("1.5h", True), ("2026-11-28", True), ("2026-11-28T07:00:00Z", True),
     ("2026-11-28T07:00:00.5+01:00", True), ("1795849200", True), ("", False), ("10 m", False), ("-10m", False),
     ("$(id)", False)],
    ids=["minutes", "compound", "fraction", "date", "rfc3339", "offset", "unix", "empty", "blank", "negative", "shell"],
)
def test_since_pattern(since, ok):
    assert bool(SINCE_RE.match(since)) is ok


def test_run_context():
    assert run_context(CRASHER, True) == {"started_at": "2026-11-28T07:03:10.742753895Z", "running": False, "exit_code": 3,
                                          "run_seconds": 0.003925, "whole_log": True}
    assert run_context(INDEXER, False)["run_seconds"] is None
    restarting = _container("r", "r", {"Running": True, "Restarting": True, "ExitCode": 1,
                                       "StartedAt": "2026-11-28T07:00:00Z", "FinishedAt": "2026-11-28T07:00:02Z"})
    assert run_context(restarting, False)["running"] is False
    assert run_context(restarting, False)["run_seconds"] == 2.0
