# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smoke_test_info against the live sandbox: the critical paths pass on a healthy stack, fail on the path a bad
release broke, and fail closed when the indexer is down; check mode submits no deposit and claims no pass.

Fixtures come from conftest.py: every fault injected through `sandbox_fault` is cleared at teardown.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

pytestmark = pytest.mark.sandbox

WALLET = "0x5af3107a4000a11ce5af3107a4000a11ce5af310"


@pytest.fixture
def smoke_args(sandbox):
    return {"webapp_url": f"http://127.0.0.1:{sandbox['USDX_WEBAPP_PORT']}",
            "rpc_url": f"http://127.0.0.1:{sandbox.get('USDX_CHAIN_PORT', '58545')}",
            "metrics_url": f"http://127.0.0.1:{sandbox['USDX_INDEXER_PORT']}/metrics",
            "wallet_address": WALLET, "chain_id": 31337, "timeout": 15}


def _deposits_of(sandbox) -> int:
    url = f"http://127.0.0.1:{sandbox['USDX_INDEXER_PORT']}/api/wallet/{WALLET}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())["deposits"]["count"]


def test_healthy_stack_passes_and_the_deposit_reaches_the_api(healthy_sandbox, module_runner, smoke_args):
    deposits = _deposits_of(healthy_sandbox)
    result = module_runner("smoke_test_info", smoke_args).result
    assert not result.get("failed"), result.get("msg")
    assert result["passed"] is True, result["summary"]
    assert result["changed"] is True and result["deposit"]["tx_hash"].startswith("0x")
    assert all(path["status"] == "passed" and path["evidence"] for path in result["paths"].values())
    assert result["metrics"]["errors"] == 0 and result["metrics"]["requests"] >= 3
    assert result["elapsed_ms"] < 15000
    assert _deposits_of(healthy_sandbox) == deposits + 1, "the deposit travelled from the chain into the API"


def test_bad_deploy_fails_the_marketplace_only(sandbox_fault, module_runner, smoke_args):
    sandbox_fault("bad-deploy")
    result = module_runner("smoke_test_info", smoke_args).result
    assert result["passed"] is False
    assert result["failures"] == ["marketplace", "metrics"], result["summary"]
    assert 'answered 500: relation "listings" does not exist' in result["paths"]["marketplace"]["error"]
    assert result["paths"]["wallet"]["passed"] and result["paths"]["deposit"]["passed"]
    assert result["metrics"]["routes"]["/api/marketplace/listings"]["errors"] >= 1


def test_stopped_indexer_fails_closed(sandbox_fault, module_runner, smoke_args):
    sandbox_fault("api-down")
    result = module_runner("smoke_test_info", smoke_args).result
    assert result["passed"] is False
    assert result["failures"] == ["wallet", "deposit", "marketplace"] and result["not_run"] == ["metrics"]
    assert all("502" in result["paths"][name]["error"] for name in ("wallet", "marketplace")), result["summary"]
    assert result["metrics"]["error"].startswith("metrics not read: ")
    # The deposit reached the chain (the RPC is up) but not the API: submitted, never served.
    assert result["changed"] is True and "502" in result["paths"]["deposit"]["error"]


def test_check_mode_submits_nothing_and_does_not_pass(healthy_sandbox, module_runner, smoke_args):
    deposits = _deposits_of(healthy_sandbox)
    result = module_runner("smoke_test_info", smoke_args, check_mode=True).result
    assert result["changed"] is False and result["deposit"] is None
    assert result["paths"]["deposit"]["status"] == "not_run"
    assert result["paths"]["wallet"]["passed"] and result["paths"]["marketplace"]["passed"]
    assert result["passed"] is False and result["not_run"] == ["deposit"]
    assert _deposits_of(healthy_sandbox) == deposits, "check mode must not write to the chain"
