# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The indexer_lag role (playbooks/indexer_lag.yml) against the live sandbox.

The indexer-lag fault SIGSTOPs the indexer's worker until it is 15 blocks behind (and growing); rpc-down stops the
chain. Check mode on the lagging stack predicts the restart and changes nothing (same containers, still lagging);
the real run restarts the indexer only (every other container keeps its id and StartedAt), waits for the catch-up,
and every block and event indexed before the fault is still there, with no gap and no duplicate; a second run
changes nothing. With the RPC down the role escalates to the external provider and leaves the indexer alone. Bad
variables and an incomplete diagnosis are rejected before anything is touched. The fixtures `sandbox`,
`healthy_sandbox` and `sandbox_fault` (conftest.py) take the integration lock and always clear the fault.

Run: .venv/bin/pytest -m sandbox tests/integration/test_indexer_lag_role.py
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import typing as t
import urllib.request

import psycopg2
import pytest

from playbook_run import REPO, PlaybookRun, run_playbook  # noqa: E402
from sandbox_stack import STACK  # noqa: E402

pytestmark = pytest.mark.sandbox

PLAYBOOK = REPO / "playbooks" / "indexer_lag.yml"
SERVICES = ("db", "redis", "chain", "indexer", "webapp")
RESTART_TASK = "Restart the indexer only (docker compose restart indexer)"
DIAGNOSE_TASK = ("Check the RPC and measure the lag (indexer_lag_info, runbook npm run rpc:ping, \"indexer lag\" log line "
                 "and indexer:status)")


class Run(PlaybookRun):
    @property
    def plan(self) -> dict[str, t.Any]:
        return self.task("Decide what to do (indexer_lag_plan)")["ansible_facts"]["indexer_lag__plan"]


def run_role(env: dict[str, str], check: bool = False, **extra: t.Any) -> Run:
    return run_playbook(PLAYBOOK, Run, check=check, extra_vars=extra, timeout=900,
                        secrets=(env["USDX_DB_PASSWORD"], env["USDX_DB_SUPERUSER_PASSWORD"]))


def containers() -> dict[str, tuple[str, str]]:
    """service -> (container id, State.StartedAt) of the running compose project."""
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={STACK.project}"],
                         capture_output=True, text=True, check=True, timeout=30).stdout.split()
    out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True, timeout=30).stdout
    return {c["Config"]["Labels"]["com.docker.compose.service"]: (c["Id"], c["State"]["StartedAt"]) for c in json.loads(out)}


def indexer_lag(env: dict[str, str]) -> int:
    """usdx_indexer_lag_blocks from the indexer's metrics."""
    url = f"http://127.0.0.1:{env['USDX_INDEXER_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - a fixed local URL
        for line in answer.read().decode().splitlines():
            if line.startswith("usdx_indexer_lag_blocks "):
                return int(float(line.split()[1]))
    raise AssertionError("usdx_indexer_lag_blocks missing from the metrics")


def indexed(env: dict[str, str]) -> tuple[dict[int, str], set[int]]:
    """Every indexed block (number -> hash) and every event id, read as the superuser."""
    conn = psycopg2.connect(host="127.0.0.1", port=int(env["USDX_DB_PORT"]), dbname="usdx_wexel", user="postgres",
                            password=env["USDX_DB_SUPERUSER_PASSWORD"], connect_timeout=5)
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("SELECT number, hash FROM blocks")
        blocks = dict(cur.fetchall())
        cur.execute("SELECT id FROM events")
        return blocks, {row[0] for row in cur.fetchall()}


@pytest.mark.newest
def test_lagging_check_then_fix_then_idempotent(sandbox_fault, sandbox):
    env = sandbox
    blocks_before, events_before = indexed(env)
    assert blocks_before and events_before
    sandbox_fault("indexer-lag")
    before = containers()
    assert set(SERVICES) <= set(before)

    # Check mode: the plan names the restart, docker_compose_v2 predicts it, nothing changes.
    check = run_role(env, check=True)
    assert check.rc == 0, check.failure()
    assert check.plan["action"] == "restart" and check.plan["rpc"]["ok"] is True, check.plan["report"]
    assert check.plan["summary"].startswith("PLAN: restart the indexer service only"), check.plan["summary"]
    assert check.task(RESTART_TASK)["changed"] is True
    assert check.stats["changed"] == 1
    assert check.task("Measure the lag (indexer_lag_info)") is None, "check mode must not wait"
    assert containers() == before, "check mode restarted a container"
    assert indexer_lag(env) >= 15, "check mode changed the lag"

    # The real run: the indexer only, progress reported, lag back within the threshold, nothing lost.
    fix = run_role(env)
    assert fix.rc == 0, fix.failure()
    assert fix.plan["action"] == "restart"
    assert fix.task(RESTART_TASK)["changed"] is True
    after = containers()
    assert {s: after[s] for s in SERVICES if s != "indexer"} == {s: before[s] for s in SERVICES if s != "indexer"}
    assert after["indexer"][0] == before["indexer"][0] and after["indexer"][1] != before["indexer"][1]
    reports = [r["msg"] for r in fix.tasks("Report the progress")]
    assert reports and reports[-1].startswith(f"poll {len(reports)}: caught up: lag "), reports
    assert indexer_lag(env) <= 10
    verified = fix.task("Report the indexer recovered")["msg"]
    assert "no gap, no duplicate" in verified and "(restarted indexer)" in verified, verified
    blocks_after, events_after = indexed(env)
    assert all(blocks_after.get(n) == h for n, h in blocks_before.items()), "a block indexed before the fault changed"
    assert events_before <= events_after, "an event indexed before the fault is gone"
    numbers = sorted(blocks_after)
    assert numbers == list(range(numbers[0], numbers[-1] + 1)), "the blocks table has a gap"

    # A second run on the recovered stack changes nothing.
    again = run_role(env)
    assert again.rc == 0, again.failure()
    assert again.stats["changed"] == 0
    assert again.plan["action"] == "nothing"
    assert again.task(RESTART_TASK).get("skipped")
    assert containers()["indexer"] == after["indexer"]


def test_rpc_down_escalates_and_leaves_the_indexer_alone(sandbox_fault, sandbox):
    sandbox_fault("rpc-down")
    before = containers()
    run = run_role(sandbox)
    assert run.rc != 0
    assert run.stats["changed"] == 0
    message = run.failure()
    assert "ESCALATE to External: Infrastructure Provider: the chain RPC is down" in message, message
    assert "The indexer service was not restarted" in message
    assert run.plan["action"] == "escalate"
    assert run.task(RESTART_TASK) is None
    now = containers()
    assert now["indexer"] == before["indexer"], "the indexer was touched"
    assert {s: now[s] for s in now if s != "chain"} == {s: before[s] for s in before if s != "chain"}


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"indexer_lag_max_lag_blocks": "ten"}, "indexer_lag_max_lag_blocks"),
        ({"indexer_lag_max_lag_blocks": -1}, "indexer_lag_max_lag_blocks"),
        ({"indexer_lag_catch_up_timeout": -5}, "indexer_lag_catch_up_timeout"),
        ({"indexer_lag_poll_interval": [3]}, "indexer_lag_poll_interval"),
        ({"indexer_lag_stall_window": 0}, "indexer_lag_stall_window"),
        ({"indexer_lag_metrics_url": "file:///etc/passwd"}, "indexer_lag_metrics_url"),
    ],
)
def test_bad_variables_rejected_before_anything(healthy_sandbox, extra, named):
    before = containers()
    run = run_role(healthy_sandbox, **extra)
    assert run.rc != 0
    assert named in run.failure()
    assert run.stats["changed"] == 0
    assert run.task(DIAGNOSE_TASK) is None
    assert containers() == before


def test_refuses_an_incomplete_diagnosis(sandbox_fault, sandbox):
    """Metrics that cannot be parsed (the webapp's page instead of /metrics) make the diagnosis partial: no restart,
    even though the indexer is lagging."""
    sandbox_fault("indexer-lag")
    before = containers()
    run = run_role(sandbox, indexer_lag_metrics_url=f"http://127.0.0.1:{sandbox.get('USDX_WEBAPP_PORT', '3000')}/")
    assert run.rc != 0
    assert run.stats["changed"] == 0
    message = run.failure()
    assert "REFUSED: the lag diagnosis is partial" in message and "Nothing was restarted" in message, message
    assert run.task(RESTART_TASK) is None
    assert containers() == before


def test_a_lag_that_does_not_shrink_fails_instead_of_being_waited_out(sandbox_fault, sandbox, helpers):
    """Indexing paused (pause:contracts, a flag in redis that survives the restart): the role restarts the stalled
    indexer, the lag keeps growing, and the role fails after the stall window - long before the timeout."""
    sandbox_fault("indexer-lag")  # registers the fault so that teardown clears it (and the pause flag with it)
    indexer = containers()["indexer"][0]
    subprocess.run(["docker", "exec", indexer, "npm", "run", "--silent", "pause:contracts"], check=True, timeout=30,
                   capture_output=True)
    run = run_role(sandbox, indexer_lag_stall_window=6, indexer_lag_poll_interval=2, indexer_lag_catch_up_timeout=600)
    assert run.rc != 0
    message = run.failure()
    assert "NOT RECOVERED (not_shrinking)" in message and "The indexer service was restarted" in message, message
    reports = [r["msg"] for r in run.tasks("Report the progress")]
    assert 2 <= len(reports) <= 8, reports
    assert indexer_lag(sandbox) > 10
