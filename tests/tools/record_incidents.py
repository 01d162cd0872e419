# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record the incident folders of tests/unit/fixtures/incidents/ (the post-mortem's unit tests) from the sandbox.

    .venv/bin/python tests/tools/record_incidents.py

- db-connections-p0: the P0 chain (contain approved) on the db-connections fault, as the chain left its folder:
  incident.json, hosts/sandbox.json, the assess and verify findings, timeline.jsonl.
- api-down-killed: the P0 chain on the api-down fault, recorded the same way; from it, the story of a run killed in
  the middle: the assessment's findings (trimmed to what a post-mortem reads) with a client's request body echoed in
  the indexer's crash log ({{ ... }}, {% ... %} and a <script>), judged again by the collection's filters; contain
  refused, then approved eleven minutes in (late, escalated), recorded by the collection's _chain; the run killed
  during fix. Its timeline.jsonl is the recorded one up to contain, the events of that story, and a cut last line.

It takes the integration tests' lock (sandbox/.state/integration.lock), always clears the faults, and refuses to
write a folder that contains a sandbox password. Paths of the recording's temporary directory are replaced by
/var/lib/usdx-incident/incidents.
"""

from __future__ import annotations

import copy
import datetime
import fcntl
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.filter.chain import response_decision  # noqa: E402
from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk  # noqa: E402
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios  # noqa: E402
from ansible_collections.usdx.incident.plugins.filter.severity import severity  # noqa: E402
from ansible_collections.usdx.incident.plugins.plugin_utils import _chain  # noqa: E402

import integration_conftest  # noqa: E402  # tests/tools, this script's directory

OUT = REPO / "tests" / "unit" / "fixtures" / "incidents"
NEUTRAL = "/var/lib/usdx-incident/incidents"
HOSTILE = 'ERROR [api] bad request body: {{ 7*7 }} {% if true %}evaluated{% endif %} <script>alert("pm")</script>'
KEPT = ("incident.json", "hosts/sandbox.json", "findings/sandbox.json", "verify/sandbox.json", "timeline.jsonl")
PLAYBOOK_TIMEOUT = 600
# Seconds the reconciler's sessions must be idle before db_connections_exhausted may end them (as the chain tests).
DB_IDLE_THRESHOLD = 5


def p0_chain(helpers: t.Any, fault: str, work: pathlib.Path) -> pathlib.Path:
    """The P0 chain on one fault; returns the incident folder it wrote."""
    incidents, state = work / fault / "incidents", work / fault / "state"
    incidents.mkdir(parents=True)
    state.mkdir(mode=0o700)
    helpers.sandbox_sh("fault", "clear")
    try:
        helpers.sandbox_sh("fault", fault)
        if fault == "db-connections":
            time.sleep(DB_IDLE_THRESHOLD + 1.5)
        extra = {"respond_incidents_dir": str(incidents), "respond_state_dir": str(state), "respond_approve": ["contain"],
                 "db_connections_exhausted_idle_threshold": DB_IDLE_THRESHOLD}
        varfile = work / f"{fault}.json"
        varfile.write_text(json.dumps(extra))
        proc = subprocess.run([str(REPO / ".venv/bin/ansible-playbook"), "-i", str(REPO / "inventories/sandbox"),
                               str(REPO / "playbooks/p0_critical.yml"), "-e", f"@{varfile}"],
                              cwd=REPO, env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
                              capture_output=True, text=True, timeout=PLAYBOOK_TIMEOUT, check=False)
    finally:
        helpers.sandbox_sh("fault", "clear")
    folders = [p for p in incidents.iterdir() if p.is_dir()]
    if proc.returncode != 0 or len(folders) != 1 or not (folders[0] / "timeline.jsonl").exists():
        raise SystemExit(f"{fault}: the chain failed or left no timeline (rc={proc.returncode}):\n{proc.stdout[-3000:]}")
    return folders[0]


def neutral(text: str, folder: pathlib.Path) -> str:
    return text.replace(str(folder.parent), NEUTRAL)


def write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def as_recorded(folder: pathlib.Path, dest: pathlib.Path) -> None:
    for name in KEPT:
        write(dest / name, neutral((folder / name).read_text(), folder))


def killed_story(folder: pathlib.Path, dest: pathlib.Path) -> None:
    incident = json.loads((folder / "incident.json").read_text())
    findings = json.loads((folder / "findings" / "sandbox.json").read_text())
    findings = {key: findings[key] for key in ("host", "project", "collected_at", "checks", "api", "webapp", "users",
                                               "postgres", "lag", "disk", "logs") if key in findings}
    findings["disk"] = {key: findings["disk"][key] for key in ("paths", "threshold_percent", "full") if key in findings["disk"]}
    findings["postgres"] = {k: v for k, v in findings["postgres"].items() if k not in ("active_queries", "waiting_locks")}
    findings["checks"] = [check for check in findings["checks"] if check in findings]
    # What container_log_scan reports for an indexer that dies with an error in its first lines.
    died = datetime.datetime.strptime(findings["collected_at"], "%Y-%m-%dT%H:%M:%SZ") - datetime.timedelta(seconds=20)
    logged = died.strftime("%Y-%m-%dT%H:%M:%S.") + "851Z"
    crash = {"count": 3, "services": ["indexer"], "sample": f"{logged} {HOSTILE}", "first_seen": logged, "last_seen": logged}
    findings["logs"]["causes"]["crash_on_startup"] = crash
    findings["logs"]["services"]["indexer"].setdefault("causes", {})["crash_on_startup"] = crash
    findings.update(severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))
    write(dest / "incident.json", json.dumps(incident, indent=2, sort_keys=True) + "\n")
    write(dest / "findings" / "sandbox.json", json.dumps(findings, indent=2, sort_keys=True) + "\n")

    start = datetime.datetime.strptime(incident["started_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)

    def at(seconds: float) -> datetime.datetime:
        return start + datetime.timedelta(seconds=seconds)

    steps = {step["id"]: step for step in _chain.chain_steps("P0")}
    recorded = json.loads((folder / "hosts" / "sandbox.json").read_text())
    decision = response_decision(findings, "P0", "auto", "auto", "")
    record = {"host": "sandbox", "severity": "P0", "steps": copy.deepcopy(recorded["steps"][:2]), "escalations": [],
              "stopped": None, "outcome": "open", "check_mode": False, "decision": decision}
    _chain.start_step(record, steps["contain"], at(4))
    refusal = _chain.contain_verdict(record, decision["contain"], [], False)
    # A record is written as the chain saw it: a URL with a password in it must be masked by the post-mortem.
    refusal["escalations"][0]["reason"] += " (status page https://ops:hunter2@status.example.com/incidents/new)"
    _chain.end_step(record, incident["started_at"], refusal, at(6))
    _chain.start_step(record, steps["contain"], at(660))
    _chain.end_step(record, incident["started_at"], _chain.contain_verdict(record, decision["contain"], ["contain"], False), at(665))
    record["contained"] = {"actions": decision["contain"], "applied": True}
    _chain.start_step(record, steps["diagnose"], at(665))
    _chain.end_step(record, incident["started_at"], _chain.diagnosis(record), at(666))
    _chain.start_step(record, steps["fix"], at(667))
    write(dest / "hosts" / "sandbox.json", neutral(json.dumps(record, indent=2, sort_keys=True), folder) + "\n")

    events = [json.loads(line) for line in (folder / "timeline.jsonl").read_text().splitlines()]
    first_run, second_run = events[0]["run"], "5d1c0a8f3e2b4c7d9a6f0e1b2c3d4e5f"
    kept = []
    for event in events:
        if event["event"] == "step_start" and event["step"] == "contain":
            break
        kept.append(event)

    def event(seconds: float, name: str, run: str = first_run, **fields: t.Any) -> dict[str, t.Any]:
        moment = at(seconds)
        return {"at": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
                "tplus": round(seconds, 1), "event": name, "run": run, **fields}

    refused, late = [step for step in record["steps"] if step["id"] == "contain"]
    kept += [
        event(4.7, "step_start", host="sandbox", step="contain", title="Contain", deadline_seconds=600),
        event(6.1, "step_end", host="sandbox", step="contain", status="refused", summary=refused["summary"],
              deadline_met=True, tplus_end=6),
        event(6.2, "escalation", host="sandbox", level="L3", reason="approval 'contain' needed: maintenance_on",
              step="contain", reached=["Dana (CTO)"]),
        event(6.4, "notification", host="sandbox", backend="slack", kind="escalation", delivered=True, attempts=1, error=None),
        event(6.9, "run_end", stats={"sandbox": {"ok": 31, "changed": 1, "failed": 0, "unreachable": 0, "skipped": 4}}),
        event(659.2, "run_start", second_run, playbook="respond.yml", check_mode=False),
        event(660.3, "step_start", second_run, host="sandbox", step="contain", title="Contain", deadline_seconds=600),
        event(664.8, "task", second_run, host="sandbox", task="Route users to the maintenance page (runbook npm run maintenance:on)",
              action="community.docker.docker_compose_v2_run", role="usdx.incident.step_contain", step="contain",
              status="changed", changed=True, check_mode=False),
        event(665.1, "step_end", second_run, host="sandbox", step="contain", status="changed", summary=late["summary"],
              deadline_met=False, tplus_end=665),
        event(665.2, "escalation", second_run, host="sandbox", level="L2", reason=record["escalations"][1]["reason"],
              step="contain", reached=[]),
        event(665.6, "notification", second_run, host="sandbox", backend="pagerduty", kind="escalation", delivered=False,
              attempts=3, error="HTTP Error 500: Internal Server Error"),
        event(665.7, "step_start", second_run, host="sandbox", step="diagnose", title="Diagnose", deadline_seconds=900),
        event(666.2, "step_end", second_run, host="sandbox", step="diagnose", status="ok",
              summary=record["steps"][-2]["summary"][:500], deadline_met=True, tplus_end=666),
        event(667.1, "step_start", second_run, host="sandbox", step="fix", title="Fix", deadline_seconds=1800),
        event(669.4, "task", second_run, host="sandbox", task="Read the indexer's last log line", action="ansible.builtin.fail",
              role="usdx.incident.api_unavailable", step="fix", status="failed", changed=False, check_mode=False,
              msg=f"indexer said: {HOSTILE}"),
    ]
    cut = json.dumps(event(671.0, "task", second_run, host="sandbox", task="Start the services that are not running",
                           action="community.docker.docker_compose_v2", status="changed"))[:70]
    write(dest / "timeline.jsonl", "".join(json.dumps(e) + "\n" for e in kept) + cut)


def main() -> int:
    helpers = integration_conftest.load()
    env = helpers.read_sandbox_env()
    secrets = [value for name, value in env.items() if "PASSWORD" in name and value]
    helpers.STATE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="usdx-record-incidents-") as tmp, \
            open(helpers.STATE_DIR / "integration.lock", "w", encoding="utf-8") as lock:
        print("waiting for the sandbox lock", file=sys.stderr, flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        work = pathlib.Path(tmp)
        recorded = {fault: p0_chain(helpers, fault, work) for fault in ("db-connections", "api-down")}
        staged = work / "out"
        as_recorded(recorded["db-connections"], staged / "db-connections-p0")
        killed_story(recorded["api-down"], staged / "api-down-killed")
        leaked = [str(path) for path in staged.rglob("*") if path.is_file()
                  for secret in secrets if secret in path.read_text()]
        if leaked:
            raise SystemExit(f"a sandbox password is in {', '.join(leaked)}; nothing written")
        for name in ("db-connections-p0", "api-down-killed"):
            shutil.rmtree(OUT / name, ignore_errors=True)
            shutil.copytree(staged / name, OUT / name)
            print((OUT / name).relative_to(REPO))
    return 0


if __name__ == "__main__":
    sys.exit(main())
