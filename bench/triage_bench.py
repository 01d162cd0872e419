#!/usr/bin/env python
"""Wall time of `playbooks/triage.yml` against the runbook's commands run as shell tasks.

Both are run against the live sandbox, alternating in one session so that they see the same
machine load; the median of several runs of each is reported side by side.

    .venv/bin/python bench/triage_bench.py --runs 7 [--fault indexer-lag]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
PLAYBOOKS = {
    "triage (usdx.incident)": ["playbooks/triage.yml"],
    "runbook shell sequence": ["bench/runbook_shell.yml"],
}


def run_once(playbook: list[str]) -> float:
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"))
    command = [str(TOP / ".venv/bin/ansible-playbook"), *playbook]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=TOP, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(playbook)} failed (rc={result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return elapsed


def sandbox(*args: str) -> None:
    subprocess.run([str(TOP / "sandbox/sandbox.sh"), *args], cwd=TOP, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--fault", default=None, help="sandbox fault to inject first (cleared at the end)")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/triage.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")

    if options.fault:
        sandbox("fault", options.fault)
    try:
        for playbook in PLAYBOOKS.values():  # warm-up: page cache, AnsiballZ cache
            run_once(playbook)
        timings: dict[str, list[float]] = {name: [] for name in PLAYBOOKS}
        for _run in range(options.runs):
            for name, playbook in PLAYBOOKS.items():
                timings[name].append(run_once(playbook))
    finally:
        if options.fault:
            sandbox("fault", "clear")

    rows = {name: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs": v} for name, v in timings.items()}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"fault": options.fault, "results": rows}, indent=2) + "\n")

    print(f"fault: {options.fault or 'none (healthy sandbox)'}; {options.runs} runs each, alternating")
    print("| what | median | min | max |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
