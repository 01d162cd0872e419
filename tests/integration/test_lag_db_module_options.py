# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the remediation roles read in one module run, against the live sandbox, over both database access paths.

pg_activity_info's session list (list_sessions) comes from the same statement as its counts, through psycopg2 and
through psql in the db container alike; indexer_lag_info runs the runbook's rpc:ping in the indexer container
(ping_service) and reads the blocks table once the lag is within the threshold (check_blocks), never while the
indexer is behind. Fixtures come from conftest.py: every fault injected through `sandbox_fault` is cleared.

Run: .venv/bin/pytest -m sandbox tests/integration/test_lag_db_module_options.py
"""

from __future__ import annotations

import contextlib
import json

import psycopg2
import pytest

from sandbox_stack import STACK

pytestmark = pytest.mark.sandbox

PROJECT = STACK.project
MAX_LAG = 10


@pytest.mark.parametrize("connect_via", ["tcp", "container"], ids=["tcp", "container"])
def test_session_list_in_the_same_run(healthy_sandbox, module_runner, pg_args, assert_no_secret, connect_via):
    run = module_runner("pg_activity_info", {**pg_args(connect_via), "list_sessions": True, "app_user": "usdx"})
    result = run.result
    assert result["is_available"] is True, result.get("error")
    listed = result["session_list"]
    assert listed["settings"]["max_connections"] == 20 and listed["settings"]["reserved_connections"] == 3
    assert listed["settings"]["work_mem_bytes"] > 0 and listed["settings"]["shared_buffers_bytes"] > 0
    assert listed["role_connection_limit"] == 15
    own = [s for s in listed["sessions"] if s["own"]]
    assert len(own) == 1 and own[0]["application"] == "usdx.incident" and own[0]["superuser"] is True
    clients = [s for s in listed["sessions"] if s["backend_type"] == "client backend" and not s["own"]]
    # The counts leave the module's own session out; the list marks it instead: both describe one moment.
    assert len(clients) == result["connections"]["total"]
    assert all(s["superuser"] is False and s["replication"] is False for s in clients if s["user"] == "usdx")
    assert_no_secret(run)


def test_session_list_role_name_is_data(healthy_sandbox, module_runner, pg_args):
    """A role name made to break out of a quoted literal is only a name that matches no role."""
    name = "usdx'); SELECT pg_terminate_backend(pid) FROM pg_stat_activity; --"
    result = module_runner("pg_activity_info", {**pg_args("container"), "list_sessions": True, "app_user": name}).result
    assert result["is_available"] is True, result.get("error")
    assert result["session_list"]["role_connection_limit"] is None


def test_session_list_only_when_asked(healthy_sandbox, module_runner, pg_args):
    assert "session_list" not in module_runner("pg_activity_info", pg_args("tcp")).result


@pytest.fixture
def lag_args(sandbox, pg_args):
    def args(connect_via: str) -> dict:
        return {**pg_args(connect_via), "rpc_url": f"http://127.0.0.1:{sandbox.get('USDX_CHAIN_PORT', '58545')}",
                "metrics_url": f"http://127.0.0.1:{sandbox.get('USDX_INDEXER_PORT', '3001')}/metrics",
                "max_lag_blocks": MAX_LAG, "ping_service": "indexer", "check_blocks": True}
    return args


def _blocks_now(sandbox) -> tuple[int, int, int]:
    conn = psycopg2.connect(host="127.0.0.1", port=int(sandbox["USDX_DB_PORT"]), dbname="usdx_wexel", user="postgres",
                            password=sandbox["USDX_DB_SUPERUSER_PASSWORD"], connect_timeout=5)
    with contextlib.closing(conn), conn.cursor() as cur:
        cur.execute("SELECT count(*), min(number), max(number) FROM blocks")
        return cur.fetchone()


@pytest.mark.parametrize("connect_via", ["tcp", "container"], ids=["tcp", "container"])
def test_healthy_ping_and_blocks_in_one_run(healthy_sandbox, module_runner, lag_args, assert_no_secret, connect_via):
    run = module_runner("indexer_lag_info", lag_args(connect_via))
    result = run.result
    assert not result.get("failed"), result.get("msg")
    assert result["status"] == "ok", result
    ping = result["rpc_ping"]
    assert ping["rc"] == 0 and ping["error"] is None and ping["container"], ping
    assert json.loads(ping["stdout"].strip().splitlines()[-1])["ok"] is True
    blocks = result["blocks"]
    assert "error" not in blocks, blocks
    assert blocks["gaps"] == [] and blocks["count"] == blocks["distinct_numbers"] == blocks["distinct_hashes"]
    count, low, high = _blocks_now(healthy_sandbox)
    assert blocks["min"] == low and blocks["count"] <= count and blocks["max"] <= high  # the indexer goes on indexing
    assert_no_secret(run)


def test_lagging_indexer_blocks_not_read_ping_still_runs(sandbox_fault, module_runner, lag_args):
    sandbox_fault("indexer-lag")
    result = module_runner("indexer_lag_info", {**lag_args("tcp"), "sample_seconds": 0}).result
    assert result["status"] in ("lagging", "stalled") and result["lag_blocks"] > MAX_LAG, result
    assert result["blocks"] is None
    assert result["rpc_ping"]["rc"] == 0


def test_rpc_down_ping_says_so(sandbox_fault, module_runner, lag_args):
    sandbox_fault("rpc-down")
    result = module_runner("indexer_lag_info", {**lag_args("tcp"), "sample_seconds": 0}).result
    assert result["status"] == "rpc_unreachable"
    ping = result["rpc_ping"]
    assert ping["rc"] not in (0, None) and json.loads(ping["stdout"].strip().splitlines()[-1])["ok"] is False
