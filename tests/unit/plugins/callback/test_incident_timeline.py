# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx.incident.incident_timeline callback over recorded task results: what timeline.jsonl says.

tests/unit/fixtures/timeline/*.jsonl are the results two real ansible-playbook runs handed to callbacks (one line
per result: task name, resolved action, incident_record op, status, the task's notify_kind and the result as
CallbackTaskResult.result gave it): run1-contain opens an incident and runs its contain step (refused, with an
escalation), mails through a local SMTP server and a closed port, fails a no_log task and a task whose message is
a host's log line; run2-fix is the next run of the same incident (fix fails, escalation L2, finish). They are
replayed here through ansible's own CallbackTaskResult, Host and AggregateStats, with a stand-in task (the
attributes the callback reads) and a clock the test sets.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import pathlib
import stat
import types
import typing as t

import pytest
from ansible.executor.stats import AggregateStats
from ansible.inventory.host import Host

from core_compat import CallbackTaskResult
from ansible_collections.usdx.incident.plugins.callback import incident_timeline
from ansible_collections.usdx.incident.plugins.plugin_utils import _timeline

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "timeline"
STARTED = datetime.datetime(2026, 11, 29, 3, 30, 18, tzinfo=datetime.timezone.utc)  # incident.json started_at
INCIDENT = "INC-2026-11-29-01"
HOST = "stack-a"


@dataclasses.dataclass
class Task:
    """The attributes of ansible.playbook.task.Task the callback reads."""

    name: str
    resolved_action: str
    args: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    vars: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    check_mode: t.Any = False
    action: str = ""
    _role: t.Any = None

    def get_name(self) -> str:
        return self.name

    def get_vars(self) -> dict[str, t.Any]:
        return self.vars


class Clock:
    def __init__(self) -> None:
        self.now = STARTED

    def __call__(self) -> datetime.datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = STARTED + datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    now = Clock()
    monkeypatch.setattr(_timeline, "utc_now", now)
    return now


@pytest.fixture
def folder(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "incidents" / INCIDENT
    path.mkdir(parents=True)
    return path


class Run:
    """One ansible run seen by a fresh callback; warnings it displayed are kept in .warnings."""

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder
        self.warnings: list[str] = []
        display = types.SimpleNamespace(verbosity=0, warning=self.warnings.append)
        self.callback = incident_timeline.CallbackModule(display=display)
        self.stats = AggregateStats()

    def start(self, playbook: str = "/srv/usdx/playbooks/respond.yml") -> None:
        self.callback.v2_playbook_on_start(types.SimpleNamespace(_file_name=playbook))

    def result(self, status: str, task: Task, result: dict[str, t.Any], host: str = HOST) -> None:
        if "folder" in result:
            result = {**result, "folder": str(self.folder)}  # where this test keeps the incident
        callback_result = CallbackTaskResult(Host(host), task, result, {"name": task.name})
        self.stats.increment({"failed": "failures", "changed": "ok", "unreachable": "dark"}.get(status, status), host)
        if status == "changed":
            self.stats.increment("changed", host)
        {"ok": self.callback.v2_runner_on_ok, "changed": self.callback.v2_runner_on_ok,
         "failed": self.callback.v2_runner_on_failed, "skipped": self.callback.v2_runner_on_skipped,
         "unreachable": self.callback.v2_runner_on_unreachable}[status](callback_result)

    def replay(self, name: str, only: t.Optional[t.Callable[[dict[str, t.Any]], bool]] = None) -> None:
        for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
            recorded = json.loads(line)
            if only is None or only(recorded):
                task = Task(recorded["task"], recorded["action"], args={"op": recorded["op"]} if recorded["op"] else {},
                            vars=recorded["vars"])
                self.result(recorded["status"], task, recorded["result"])

    def end(self) -> None:
        self.callback.v2_playbook_on_stats(self.stats)


def events(folder: pathlib.Path) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in (folder / _timeline.TIMELINE_FILE).read_text(encoding="utf-8").splitlines()]


def without_common(event: dict[str, t.Any]) -> dict[str, t.Any]:
    return {key: value for key, value in event.items() if key not in ("at", "tplus", "run")}


def test_events_wait_in_memory_until_the_incident_folder_is_known(folder: pathlib.Path, clock: Clock) -> None:
    run = Run(folder)
    run.start()
    clock.at(-2)
    run.result("ok", Task("Gathering Facts", "ansible.builtin.gather_facts"), {"ansible_facts": {}})
    assert not (folder / _timeline.TIMELINE_FILE).exists(), "written before the incident was known"
    clock.at(0.25)
    run.replay("run1-contain.jsonl", only=lambda recorded: recorded["op"] == "open")
    written = events(folder)
    assert [(e["event"], e["at"], e["tplus"]) for e in written] == [
        ("run_start", "2026-11-29T03:30:18.000Z", None),
        ("task", "2026-11-29T03:30:16.000Z", None),
        ("task", "2026-11-29T03:30:18.250Z", 0.2),
    ]
    assert written[0]["playbook"] == "respond.yml" and written[0]["check_mode"] is False
    assert len({e["run"] for e in written}) == 1 and len(written[0]["run"]) == 32
    assert without_common(written[2]) == {
        "event": "task", "host": HOST, "task": "Open the incident", "action": "usdx.incident.incident_record",
        "role": None, "step": None, "status": "ok", "changed": False, "check_mode": False}
    assert stat.S_IMODE(os.stat(folder / _timeline.TIMELINE_FILE).st_mode) == 0o640


def test_a_run_without_an_incident_leaves_no_file(tmp_path: pathlib.Path, clock: Clock) -> None:
    run = Run(tmp_path / "never")
    run.start()
    run.result("changed", Task("Restart", "ansible.builtin.command"), {"changed": True})
    run.result("failed", Task("Probe", "ansible.builtin.uri"), {"msg": "Status code was 500"})
    run.end()
    assert list(tmp_path.iterdir()) == [] and run.warnings == []


def test_first_run_steps_notifications_no_log_and_host_text(folder: pathlib.Path, clock: Clock) -> None:
    run = Run(folder)
    run.start()
    run.replay("run1-contain.jsonl")
    clock.at(7)
    run.end()
    written = [without_common(e) for e in events(folder)]
    assert [(e["event"], e.get("task") or e.get("step")) for e in written] == [
        ("run_start", None),
        ("task", "Open the incident"),
        ("step_start", "contain"),
        ("task", "Step starts on the T+ clock"),
        ("task", "Send the page by mail"),
        ("notification", None),
        ("task", "Send the status by mail to a closed port"),
        ("notification", None),
        ("task", "Use a secret"),
        ("task", "A host's log line is data"),
        ("task", "Send the status to both mail relays"),
        ("notification", None),
        ("notification", None),
        ("task", "Nothing to roll back"),
        ("task", "Step ends on the T+ clock"),
        ("step_end", "contain"),
        ("escalation", "contain"),
        ("run_end", None),
    ]
    assert written[2] == {"event": "step_start", "host": HOST, "step": "contain", "title": "Contain",
                          "deadline_seconds": 600}
    assert [e["step"] for e in written if e["event"] == "task"] == [None] + ["contain"] * 8
    assert written[5] == {"event": "notification", "host": HOST, "backend": "email", "kind": "page", "delivered": True,
                          "attempts": 1, "error": None}
    # notify_kind is a template there: it is not rendered by the callback.
    assert written[7] == {"event": "notification", "host": HOST, "backend": "email", "kind": "message",
                          "delivered": False, "attempts": 1,
                          "error": "Task failed: Module failed: [Errno 111] Connection refused"}
    assert written[8] == {"event": "task", "host": HOST, "task": "Use a secret", "action": "ansible.builtin.command",
                          "role": None, "step": "contain", "status": "failed", "changed": True, "check_mode": False}
    assert written[9]["status"] == "failed"
    assert written[9]["msg"] == ("api log: {{ lookup('pipe','id') }} {% raw %} from https://mainnet.infura.io/v3/"
                                 "********?apikey=********")
    assert written[10]["status"] == "failed"
    assert [(e["delivered"], e["kind"], e["error"]) for e in written[11:13]] == [
        (True, "status", None), (False, "status", "Task failed: Module failed: [Errno 111] Connection refused")]
    assert written[13]["status"] == "skipped" and "msg" not in written[13]
    assert written[15] == {"event": "step_end", "host": HOST, "step": "contain", "status": "refused",
                           "summary": "needs the 'contain' approval: maintenance_on (api {{ down }}); nothing was done",
                           "deadline_met": True, "tplus_end": 1}
    assert written[16] == {
        "event": "escalation", "host": HOST, "level": "L3", "step": "contain", "reached": [],
        "reason": "approval 'contain' needed: see https://hooks.slack.com/services/T0AAAA/B0BBBB/********"}
    assert written[17] == {"event": "run_end",
                           "stats": {HOST: {"ok": 4, "changed": 0, "failed": 4, "unreachable": 0, "skipped": 1}}}
    text = (folder / _timeline.TIMELINE_FILE).read_text(encoding="utf-8")
    for secret in ("s3cret-pw", "k3y-Secret-42", "0123456789abcdef0123456789abcdef", "XyZ0123456789abcdefGHIJ"):
        assert secret not in text


def test_the_next_run_appends_and_records_only_its_own_escalations(folder: pathlib.Path, clock: Clock) -> None:
    first = Run(folder)
    first.start()
    first.replay("run1-contain.jsonl")
    first.end()
    clock.at(2)
    second = Run(folder)
    second.start()
    second.replay("run2-fix.jsonl")
    second.end()
    written = events(folder)
    assert [(e["level"], e["step"], e["run"]) for e in written if e["event"] == "escalation"] == [
        ("L3", "contain", first.callback._timeline.run_id), ("L2", "fix", second.callback._timeline.run_id)]
    assert [e["event"] for e in written if e["run"] == second.callback._timeline.run_id] == [
        "run_start", "task", "step_start", "task", "task", "step_end", "escalation", "task", "run_end"]
    fix_end = next(e for e in written if e["event"] == "step_end" and e["step"] == "fix")
    assert (fix_end["status"], fix_end["summary"], fix_end["tplus_end"]) == ("failed", "restart failed", 2)
    closing = [e for e in written if e["event"] == "task" and e["task"] == "Close the record"]
    assert closing[0]["step"] is None, "a task after step_end still carried the step"


def test_a_step_end_seen_first_keeps_the_escalation_it_added(folder: pathlib.Path, clock: Clock) -> None:
    run = Run(folder)
    run.replay("run2-fix.jsonl", only=lambda recorded: recorded["op"] in ("open", "step_end"))
    assert [(e["level"], e["step"]) for e in events(folder) if e["event"] == "escalation"] == [("L2", "fix")]


def test_one_notification_event_per_backend_of_a_notification_send_result(folder: pathlib.Path, clock: Clock) -> None:
    run = Run(folder)
    run.replay("run1-contain.jsonl", only=lambda recorded: recorded["op"] == "open")
    # The shape of usdx.incident.notification_send's result (docs/timeline.md): one `notifications` entry per backend.
    slack = {"backend": "slack", "name": "ops-slack", "kind": "alert", "delivered": True, "attempts": 1, "error": None,
             "status": 200, "elapsed": 0.01, "requests": [{"method": "POST", "url": "https://hooks.slack.com/********"}]}
    failed_hook = {"backend": "webhook", "name": "relay", "kind": "alert", "delivered": False, "attempts": 3,
                   "error": "HTTP 500 from https://hooks.example.com/notify?token=abcdef123456 after 3 attempts",
                   "status": 500, "elapsed": 3.6, "requests": []}
    send = Task("Message is sent to the HTTP backends at once", "usdx.incident.notification_send")
    run.result("changed", send, {"changed": True, "notifications": [slack, failed_hook],
                                 "statuspage_incident_id": None})
    run.result("ok", send, {"changed": False, "notifications": []})
    run.result("skipped", send, {"changed": False, "skipped": True, "false_condition": "notify__http | length > 0"})
    run.result("changed", send, {"changed": True, "_ansible_no_log": True, "censored": "the output has been hidden"})
    # A module that could not run reports no notifications: its task event says it failed.
    run.result("failed", send, {"failed": True, "msg": "backends[0]: unknown key 'token' for type slack"})
    # The same key from any other action is not a notification.
    run.result("ok", Task("Show them", "ansible.builtin.debug"), {"changed": False, "notifications": [slack]})
    notified = [without_common(e) for e in events(folder) if e["event"] == "notification"]
    assert notified == [
        {"event": "notification", "host": HOST, "backend": "slack", "kind": "alert", "delivered": True, "attempts": 1,
         "error": None},
        {"event": "notification", "host": HOST, "backend": "webhook", "kind": "alert", "delivered": False, "attempts": 3,
         "error": "HTTP 500 from https://hooks.example.com/notify?token=******** after 3 attempts"},
    ]
    assert [e["status"] for e in events(folder) if e["event"] == "task"][1:] == [
        "changed", "ok", "skipped", "changed", "failed", "ok"]


def test_unreachable_and_long_messages(folder: pathlib.Path, clock: Clock) -> None:
    run = Run(folder)
    run.replay("run1-contain.jsonl", only=lambda recorded: recorded["op"] == "open")
    run.result("unreachable", Task("Probe", "ansible.builtin.ping", check_mode=True), {
        "unreachable": True, "changed": False,
        "msg": "Failed to connect to the host via ssh: ssh://deploy:hunter2-pw@10.0.0.7 refused"}, host="stack-b")
    run.result("failed", Task("Query", "community.postgresql.postgresql_query"), {"msg": "x" * 2000})
    probe, query = [e for e in events(folder) if e["event"] == "task"][1:]
    assert (probe["host"], probe["status"], probe["check_mode"]) == ("stack-b", "unreachable", True)
    assert probe["msg"] == "Failed to connect to the host via ssh: ssh://********@10.0.0.7 refused"
    assert query["msg"] == "x" * _timeline.TEXT_LIMIT


def test_a_symlink_at_the_timeline_is_refused_once_and_the_run_goes_on(folder: pathlib.Path, clock: Clock) -> None:
    victim = folder.parent / "victim"
    victim.write_text("untouched\n")
    (folder / _timeline.TIMELINE_FILE).symlink_to(victim)
    run = Run(folder)
    run.start()
    run.replay("run1-contain.jsonl")
    run.end()
    assert victim.read_text() == "untouched\n"
    assert len(run.warnings) == 1 and "timeline.jsonl" in run.warnings[0] and "stops here" in run.warnings[0]


def test_a_write_that_fails_warns_once_and_recording_stops(folder: pathlib.Path, clock: Clock,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    run = Run(folder)
    run.start()
    run.replay("run1-contain.jsonl", only=lambda recorded: recorded["op"] in ("open", "step_start"))
    kept = events(folder)

    def disk_full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(_timeline.os, "write", disk_full)
    run.replay("run1-contain.jsonl", only=lambda recorded: recorded["op"] is None)
    run.end()
    monkeypatch.undo()
    assert events(folder) == kept
    assert len(run.warnings) == 1 and "No space left on device" in run.warnings[0]


def test_events_held_before_the_incident_are_bounded(folder: pathlib.Path, clock: Clock) -> None:
    run = Run(folder)
    for number in range(_timeline.BUFFER_LIMIT + 5):
        run.result("ok", Task(f"wait {number}", "ansible.builtin.wait_for"), {"changed": False})
    run.replay("run1-contain.jsonl", only=lambda recorded: recorded["op"] == "open")
    written = events(folder)
    assert len(written) == _timeline.BUFFER_LIMIT + 1
    assert written[0]["task"] == "wait 0" and written[-1]["task"] == "Open the incident"
    assert len(run.warnings) == 1 and "5 events" in run.warnings[0]
