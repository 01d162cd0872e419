# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The severity chains (usdx.incident.respond, docs/chains.md) against the live sandbox.

Every test injects a real fault (sandbox.sh fault NAME, cleared at teardown by the `sandbox_fault` fixture, which
holds the integration lock through `sandbox`) and runs a whole chain with its own incidents directory and state
directory (response lock, breaker history), so runs never see each other's incidents. What they prove: a P0 on a
dead API resolves in the runbook's order with contain undone; --check changes nothing on the stack; the lock refuses
a second incident and gives way once expired; the circuit breaker and a missing approval stop the destructive step
and escalate; a verify that fails stops the chain without any step running twice.

Run: .venv/bin/pytest -q -m sandbox tests/integration/test_respond_chain.py
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request

import psycopg2
import pytest

from playbook_run import REPO, PlaybookRun, run_playbook  # noqa: E402
from sandbox_stack import STACK  # noqa: E402

# Not imported from conftest.py: "conftest" may name tests/unit/conftest.py when both trees are collected.
if str(REPO / "build" / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.module_utils import _response_state, _runbook  # noqa: E402

pytestmark = pytest.mark.sandbox

P0_PLAYBOOK = REPO / "playbooks" / "p0_critical.yml"
PROJECT = STACK.project
HOST = "sandbox"
P0_STEPS = [sid for sid, _title, _deadline in _runbook.STEPS["P0"]]
MAINTENANCE_KEY = "usdx:maintenance"
OTHER_INCIDENT = "INC-2026-01-01-01"
# What the sandbox's notification sink (sandbox/tools/notify_sink.py) received: the inventory's notifiers all go there.
NOTIFY_LOG = STACK.state_dir / "notify" / "received.jsonl"
# Seconds a session must be idle before the db_connections_exhausted role may terminate it (its default is minutes).
DB_IDLE_THRESHOLD = 5


class ChainRun(PlaybookRun):
    """One chain run, with the incident folder it wrote in its own incidents directory."""

    incidents_dir: pathlib.Path

    @property
    def folder(self) -> pathlib.Path:
        folders = sorted(p for p in self.incidents_dir.iterdir() if p.is_dir())
        assert len(folders) == 1, f"expected one incident folder, found {folders}"
        return folders[0]

    @property
    def record(self) -> dict[str, t.Any]:
        return json.loads((self.folder / "hosts" / f"{HOST}.json").read_text())

    def step(self, sid: str) -> dict[str, t.Any]:
        found = [s for s in self.record["steps"] if s["id"] == sid]
        assert len(found) == 1, f"step {sid} recorded {len(found)} times: {self.record['steps']}"
        return found[0]

    def why(self) -> str:
        """What to print when an assertion on this run fails."""
        try:
            steps = [(s["id"], s["status"], s["summary"][:300]) for s in self.record["steps"]]
            return f"rc={self.rc} steps={steps} escalations={self.record.get('escalations')} stderr={self.stderr[-1500:]}"
        except (AssertionError, OSError, ValueError, KeyError):
            return f"rc={self.rc} stderr={self.stderr[-3000:]}"


def run_chain(tmp_path: pathlib.Path, check: bool = False, incidents_name: str = "incidents", **extra: t.Any) -> ChainRun:
    """playbooks/p0_critical.yml with this test's state directory and an incidents directory of its own."""
    incidents = tmp_path / incidents_name
    incidents.mkdir(exist_ok=True)
    run = run_playbook(P0_PLAYBOOK, ChainRun, check=check, timeout=400, extra_vars={
        "respond_incidents_dir": str(incidents), "respond_state_dir": str(state_dir(tmp_path)), **extra})
    run.incidents_dir = incidents
    return run


def state_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """The stack's state directory for this test: 0700 and the running user's, as the modules demand."""
    path = tmp_path / "state"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def container(service: str) -> dict[str, t.Any]:
    """Id and state of the one container of a sandbox service."""
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={PROJECT}",
         "--filter", f"label=com.docker.compose.service={service}"],
        capture_output=True, text=True, check=True, timeout=30).stdout.split()
    assert len(ids) == 1, f"expected one {service} container, found {ids}"
    info = json.loads(subprocess.run(["docker", "inspect", ids[0]], capture_output=True, text=True, check=True,
                                     timeout=30).stdout)[0]
    return {"id": info["Id"], "status": info["State"]["Status"], "started_at": info["State"]["StartedAt"],
            "finished_at": info["State"]["FinishedAt"]}


def maintenance_key_exists() -> bool:
    """Whether Redis holds usdx:maintenance (the key npm run maintenance:on sets)."""
    redis = container("redis")["id"]
    out = subprocess.run(["docker", "exec", redis, "redis-cli", "EXISTS", MAINTENANCE_KEY],
                         capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    assert out in ("0", "1"), out
    return out == "1"


def http_status(url: str) -> int:
    """The HTTP status of GET url; -1 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the sandbox's own URLs
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return -1


def urls(env: dict[str, str]) -> dict[str, str]:
    return {"health": f"http://127.0.0.1:{env.get('USDX_INDEXER_PORT', '3001')}/health",
            "webapp": f"http://127.0.0.1:{env.get('USDX_WEBAPP_PORT', '3000')}/"}


def sink_offset() -> int:
    return NOTIFY_LOG.stat().st_size if NOTIFY_LOG.exists() else 0


def received_since(offset: int) -> list[dict[str, t.Any]]:
    """The messages the notification sink received after offset, in order."""
    with NOTIFY_LOG.open("rb") as handle:
        handle.seek(offset)
        return [json.loads(line) for line in handle.read().decode("utf-8").splitlines()]


def write_lock(tmp_path: pathlib.Path, incident: str, expires_in: float) -> pathlib.Path:
    """A response lock of another incident, in the format usdx.incident.response_lock writes."""
    now = time.time()
    path = state_dir(tmp_path) / _response_state.LOCK_FILE
    path.write_text(json.dumps({"incident": incident, "acquired_at": now - 60, "refreshed_at": now - 30,
                                "expires_at": now + expires_in, "ttl": 900}))
    return path


# ------------------------------------------------------------------------------------------ P0 end to end

def test_p0_api_down_resolves_in_runbook_order_and_undoes_contain(sandbox_fault, sandbox, tmp_path):
    sandbox_fault("api-down")
    assert container("indexer")["status"] == "exited"
    offset = sink_offset()

    run = run_chain(tmp_path, respond_approve=["contain"])
    assert run.rc == 0, run.why()
    record = run.record
    assert record["outcome"] == "resolved", run.why()
    assert record["stopped"] is None
    assert [s["id"] for s in record["steps"]] == P0_STEPS
    assert all(s["deadline_met"] is True for s in record["steps"]), run.why()
    assert run.step("contain")["status"] == "changed"
    assert run.step("fix")["status"] == "changed"
    assert run.step("verify")["status"] == "ok"

    # Contain put the maintenance page up, verify took it off again.
    contained = record["contained"]
    assert "maintenance_on" in [a["action"] for a in contained["actions"]]
    assert contained["applied"] is True and "maintenance_on" in contained["undone"]
    assert not maintenance_key_exists()
    assert http_status(urls(sandbox)["webapp"]) == 200
    assert http_status(urls(sandbox)["health"]) == 200
    assert container("indexer")["status"] == "running"

    assert not (state_dir(tmp_path) / _response_state.LOCK_FILE).exists(), "the lock outlived the chain"
    assert "Resolved" in (run.folder / f"status-{HOST}.txt").read_text()
    breaker = json.loads((state_dir(tmp_path) / _response_state.BREAKER_FILE).read_text())
    assert [entry["incident"] for entry in breaker["api_unavailable"]] == [run.folder.name]

    # The people's side, in the runbook's order: the alert and page at T+0, the status page investigating, the page
    # acknowledged once a role took it, the status page resolved after verify, the page resolved at the end. One
    # status page incident, updated; PagerDuty's events all carry the incident id as dedup key.
    incident = run.folder.name
    messages = received_since(offset)
    pager = [(m["body"]["event_action"], m["body"]["dedup_key"]) for m in messages if m["service"] == "pagerduty"]
    assert pager == [("trigger", incident), ("acknowledge", incident), ("resolve", incident)], messages
    status = [(m["method"], m["body"]["incident"]["status"]) for m in messages if m["service"] == "statuspage"]
    assert status == [("POST", "investigating"), ("PATCH", "resolved")], status
    channel = [m["body"]["text"] for m in messages if m["service"] == "slack"]
    assert channel[0].startswith(f"INCIDENT {incident} (P0) on {HOST}") and channel[-1].startswith(f"RESOLVED: {incident}")
    assert record["communications"]["status_phase"] == "resolved"
    assert record["escalations"] == [], "nothing escalated: no message to the ladder"
    assert not any(m["body"].get("kind") == "escalation" for m in messages if m["service"] == "webhook")


def test_p0_db_connections_auto_scenario_resolves(sandbox_fault, sandbox, tmp_path):
    """The triage names the scenario (respond_scenario auto): the reconciler's idle sessions fill role usdx's slots,
    and the fix is the db_connections_exhausted role (idle threshold 5 s, as in test_db_connections_role.py)."""
    sandbox_fault("db-connections")
    time.sleep(DB_IDLE_THRESHOLD + 1.5)

    run = run_chain(tmp_path, respond_scenario="auto", db_connections_exhausted_idle_threshold=DB_IDLE_THRESHOLD)
    assert run.rc == 0, run.why()
    record = run.record
    assert record["decision"]["scenario"]["scenario"] == "db_connections_exhausted", run.why()
    assert [s["id"] for s in record["steps"]] == P0_STEPS
    fix = run.step("fix")
    assert fix["status"] == "changed" and fix["actions"] == ["usdx.incident.db_connections_exhausted"], run.why()
    verify = run.step("verify")
    assert verify["status"] == "ok", run.why()
    # The holder's row lock and its waiter are left alone on purpose: named as follow-up, not a failed fix.
    assert "left for follow-up (P2)" in verify["summary"], run.why()
    assert record["outcome"] == "resolved", run.why()
    with contextlib.closing(psycopg2.connect(host="127.0.0.1", port=int(sandbox["USDX_DB_PORT"]), dbname="usdx_wexel",
                                             user="usdx", password=sandbox["USDX_DB_PASSWORD"], connect_timeout=5)):
        pass  # the application role can connect again
    assert not (state_dir(tmp_path) / _response_state.LOCK_FILE).exists()


# ------------------------------------------------------------------------------------------ check mode

def test_check_mode_runs_the_whole_chain_and_changes_nothing(sandbox_fault, tmp_path):
    sandbox_fault("api-down")
    before = container("indexer")
    offset = sink_offset()

    run = run_chain(tmp_path, check=True, respond_approve=["contain"])
    assert run.rc == 0, run.why()
    assert received_since(offset) == [], "check mode sent a message"
    record = run.record
    assert record["outcome"] == "dry_run", run.why()
    assert [s["id"] for s in record["steps"]] == P0_STEPS
    assert run.step("contain")["summary"].startswith("would"), run.why()
    assert run.step("verify")["status"] == "skipped"

    assert container("indexer") == before, "check mode touched the indexer"
    assert before["status"] == "exited"
    assert not maintenance_key_exists()
    assert not (state_dir(tmp_path) / _response_state.BREAKER_FILE).exists(), "check mode counted a remediation"
    assert not (state_dir(tmp_path) / _response_state.LOCK_FILE).exists(), "check mode wrote a lock"


# ------------------------------------------------------------------------------------------ the response lock

def test_live_lock_of_another_incident_refuses_and_an_expired_one_is_taken_over(sandbox_fault, tmp_path):
    sandbox_fault("api-down")
    before = container("indexer")
    lock = write_lock(tmp_path, OTHER_INCIDENT, expires_in=600)
    held = lock.read_text()

    refused = run_chain(tmp_path, respond_approve=["contain"])
    assert refused.rc != 0
    assert OTHER_INCIDENT in refused.failure(), refused.failure()
    assert refused.record["outcome"] == "refused", refused.why()
    assert refused.record.get("steps", []) == [], "a step ran despite the lock"
    assert lock.read_text() == held, "the other incident's lock was changed"
    assert container("indexer") == before and not maintenance_key_exists(), "the refused run changed the stack"
    assert not (state_dir(tmp_path) / _response_state.BREAKER_FILE).exists()

    # The same lock, expired (its holder stopped refreshing it): a new incident takes it. Only the alert step runs,
    # so the chain does not reach its end and the lock stays with the new incident.
    write_lock(tmp_path, OTHER_INCIDENT, expires_in=-5)
    taken = run_chain(tmp_path, incidents_name="incidents-after-expiry", respond_steps=["alert"])
    assert taken.rc == 0, taken.why()
    assert [s["id"] for s in taken.record["steps"]] == ["alert"]
    assert json.loads(lock.read_text())["incident"] == taken.folder.name
    assert container("indexer") == before


# ------------------------------------------------------------------------------------------ circuit breaker

def test_tripped_breaker_refuses_the_fix_and_escalates(sandbox_fault, tmp_path):
    sandbox_fault("api-down")
    before = container("indexer")
    now = time.time()
    breaker_max = 2
    history = {"api_unavailable": [{"at": now - 600 + i, "incident": f"INC-2026-01-01-{i + 10:02d}"} for i in range(breaker_max)]}
    breaker = state_dir(tmp_path) / _response_state.BREAKER_FILE
    breaker.write_text(json.dumps(history))

    run = run_chain(tmp_path, respond_breaker_max=breaker_max, respond_breaker_window=3600)
    record = run.record
    assert record["outcome"] == "refused", run.why()
    assert run.rc != 0, "a response the breaker stopped must fail the play (AWX shows the job failed)"
    fix = run.step("fix")
    assert fix["status"] == "refused" and "circuit breaker" in fix["summary"], run.why()
    assert any(e["step"] == "fix" and "keeps coming back" in e["reason"] for e in record["escalations"]), run.why()
    assert record["stopped"], "a tripped breaker must stop the destructive steps"
    assert container("indexer") == before, "the indexer was started despite the tripped breaker"
    assert json.loads(breaker.read_text()) == history, "a refused remediation was counted"
    assert [s["id"] for s in record["steps"]] == P0_STEPS


# ------------------------------------------------------------------------------------------ approval gate

def test_contain_without_approval_is_refused_but_the_fix_runs(sandbox_fault, sandbox, tmp_path):
    sandbox_fault("api-down")
    offset = sink_offset()

    run = run_chain(tmp_path)
    record = run.record
    contain = run.step("contain")
    assert contain["status"] == "refused" and contain["needs_approval"] == "contain", run.why()
    # A business decision nobody approved reaches the CTO (L3) on the sandbox's ladder, and the record says so.
    escalation = [e for e in record["escalations"] if e["step"] == "contain"]
    assert [(e["level"], e["trigger"], e["reached"]) for e in escalation] == [("L3", "approval_missing", ["Sandbox CTO"])], run.why()
    sent = [m["body"] for m in received_since(offset) if m["service"] == "webhook" and m["body"].get("kind") == "escalation"]
    assert len(sent) == 1 and sent[0]["text"].startswith(f"ESCALATION to L3 (CTO / Founders: Sandbox CTO) for {run.folder.name}"), sent
    assert not maintenance_key_exists()
    assert "contained" not in record or not record["contained"].get("applied")
    assert run.step("fix")["status"] == "changed", run.why()
    assert run.step("verify")["status"] == "ok", run.why()
    assert http_status(urls(sandbox)["health"]) == 200
    assert container("indexer")["status"] == "running"


# ------------------------------------------------------------------------------------------ failed verify

def test_failed_verify_escalates_and_no_step_runs_twice(sandbox_fault, tmp_path):
    """The chain RPC is stopped (rpc-down) but the response is told the scenario is api_unavailable: that role
    starts or restarts the API services only, never the chain (one of their dependencies), and refuses to restart
    an indexer whose /health names the chain as failing. So the fix fails without repairing anything and the stack
    is still degraded when verify triages it again: verify must fail and escalate, the chain must stop its
    destructive steps, and no step may run again (no retry of the fix after the failed verify)."""
    sandbox_fault("rpc-down")
    chain_before = container("chain")

    run = run_chain(tmp_path, respond_scenario="api_unavailable")
    record = run.record
    ids = [s["id"] for s in record["steps"]]
    assert ids == P0_STEPS, run.why()  # every step exactly once, in order: no loop back to fix
    assert run.step("fix")["status"] == "failed", run.why()
    assert run.step("verify")["status"] == "failed", run.why()
    assert record["stopped"], run.why()
    assert any(e["step"] == "verify" for e in record["escalations"]), run.why()
    assert run.step("communicate")["status"] == "ok"
    assert (run.folder / f"status-{HOST}.txt").exists()
    assert record["outcome"] == "not_resolved", run.why()
    assert run.rc != 0, "an unresolved incident must fail the play (AWX shows the job failed)"
    assert container("chain") == chain_before, "the chain was started by a role that must not touch it"


# ------------------------------------------------------------------------------------------ bad deployment (Fix option B)

def running_image(service: str) -> str:
    out = subprocess.run(["docker", "inspect", "-f", "{{.Config.Image}}", container(service)["id"]],
                         capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    return out


def marketplace_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env.get('USDX_INDEXER_PORT', '3001')}/api/marketplace/listings"


def test_p0_bad_deploy_is_rolled_back_with_its_approval(sandbox_fault, sandbox, tmp_path):
    """The triage names the bad release (respond_scenario auto), diagnose picks Fix option B, and the rollback runs
    with its approval: the previous release runs again and the smoke test passes on the marketplace."""
    sandbox_fault("bad-deploy")
    assert running_image("indexer").endswith(":v1.5.0")
    assert http_status(marketplace_url(sandbox)) == 500

    run = run_chain(tmp_path, respond_approve=["rollback"])
    assert run.rc == 0, run.why()
    record = run.record
    assert record["decision"]["scenario"]["scenario"] == "bad_deployment", run.why()
    assert record["decision"]["fix"]["option"] == "B", run.why()
    assert run.step("fix")["actions"] == ["usdx.incident.release_rollback"], run.why()
    assert "smoke test passed" in run.step("verify")["summary"], run.why()
    assert record["outcome"] == "resolved", run.why()
    assert running_image("indexer").endswith(":v1.4.0")
    assert http_status(marketplace_url(sandbox)) == 200


def test_p0_bad_deploy_without_the_rollback_approval_rolls_nothing_back(sandbox_fault, sandbox, tmp_path):
    sandbox_fault("bad-deploy")
    before = container("indexer")

    run = run_chain(tmp_path)
    record = run.record
    fix = run.step("fix")
    assert fix["status"] == "refused" and fix["needs_approval"] == "rollback", run.why()
    assert any(e["step"] == "fix" and e["level"] == "L3" for e in record["escalations"]), run.why()
    assert record["outcome"] == "refused", run.why()
    assert run.rc != 0
    assert container("indexer") == before, "the indexer was touched without the rollback approval"
    assert running_image("indexer").endswith(":v1.5.0")


# ------------------------------------------------------------------------------------------ communication settings

@pytest.mark.parametrize(("extra", "names"), [
    ({"notify_backends": [{"type": "pager", "url": "https://events.example.invalid"}]}, "notify_backends[0]"),
    ({"notify_backends": [{"type": "slack", "url": "ftp://hooks.example.invalid/services/T/B/x"}]}, "notify_backends[0]"),
    ({"notify_backends": [{"type": "pagerduty", "name": "oncall"}]}, "routing_key"),
    ({"usdx_escalation_ladder": {"L1": {"contacts": [{"name": "On-call", "notify": ["sandbox-webhook"]}]}}}, "usdx_escalation_ladder"),
    ({"usdx_escalation_ladder": {"L1": {"contacts": [{"name": "On-call", "notify": ["nobody"]}]},
                                 "L2": {"contacts": [{"name": "Lead", "notify": ["sandbox-webhook"]}]}}}, "nobody"),
], ids=["unknown-backend", "malformed-url", "missing-routing-key", "ladder-without-l2", "contact-without-notifier"])
def test_bad_communication_settings_fail_before_the_incident_starts(tmp_path, extra, names):
    """Found when the response starts, not at T+0 of a real incident: nothing is opened, nothing is sent."""
    offset = sink_offset()
    run = run_chain(tmp_path, **extra)
    assert run.rc != 0
    message = run.failure()
    assert names in message and "Notifiers and the escalation ladder are valid" in message, message
    assert list(run.incidents_dir.iterdir()) == [], "an incident was opened"
    assert received_since(offset) == []
