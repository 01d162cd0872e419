# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disk_usage_info, indexer_lag_info and deployment_info against the live sandbox, healthy and under faults.

Fixtures come from conftest.py: every fault injected through `sandbox_fault` is cleared at teardown.
The triage filters are applied to the live results too, so their findings shape is checked end to end.
"""

from __future__ import annotations

import os
import sys

import pytest

from sandbox_stack import REPO, STACK  # noqa: E402

STATE_DIR = STACK.state_dir
if str(REPO / "build" / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios  # noqa: E402
from ansible_collections.usdx.incident.plugins.filter.severity import severity  # noqa: E402

pytestmark = pytest.mark.sandbox

DATA = STATE_DIR / "data"
MAX_LAG = 10


@pytest.fixture
def lag_args(sandbox):
    return {"rpc_url": f"http://127.0.0.1:{sandbox.get('USDX_CHAIN_PORT', '58545')}",
            "metrics_url": f"http://127.0.0.1:{sandbox.get('USDX_INDEXER_PORT', '3001')}/metrics",
            "max_lag_blocks": MAX_LAG}


DISK_ARGS = {"paths": [str(DATA)], "log_dirs": [str(DATA / "log")], "backup_dirs": [str(DATA / "backups")], "largest": 5}


def _ok(run):
    result = run.result
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    return result


def test_healthy(healthy_sandbox, module_runner, lag_args):
    lag = _ok(module_runner("indexer_lag_info", lag_args))
    assert lag["status"] == "ok", lag
    assert 0 <= lag["lag_blocks"] <= MAX_LAG and lag["eta_seconds"] == 0
    assert lag["rpc"]["reachable"] is True and lag["rpc"]["latency_ms"] > 0 and lag["rpc"]["error"] is None
    assert lag["indexer"]["reachable"] is True and lag["indexer"]["paused"] is False
    assert lag["sample"]["chain_blocks_per_second"] > 0 and lag["lag_source"] == "rpc"

    disk = _ok(module_runner("disk_usage_info", DISK_ARGS))
    data = disk["paths"][0]
    assert data["mount_point"] == str(DATA) and data["fs_type"] == "tmpfs"
    assert data["total_bytes"] == 256 * 2**20 and data["percent_used"] < 90 and disk["full"] == []
    assert disk["logs"]["old_count"] == 0 and disk["backups"]["old_count"] == 0
    assert disk["docker"]["available"] is True

    deployment = _ok(module_runner("deployment_info", {"repo_path": str(REPO), "project_name": STACK.project}))
    assert deployment["repo_found"] is True and deployment["commits"]
    assert set(deployment["services"]) >= {"db", "redis", "chain", "indexer", "webapp"}
    assert all(s["state"] == "running" and s["image_id"].startswith("sha256:") for s in deployment["services"].values())

    assert severity({"lag": lag, "disk": disk})["level"] is None
    assert rank_scenarios({"lag": lag, "disk": disk, "deployment": deployment}) == []


def test_check_mode_changes_nothing(healthy_sandbox, module_runner, lag_args):
    for module, args in (("disk_usage_info", DISK_ARGS), ("indexer_lag_info", {**lag_args, "sample_seconds": 0}),
                         ("deployment_info", {"repo_path": str(REPO)})):
        result = _ok(module_runner(module, args, check_mode=True))
        assert "skipped" not in result


def test_indexer_lag(sandbox_fault, module_runner, lag_args, helpers):
    sandbox_fault("indexer-lag")

    def stalled():
        result = _ok(module_runner("indexer_lag_info", lag_args))
        return result if result["status"] in ("stalled", "lagging") else None

    first = helpers.wait_until(stalled, timeout=60, interval=1)
    assert first, "the indexer never showed as lagging"
    assert first["status"] == "stalled"
    assert first["rpc"]["reachable"] is True and first["indexer"]["reachable"] is True
    assert first["catch_up_blocks_per_second"] <= 0 and first["eta_seconds"] is None
    assert first["sample"]["indexed_blocks_per_second"] == 0
    assert first["lag_seconds"] > MAX_LAG * 0.5

    second = _ok(module_runner("indexer_lag_info", lag_args))
    assert second["status"] == "stalled"
    assert second["lag_blocks"] > first["lag_blocks"]
    assert second["last_indexed_block"] == first["last_indexed_block"]

    assert severity({"lag": second})["level"] == "P1"
    assert [r["scenario"] for r in rank_scenarios({"lag": second})] == ["indexer_lag"]


def test_rpc_down(sandbox_fault, module_runner, lag_args):
    sandbox_fault("rpc-down")
    lag = _ok(module_runner("indexer_lag_info", lag_args))
    assert lag["status"] == "rpc_unreachable", lag
    assert lag["rpc"]["reachable"] is False and lag["rpc"]["latency_ms"] is None
    assert lag["rpc"]["error"]
    assert lag["indexer"]["reachable"] is True
    assert lag["chain_head_block"] is None and lag["lag_source"] == "metric"
    assert severity({"lag": lag})["level"] == "P1"
    assert rank_scenarios({"lag": lag})[0]["scenario"] == "external_service_failure"


def test_disk_full(sandbox_fault, module_runner):
    sandbox_fault("disk-full")
    manifest = (STATE_DIR / "disk-full.manifest").read_text().split()
    disk = _ok(module_runner("disk_usage_info", DISK_ARGS))

    data = disk["paths"][0]
    assert data["percent_used"] >= 95 and data["over_threshold"] is True
    assert disk["full"] == [str(DATA)]

    logs = disk["logs"]
    assert logs["old_count"] > 0 and logs["old_bytes"] > 0
    assert all(f["age_days"] > 30 and f["newest"] is False for f in logs["dirs"][0]["old_files"])
    recent_logs = [f for f in manifest if f.startswith("log/") and os.path.join(str(DATA), f) not in
                   {o["path"] for o in logs["dirs"][0]["old_files"]}]
    assert recent_logs, "the fault's recent logs must not be listed as old"

    backups = disk["backups"]["dirs"][0]
    newest = backups["newest"]
    assert newest["newest"] is True and newest["age_days"] < 1
    assert os.path.relpath(newest["path"], DATA) not in manifest, "the newest backup is the real one, not fault filler"
    old = [f for f in backups["old_files"] if not f["newest"]]
    assert old and all(f["age_days"] > 60 for f in old)
    assert backups["old_count"] == len(old) and backups["old_bytes"] == sum(f["size"] for f in old)
    assert all(os.path.relpath(f["path"], DATA) in manifest for f in old)

    assert disk["docker"]["available"] is True
    assert disk["docker"]["images"]["reclaimable_bytes"] > 0
    assert disk["docker"]["containers"]["total_count"] > disk["docker"]["containers"]["active"]
    assert disk["summary"]["reclaimable_bytes"] >= logs["old_bytes"] + backups["old_bytes"]

    # Read-only: every file the fault wrote is still there.
    assert all((DATA / f).exists() for f in manifest)

    assert severity({"disk": disk})["level"] == "P1"
    assert rank_scenarios({"disk": disk})[0]["scenario"] == "disk_full"
