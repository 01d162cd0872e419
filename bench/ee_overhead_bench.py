# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What running a job in the execution environment costs: the same triage through ansible-runner on the controller
and isolated in the Debian-built execution environment image, the way AWX runs it (tests/ee/ee_job.py).

- host: `ansible-runner run PDD -p playbooks/triage.yml` with the controller's venv and the checkout's collection;
- isolated: the same private data dir layout with `--process-isolation --process-isolation-executable docker
  --container-image usdx-incident/ee:bookworm` (docker socket, host network, the compose project dir mounted);
- container start: `docker run --rm IMAGE true`, the part of the overhead that is the container engine's alone.

Each timed run has a fresh private data dir. Runs alternate, the first round warms the caches and is not counted;
medians side by side, on the healthy sandbox, under the sandbox integration lock (tests/integration/conftest.py).
The image is built first if its content changed (tests/ee/build_image.py), outside the timings.

    .venv/bin/python bench/ee_overhead_bench.py --runs 3
"""

from __future__ import annotations

import argparse
import fcntl
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP / "tests" / "ee"))
sys.path.insert(0, str(TOP / "tests" / "integration"))
import ee_job  # noqa: E402  # pylint: disable=wrong-import-position
from conftest import read_sandbox_env  # noqa: E402  # pylint: disable=wrong-import-position
from sandbox_stack import STACK  # noqa: E402  # pylint: disable=wrong-import-position

STATE = STACK.state_dir
PLAYBOOK = "playbooks/triage.yml"
TIMEOUT = 300


def sandbox(*args: str) -> None:
    subprocess.run([str(TOP / "sandbox/sandbox.sh"), *args], cwd=TOP, check=True, stdout=subprocess.DEVNULL,
                   timeout=600)


class Bench:
    def __init__(self, root: Path, image: str) -> None:
        self.root = root
        self.image = image
        self.sandbox_env = read_sandbox_env()
        self.count = 0

    def triage(self, isolated: bool) -> float:
        self.count += 1
        ident = f"{'isolated' if isolated else 'host'}-{self.count}"
        pdd = ee_job.private_data_dir(self.root, ident, sandbox_env=self.sandbox_env, exposed=self.root / "exposed",
                                      extravars={}, isolated=isolated, timeout=TIMEOUT, stack=STACK.number)
        started = time.perf_counter()
        job = ee_job.run(pdd, PLAYBOOK, ident, image=self.image if isolated else None, timeout=TIMEOUT)
        elapsed = time.perf_counter() - started
        if (job.status, job.rc) != ("successful", 0):
            sys.exit(f"the {ident} triage failed ({job.status}, rc {job.rc}); see {job.artifact_dir}")
        return elapsed

    def container_start(self) -> float:
        started = time.perf_counter()
        subprocess.run(["docker", "run", "--rm", self.image, "true"], check=True, timeout=120)
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--image", default="usdx-incident/ee:bookworm")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/ee_overhead.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")

    subprocess.run([sys.executable, str(TOP / "tests/ee/build_image.py"), "--image", options.image], check=True,
                   timeout=1800)
    root = Path(tempfile.mkdtemp(prefix="usdx-bench-ee-"))
    bench = Bench(root, options.image)
    measure: dict[str, t.Callable[[], float]] = {
        "host: ansible-runner run": lambda: bench.triage(isolated=False),
        "isolated: ansible-runner run --process-isolation": lambda: bench.triage(isolated=True),
        "container start: docker run --rm IMAGE true": bench.container_start,
    }
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
            shutil.rmtree(root, ignore_errors=True)

    rows = {name: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs": v}
            for name, v in timings.items()}
    host = rows["host: ansible-runner run"]["median_s"]
    isolated = rows["isolated: ansible-runner run --process-isolation"]["median_s"]
    overhead = {"seconds": isolated - host, "ratio": isolated / host}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"playbook": PLAYBOOK, "image": options.image, "results": rows,
                                          "isolated_overhead": overhead}, indent=2) + "\n")

    print(f"triage ({PLAYBOOK}) of the healthy sandbox through ansible-runner; {options.runs} runs each, alternating")
    print("| how | median | min | max |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s |")
    print(f"isolated overhead (medians): {overhead['seconds']:+.2f} s, x{overhead['ratio']:.2f} the host run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
