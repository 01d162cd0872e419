#!/usr/bin/env python
"""The whole P0 chain per scenario through usdx-incident, each step's share, beside the unavoidable part.

For each scenario and each run the sandbox fault is injected (not timed), then one of the two below is timed, and
the fault is cleared (not timed):

- the chain: `usdx-incident respond --severity P0 --scenario auto --approve contain --approve rollback --json`
  (eight ansible-runner runs: alert, assess, contain, diagnose, fix, verify, communicate, post-mortem), exit 0 and
  outcome resolved; each step's share comes from the incident's record (its elapsed seconds);
- the unavoidable part of the fix, done directly as bench/remediation_bench.py and bench/api_unavailable_bench.py do
  it (docker start + /health; pg_terminate_backend + a new connection; docker restart + catch-up; deleting the
  files + prune), and for bad-deploy `sandbox.sh deploy v1.4.0` (the rollback by hand, health included).

The circuit breaker would stop the fourth automatic fix of one scenario within the hour: that is its job, and a
benchmark repeats a fix on purpose, so its history in the sandbox's state directory is removed before each run.
The two alternate under the sandbox integration lock after one warm-up round that is not counted; medians are
printed side by side. Target (issue 8): the whole P0 chain under 30 s for every scenario but the lag catch-up.

    .venv/bin/python bench/chain_bench.py --runs 3
    .venv/bin/python bench/chain_bench.py --runs 3 --scenario bad-deploy
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import statistics
import subprocess
import sys
import time
import typing as t
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_unavailable_bench  # noqa: E402  (the same directory: the unavoidable parts are measured one way)
import remediation_bench  # noqa: E402

TOP = remediation_bench.TOP
STATE = remediation_bench.STATE
BREAKER = STATE / "incident" / "breaker.json"
GOOD_RELEASE = "v1.4.0"
CHAIN_TIMEOUT = 900
TARGET_SECONDS = 30.0


def api_direct() -> float:
    return api_unavailable_bench.run_floor(api_unavailable_bench.indexer_container(), api_unavailable_bench.health_url())


def rollback_direct() -> float:
    started = time.perf_counter()
    remediation_bench.sandbox("deploy", GOOD_RELEASE)
    return time.perf_counter() - started


class Scenario(t.NamedTuple):
    fault: str
    extra: list[str]
    prepare: t.Callable[[], None]
    direct: t.Callable[[], float]


SCENARIOS = {
    "api-down": Scenario("api-down", [], lambda: None, api_direct),
    "db-connections": Scenario("db-connections", ["-e", f"db_connections_exhausted_idle_threshold={remediation_bench.IDLE_THRESHOLD}"],
                               remediation_bench.wait_holder_older_than_threshold, remediation_bench.db_direct),
    "indexer-lag": Scenario("indexer-lag", [], lambda: None, remediation_bench.indexer_direct),
    "disk-full": Scenario("disk-full", [], lambda: None, remediation_bench.disk_direct),
    "bad-deploy": Scenario("bad-deploy", [], lambda: None, rollback_direct),
}


def run_chain(scenario: Scenario, incidents: Path) -> tuple[float, dict[str, float]]:
    BREAKER.unlink(missing_ok=True)
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), USDX_INCIDENTS_DIR=str(incidents),
               PATH=f"{TOP / '.venv/bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    command = [str(TOP / ".venv/bin/usdx-incident"), "respond", "--severity", "P0", "--scenario", "auto",
               "--approve", "contain", "--approve", "rollback", "--json", *scenario.extra]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=TOP, env=env, capture_output=True, text=True, check=False, timeout=CHAIN_TIMEOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the P0 chain for {scenario.fault} did not resolve (rc={result.returncode}):\n"
                 f"{result.stdout[-3000:]}{result.stderr[-2000:]}")
    document = json.loads(result.stdout)
    steps = {step["id"]: float(step["elapsed_seconds"] or 0.0) for record in document["hosts"].values()
             for step in record["steps"]}
    return seconds, steps


def measure(scenario: Scenario, runs: int, incidents: Path) -> dict[str, t.Any]:
    timings: dict[str, t.Any] = {"chain": [], "unavoidable": [], "steps": {}}
    for round_ in range(runs + 1):  # round 0 warms the caches and is not counted
        for kind in ("chain", "unavoidable"):
            remediation_bench.sandbox("fault", scenario.fault)
            scenario.prepare()
            if kind == "chain":
                seconds, steps = run_chain(scenario, incidents)
            else:
                seconds, steps = scenario.direct(), {}
            remediation_bench.sandbox("fault", "clear")
            print(f"  {scenario.fault} {'warm-up' if round_ == 0 else f'run {round_}'}: {kind} {seconds:.2f} s", flush=True)
            if round_:
                timings[kind].append(seconds)
                for step, share in steps.items():
                    timings["steps"].setdefault(step, []).append(share)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--scenario", action="append", help=f"one of {', '.join(SCENARIOS)} (repeatable; default all)")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/chain.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")
    for name in options.scenario or []:
        if name not in SCENARIOS:
            parser.error(f"unknown --scenario {name!r} (accepted: {', '.join(SCENARIOS)})")
    names = options.scenario or list(SCENARIOS)
    incidents = TOP / "build" / "bench-incidents"
    results: dict[str, t.Any] = {}
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "integration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            remediation_bench.sandbox("fault", "clear")
            for name in names:
                print(f"{name}:", flush=True)
                results[name] = measure(SCENARIOS[name], options.runs, incidents)
        finally:
            remediation_bench.sandbox("fault", "clear")
    print(f"\n{'scenario':<16} {'P0 chain':>9} {'unavoidable':>12} {'target':>8}   step shares (median s)")
    for name, timing in results.items():
        chain, floor = statistics.median(timing["chain"]), statistics.median(timing["unavoidable"])
        shares = ", ".join(f"{step} {statistics.median(values):.1f}" for step, values in timing["steps"].items())
        verdict = "met" if chain < TARGET_SECONDS or name == "indexer-lag" else "MISSED"
        print(f"{name:<16} {chain:>8.2f}s {floor:>11.2f}s {verdict:>8}   {shares}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nraw timings: {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
