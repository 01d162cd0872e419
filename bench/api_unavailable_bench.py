#!/usr/bin/env python
"""From a killed indexer to verified health: the api_unavailable role against `docker start` + polling /health.

Both start from the sandbox's `api-down` fault (the indexer container killed, exit 137), injected before each
run and not timed. Timed:

- the role: one `ansible-playbook playbooks/api_unavailable.yml` (start-up, diagnosis, fix and verify included);
- the floor: `docker start <indexer container>`, then GET /health every 0.1 s until it answers 200 - what an
  engineer who already knows the fix types, and what no automation can beat.

Runs alternate in one session, under the sandbox integration lock (tests/integration/conftest.py) so no test
injects a fault meanwhile; the median of each is reported side by side with their difference. Every fault is
cleared at the end.

    .venv/bin/python bench/api_unavailable_bench.py --runs 7
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
import urllib.error
import urllib.request
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
STATE = TOP / "sandbox" / ".state"
PROJECT = "usdx-wexel"
ROLE = "api_unavailable role (playbooks/api_unavailable.yml)"
FLOOR = "docker start + poll /health until 200"
POLL_SECONDS = 0.1
FLOOR_TIMEOUT = 120.0


def health_url() -> str:
    port = "3001"
    env_file = STATE / "sandbox.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "USDX_INDEXER_PORT":
                port = value.strip().strip("'\"")
    return f"http://127.0.0.1:{port}/health"


def sandbox(*args: str) -> None:
    subprocess.run([str(TOP / "sandbox/sandbox.sh"), *args], cwd=TOP, check=True, stdout=subprocess.DEVNULL)


def indexer_container() -> str:
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}",
                          "--filter", "label=com.docker.compose.service=indexer"],
                         capture_output=True, text=True, check=True).stdout.split()
    if len(ids) != 1:
        sys.exit(f"expected one indexer container in project {PROJECT}, found {ids}")
    return ids[0]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (a fixed http URL)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return -1


def run_role() -> float:
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"))
    started = time.perf_counter()
    result = subprocess.run([str(TOP / ".venv/bin/ansible-playbook"), "playbooks/api_unavailable.yml"],
                            cwd=TOP, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"the role failed (rc={result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return elapsed


def run_floor(container: str, url: str) -> float:
    started = time.perf_counter()
    subprocess.run(["docker", "start", container], check=True, stdout=subprocess.DEVNULL)
    while status_of(url) != 200:
        if time.perf_counter() - started > FLOOR_TIMEOUT:
            sys.exit(f"{url} did not answer 200 within {FLOOR_TIMEOUT:.0f} s of docker start")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def main() -> int:
    os.environ.pop("USDX_SANDBOX_STACK", None)  # it measures the default stack, whose names it holds
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/api_unavailable.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")

    url = health_url()
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "integration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            sandbox("fault", "clear")
            container = indexer_container()
            measure = {ROLE: run_role, FLOOR: lambda: run_floor(container, url)}
            timings: dict[str, list[float]] = {name: [] for name in measure}
            for run in range(options.runs + 1):  # the first round warms the caches and is not counted
                for name, once in measure.items():
                    sandbox("fault", "api-down")
                    seconds = once()
                    if run:
                        timings[name].append(seconds)
        finally:
            sandbox("fault", "clear")

    rows = {name: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs": v} for name, v in timings.items()}
    extra = rows[ROLE]["median_s"] - rows[FLOOR]["median_s"]
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"results": rows, "role_minus_floor_s": extra}, indent=2) + "\n")

    print(f"from a killed indexer (sandbox fault api-down) to /health 200; {options.runs} runs each, alternating")
    print("| what | median | min | max |")
    print("|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s |")
    print(f"role - floor (medians): {extra:+.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
