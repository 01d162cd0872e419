#!/usr/bin/env python
"""The whole P0 chain per scenario, each step's share, beside the unavoidable part and beside usdx-incident.

For each scenario and each run the sandbox fault is injected (not timed), then one of the three below is timed, and
the fault is cleared (not timed):

- the chain: `ansible-playbook playbooks/p0_critical.yml -e respond_scenario=auto -e respond_approve=[contain,
  rollback]`, all eight steps (alert, assess, contain, diagnose, fix, verify, communicate, post-mortem) with their
  messages to the sandbox's four notifiers, exit 0; each step's share comes from the incident's record;
- the same chain through the wrapper, `usdx-incident respond --severity P0 --scenario auto --approve contain
  --approve rollback --json` (one ansible-runner run per step): its difference to the chain, per step, is the
  wrapper's cost (runner start, ansible start, the dispatcher's preamble in every run);
- the unavoidable part of the fix, done directly as bench/remediation_bench.py and bench/api_unavailable_bench.py do
  it (docker start + /health; pg_terminate_backend + a new connection; docker restart + catch-up; deleting the
  files + prune), and for bad-deploy `sandbox.sh deploy v1.4.0` (the rollback by hand, health included).

The circuit breaker would stop the fourth automatic fix of one scenario within the hour: that is its job, and a
benchmark repeats a fix on purpose, so its history in the sandbox's state directory is removed before each run.
The three alternate under the sandbox integration lock, after one warm-up round (for the first scenario: the caches
are the machine's) that is not counted; medians are printed side by side. Targets (issue 8): the whole P0 chain
under 30 s for every scenario but the lag catch-up; the wrapper's own cost under 1 s per step.

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


def _env(incidents: Path) -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), USDX_INCIDENTS_DIR=str(incidents),
                PATH=f"{TOP / '.venv/bin'}{os.pathsep}{os.environ.get('PATH', '')}")


def _timed(command: list[str], env: dict[str, str], fault: str, how: str) -> tuple[float, subprocess.CompletedProcess]:
    BREAKER.unlink(missing_ok=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=TOP, env=env, capture_output=True, text=True, check=False, timeout=CHAIN_TIMEOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the P0 chain for {fault} ({how}) did not resolve (rc={result.returncode}):\n"
                 f"{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return seconds, result


def run_playbook(scenario: Scenario, incidents: Path) -> tuple[float, dict[str, float]]:
    """The chain itself: playbooks/p0_critical.yml in one ansible-playbook run; step shares from its record."""
    before = set(incidents.glob("INC-*")) if incidents.exists() else set()
    command = [str(TOP / ".venv/bin/ansible-playbook"), "-i", str(TOP / "inventories/sandbox"),
               str(TOP / "playbooks/p0_critical.yml"), "-e", json.dumps({
                   "respond_scenario": "auto", "respond_approve": ["contain", "rollback"],
                   "respond_incidents_dir": str(incidents)}), *scenario.extra]
    seconds, _result = _timed(command, _env(incidents), scenario.fault, "ansible-playbook")
    (folder,) = set(incidents.glob("INC-*")) - before
    steps: dict[str, float] = {}
    for record in (folder / "hosts").glob("*.json"):
        steps.update({step["id"]: float(step["elapsed_seconds"] or 0.0) for step in json.loads(record.read_text())["steps"]})
    return seconds, steps


def run_wrapper(scenario: Scenario, incidents: Path) -> tuple[float, dict[str, float]]:
    """The same chain through usdx-incident: one ansible-runner run per step."""
    command = [str(TOP / ".venv/bin/usdx-incident"), "respond", "--severity", "P0", "--scenario", "auto",
               "--approve", "contain", "--approve", "rollback", "--json", *scenario.extra]
    seconds, _result = _timed(command, _env(incidents), scenario.fault, "usdx-incident")
    return seconds, {}


KINDS = {"chain": run_playbook, "usdx-incident": run_wrapper,
         "unavoidable": lambda scenario, incidents: (scenario.direct(), {})}


def measure(scenario: Scenario, runs: int, incidents: Path, warm_up: bool) -> dict[str, t.Any]:
    timings: dict[str, t.Any] = {kind: [] for kind in KINDS} | {"steps": {}}
    for round_ in range(0 if warm_up else 1, runs + 1):  # round 0 warms the caches (once) and is not counted
        for kind, run in KINDS.items():
            remediation_bench.sandbox("fault", scenario.fault)
            scenario.prepare()
            seconds, steps = run(scenario, incidents)
            remediation_bench.sandbox("fault", "clear")
            print(f"  {scenario.fault} {'warm-up' if round_ == 0 else f'run {round_}'}: {kind} {seconds:.2f} s", flush=True)
            if round_:
                timings[kind].append(seconds)
                for step, share in steps.items():
                    timings["steps"].setdefault(step, []).append(share)
    return timings


def main() -> int:
    os.environ.pop("USDX_SANDBOX_STACK", None)  # it measures the default stack, whose names it holds
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
                results[name] = measure(SCENARIOS[name], options.runs, incidents, warm_up=name == names[0])
        finally:
            remediation_bench.sandbox("fault", "clear")
    print(f"\n{'scenario':<16} {'P0 chain':>9} {'unavoidable':>12} {'target':>8} {'usdx-incident':>14} {'per step':>9}"
          "   step shares (median s)")
    for name, timing in results.items():
        chain, floor = statistics.median(timing["chain"]), statistics.median(timing["unavoidable"])
        wrapper = statistics.median(timing["usdx-incident"])
        shares = ", ".join(f"{step} {statistics.median(values):.1f}" for step, values in timing["steps"].items())
        verdict = "met" if chain < TARGET_SECONDS or name == "indexer-lag" else "MISSED"
        per_step = (wrapper - chain) / max(len(timing["steps"]), 1)
        print(f"{name:<16} {chain:>8.2f}s {floor:>11.2f}s {verdict:>8} {wrapper:>13.2f}s {per_step:>+8.2f}s   {shares}")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nraw timings: {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
