# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ansible-runner costs per step: one chain step through the usdx-incident command's runner layer against the
same ansible-playbook command run directly. Target: under 1 s of overhead per step.

Each timed run is one step of a fresh incident (allocated before the clock starts), on the healthy sandbox:

- runner: usdx_incident_cli.runner.run(), exactly as `usdx-incident respond` calls it (private data dir = the
  incident folder, an ident, event and status handlers, artifacts written);
- direct: `ansible-playbook -i INVENTORY -e EXTRAVARS playbooks/respond.yml` with the same variables, from the same
  working directory;
- command: the whole `usdx-incident respond --severity P2 --json` (Python start-up, argument and inventory
  checks, allocation, the run, reading the records): the wrapper's overhead as a person sees it.

The step is P2's `record` (the chain the command runs as one step). Runs alternate, the first round warms the
caches and is not counted; medians side by side, under the sandbox integration lock (tests/integration/conftest.py).

    .venv/bin/python bench/runner_overhead_bench.py --runs 7
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

from usdx_incident_cli import collection
from usdx_incident_cli import runner as runner_mod

TOP = Path(__file__).resolve().parent.parent
STATE = TOP / "sandbox" / ".state"
INVENTORY = TOP / "inventories" / "sandbox"
BIN = Path(sys.executable).parent
SEVERITY = "P2"
TARGET_OVERHEAD_S = 1.0


def sandbox(*args: str) -> None:
    subprocess.run([str(TOP / "sandbox/sandbox.sh"), *args], cwd=TOP, check=True, stdout=subprocess.DEVNULL)


class Bench:
    def __init__(self, incidents_dir: str) -> None:
        self.found = collection.locate()
        self.lib = collection.load(self.found)
        self.incidents_dir = incidents_dir
        self.playbook = self.found.playbook("respond.yml")
        self.step = self.lib.chain.chain_steps(SEVERITY)[0]
        self.env = {**os.environ, "ANSIBLE_CONFIG": str(TOP / "ansible.cfg"), **runner_mod.ansible_path()}

    def extravars(self, incident_id: str) -> dict[str, t.Any]:
        return {"respond_incident_id": incident_id, "respond_incidents_dir": self.incidents_dir,
                "respond_severity": SEVERITY, "respond_scenario": "auto", "respond_fix_option": "auto",
                "respond_approve": [], "respond_steps": [self.step["id"]]}

    def runner(self) -> float:
        incident_id, folder = self.lib.incident.allocate(self.incidents_dir)
        started = time.perf_counter()
        run = runner_mod.run(private_data_dir=folder, playbook=self.playbook, ident=f"01-{self.step['id']}",
                             inventories=[str(INVENTORY)], limit=None, extravars=self.extravars(incident_id), check=False,
                             envvars=self.found.runner_env(), on_event=lambda event: None)
        elapsed = time.perf_counter() - started
        if run.status != "successful":
            sys.exit(f"the runner run failed ({run.status}, rc {run.rc}); see {folder}/artifacts")
        return elapsed

    def direct(self) -> float:
        incident_id, folder = self.lib.incident.allocate(self.incidents_dir)
        command = [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "-e", json.dumps(self.extravars(incident_id)),
                   self.playbook]
        started = time.perf_counter()
        proc = subprocess.run(command, cwd=folder, env=self.env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"ansible-playbook failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}")
        return elapsed

    def command(self) -> float:
        started = time.perf_counter()
        proc = subprocess.run([str(BIN / "usdx-incident"), "respond", "--severity", SEVERITY, "-i", str(INVENTORY),
                               "--incidents-dir", self.incidents_dir, "--json"],
                              cwd=TOP, env=self.env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"usdx-incident failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
        return elapsed


def main() -> int:
    os.environ.pop("USDX_SANDBOX_STACK", None)  # it measures the default stack, whose names it holds
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/runner_overhead.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")

    incidents_dir = tempfile.mkdtemp(prefix="usdx-bench-incidents-")
    bench = Bench(incidents_dir)
    measure = {"direct: ansible-playbook": bench.direct, "runner: ansible_runner.run()": bench.runner,
               "command: usdx-incident respond": bench.command}
    timings: dict[str, list[float]] = {name: [] for name in measure}
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "integration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            sandbox("fault", "clear")
            for run in range(options.runs + 1):  # the first round warms the caches and is not counted
                names = list(measure)
                names = names[run % len(names):] + names[:run % len(names)]  # no kind always goes first
                for name in names:
                    seconds = measure[name]()
                    if run:
                        timings[name].append(seconds)
        finally:
            sandbox("fault", "clear")
            shutil.rmtree(incidents_dir, ignore_errors=True)

    rows = {name: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs": v} for name, v in timings.items()}
    direct = rows["direct: ansible-playbook"]["median_s"]
    overheads = {name: row["median_s"] - direct for name, row in rows.items()}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"step": f"{SEVERITY} {bench.step['id']}", "results": rows,
                                          "overhead_vs_direct_s": overheads, "target_s": TARGET_OVERHEAD_S}, indent=2) + "\n")

    print(f"one chain step ({SEVERITY} {bench.step['id']}, playbooks/respond.yml) on the healthy sandbox; "
          f"{options.runs} runs each, alternating")
    print("| how | median | min | max | overhead (medians) |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s | {overheads[name]:+.2f} s |")
    verdict = "within" if max(overheads.values()) < TARGET_OVERHEAD_S else "OVER"
    print(f"per-step overhead {verdict} the {TARGET_OVERHEAD_S:.0f} s target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
