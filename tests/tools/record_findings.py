# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record the sandbox's findings document under each fault into tests/unit/fixtures/findings/<state>.json.

    .venv/bin/python tests/tools/record_findings.py               # every state
    .venv/bin/python tests/tools/record_findings.py api-down rpc-down

For each state it clears the faults, injects the state's faults, runs playbooks/triage.yml on the sandbox
inventory and keeps the checks' results: the verdicts (severity, scenarios, data_at_risk) and the timings are
left out, since the unit tests judge the checks again. It takes the integration tests' lock
(sandbox/.state/integration.lock), always clears the faults it injected, and refuses to write a document that
contains a sandbox password.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import typing as t

import integration_conftest  # tests/tools, this script's directory

REPO = pathlib.Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "unit" / "fixtures" / "findings"
# state -> the sandbox.sh faults that make it, injected in this order.
STATES: dict[str, tuple[str, ...]] = {
    "healthy": (),
    "api-down": ("api-down",),
    "db-connections": ("db-connections",),
    "indexer-lag": ("indexer-lag",),
    "disk-full": ("disk-full",),
    "rpc-down": ("rpc-down",),
    # The database first: with the indexer killed first, db-connections cannot wait for /health to fail on it.
    "db-connections+api-down": ("db-connections", "api-down"),
    "disk-full+db-connections": ("disk-full", "db-connections"),
    "bad-deploy": ("bad-deploy",),
}
# Keys of the triage's document that are not check results.
DROPPED = ("timings", "severity", "scenarios", "data_at_risk")
PLAYBOOK_TIMEOUT = 300


def triage(helpers: t.Any, since: str) -> dict[str, t.Any]:
    with tempfile.TemporaryDirectory(prefix="usdx-record-") as tmp:
        command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", str(REPO / "inventories/sandbox"),
                   str(REPO / "playbooks/triage.yml"), "-e", f"triage_findings_dir={tmp}", "-e", f"triage_log_since={since}"]
        env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
        document = pathlib.Path(tmp, "sandbox.json")
        if proc.returncode != 0 or not document.exists():
            raise SystemExit(f"triage failed (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return json.loads(document.read_text())


def record(helpers: t.Any, state: str, secrets: list[str]) -> pathlib.Path:
    helpers.sandbox_sh("fault", "clear")
    since = helpers.utc_now()
    try:
        for fault in STATES[state]:
            helpers.sandbox_sh("fault", fault)
        findings = triage(helpers, since)
    finally:
        helpers.sandbox_sh("fault", "clear")
    kept = {key: value for key, value in findings.items() if key not in DROPPED}
    content = json.dumps(kept, indent=2, sort_keys=True) + "\n"
    leaked = [name for name, secret in secrets if secret and secret in content]
    if leaked:
        raise SystemExit(f"{state}: the findings contain the sandbox's {', '.join(leaked)}; nothing written")
    path = OUT / f"{state}.json"
    path.write_text(content)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("states", nargs="*", metavar="STATE", help=f"states to record (default: all): {', '.join(STATES)}")
    states = parser.parse_args(argv).states or list(STATES)
    unknown = [state for state in states if state not in STATES]
    if unknown:
        parser.error(f"unknown state {unknown[0]!r} (accepted: {', '.join(STATES)})")
    helpers = integration_conftest.load()
    env = helpers.read_sandbox_env()
    secrets = [(name, env.get(name, default)) for name, default in helpers.SECRETS_DEFAULTS.items()]
    OUT.mkdir(parents=True, exist_ok=True)
    helpers.STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(helpers.STATE_DIR / "integration.lock", "w", encoding="utf-8") as lock:
        print("waiting for the sandbox lock", file=sys.stderr, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        for state in states:
            print(f"recording {state} ...", file=sys.stderr, flush=True)
            print(record(helpers, state, secrets).relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
