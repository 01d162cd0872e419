# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How many users are affected: real clients use the sandbox, the API goes down, access_log_info counts them.

Clients are urllib requests with their own X-Forwarded-For ids (as a load balancer sets them). The module runs
through ansible-playbook on the sandbox's real access logs with O(since) just before the test's first request, so
the counts are exactly the test's traffic (the integration lock keeps other test sessions off the sandbox, and the
containers' own healthchecks are not logged). Also here: the indexer's catch-up rate metrics.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest

from sandbox_stack import STACK

LOG_DIR = STACK.data_dir / "log"
ACCESS_LOGS = [str(LOG_DIR / "webapp-access.log"), str(LOG_DIR / "indexer-access.log")]

pytestmark = pytest.mark.sandbox


def request(url: str, client: str, timeout: float = 30) -> int:
    """GET url as client (X-Forwarded-For); the status the client saw."""
    req = urllib.request.Request(url, headers={"X-Forwarded-For": client})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def iso_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def lines_since(since: str) -> list[dict]:
    """The access log entries at or after since (for failure messages: what else was logged)."""
    start = dt.datetime.fromisoformat(since)
    found = []
    for path in ACCESS_LOGS:
        for line in pathlib.Path(path).read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
                if dt.datetime.fromisoformat(entry["time"].replace("Z", "+00:00")) >= start:
                    found.append(entry)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return found


def users(module_runner, **args):
    run = module_runner("access_log_info", {"paths": ACCESS_LOGS, "top": 1000, **args})
    assert not run.result.get("failed"), run.result.get("msg")
    return run


def test_counts_the_clients_that_got_no_answer(sandbox, sandbox_fault, module_runner):
    webapp = f"http://127.0.0.1:{sandbox.get('USDX_WEBAPP_PORT', '3000')}"
    api = f"http://127.0.0.1:{sandbox.get('USDX_INDEXER_PORT', '3001')}"
    run_id = uuid.uuid4().hex[:10]
    secret = f"key-{run_id}-{uuid.uuid4().hex}"
    marker = f"/api/users-affected/{run_id}"  # only this test asks for it (segments too short to look like keys)
    healthy = [f"198.51.100.{i}-{run_id}" for i in range(1, 4)] + [f"carol-{run_id}@example.com"]
    failing = [healthy[0], f"203.0.113.9-{run_id}", f"{{{{ 7 * 6 }}}}-{run_id}", f"dave-{run_id}@example.com"]
    time.sleep(0.01)
    since = iso_now()

    for client in healthy:
        assert request(webapp + "/", client) == 200
        assert request(webapp + f"/api/status?apikey={secret}", client) == 200  # proxied: in both logs
        assert request(api + "/api/events?limit=1", client) == 200  # the API directly
    sandbox_fault("api-down")
    for client in failing:
        assert request(webapp + marker, client) == 502
        assert request(webapp + marker + f"?token={secret}", client) == 502
        assert request(webapp + "/", client) == 200

    run = users(module_runner, since=since)
    result = run.result
    everyone = sorted(set(healthy) | set(failing))
    logged = lines_since(since)
    assert result["clients_total"] == len(everyone), logged
    assert result["clients_failed"] == len(failing), logged
    assert result["failed_paths"] == {marker: len(failing)}, logged
    assert result["failed_statuses"] == {"502": 2 * len(failing)}
    assert result["requests_failed"] == 2 * len(failing)
    assert result["requests_total"] == 4 * len(healthy) + 3 * len(failing), logged
    assert sorted((c["client"], c["requests_failed"]) for c in result["top_failed_clients"]) == sorted((c, 2) for c in failing)
    assert result["malformed_lines"] == 0 and "partial" not in result
    assert all(f["covers_window"] for f in result["files"])
    # A client id is data: "{{ 7 * 6 }}" came back as sent, not as 42; the query strings were never logged.
    assert f"{{{{ 7 * 6 }}}}-{run_id}" in {c["client"] for c in result["top_failed_clients"]}
    assert secret not in run.stdout and secret not in run.stderr
    assert not any(secret in pathlib.Path(p).read_text(errors="replace") for p in ACCESS_LOGS)
    assert {(e["service"], e["path"]) for e in logged if e["client"] == failing[1]} == {("webapp", marker), ("webapp", "/")}

    missing = str(LOG_DIR / f"gone-{run_id}.log")
    partial = users(module_runner, since=since, paths=[*ACCESS_LOGS, missing]).result
    assert partial["partial"] == [f"{missing}: No such file or directory (not counted)"]
    assert (partial["clients_total"], partial["clients_failed"]) == (len(everyone), len(failing))


def test_an_api_that_does_not_answer_in_time_is_a_504(sandbox, healthy_sandbox, module_runner, helpers):
    """The indexer frozen (docker pause): the web app's proxy gives up after its 10 s timeout with 504."""
    webapp = f"http://127.0.0.1:{sandbox.get('USDX_WEBAPP_PORT', '3000')}"
    client = f"198.51.100.200-{uuid.uuid4().hex[:10]}"
    container = subprocess.run(["docker", "compose", "-p", STACK.project, "ps", "-q", "indexer"], capture_output=True,
                               text=True, check=True, timeout=30).stdout.strip()
    since = iso_now()
    subprocess.run(["docker", "pause", container], check=True, capture_output=True, timeout=30)
    try:
        started = time.monotonic()
        status = request(webapp + "/api/status", client, timeout=60)
        waited = time.monotonic() - started
    finally:
        subprocess.run(["docker", "unpause", container], check=False, capture_output=True, timeout=30)
        helpers.sandbox_sh("fault", "clear")  # waits until every container is healthy again
    assert status == 504 and 9 <= waited < 30
    result = users(module_runner, since=since).result
    assert result["failed_statuses"].get("504") == 1
    assert {"client": client, "requests_failed": 1} in result["top_failed_clients"]


def metrics(api: str) -> dict[str, float]:
    with urllib.request.urlopen(api + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return {name: float(value) for name, _sep, value in (line.partition(" ") for line in text.splitlines())
            if name.startswith("usdx_indexer_") and "{" not in name}


def test_indexer_metrics_give_the_catch_up_rate_without_sampling(sandbox, sandbox_fault):
    api = f"http://127.0.0.1:{sandbox.get('USDX_INDEXER_PORT', '3001')}"
    healthy = metrics(api)
    assert healthy["usdx_indexer_indexed_blocks_per_second"] > 0
    assert healthy["usdx_indexer_chain_blocks_per_second"] > 0
    assert abs(healthy["usdx_indexer_catch_up_blocks_per_second"]) < 1.5  # caught up: indexing keeps pace
    assert 1 <= healthy["usdx_indexer_rate_window_seconds"] < 30
    for name in ("usdx_indexer_lag_blocks", "usdx_indexer_last_indexed_block", "usdx_indexer_events_total"):
        assert name in healthy  # the metrics that were there before are still there

    sandbox_fault("indexer-lag")  # the worker stopped (SIGSTOP) until the lag is >= 15 blocks (>= 15 s)
    stopped = metrics(api)
    # no stale value from before the stop (healthy: about 1 block/s; at most one batch may land in the window)
    assert stopped["usdx_indexer_indexed_blocks_per_second"] < 0.1
    assert stopped["usdx_indexer_chain_blocks_per_second"] > 0
    assert stopped["usdx_indexer_catch_up_blocks_per_second"] < 0
    assert stopped["usdx_indexer_rate_window_seconds"] >= 10
