#!/usr/bin/env python
"""Triage of one sandbox stack against triage of eight side by side: wall time, CPU and the controller's peak memory.

Both run `playbooks/triage.yml` through inventories/sandbox-fleet (forks = 8 in ansible.cfg): `--limit stack1` and
`--limit stack1,...,stack8`, alternating in one session so that they see the same machine load; the median of
--runs of each is reported side by side, with the ratio of eight to one. The target is eight stacks in at most twice
the time of one.

Memory is the controller's process tree (ansible-playbook, its forks, the modules they run, which run on the
controller too with the local connection, and their docker and psql clients), sampled every --sample seconds: the
peak of the tree's summed PSS (each shared page counted once, split among its sharers) and of its summed RSS (shared
pages counted in every process). A peak shorter than a sample can be missed.

The fleet must be up (`sandbox/sandbox.sh fleet up 8`): the bench checks it and stops otherwise. With --up it
brings the fleet up itself first and down again at the end.

    .venv/bin/python bench/fleet_triage_bench.py --runs 5 [--up]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "tests" / "tools"))
import processes  # noqa: E402  # the process-tree walk the tests use to end a run

BIN = Path(sys.executable).parent
SANDBOX_SH = TOP / "sandbox" / "sandbox.sh"
INVENTORY = TOP / "inventories" / "sandbox-fleet"
FLEET = 8
ONE = "triage of 1 stack"
EIGHT = f"triage of {FLEET} stacks"
LIMITS = {ONE: "stack1", EIGHT: ",".join(f"stack{n}" for n in range(1, FLEET + 1))}


def ansible_env() -> dict[str, str]:
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"))
    env.pop("USDX_SANDBOX_STACK", None)  # the fleet inventory's hosts name their stacks
    return env


def memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in KiB; (0, 0) once it is gone."""
    values = {"Pss:": 0, "Rss:": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as rollup:
            for line in rollup:
                key, _sep, rest = line.partition(" ")
                if key in values:
                    values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return values["Pss:"], values["Rss:"]


class PeakMemory(threading.Thread):
    """Samples the summed PSS and RSS of a process tree until stopped; keeps the peaks (KiB)."""

    def __init__(self, root: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_pss = self.peak_rss = self.samples = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            pss = rss = 0
            for pid in [self.root, *processes.descendants(self.root)]:
                one_pss, one_rss = memory_kib(pid)
                pss, rss = pss + one_pss, rss + one_rss
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self.samples += 1
            self.stopping.wait(self.interval)


def run_once(limit: str, sample: float, timeout: float) -> dict[str, float]:
    """Wall and CPU seconds and peak memory (MiB) of one triage; exits on failure."""
    command = [str(BIN / "ansible-playbook"), "-i", str(INVENTORY), "--limit", limit, "playbooks/triage.yml"]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=TOP, env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = PeakMemory(proc.pid, sample)
    sampler.start()
    try:
        output = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        output = proc.communicate()[0]
        sys.exit(f"{' '.join(command)} did not finish within {timeout:.0f} s:\n{output[-3000:]}")
    finally:
        sampler.stopping.set()
        sampler.join()
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (rc={proc.returncode}):\n{output[-3000:]}")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {"wall_s": elapsed, "cpu_s": cpu, "peak_pss_mib": sampler.peak_pss / 1024, "peak_rss_mib": sampler.peak_rss / 1024}


def sandbox(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SANDBOX_SH), *args], cwd=TOP, capture_output=True, text=True, timeout=timeout, check=False)


def require_fleet() -> None:
    status = sandbox("fleet", "status", timeout=120)
    healthy = [line for line in status.stdout.splitlines() if "/health 200" in line]
    wanted = {f"stack {n}:" for n in range(1, FLEET + 1)}
    if status.returncode != 0 or not wanted <= {line.split(" project", 1)[0] for line in healthy}:
        sys.exit(f"the fleet is not up and healthy (run sandbox/sandbox.sh fleet up {FLEET}, or pass --up):\n"
                 f"{status.stdout}{status.stderr}")


def summary(values: list[dict[str, float]]) -> dict[str, object]:
    wall = [v["wall_s"] for v in values]
    return {"median_s": statistics.median(wall), "min_s": min(wall), "max_s": max(wall),
            "cpu_median_s": statistics.median(v["cpu_s"] for v in values),
            "peak_pss_median_mib": statistics.median(v["peak_pss_mib"] for v in values),
            "peak_rss_median_mib": statistics.median(v["peak_rss_mib"] for v in values), "runs": values}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--sample", type=float, default=0.2, help="seconds between memory samples (default 0.2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one triage may take (default 600)")
    parser.add_argument("--up", action="store_true", help=f"bring fleet stacks 1-{FLEET} up first and down at the end")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/fleet_triage.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")
    if not 0.01 <= options.sample <= 5:
        parser.error(f"--sample must be from 0.01 to 5 seconds, got {options.sample}")
    if options.timeout <= 0:
        parser.error(f"--timeout must be a number of seconds > 0, got {options.timeout}")

    if options.up:
        up = sandbox("fleet", "up", str(FLEET), timeout=1500)
        if up.returncode != 0:
            sys.exit(f"sandbox.sh fleet up {FLEET} failed (rc={up.returncode}):\n{up.stdout[-3000:]}{up.stderr[-3000:]}")
    try:
        require_fleet()
        for limit in LIMITS.values():  # warm-up: page cache, AnsiballZ cache
            run_once(limit, options.sample, options.timeout)
        timings: dict[str, list[dict[str, float]]] = {name: [] for name in LIMITS}
        for _run in range(options.runs):
            for name, limit in LIMITS.items():
                timings[name].append(run_once(limit, options.sample, options.timeout))
    finally:
        if options.up:
            sandbox("fleet", "down", timeout=900)

    rows = {name: summary(values) for name, values in timings.items()}
    ratios = {"wall": rows[EIGHT]["median_s"] / rows[ONE]["median_s"],
              "cpu": rows[EIGHT]["cpu_median_s"] / rows[ONE]["cpu_median_s"],
              "peak_pss": rows[EIGHT]["peak_pss_median_mib"] / rows[ONE]["peak_pss_median_mib"]}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"cpus": os.cpu_count(), "load_average_after": os.getloadavg(),
                                          "results": rows, "ratios_8_to_1": ratios}, indent=2) + "\n")

    print(f"{options.runs} runs each, alternating; {os.cpu_count()} CPUs; load average after: "
          + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    print("| what | median | min | max | CPU (median) | peak PSS (median) | peak RSS (median) |")
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s | "
              f"{row['cpu_median_s']:.2f} s | {row['peak_pss_median_mib']:.0f} MiB | {row['peak_rss_median_mib']:.0f} MiB |")
    print(f"{FLEET} stacks / 1 stack: wall {ratios['wall']:.2f} (target <= 2), CPU {ratios['cpu']:.2f}, "
          f"peak PSS {ratios['peak_pss']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
