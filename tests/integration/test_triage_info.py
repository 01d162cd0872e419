# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""triage_info against the live sandbox: every check in one module run, side by side.

Run: .venv/bin/pytest -m sandbox tests/integration/test_triage_info.py
"""

from __future__ import annotations

import sys

import pytest

from sandbox_stack import REPO, STACK

if str(REPO / "build" / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios  # noqa: E402
from ansible_collections.usdx.incident.plugins.filter.severity import severity  # noqa: E402

pytestmark = pytest.mark.sandbox

DATA = STACK.data_dir
CHECKS = ["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment", "users"]
SERVICES = ["chain", "db", "indexer", "redis", "webapp"]


def test_healthy_sandbox_in_one_run(healthy_sandbox, module_runner, pg_args, assert_no_secret, helpers):
    args = {
        **pg_args("tcp"),
        "api_url": f"http://127.0.0.1:{healthy_sandbox['USDX_INDEXER_PORT']}",
        "webapp_url": f"http://127.0.0.1:{healthy_sandbox.get('USDX_WEBAPP_PORT', '3000')}",
        "rpc_url": f"http://127.0.0.1:{healthy_sandbox.get('USDX_CHAIN_PORT', '58545')}",
        "paths": [str(DATA)], "log_dirs": [str(DATA / "log")], "backup_dirs": [str(DATA / "backups")], "largest": 5,
        "repo_path": str(REPO / "sandbox"), "log_since": helpers.utc_now(), "lag_sample_seconds": 1,
        "access_logs": [str(DATA / "log" / "webapp-access.log"), str(DATA / "log" / "indexer-access.log")],
        # A short window: earlier tests broke the API on purpose and their clients failed.
        "users_window_seconds": 2,
    }
    run = module_runner("triage_info", args)
    result = run.result
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    for name in CHECKS:
        assert name in result, name
        assert not result[name].get("failed"), (name, result[name].get("msg"))

    timings = result["timings"]
    assert sorted(timings) == sorted([*CHECKS, "total"])
    # side by side: the whole takes about as long as the slowest check, not the sum
    assert max(timings[n] for n in CHECKS) <= timings["total"] < sum(timings[n] for n in CHECKS)

    assert result["api"]["status"] == 200 and result["api"]["healthy"] is True and "checks" in result["api"]["json"]
    assert result["webapp"]["status"] == 200
    assert result["services"]["running"] == SERVICES and result["services"]["unhealthy"] == []
    assert result["postgres"]["is_available"] is True and result["postgres"]["exhausted"] is False
    # The catch-up rate comes from the indexer's own metrics: no sampling on a healthy stack.
    assert result["lag"]["status"] == "ok" and result["lag"]["sample"]["indexed_rate_source"] == "metrics"
    assert result["checks"] == CHECKS and result["users"]["clients_failed"] == 0
    assert result["disk"]["full"] == [] and result["deployment"]["repo_found"] is True
    assert result["logs"]["causes"] == {}

    findings = {name: result[name] for name in CHECKS}
    assert severity(findings)["level"] is None, severity(findings)
    assert rank_scenarios(findings) == []
    assert_no_secret(run)


def test_check_mode_and_a_subset(healthy_sandbox, module_runner):
    result = module_runner("triage_info", {"checks": ["services", "disk"], "stats": False, "paths": [str(DATA)]},
                           check_mode=True).result
    assert result["changed"] is False and not result.get("failed"), result.get("msg")
    assert [k for k in CHECKS if k in result] == ["services", "disk"] and result["checks"] == ["services", "disk"]
    assert sorted(result["timings"]) == ["disk", "services", "total"]
    assert result["services"]["services"]["indexer"]["cpu_percent"] is None
