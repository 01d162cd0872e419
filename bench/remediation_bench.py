#!/usr/bin/env python
"""From an injected fault to verified recovery: the db, indexer-lag and disk roles against their unavoidable part.

For each scenario and each run the sandbox fault is injected (not timed), one of the two below is timed, and the
fault is cleared (not timed):

- the role: one whole `ansible-playbook playbooks/<scenario>.yml` (start-up, diagnosis, plan, fix, verify); rc 0;
- the unavoidable part, done directly without Ansible, and checked to have recovered the stack too:
  - db_connections_exhausted: one psql as postgres in the db container terminating the idle client sessions past
    the idle threshold (the role's rules: same database, not superuser/replication, not a protected application,
    not its own), then new psql connections as the application role until one succeeds;
  - indexer_lag: `docker restart <indexer container>`, then the lag (RPC eth_blockNumber minus the indexer's
    usdx_indexer_last_indexed_block) polled every 0.2 s until within the role's indexer_lag_max_lag_blocks - the
    catch-up at the chain's rate;
  - disk_full: delete the logs and backups the role would (its age limits, the newest backups kept), then
    `docker container prune` of the containers not of the project and `docker image prune` of the dangling images
    not of the project (the project's are the previous releases the role keeps); the data filesystem must end
    below the role's threshold.

The db scenario lowers the idle threshold (`-e db_connections_exhausted_idle_threshold=5`; the default 300 s would
leave nothing to terminate) and, before either clock starts, waits until every session of the fault's holder is
older than that. The two alternate in one session under the sandbox integration lock
(tests/integration/conftest.py), after one warm-up round that is not counted; the medians are printed side by side
with their difference against the target (less than 5 s). Every fault is cleared at the end.

    .venv/bin/python bench/remediation_bench.py --runs 5
    .venv/bin/python bench/remediation_bench.py --runs 3 --scenario indexer_lag
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import stat
import statistics
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request
from pathlib import Path

import yaml

TOP = Path(__file__).resolve().parent.parent
STATE = TOP / "sandbox" / ".state"
DATA = STATE / "data"
PROJECT = "usdx-wexel"
DB_NAME = "usdx_wexel"
APP_USER = "usdx"  # the application role (inventories/sandbox: usdx_db_app_user)
HOLDER_APP = "usdx-reconciler"  # the db-connections fault's connection holder (sandbox/apps/db/usdx-db-holder)
IDLE_THRESHOLD = 5
TARGET_SECONDS = 5.0
POLL_SECONDS = 0.2
PLAYBOOK_TIMEOUT = 600
DIRECT_TIMEOUT = 300.0
COMMAND_TIMEOUT = 120
DAY = 86400.0


def role_defaults(role: str) -> dict[str, t.Any]:
    """The role's own defaults, so the direct part applies the same limits."""
    return yaml.safe_load((TOP / "roles" / role / "defaults" / "main.yml").read_text())


def sandbox_env() -> dict[str, str]:
    values = {}
    env_file = STATE / "sandbox.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    return values


def sandbox(*args: str) -> None:
    subprocess.run([str(TOP / "sandbox/sandbox.sh"), *args], cwd=TOP, check=True, stdout=subprocess.DEVNULL,
                   timeout=PLAYBOOK_TIMEOUT)


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=COMMAND_TIMEOUT)


def container(service: str) -> str:
    ids = run("docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}",
              "--filter", f"label=com.docker.compose.service={service}").stdout.split()
    if len(ids) != 1:
        sys.exit(f"expected one {service} container in project {PROJECT}, found {ids}")
    return ids[0]


def elapsed_since(started: float) -> float:
    seconds = time.perf_counter() - started
    if seconds > DIRECT_TIMEOUT:
        sys.exit(f"the direct part did not recover within {DIRECT_TIMEOUT:.0f} s")
    return seconds


def run_playbook(playbook: str, extra: list[str]) -> float:
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"))
    started = time.perf_counter()
    result = subprocess.run([str(TOP / ".venv/bin/ansible-playbook"), f"playbooks/{playbook}.yml", *extra],
                            cwd=TOP, env=env, capture_output=True, text=True, check=False, timeout=PLAYBOOK_TIMEOUT)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{playbook} failed (rc={result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
    return seconds


# ------------------------------------------------------------------ db_connections_exhausted
def psql(db: str, user: str, sql: str) -> subprocess.CompletedProcess[str]:
    return run("docker", "exec", db, "psql", "-U", user, "-d", DB_NAME, "-AtXq", "-c", sql)


def wait_holder_older_than_threshold() -> None:
    """Not timed: until no session of the holder connected within the idle threshold (plus a margin)."""
    db = container("db")
    young = (f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{HOLDER_APP}' "
             f"AND backend_start > clock_timestamp() - interval '{IDLE_THRESHOLD + 1} seconds'")
    deadline = time.monotonic() + 60
    while (answer := psql(db, "postgres", young)).stdout.strip() != "0":
        if answer.returncode != 0 or time.monotonic() > deadline:
            sys.exit(f"the holder's sessions did not age past {IDLE_THRESHOLD} s: {answer.stderr.strip()}")
        time.sleep(0.5)


def db_direct() -> float:
    defaults = role_defaults("db_connections_exhausted")
    protected = ", ".join(f"'{name}'" for name in defaults["db_connections_exhausted_protected_applications"])
    terminate = (
        "SELECT count(pg_terminate_backend(a.pid)) FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid "
        f"WHERE a.datname = '{DB_NAME}' AND a.backend_type = 'client backend' AND a.state = 'idle' "
        f"AND a.state_change < clock_timestamp() - interval '{IDLE_THRESHOLD} seconds' "
        f"AND a.pid <> pg_backend_pid() AND NOT r.rolsuper AND NOT r.rolreplication "
        f"AND a.application_name NOT IN ({protected})")
    db = container("db")
    started = time.perf_counter()
    terminated = psql(db, "postgres", terminate)
    if terminated.returncode != 0 or terminated.stdout.strip() in ("", "0"):
        sys.exit(f"the direct terminate did not terminate anything: {terminated.stdout.strip()} {terminated.stderr.strip()}")
    while psql(db, APP_USER, "SELECT 1").stdout.strip() != "1":
        elapsed_since(started)
        time.sleep(POLL_SECONDS)
    return elapsed_since(started)


# ------------------------------------------------------------------ indexer_lag
def get_text(url: str, body: bytes | None = None) -> str | None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 (fixed http URLs)
            return response.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def lag_blocks(rpc_url: str, metrics_url: str) -> int | None:
    """RPC head minus the indexer's last indexed block (as indexer_lag_info), None while either does not answer."""
    head = get_text(rpc_url, b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}')
    metrics = get_text(metrics_url)
    if head is None or metrics is None:
        return None
    try:
        chain = int(json.loads(head)["result"], 16)
    except (ValueError, KeyError, TypeError):
        return None
    for line in metrics.splitlines():
        name, _sep, value = line.partition(" ")
        if name == "usdx_indexer_last_indexed_block":
            try:
                return max(0, chain - int(float(value)))
            except ValueError:
                return None
    return None


def started_at(container_id: str) -> str:
    return run("docker", "inspect", "-f", "{{.State.StartedAt}}", container_id).stdout.strip()


def indexer_direct() -> float:
    env = sandbox_env()
    rpc_url = f"http://127.0.0.1:{env.get('USDX_CHAIN_PORT', '58545')}"
    metrics_url = f"http://127.0.0.1:{env.get('USDX_INDEXER_PORT', '3001')}/metrics"
    threshold = int(role_defaults("indexer_lag")["indexer_lag_max_lag_blocks"])
    indexer = container("indexer")
    before = started_at(indexer)
    started = time.perf_counter()
    restarted = run("docker", "restart", indexer)
    if restarted.returncode != 0:
        sys.exit(f"docker restart {indexer} failed: {restarted.stderr.strip()}")
    while (lag := lag_blocks(rpc_url, metrics_url)) is None or lag > threshold:
        elapsed_since(started)
        time.sleep(POLL_SECONDS)
    seconds = elapsed_since(started)
    if started_at(indexer) == before:
        sys.exit(f"docker restart {indexer} did not restart it (same start time {before})")
    return seconds


# ------------------------------------------------------------------ disk_full
def regular_files(root: Path) -> list[tuple[float, Path]]:
    """(mtime, path) of every regular file under root; links are neither listed nor followed."""
    found = []
    for directory, _subdirs, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                found.append((info.st_mtime, path))
    return found


def percent_used(path: Path) -> float:
    vfs = os.statvfs(path)
    used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
    return 100.0 * used / (used + vfs.f_bavail * vfs.f_frsize)


def disk_direct() -> float:
    defaults = role_defaults("disk_full")
    started = time.perf_counter()
    now = time.time()
    for mtime, path in regular_files(DATA / "log"):
        if (path.name.endswith(".log") or ".log." in path.name) and mtime < now - defaults["disk_full_log_max_age_days"] * DAY:
            path.unlink()
    backups = sorted(regular_files(DATA / "backups"), reverse=True)[defaults["disk_full_keep_backups"]:]
    for mtime, path in backups:
        if mtime < now - defaults["disk_full_backup_max_age_days"] * DAY:
            path.unlink()
    not_ours = f"label!=com.docker.compose.project={PROJECT}"
    for prune in (("container", "prune", "-f", "--filter", not_ours), ("image", "prune", "-f", "--filter", not_ours)):
        pruned = run("docker", *prune)
        if pruned.returncode != 0:
            sys.exit(f"docker {' '.join(prune)} failed: {pruned.stderr.strip()}")
    seconds = elapsed_since(started)
    if percent_used(DATA) >= defaults["disk_full_threshold_percent"]:
        sys.exit(f"{DATA} is still {percent_used(DATA):.0f}% used after the direct clean-up")
    return seconds


class Scenario(t.NamedTuple):
    fault: str
    extra: list[str]
    prepare: t.Callable[[], None]
    direct: t.Callable[[], float]
    unavoidable: str


SCENARIOS = {
    "db_connections_exhausted": Scenario(
        "db-connections", ["-e", f"db_connections_exhausted_idle_threshold={IDLE_THRESHOLD}"],
        wait_holder_older_than_threshold, db_direct,
        "psql pg_terminate_backend of the idle sessions + a new usdx connection"),
    "indexer_lag": Scenario("indexer-lag", [], lambda: None, indexer_direct,
                            "docker restart indexer + catch-up to the role's threshold"),
    "disk_full": Scenario("disk-full", [], lambda: None, disk_direct,
                          "delete the old logs/backups + docker container/image prune"),
}


def measure(name: str, scenario: Scenario, runs: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"role": [], "unavoidable": []}
    timed = {"role": lambda: run_playbook(name, scenario.extra), "unavoidable": scenario.direct}
    for round_ in range(runs + 1):  # round 0 warms the caches and is not counted
        for kind, once in timed.items():
            sandbox("fault", scenario.fault)
            scenario.prepare()
            seconds = once()
            sandbox("fault", "clear")
            print(f"  {name} {'warm-up' if round_ == 0 else f'run {round_}'}: {kind} {seconds:.2f} s", flush=True)
            if round_:
                timings[kind].append(seconds)
    return timings


def main() -> int:
    os.environ.pop("USDX_SANDBOX_STACK", None)  # it measures the default stack, whose names it holds
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--scenario", action="append", help=f"one of {', '.join(SCENARIOS)} (repeatable; default all)")
    parser.add_argument("--output", type=Path, default=TOP / "bench/results/remediation.json")
    options = parser.parse_args()
    if options.runs < 1:
        parser.error(f"--runs must be at least 1, got {options.runs}")
    for name in options.scenario or []:
        if name not in SCENARIOS:
            parser.error(f"unknown --scenario {name!r} (accepted: {', '.join(SCENARIOS)})")
    names = options.scenario or list(SCENARIOS)

    results: dict[str, dict[str, t.Any]] = {}
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / "integration.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            sandbox("fault", "clear")
            for name in names:
                timings = measure(name, SCENARIOS[name], options.runs)
                role, floor = statistics.median(timings["role"]), statistics.median(timings["unavoidable"])
                results[name] = {"role_median_s": role, "unavoidable_median_s": floor, "difference_s": role - floor,
                                 "target_met": role - floor < TARGET_SECONDS, "unavoidable": SCENARIOS[name].unavoidable,
                                 "runs": timings}
        finally:
            sandbox("fault", "clear")

    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps({"runs": options.runs, "target_s": TARGET_SECONDS, "results": results},
                                         indent=2) + "\n")
    print(f"from the injected fault to verified recovery; medians of {options.runs} alternating runs each")
    print("| scenario | role | unavoidable part | difference | target < 5 s |")
    print("|---|---|---|---|---|")
    for name, row in results.items():
        print(f"| {name} | {row['role_median_s']:.2f} s | {row['unavoidable_median_s']:.2f} s ({row['unavoidable']}) "
              f"| {row['difference_s']:+.2f} s | {'met' if row['target_met'] else 'MISSED'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
