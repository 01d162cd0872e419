# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx-incident command as installed (next to the Python running the tests), against the live sandbox.

Run off a terminal, as CI and AWX run it: no colour, no spinner. The database password is in the command's
environment (as in production), and no file of the incident folder, and nothing printed, may contain it.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
import typing as t

import pytest
import yaml

from usdx_incident_cli import collection

pytestmark = pytest.mark.sandbox

REPO = pathlib.Path(__file__).resolve().parents[2]
COMMAND = pathlib.Path(sys.executable).parent / "usdx-incident"
ESCAPES = ("\x1b", "\r")


class Result(t.NamedTuple):
    code: int
    stdout: str
    stderr: str

    def json(self) -> t.Any:
        return json.loads(self.stdout)


@pytest.fixture
def usdx_incident(sandbox: dict[str, str], secrets: list[str], tmp_path: pathlib.Path) -> t.Callable[..., Result]:
    """Run the installed command from the checkout with the sandbox's passwords in its environment; fails the test
    when one of them is printed."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "USDX_INCIDENTS_DIR": str(tmp_path / "incidents"),
           "USDX_DB_SUPERUSER_PASSWORD": sandbox["USDX_DB_SUPERUSER_PASSWORD"], "USDX_DB_PASSWORD": sandbox["USDX_DB_PASSWORD"]}
    env.pop("NO_COLOR", None)

    def run(*argv: str, timeout: float = 900) -> Result:
        proc = subprocess.run([str(COMMAND), *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
        for secret in secrets:
            assert secret not in proc.stdout + proc.stderr, "a password was printed"
        return Result(proc.returncode, proc.stdout, proc.stderr)
    return run


def assert_no_secret_in(folder: pathlib.Path, secrets: list[str]) -> None:
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files
    leaks = [str(path) for path in files for secret in secrets if secret in path.read_text(errors="replace")]
    assert leaks == [], "a password is in the incident folder"


def test_triage_prints_each_stacks_verdict(usdx_incident: t.Any, sandbox_fault: t.Any) -> None:
    sandbox_fault("api-down")
    result = usdx_incident("triage", "--json")
    assert result.code == 1, result.stderr
    verdict = result.json()["stacks"]["sandbox"]
    assert verdict is not None, "no usdx_triage verdict for the host in the set_stats artifacts"
    assert verdict["severity"] == "P0" and verdict["scenario"] == "api_unavailable"
    assert pathlib.Path(verdict["findings"]).is_file()
    plain = usdx_incident("triage")
    assert plain.stdout.startswith("triage of sandbox")
    assert "sandbox: P0 (respond: Immediate): " in plain.stdout and "scenario api_unavailable" in plain.stdout
    assert not any(code in plain.stdout for code in ESCAPES)


def test_respond_p2_records_the_incident(usdx_incident: t.Any, healthy_sandbox: dict[str, str], secrets: list[str]) -> None:
    result = usdx_incident("respond", "--severity", "P2", "--json")
    assert result.code == 0, result.stdout[-3000:] + result.stderr
    document = result.json()
    folder = pathlib.Path(document["folder"])
    assert document["incident"]["id"] == document["incident_id"] == folder.name
    assert document["incident"]["severity"] == "P2"
    record = document["hosts"]["sandbox"]
    assert [(step["id"], step["status"] in ("ok", "changed"), step["deadline_met"]) for step in record["steps"]] == [
        ("record", True, True)]
    assert record["outcome"] == "recorded"
    artifacts = folder / "artifacts" / "01-record"
    assert (artifacts / "status").read_text() == "successful" and (artifacts / "rc").read_text() == "0"
    assert (artifacts / "stdout").stat().st_size > 0 and any((artifacts / "job_events").iterdir())
    assert not (folder / "env").exists()
    assert_no_secret_in(folder, secrets)

    shown = usdx_incident("show", document["incident_id"])
    assert shown.code == 0 and not any(code in shown.stdout for code in ESCAPES)
    assert "sandbox  record  " in shown.stdout and "sandbox: outcome recorded" in shown.stdout
    listed = usdx_incident("list", "--json")
    assert listed.json()[0]["id"] == document["incident_id"]


def test_respond_p0_check_predicts_every_step_and_changes_nothing(usdx_incident: t.Any, sandbox_fault: t.Any,
                                                                  helpers: t.Any, lib_steps: list[str],
                                                                  secrets: list[str]) -> None:
    sandbox_fault("api-down")
    before = indexer_state(helpers)
    result = usdx_incident("respond", "--severity", "P0", "--check")
    assert result.code == 0, result.stdout[-3000:] + result.stderr
    assert not any(code in result.stdout for code in ESCAPES)
    incident_id = result.stdout.split(":", 1)[0]
    document = usdx_incident("show", incident_id, "--json").json()
    assert document["incident"]["check_mode"] is True
    record = document["hosts"]["sandbox"]
    assert [step["id"] for step in record["steps"]] == lib_steps
    assert all(step["deadline_met"] in (True, False) for step in record["steps"])
    assert record["outcome"] == "dry_run"
    folder = pathlib.Path(document["folder"])
    assert sorted(os.listdir(folder / "artifacts")) == [f"{n:02d}-{step}" for n, step in enumerate(lib_steps, 1)]
    for line in (f"[{n}/8] {step} " for n, step in enumerate(lib_steps, 1)):
        assert line in result.stdout
    assert indexer_state(helpers) == before, "the dry run changed the stack"
    assert_no_secret_in(folder, secrets)


def test_a_stack_another_incident_holds_is_refused_at_once(usdx_incident: t.Any, healthy_sandbox: dict[str, str],
                                                           tmp_path: pathlib.Path, helpers: t.Any) -> None:
    holder = "INC-2000-01-01-99"
    lock_playbook = tmp_path / "lock.yml"

    def lock(state: str) -> None:
        lock_playbook.write_text(yaml.safe_dump([{
            "name": "hold the stack", "hosts": "usdx_stacks", "gather_facts": False,
            "tasks": [{"name": f"lock {state}", "usdx.incident.response_lock": {
                "incident": holder, "state_dir": "{{ respond_state_dir }}", "ttl": 300, "state": state}}]}]))
        proc = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-playbook"), "-i",
                               str(REPO / "inventories" / "sandbox"), str(lock_playbook)],
                              cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout[-2000:]

    lock("acquired")
    try:
        result = usdx_incident("respond", "--severity", "P1", "--json")
    finally:
        lock("released")
    assert result.code == 3, result.stdout[-3000:] + result.stderr
    document = result.json()
    assert [run["ident"] for run in document["runs"]] == ["01-respond"]
    assert holder in document["hosts"]["sandbox"]["refused"]
    assert holder in document["stopped_by"]


def test_bad_input_creates_no_incident(usdx_incident: t.Any, sandbox: dict[str, str], tmp_path: pathlib.Path) -> None:
    result = usdx_incident("respond", "--severity", "P0", "--limit", "no-such-stack")
    assert result.code == 2
    assert result.stderr == "usdx-incident respond: --limit 'no-such-stack' matches no host of usdx_stacks (accepted: sandbox)\n"
    assert not (tmp_path / "incidents").exists()


def indexer_state(helpers: t.Any) -> tuple[str, str]:
    """The indexer container's state and start time: what a contain, a restart or a fix would change."""
    proc = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}} {{.State.StartedAt}}", f"{helpers.project}-indexer-1"],
                          capture_output=True, text=True, timeout=30, check=True)
    status, started = proc.stdout.split()
    return status, started


@pytest.fixture
def lib_steps() -> list[str]:
    """The P0 chain's step ids, from the runbook source."""
    lib = collection.load(collection.locate())
    return [step["id"] for step in lib.chain.chain_steps("P0")]


# Fault -> (severity, the scenario the triage must name, extra arguments). The db-connections fault's sessions are
# seconds old: the idle threshold is lowered from the runbook's 5 minutes, as in test_db_connections_role.py.
# api-down runs end to end under --severity auto (test_respond_auto_runs_the_assessed_p0_chain_and_resolves).
END_TO_END = {
    "indexer-lag": ("P0", "indexer_lag", []),
    "disk-full": ("P0", "disk_full", []),
    "bad-deploy": ("P0", "bad_deployment", ["--approve", "rollback"]),
    "db-connections": ("P1", "db_connections_exhausted", ["-e", "db_connections_exhausted_idle_threshold=5"]),
}


@pytest.mark.parametrize("fault, severity, scenario, extra", [(f, *v) for f, v in END_TO_END.items()], ids=END_TO_END.keys())
def test_respond_auto_heals_the_fault_end_to_end(fault: str, severity: str, scenario: str, extra: list[str],
                                                 usdx_incident: t.Any, sandbox_fault: t.Any, helpers: t.Any,
                                                 secrets: list[str]) -> None:
    """usdx-incident respond --severity P0|P1 --scenario auto, as an on-call engineer runs it: exit 0, every step once
    in the runbook's order within its deadline, contain undone, the stack healthy and its smoke test passing."""
    lib_steps = [step["id"] for step in collection.load(collection.locate()).chain.chain_steps(severity)]
    # The sandbox's breaker history is shared by every run on this machine; its own test is test_respond_chain.py.
    (helpers.stack.state_dir / "incident" / "breaker.json").unlink(missing_ok=True)
    # The triage reads the logs from the fault on: an earlier test's errors (an RPC outage within the last 5 minutes)
    # are not this incident's evidence.
    since = sandbox_fault(fault)
    if fault == "db-connections":
        time.sleep(6.5)  # every session of the holder idle past the lowered threshold
    result = usdx_incident("respond", "--severity", severity, "--scenario", "auto", "--approve", "contain", "--json",
                           "-e", f"triage_log_since={since}", *extra)
    assert result.code == 0, result.stdout[-4000:] + result.stderr[-2000:]
    document = result.json()
    record = document["hosts"]["sandbox"]
    assert record["outcome"] == "resolved", record
    assert record["decision"]["scenario"]["scenario"] == scenario
    assert [step["id"] for step in record["steps"]] == lib_steps
    assert all(step["deadline_met"] is True for step in record["steps"]), record["steps"]
    verify = next(step for step in record["steps"] if step["id"] == "verify")
    assert "smoke test passed" in verify["summary"], verify
    contained = record.get("contained") or {"actions": [], "undone": []}
    assert sorted(a["action"] for a in contained["actions"]) == sorted(contained["undone"]), "contain was not undone"
    folder = pathlib.Path(document["folder"])
    assert sorted(os.listdir(folder / "artifacts")) == [f"{n:02d}-{step}" for n, step in enumerate(lib_steps, 1)]
    assert_no_secret_in(folder, secrets)
    status, _started = indexer_state(helpers)
    assert status == "running"
    helpers.sandbox_sh("status")  # rc 0: /health 200


def stack_containers(helpers: t.Any) -> dict[str, tuple[str, str]]:
    """Every container of the stack: name -> (id, start time); a restart or a recreated container changes it."""
    ids = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=com.docker.compose.project={helpers.project}"],
                         capture_output=True, text=True, timeout=30, check=True).stdout.split()
    assert ids, f"no container of {helpers.project}"
    inspected = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, timeout=30,
                                          check=True).stdout)
    return {info["Name"]: (info["Id"], info["State"]["StartedAt"]) for info in inspected}


def notifications(helpers: t.Any) -> int:
    """Bytes the sandbox's notification sink has received so far (every notifier of the inventory goes there)."""
    received = helpers.stack.state_dir / "notify" / "received.jsonl"
    return received.stat().st_size if received.exists() else 0


def test_respond_auto_leaves_a_healthy_stack_alone(usdx_incident: t.Any, healthy_sandbox: dict[str, str], helpers: t.Any,
                                                   secrets: list[str]) -> None:
    """--severity auto on a healthy stack: assessed, recorded healthy, and nothing else: no lock, no message, no
    container touched. The log window starts now: earlier tests' errors are not this stack's state."""
    before, sent = stack_containers(helpers), notifications(helpers)
    result = usdx_incident("respond", "--severity", "auto", "-e", f"triage_log_since={helpers.utc_now()}", "--json")
    assert result.code == 0, result.stdout[-4000:] + result.stderr[-2000:]
    document = result.json()
    record = document["hosts"]["sandbox"]
    # .get: a stack the assessment did not find healthy has no "healthy" key, and its record is the failure's message.
    assert (record.get("outcome"), record.get("severity"), record.get("healthy")) == ("healthy", None, True), record
    assert [step["id"] for step in record["steps"]] == ["assess"]
    assert [run["ident"] for run in document["runs"]] == ["01-assess"]
    assert document["dropped"] == {} and document["result"] == "healthy"
    assert [(row["host"], row["outcome"]) for row in document["stacks"]] == [("sandbox", "healthy")]
    folder = pathlib.Path(document["folder"])
    events = "".join(path.read_text() for path in (folder / "artifacts" / "01-assess" / "job_events").iterdir())
    assert "usdx.incident.response_lock" not in events, "the healthy stack's lock was taken"
    assert not (helpers.stack.state_dir / "incident" / "response.lock.json").exists()
    assert notifications(helpers) == sent, "a message was sent about a healthy stack"
    assert stack_containers(helpers) == before, "a container was restarted or recreated"
    assert_no_secret_in(folder, secrets)


def test_respond_auto_runs_the_assessed_p0_chain_and_resolves(usdx_incident: t.Any, sandbox_fault: t.Any, helpers: t.Any,
                                                              secrets: list[str]) -> None:
    """api-down under --severity auto, as an on-call engineer runs it: assess first, then the P0 chain without a
    second assess, each step once within its deadline, contain undone, the smoke test passing, the page
    acknowledged after its trigger, the lock released."""
    lib = collection.load(collection.locate())
    (helpers.stack.state_dir / "incident" / "breaker.json").unlink(missing_ok=True)  # as the end-to-end tests do
    since = sandbox_fault("api-down")
    sent = notifications(helpers)
    result = usdx_incident("respond", "--severity", "auto", "--approve", "contain", "-e", f"triage_log_since={since}", "--json")
    assert result.code == 0, result.stdout[-4000:] + result.stderr[-2000:]
    document = result.json()
    record = document["hosts"]["sandbox"]
    chain = [step["id"] for step in lib.chain.selected_steps("P0", None, assessed=True)]
    assert (record["outcome"], record["severity"]) == ("resolved", "P0"), record
    assert record["decision"]["scenario"]["scenario"] == "api_unavailable"
    assert [step["id"] for step in record["steps"]] == ["assess", *chain]
    assert [run["ident"] for run in document["runs"]] == ["01-assess", *(f"{n:02d}-{sid}" for n, sid in enumerate(chain, 2))]
    assert all(step["deadline_met"] is True for step in record["steps"]), record["steps"]
    verify = next(step for step in record["steps"] if step["id"] == "verify")
    assert "smoke test passed" in verify["summary"], verify
    contained = record.get("contained") or {"actions": [], "undone": []}
    assert sorted(a["action"] for a in contained["actions"]) == sorted(contained["undone"]), "contain was not undone"
    assert document["dropped"] == {}
    # Assess ran before alert: the page is acknowledged after its trigger (by alert), never before it.
    with (helpers.stack.state_dir / "notify" / "received.jsonl").open("rb") as received:
        received.seek(sent)
        messages = [json.loads(line) for line in received.read().decode("utf-8").splitlines()]
    pager = [(m["body"]["event_action"], m["body"]["dedup_key"]) for m in messages if m["service"] == "pagerduty"]
    incident = pathlib.Path(document["folder"]).name
    assert pager == [("trigger", incident), ("acknowledge", incident), ("resolve", incident)], messages
    assert not (helpers.stack.state_dir / "incident" / "response.lock.json").exists(), "the lock outlived the chain"
    assert_no_secret_in(pathlib.Path(document["folder"]), secrets)
    assert indexer_state(helpers)[0] == "running"
    helpers.sandbox_sh("status")  # rc 0: /health 200
