# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record the smoke test's exchanges with the sandbox under each state into tests/unit/fixtures/smoke/<state>.json.

    .venv/bin/python tests/tools/record_smoke.py                # every state
    .venv/bin/python tests/tools/record_smoke.py bad-deploy

For each state it clears the faults, injects the state's fault, runs the smoke test's worker (plugins/module_utils/
_smoke.py) with every request and answer recorded, and clears the fault again. The unit tests replay the answers
in order (tests/unit/plugins/modules/test_smoke_test_info.py). It takes the integration tests' lock
(sandbox/.state/integration.lock).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pathlib
import subprocess
import sys
import typing as t

REPO = pathlib.Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "unit" / "fixtures" / "smoke"
STATES = {"healthy": None, "bad-deploy": "bad-deploy", "api-down": "api-down"}
PARAMS = {
    "paths": ["wallet", "deposit", "marketplace"], "webapp_url": "http://127.0.0.1:3000", "api_url": None,
    "check_page": True, "rpc_url": "http://127.0.0.1:58545", "metrics_url": "http://127.0.0.1:3001/metrics",
    "wallet_address": "0x5af3107a4000a11ce5af3107a4000a11ce5af310", "chain_id": 31337, "deposit_amount": 1000000,
    "deposit_rpc_method": "usdx_sandboxDeposit", "timeout": 10.0, "poll_interval": 0.25, "max_error_rate": 0.01,
    "max_response_ms": 1000.0, "validate_certs": True,
}

if str(REPO / "build" / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.module_utils import _http, _smoke  # noqa: E402


def sandbox_sh(*args: str) -> None:
    # The default stack, whose ports the recorded exchanges name, whatever USDX_SANDBOX_STACK says.
    subprocess.run([str(REPO / "sandbox" / "sandbox.sh"), *args], check=True, cwd=REPO, capture_output=True, timeout=600,
                   env={**os.environ, "USDX_SANDBOX_STACK": "0"})


def record(state: str) -> dict[str, t.Any]:
    exchanges: list[dict[str, t.Any]] = []

    def fetch(url: str, timeout: float, **kwargs: t.Any) -> _http.HttpResult:
        answer = _http.fetch(url, timeout, **kwargs)
        exchanges.append({
            "method": kwargs.get("method", "GET"), "url": url,
            "payload": json.loads(kwargs["data"]) if kwargs.get("data") else None,
            "status": answer.status, "content_type": answer.content_type, "body": answer.body.decode("utf-8", "replace"),
            "truncated": answer.truncated, "error": answer.error, "elapsed": answer.elapsed, "timed_out": answer.timed_out,
        })
        return answer

    result = _smoke.SmokeTest(PARAMS, check_mode=False, fetch=fetch).run()
    return {"state": state, "params": PARAMS, "exchanges": exchanges, "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("states", nargs="*", help=f"states to record (default all: {', '.join(STATES)})")
    states = parser.parse_args().states or list(STATES)
    unknown = [state for state in states if state not in STATES]
    if unknown:
        parser.error(f"unknown state(s) {', '.join(unknown)} (accepted: {', '.join(STATES)})")
    OUT.mkdir(parents=True, exist_ok=True)
    with open(REPO / "sandbox" / ".state" / "integration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for state in states:
            sandbox_sh("fault", "clear")
            try:
                if STATES[state]:
                    sandbox_sh("fault", STATES[state])
                doc = record(state)
            finally:
                sandbox_sh("fault", "clear")
            (OUT / f"{state}.json").write_text(json.dumps(doc, indent=1) + "\n")
            print(f"{state}: {doc['result']['summary']}")


if __name__ == "__main__":
    main()
