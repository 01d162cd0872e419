# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx.incident.incident_timeline callback for real: ansible-playbook with the repository's ansible.cfg, a
run killed in the middle, a run through ansible-runner the way usdx-incident starts it, and the notify role's
messages against real receivers (tests/tools/receivers.py). Localhost only: no sandbox. The playbooks are in
tests/integration/targets/timeline/, but for the notifications one, written by its test."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import typing as t

import pytest
import yaml

from usdx_incident_cli import collection
from usdx_incident_cli import runner as runner_mod

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
import processes  # noqa: E402
import receivers as receiver_tools  # noqa: E402

# The receivers' fixtures, by name in this module as pytest looks them up.
http_receiver = receiver_tools.http_receiver
smtp_receiver = receiver_tools.smtp_receiver

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGET = REPO / "tests" / "integration" / "targets" / "timeline"
ANSIBLE_PLAYBOOK = str(pathlib.Path(sys.executable).with_name("ansible-playbook"))
SECRET = "Tl-s3cret-9c41f"
HOOK_TOKEN = "XyZ0123456789abcdefGHIJ"
# A host's log line: template syntax that must be written as it is, never rendered.
LOG_LINE = "ERROR upstream said {{ lookup('pipe','id') }} {% if true %}x{% endif %}"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("TIMELINE_SECRET", SECRET)
    monkeypatch.setenv("TIMELINE_HOOK_TOKEN", HOOK_TOKEN)
    return {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}


def playbook_argv(playbook: str, incidents_dir: pathlib.Path, **extra: str) -> list[str]:
    extra_vars = {"timeline_incidents_dir": str(incidents_dir), "ansible_python_interpreter": sys.executable, **extra}
    return [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-e", json.dumps(extra_vars), str(TARGET / playbook)]


def the_folder(incidents_dir: pathlib.Path) -> pathlib.Path:
    folders = [path for path in incidents_dir.iterdir() if path.is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


def read_events(folder: pathlib.Path) -> list[dict[str, t.Any]]:
    text = (folder / "timeline.jsonl").read_text(encoding="utf-8")
    assert text.endswith("\n"), "the last line is not complete"
    return [json.loads(line) for line in text.splitlines()]


def assert_secret_nowhere(folder: pathlib.Path) -> None:
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert files
    assert [str(path) for path in files if SECRET in path.read_text(errors="replace")] == []


@pytest.mark.newest
def test_every_kind_of_task_field_by_field(tmp_path: pathlib.Path, env: dict[str, str]) -> None:
    log = tmp_path / "api.log"
    log.write_text(LOG_LINE + "\n")
    incidents = tmp_path / "incidents"
    proc = subprocess.run(playbook_argv("timeline.yml", incidents, timeline_log_file=str(log)), env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    folder = the_folder(incidents)
    assert oct((folder / "timeline.jsonl").stat().st_mode & 0o777) == oct(0o640)
    events = read_events(folder)
    started = json.loads((folder / "incident.json").read_text())["started_at"]
    assert len({e["run"] for e in events}) == 1
    assert all(e["at"].endswith("Z") and e["at"][:4] == started[:4] for e in events)
    assert all(isinstance(e["tplus"], float) and 0 <= e["tplus"] < 120 for e in events[1:])
    assert events[0] == {**events[0], "event": "run_start", "playbook": "timeline.yml", "check_mode": False}

    tasks = {e["task"]: e for e in events if e["event"] == "task"}
    common = {"host": "localhost", "role": None, "check_mode": False}
    assert tasks["Open the incident"] == {**tasks["Open the incident"], **common, "step": None, "status": "ok",
                                          "changed": False, "action": "usdx.incident.incident_record"}
    assert tasks["Change something"] == {**tasks["Change something"], **common, "step": "contain", "status": "changed",
                                         "changed": True, "action": "ansible.builtin.command"}
    assert tasks["Fail with the log line"]["status"] == "failed"
    assert tasks["Fail with the log line"]["msg"] == LOG_LINE, "a host's log line was changed or rendered"
    assert tasks["Log in with the secret"]["status"] == "failed" and "msg" not in tasks["Log in with the secret"]
    assert (tasks["Nothing to roll back"]["status"], tasks["Nothing to roll back"]["changed"]) == ("skipped", False)
    assert (tasks["Check both services"]["status"], tasks["Check both services"]["changed"]) == ("changed", True)
    assert "msg" not in tasks["Print the log line as data"] and "msg" not in tasks["Check both services"]
    assert tasks["Report the change"]["status"] == "ok", "the handler's result is missing"
    assert tasks["Close the record"]["step"] is None

    steps = [e for e in events if e["event"] in ("step_start", "step_end", "escalation")]
    assert [{k: v for k, v in e.items() if k not in ("at", "tplus", "run", "tplus_end")} for e in steps] == [
        {"event": "step_start", "host": "localhost", "step": "contain", "title": "Contain", "deadline_seconds": 600},
        {"event": "step_end", "host": "localhost", "step": "contain", "status": "escalated", "summary": LOG_LINE,
         "deadline_met": True},
        {"event": "escalation", "host": "localhost", "level": "L2", "step": "contain", "reached": [],
         "reason": "posted to https://hooks.example.com/services/T0/B0/********"},
    ]
    assert isinstance(steps[1]["tplus_end"], int)
    order = [e["event"] if e["event"] != "task" else e["task"] for e in events]
    assert order.index("step_start") < order.index("Step starts on the T+ clock") < order.index("Change something")
    assert order.index("Step ends on the T+ clock") < order.index("step_end") < order.index("escalation")
    assert events[-1]["event"] == "run_end"
    assert events[-1]["stats"] == {"localhost": {"ok": 11, "changed": 2, "failed": 0, "unreachable": 0, "skipped": 1}}

    text = (folder / "timeline.jsonl").read_text()
    assert HOOK_TOKEN not in text and "uid=" not in text
    assert_secret_nowhere(folder)


def test_check_mode_is_recorded(tmp_path: pathlib.Path, env: dict[str, str]) -> None:
    log = tmp_path / "api.log"
    log.write_text(LOG_LINE + "\n")
    incidents = tmp_path / "incidents"
    proc = subprocess.run(playbook_argv("timeline.yml", incidents, timeline_log_file=str(log)) + ["--check"], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = read_events(the_folder(incidents))
    assert events[0]["event"] == "run_start" and events[0]["check_mode"] is True
    assert {e["check_mode"] for e in events if e["event"] == "task"} == {True}


def test_a_killed_run_keeps_every_event_up_to_the_kill(tmp_path: pathlib.Path, env: dict[str, str]) -> None:
    incidents = tmp_path / "incidents"
    proc = subprocess.Popen(playbook_argv("killed.yml", incidents), env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    done = ["Open the incident", "Step starts on the T+ clock", "Log in with the secret"]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            timelines = list(incidents.glob("*/timeline.jsonl")) if incidents.exists() else []
            text = timelines[0].read_text(encoding="utf-8") if timelines else ""
            if text.count('"event":"task"') >= len(done):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"the first three task events did not appear in time (ansible-playbook rc {proc.poll()})")
    finally:
        survivors = processes.kill_run(proc)
    assert proc.returncode == -signal.SIGKILL
    assert survivors == [], f"processes of the killed ansible-playbook still running: {survivors}"
    folder = the_folder(incidents)
    events = read_events(folder)
    assert [e["event"] if e["event"] != "task" else e["task"] for e in events] == [
        "run_start", done[0], "step_start", done[1], done[2]]
    assert events[-1]["status"] == "ok" and events[-1]["step"] == "fix"
    assert_secret_nowhere(folder)


def test_under_ansible_runner_as_usdx_incident_runs_it(tmp_path: pathlib.Path, env: dict[str, str]) -> None:
    # A configuration that does not enable the callback: usdx-incident's runs enable it themselves.
    config = tmp_path / "ansible.cfg"
    config.write_text(f"[defaults]\ncollections_path = {REPO / 'build' / 'collections'}\nretry_files_enabled = false\n")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    log = tmp_path / "api.log"
    log.write_text(LOG_LINE + "\n")
    incidents = tmp_path / "incidents"
    private_data_dir = tmp_path / "runner"
    private_data_dir.mkdir()
    runner_events: list[dict[str, t.Any]] = []
    run = runner_mod.run(private_data_dir=str(private_data_dir), playbook=str(TARGET / "timeline.yml"),
                         ident="01-contain", inventories=[str(inventory)], limit=None, check=False,
                         extravars={"timeline_incidents_dir": str(incidents), "timeline_log_file": str(log)},
                         envvars={**collection.locate().runner_env(), "ANSIBLE_CONFIG": str(config)},
                         on_event=runner_events.append)
    assert (run.status, run.ansible_failed) == ("successful", False)
    assert any(e.get("event") == "runner_on_ok" for e in runner_events), "ansible-runner's own callback saw nothing"
    events = read_events(the_folder(incidents))
    assert [e["event"] for e in events][:2] == ["run_start", "task"] and events[-1]["event"] == "run_end"
    assert sum(e["event"] == "task" for e in events) == 12
    assert_secret_nowhere(the_folder(incidents))


def test_one_notification_event_per_backend_of_each_message(
        tmp_path: pathlib.Path, env: dict[str, str], http_receiver: receiver_tools.HttpReceiver,
        smtp_receiver: t.Callable[..., receiver_tools.SmtpReceiver]) -> None:
    http_receiver.route("/slack", status=200, body="ok")
    http_receiver.route("/pagerduty", status=202, body={"status": "success"})
    http_receiver.route("/hook", status=500, body={"error": "down"})
    smtp = smtp_receiver({})
    token = "{{ lookup('ansible.builtin.env', 'TIMELINE_HOOK_TOKEN') }}"
    backends = [
        {"type": "slack", "name": "ops-slack", "url": f"{http_receiver.url}/slack/services/T0/B0/{token}"},
        {"type": "email", "name": "oncall-mail", "host": "127.0.0.1", "port": smtp.port, "secure": "never",
         "from": "usdx-incident@example.com", "to": "oncall@example.com", "kinds": ["page"]},
        {"type": "webhook", "name": "relay", "url": f"{http_receiver.url}/hook?token={token}", "deadline": 1},
        {"type": "pagerduty", "name": "oncall", "url": f"{http_receiver.url}/pagerduty/v2/enqueue", "routing_key": token},
    ]
    playbook = tmp_path / "notify.yml"
    message = {"ansible.builtin.include_role": {"name": "usdx.incident.notify"}, "vars": {
        "notify_incident": "{{ opened.incident }}", "notify_backends": backends}}
    tasks = [
        {"name": "Open the incident", "usdx.incident.incident_record": {
            "op": "open", "incidents_dir": "{{ timeline_incidents_dir }}", "severity": "P0",
            "scenario": "api_unavailable", "fix_option": "A"}, "register": "opened"},
        {"name": "Alert", **message, "vars": {**message["vars"], "notify_kind": "alert", "notify_text": "INCIDENT: API down"}},
        {"name": "Page", **message, "vars": {**message["vars"], "notify_kind": "page", "notify_text": "Paging on-call"}},
    ]
    playbook.write_text(yaml.safe_dump([{"name": "Messages of an incident", "hosts": "localhost", "connection": "local",
                                         "gather_facts": False, "tasks": tasks}], sort_keys=False))
    incidents = tmp_path / "incidents"
    proc = subprocess.run(playbook_argv(str(playbook), incidents), env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    events = read_events(the_folder(incidents))
    notified = [(e["backend"], e["kind"], e["delivered"], e["attempts"] > 1, e["error"] is None)
                for e in events if e["event"] == "notification"]
    # The HTTP backends of a message come from one task, in the configured order; email from its own.
    assert notified == [
        ("slack", "alert", True, False, True), ("webhook", "alert", False, True, False), ("pagerduty", "alert", True, False, True),
        ("slack", "page", True, False, True), ("webhook", "page", False, True, False), ("pagerduty", "page", True, False, True),
        ("email", "page", True, False, True)]
    assert all(e["host"] == "localhost" and isinstance(e["tplus"], float) for e in events if e["event"] == "notification")
    assert next(e["error"] for e in events if e["event"] == "notification" and e["backend"] == "webhook").startswith(
        'HTTP 500: {"error": "down"} (after ')
    assert len(smtp.mails) == 1 and len(http_receiver.received("/slack")) == 2
    assert HOOK_TOKEN not in (the_folder(incidents) / "timeline.jsonl").read_text()


def test_usdx_incident_adds_the_callback_to_those_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible import constants as C

    monkeypatch.setattr(C, "CALLBACKS_ENABLED", ["ansible.posix.profile_tasks"])
    assert runner_mod.timeline_callback() == {
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks,usdx.incident.incident_timeline"}
    monkeypatch.setattr(C, "CALLBACKS_ENABLED", ["usdx.incident.incident_timeline", "ansible.posix.timer"])
    assert runner_mod.timeline_callback() == {
        "ANSIBLE_CALLBACKS_ENABLED": "usdx.incident.incident_timeline,ansible.posix.timer"}
