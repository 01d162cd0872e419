#!/usr/bin/env python
"""Wall time of `playbooks/triage.yml` against the runbook's commands in a shell and as Ansible tasks.

Three things are timed against the live sandbox, alternating in one session so that they see the same
machine load, and the median of several runs of each is reported side by side:

- the triage (`playbooks/triage.yml`, a whole ansible-playbook run, start-up included);
- the runbook's Step 2 and Step 4 commands in a plain bash script (`bench/runbook_shell.sh`), as an
  engineer types them one after another;
- the same commands as Ansible shell tasks (`bench/runbook_shell.yml`).

Wall time and CPU time (user + system of the process and its children: Ansible, python, the docker and
psql clients; not the Docker engine's own) are reported, with the triage's ratio to each of the others.

    .venv/bin/python bench/triage_bench.py --runs 7 [--fault indexer-lag]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
TRIAGE = "triage (usdx.incident)"
SHELL = "runbook commands, bash script"
TASKS = "runbook commands, Ansible tasks"

# The inventory's stack description, for the bash script (resolved once by Ansible, not timed).
STACK_EXPRESSION = ("{{ [usdx_compose_project_src, usdx_compose_project_name, usdx_api_url, usdx_webapp_url]"
                    " + usdx_compose_env_files }}")


def ansible_env(**extra: str) -> dict[str, str]:
    return dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), **extra)


def stack_arguments() -> list[str]:
    """bench/runbook_shell.sh's arguments for the sandbox inventory's one stack."""
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    command = [str(TOP / ".venv/bin/ansible"), "usdx_stacks", "-m", "ansible.builtin.debug",
               "-a", json.dumps({"msg": STACK_EXPRESSION})]
    result = subprocess.run(command, cwd=TOP, env=env, capture_output=True, text=True, check=False)
    try:
        hosts = json.loads(result.stdout)["plays"][0]["tasks"][0]["hosts"]
        (host_result,) = hosts.values()
        return [str(value) for value in host_result["msg"]]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        sys.exit(f"could not read the stack description from the inventory ({exc}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of command; exits on failure."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=TOP, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed (rc={result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return elapsed, cpu


def sandbox(*args: str) -> None:
    subprocess.run([str(TOP / "sandbox/sandbox.sh"), *args], cwd=TOP, check=True, stdout=subprocess.DEVNULL)


def summary(values: list[tuple[float, float]]) -> dict[str, object]:
    wall = [seconds for seconds, _cpu in values]
    return {"median_s": statistics.median(wall), "min_s": min(wall), "max_s": max(wall),
            "cpu_median_s": statistics.median(cpu for _seconds, cpu in values), "runs": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--fault", default=None, help="sandbox fault to inject first (cleared at the end)")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/triage.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")

    playbook = str(TOP / ".venv/bin/ansible-playbook")
    commands = {
        TRIAGE: ([playbook, "playbooks/triage.yml"], ansible_env()),
        SHELL: (["bash", "bench/runbook_shell.sh", *stack_arguments()], dict(os.environ)),
        TASKS: ([playbook, "bench/runbook_shell.yml"], ansible_env()),
    }
    if options.fault:
        sandbox("fault", options.fault)
    try:
        for command, env in commands.values():  # warm-up: page cache, AnsiballZ cache
            run_once(command, env)
        timings: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _run in range(options.runs):
            for name, (command, env) in commands.items():
                timings[name].append(run_once(command, env))
    finally:
        if options.fault:
            sandbox("fault", "clear")

    rows = {name: summary(values) for name, values in timings.items()}
    triage = rows[TRIAGE]["median_s"]
    ratios = {f"triage / {name}": triage / row["median_s"] for name, row in rows.items() if name != TRIAGE}
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"fault": options.fault, "results": rows, "ratios": ratios}, indent=2) + "\n")

    print(f"fault: {options.fault or 'none (healthy sandbox)'}; {options.runs} runs each, alternating")
    print("| what | median | min | max | CPU (median) |")
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_s']:.2f} s | {row['min_s']:.2f} s | {row['max_s']:.2f} s | {row['cpu_median_s']:.2f} s |")
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
