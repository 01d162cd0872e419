# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The notify role through ansible-playbook against real receivers started here (no sandbox): an HTTP server that
records Slack, PagerDuty, webhook and Statuspage requests, and an SMTP server with STARTTLS and AUTH. The HTTP
backends of a message are sent to at the same time, by one task.

Every run is checked for the secrets (webhook token, routing key, API key, SMTP password) in its stdout and stderr.
Run: .venv/bin/pytest tests/integration/test_notify_role.py -q
"""

from __future__ import annotations

import datetime
import os
import pathlib
import subprocess
import sys
import typing as t

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
from playbook_run import REPO, VENV_BIN, PlaybookRun, run_playbook  # noqa: E402
import receivers as receiver_tools  # noqa: E402

# The receivers' fixtures, by name in this module as pytest looks them up.
http_receiver = receiver_tools.http_receiver
smtp_receiver = receiver_tools.smtp_receiver

HOST = "stack-a"
SLACK_TOKEN = "T0AAAAAAA/B0BBBBBBB/xoxSecretWebhookToken24ch"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
API_KEY = "sp-api-key-5ecret-0a1b2c3d"
WEBHOOK_TOKEN = "t0k3n-5ecret-9f8e7d"
SMTP_USER, SMTP_PASSWORD = "usdx-alerts", "smtp-pa55word-5ecret"
SECRETS = (SLACK_TOKEN, "xoxSecretWebhookToken24ch", ROUTING_KEY, API_KEY, WEBHOOK_TOKEN, SMTP_PASSWORD)
INCIDENT = {"id": "INC-2026-11-29-01", "severity": "P0", "channel": "#incident-2026-11-29",
            "started_at": "2026-11-29T03:40:00Z", "summary": "API unavailable", "scenario": "api_unavailable"}
STATUSPAGE_ID = "p31zjtct2jer"
ALERT = "INCIDENT: API unavailable on stack-a; log: <@channel> connection refused & retried"


@pytest.fixture
def inventory(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"usdx_stacks": {"hosts": {HOST: {
        "ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")}}}}))
    return path


def statuspage_answer(request: t.Any) -> dict[str, t.Any]:
    if request.method == "GET":
        return {"id": "page-1", "name": "USDX/Wexel"}
    return {"id": STATUSPAGE_ID, "status": request.json["incident"]["status"], "incident_updates": []}


@pytest.fixture
def receivers(http_receiver: receiver_tools.HttpReceiver,
              smtp_receiver: t.Callable[..., receiver_tools.SmtpReceiver]) -> t.Any:
    http_receiver.route("/slack", status=200, body="ok")
    http_receiver.route("/pagerduty", status=202, body={"status": "success", "message": "Event processed"})
    http_receiver.route("/hook", status=200, body={"received": True})
    http_receiver.route("/statuspage", status=201, body=statuspage_answer)
    smtp = smtp_receiver({SMTP_USER: SMTP_PASSWORD}, starttls=True)
    backends = {
        "slack": {"type": "slack", "name": "ops-slack", "url": f"{http_receiver.url}/slack/services/{SLACK_TOKEN}",
                  "channel": "#incident-2026-11-29", "kinds": ["alert", "resolve"]},
        "pagerduty": {"type": "pagerduty", "name": "oncall", "routing_key": ROUTING_KEY, "group": "usdx-wexel",
                      "url": f"{http_receiver.url}/pagerduty/v2/enqueue"},
        "webhook": {"type": "webhook", "name": "relay", "url": f"{http_receiver.url}/hook/usdx?token={WEBHOOK_TOKEN}",
                    "kinds": ["alert", "resolve"]},
        "statuspage": {"type": "statuspage", "url": f"{http_receiver.url}/statuspage", "page_id": "page-1", "api_key": API_KEY},
        "email": {"type": "email", "name": "oncall-mail", "host": "127.0.0.1", "port": smtp.port, "secure": "starttls",
                  "username": SMTP_USER, "password": SMTP_PASSWORD, "from": "usdx-incident@example.com",
                  "to": ["oncall@example.com", "lead@example.com"], "kinds": ["alert"]},
    }
    return http_receiver, smtp, backends


def playbook(tmp_path: pathlib.Path, messages: list[dict[str, t.Any]]) -> pathlib.Path:
    """A play that runs the role once per message, each followed by a task showing what it recorded."""
    tasks: list[dict[str, t.Any]] = []
    for number, message in enumerate(messages, 1):
        tasks.append({"name": f"Message {number} is sent", "ansible.builtin.include_role": {"name": "usdx.incident.notify"},
                      "vars": {f"notify_{key}": value for key, value in message.items()}})
        tasks.append({"name": f"Results {number}", "ansible.builtin.debug": {
            "msg": {"results": "{{ notify_results }}", "statuspage_incident_id": "{{ notify_statuspage_incident_id | default('') }}"}}})
    path = tmp_path / "notify.yml"
    path.write_text(yaml.safe_dump([{"name": "Notify", "hosts": "usdx_stacks", "gather_facts": False, "tasks": tasks}],
                                   sort_keys=False))
    return path


def notify(tmp_path: pathlib.Path, inventory: pathlib.Path, backends: list[dict[str, t.Any]],
           messages: list[dict[str, t.Any]], check: bool = False) -> PlaybookRun:
    return run_playbook(playbook(tmp_path, messages), PlaybookRun, inventory=inventory, check=check,
                        extra_vars={"notify_backends": backends}, secrets=SECRETS, timeout=240)


def tasks(run: PlaybookRun, name: str) -> list[dict[str, t.Any]]:
    """The tasks called name, in the play or in a role (whose tasks' names have the role's in front)."""
    return [task for play in run.doc["plays"] for task in play["tasks"]
            if task["task"]["name"] in (name, f"usdx.incident.notify : {name}")]


def task_results(run: PlaybookRun, name: str) -> list[dict[str, t.Any]]:
    return [task["hosts"][HOST] for task in tasks(run, name) if HOST in task["hosts"]]


def results(run: PlaybookRun, number: int) -> dict[str, t.Any]:
    return task_results(run, f"Results {number}")[0]["msg"]


SEND_TASK = "Message is sent to the HTTP backends at once"


def duration(task: dict[str, t.Any]) -> float:
    """Seconds a task took, from the json callback's start and end."""
    def moment(key: str) -> datetime.datetime:
        return datetime.datetime.fromisoformat(task["task"]["duration"][key].replace("Z", "+00:00"))
    return (moment("end") - moment("start")).total_seconds()


@pytest.mark.newest
def test_every_backend_delivers_the_documented_fields(tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any) -> None:
    http, smtp, backends = receivers
    run = notify(tmp_path, inventory, list(backends.values()), [
        {"kind": "alert", "text": ALERT, "incident": INCIDENT},
        {"kind": "status", "status": "investigating", "incident": INCIDENT,
         "text": "We are currently investigating reports of the API being unavailable.\nWe will provide an update in 15 minutes."},
        # The Statuspage incident created by the first status message is updated: the role keeps its id as a fact.
        {"kind": "status", "status": "identified", "incident": INCIDENT,
         "text": "We have identified the issue: the API ran out of database connections."},
        {"kind": "resolve", "incident": INCIDENT, "text": "The issue has been resolved. All services are now operational."},
    ])
    assert run.rc == 0, run.stderr[-2000:]
    # One module run per message for the HTTP backends, whichever of them take its kind.
    assert len(task_results(run, SEND_TASK)) == 4
    alert = results(run, 1)["results"]
    assert [(r["backend"], r["name"], r["kind"], r["delivered"], r["attempts"], r["error"]) for r in alert] == [
        ("slack", "ops-slack", "alert", True, 1, None), ("pagerduty", "oncall", "alert", True, 1, None),
        ("webhook", "relay", "alert", True, 1, None), ("email", "oncall-mail", "alert", True, 1, None)]

    [slack, slack_resolved] = http.received("/slack")
    assert (slack.method, slack.path) == ("POST", f"/slack/services/{SLACK_TOKEN}")
    assert slack.headers["Content-Type"] == "application/json"
    assert slack.json == {"text": "INCIDENT: API unavailable on stack-a; log: &lt;@channel&gt; connection refused &amp; retried",
                          "channel": "#incident-2026-11-29"}
    assert slack_resolved.json["text"] == "The issue has been resolved. All services are now operational."

    [trigger, resolve] = http.received("/pagerduty")
    assert trigger.path == "/pagerduty/v2/enqueue"
    body = trigger.json
    assert set(body) == {"routing_key", "event_action", "dedup_key", "client", "payload"}
    assert (body["routing_key"], body["event_action"], body["dedup_key"]) == (ROUTING_KEY, "trigger", "INC-2026-11-29-01")
    payload = body["payload"]
    assert set(payload) == {"summary", "source", "severity", "timestamp", "group", "class", "custom_details"}
    assert payload["summary"] == ALERT and payload["source"] == HOST and payload["severity"] == "critical"
    assert datetime.datetime.strptime(payload["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert (payload["group"], payload["class"]) == ("usdx-wexel", "api_unavailable")
    assert payload["custom_details"]["incident_id"] == "INC-2026-11-29-01" and payload["custom_details"]["text"] == ALERT
    assert resolve.json == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "INC-2026-11-29-01"}

    hook = http.received("/hook")[0]
    assert hook.path == f"/hook/usdx?token={WEBHOOK_TOKEN}"
    event = hook.json
    assert set(event) == {"incident_id", "kind", "severity", "summary", "text", "host", "at", "channel", "started_at",
                          "scenario", "status"}
    assert (event["incident_id"], event["kind"], event["severity"], event["summary"], event["text"], event["host"]) == (
        "INC-2026-11-29-01", "alert", "P0", "API unavailable", ALERT, HOST)

    created, identified, resolved = http.received("/statuspage")
    assert (created.method, created.path) == ("POST", "/statuspage/v1/pages/page-1/incidents")
    assert created.headers["Authorization"] == f"OAuth {API_KEY}"
    assert created.json == {"incident": {
        "name": "Service disruption - 2026-11-29", "status": "investigating", "impact_override": "critical",
        "body": "We are currently investigating reports of the API being unavailable.\nWe will provide an update in 15 minutes."}}
    assert (identified.method, identified.path) == ("PATCH", f"/statuspage/v1/pages/page-1/incidents/{STATUSPAGE_ID}")
    assert identified.json == {"incident": {"status": "identified",
                                            "body": "We have identified the issue: the API ran out of database connections."}}
    assert resolved.json["incident"]["status"] == "resolved"
    assert results(run, 4)["statuspage_incident_id"] == STATUSPAGE_ID
    assert [r["backend"] for r in results(run, 4)["results"]] == ["slack", "pagerduty", "webhook", "statuspage"]

    [mail] = smtp.mails
    recipients = ["lead@example.com", "oncall@example.com"]
    assert (mail.login, mail.mail_from, sorted(mail.rcpt_tos)) == (SMTP_USER, "usdx-incident@example.com", recipients)
    assert mail.message["Subject"] == f"INC-2026-11-29-01 alert: {ALERT}"
    assert mail.message.get_body(preferencelist=("plain",)).get_content().strip() == ALERT


def test_500_twice_is_retried_with_backoff_and_delivered(
        tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any) -> None:
    http, _smtp, backends = receivers
    http.route("/pagerduty", status=202, body={"status": "success"}, fail_first=2)
    run = notify(tmp_path, inventory, [backends["pagerduty"]], [{"kind": "page", "text": ALERT, "incident": INCIDENT}])
    assert run.rc == 0
    assert results(run, 1)["results"] == [{"backend": "pagerduty", "name": "oncall", "kind": "page", "delivered": True,
                                           "attempts": 3, "error": None}]
    first, second, third = http.received("/pagerduty")
    assert first.json == second.json == third.json
    # Backoff: 0.5 s, then 1 s.
    assert 0.45 <= second.at - first.at < 1.5 and 0.95 <= third.at - second.at < 2.5


def test_a_hanging_receiver_fails_within_its_deadline_and_the_play_goes_on(
        tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any) -> None:
    http, _smtp, backends = receivers
    http.route("/hook", hang=6)
    run = notify(tmp_path, inventory, [{**backends["webhook"], "deadline": 2}, backends["slack"]],
                 [{"kind": "alert", "text": ALERT, "incident": INCIDENT}])
    stats = run.doc["stats"][HOST]
    assert run.rc == 0 and (stats["failures"], stats["ignored"], stats["rescued"]) == (0, 0, 0)
    hung, slack = results(run, 1)["results"]
    assert (hung["name"], hung["delivered"], hung["attempts"]) == ("relay", False, 1)
    assert hung["error"].startswith("no complete answer within 2 s")
    assert slack["delivered"] is True
    [sent] = tasks(run, SEND_TASK)
    assert duration(sent) < 2 + 3, "the deadline (2 s) and the module's start must bound the send"
    # Not delivered is no failure of the task: it is reported, and warned about in one line.
    assert sent["hosts"][HOST]["changed"] is True and not sent["hosts"][HOST].get("failed")
    assert sent["hosts"][HOST]["warnings"] == [
        f"webhook relay: alert not delivered: {hung['error']}"]


def test_backends_are_sent_to_at_the_same_time(tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any) -> None:
    http, _smtp, backends = receivers
    slow = []
    for letter in "abc":
        http.route(f"/slow-{letter}", hang=2, status=200, body={"received": True})
        slow.append({"type": "webhook", "name": f"slow-{letter}", "url": f"{http.url}/slow-{letter}?token={WEBHOOK_TOKEN}",
                     "deadline": 3})
    run = notify(tmp_path, inventory, [*slow, backends["slack"]], [{"kind": "alert", "text": ALERT, "incident": INCIDENT}])
    assert run.rc == 0
    assert [(r["name"], r["delivered"], r["attempts"]) for r in results(run, 1)["results"]] == [
        ("slow-a", True, 1), ("slow-b", True, 1), ("slow-c", True, 1), ("ops-slack", True, 1)]
    # Three receivers answering after 2 s each: sent one after the other, the task would take 6 s and more.
    [sent] = tasks(run, SEND_TASK)
    assert duration(sent) < 5, "the backends were not sent to at the same time"
    # Every request was made at once: the receivers that hang did not delay the others' delivery.
    arrived = [r.at for r in http.received("/slow-")] + [r.at for r in http.received("/slack")]
    assert len(arrived) == 4 and max(arrived) - min(arrived) < 1


def test_modules_that_cannot_run_do_not_stop_the_play(
        tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any) -> None:
    http, smtp, backends = receivers
    run = run_playbook(playbook(tmp_path, [{"kind": "alert", "text": ALERT, "incident": INCIDENT}]), PlaybookRun,
                       inventory=inventory, secrets=SECRETS, timeout=240, extra_vars={
                           "notify_backends": [backends["slack"], backends["email"], backends["webhook"]],
                           # No Python where the modules run (the controller): neither module can start.
                           "ansible_python_interpreter": str(tmp_path / "no-python")})
    assert run.rc == 0 and http.received() == [] and smtp.mails == []
    recorded = results(run, 1)["results"]
    assert [(r["backend"], r["name"], r["delivered"]) for r in recorded] == [
        ("slack", "ops-slack", False), ("email", "oncall-mail", False), ("webhook", "relay", False)]
    assert [r["attempts"] for r in recorded if r["backend"] != "email"] == [0, 0]
    assert all(r["error"] for r in recorded)


def test_check_mode_sends_nothing(tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any) -> None:
    http, smtp, backends = receivers
    run = notify(tmp_path, inventory, list(backends.values()), [
        {"kind": "alert", "text": ALERT, "incident": INCIDENT},
        {"kind": "status", "status": "investigating", "text": "Investigating.", "incident": INCIDENT}], check=True)
    assert run.rc == 0
    assert http.received() == [] and smtp.mails == []
    recorded = results(run, 1)["results"] + results(run, 2)["results"]
    assert [(r["backend"], r["delivered"], r["attempts"], r["error"]) for r in recorded] == [
        ("slack", False, 0, None), ("pagerduty", False, 0, None), ("webhook", False, 0, None), ("email", False, 0, None),
        ("statuspage", False, 0, None)]
    shown = task_results(run, SEND_TASK)
    assert [[n["name"] for n in s["notifications"]] for s in shown] == [["ops-slack", "oncall", "relay"], ["statuspage"]]
    assert shown[0]["notifications"][0]["requests"][0]["url"].endswith("/********") and shown[0]["changed"] is True


@pytest.mark.parametrize("backend, message", [
    ({"type": "slak", "url": "https://hooks.slack.com/services/" + SLACK_TOKEN},
     "notify_backends[0]: unknown type 'slak' (accepted: slack, pagerduty, webhook, statuspage, email)"),
    ({"type": "slack", "name": "ops", "url": "htps://hooks.slack.com/services/" + SLACK_TOKEN},
     "notify_backends[0] (name 'ops'): url 'htps://hooks.slack.com/********' is malformed"),
    ({"type": "pagerduty", "name": "oncall"},
     "notify_backends[0] (name 'oncall'): routing_key is required for type pagerduty (required: routing_key)"),
], ids=["unknown type", "malformed URL", "missing routing_key"])
def test_bad_configuration_fails_before_sending_naming_notify_backends(
        tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any, backend: dict[str, t.Any], message: str) -> None:
    http, _smtp, backends = receivers
    run = notify(tmp_path, inventory, [backends["slack"], backend], [{"kind": "alert", "text": ALERT, "incident": INCIDENT}])
    assert run.rc == 2 and http.received() == []
    [failed] = task_results(run, "Notifier configuration is valid")
    # The filter's error is one line; before ansible-core 2.19 Ansible adds where the task is on the lines after it.
    line = failed["msg"][failed["msg"].index("notifier_config: "):].split("\n", 1)[0]
    assert line.startswith("notifier_config: " + message.replace("[0]", "[1]"))


def test_usdx_incident_notify_test(tmp_path: pathlib.Path, receivers: t.Any) -> None:
    http, smtp, backends = receivers
    http.route("/hook", status=404, body={"error": "no such hook"})
    inventory = tmp_path / "inventory.yml"
    stack = {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python"),
             "notify_backends": list(backends.values())}
    inventory.write_text(yaml.safe_dump({"usdx_stacks": {"hosts": {HOST: stack}}}))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "NO_COLOR": "1"}
    command = [str(VENV_BIN / "usdx-incident"), "notify", "--test", "-i", str(inventory)]
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=240, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-5:] == [
        f"{HOST}: ops-slack (slack): delivered",
        f"{HOST}: oncall (pagerduty): delivered",
        f"{HOST}: relay (webhook): NOT delivered: HTTP 404: {{\"error\": \"no such hook\"}} (after 1 attempt in "
        + proc.stdout.split("(after 1 attempt in ", 1)[1].split(")", 1)[0] + ")",
        f"{HOST}: statuspage (statuspage): delivered",
        f"{HOST}: oncall-mail (email): delivered",
    ]
    assert [r.method for r in http.received("/pagerduty")] == ["POST", "POST"]  # trigger, then resolve
    assert [r.method for r in http.received("/statuspage")] == ["GET"] and len(smtp.mails) == 1
    bad = tmp_path / "bad.yml"
    stack["notify_backends"] = [{"type": "pagerduty", "name": "oncall"}]
    bad.write_text(yaml.safe_dump({"usdx_stacks": {"hosts": {HOST: stack}}}))
    proc_bad = subprocess.run(command[:-1] + [str(bad)], capture_output=True, text=True, cwd=REPO, env=env, timeout=240,
                              check=False)
    assert proc_bad.returncode == 2
    assert proc_bad.stderr.strip() == (f"usdx-incident notify: {HOST}: notifier_config: notify_backends[0] (name 'oncall'): "
                                       "routing_key is required for type pagerduty (required: routing_key)")
    for secret in SECRETS:
        for output in (proc.stdout, proc.stderr, proc_bad.stdout, proc_bad.stderr):
            assert secret not in output


def test_a_refused_smtp_login_is_retried_recorded_and_the_play_goes_on(
        tmp_path: pathlib.Path, inventory: pathlib.Path, receivers: t.Any) -> None:
    _http, smtp, backends = receivers
    wrong = "wrong-pa55word-5ecret"
    run = run_playbook(playbook(tmp_path, [{"kind": "alert", "text": ALERT, "incident": INCIDENT}]), PlaybookRun,
                       inventory=inventory, extra_vars={"notify_backends": [{**backends["email"], "password": wrong}]},
                       secrets=SECRETS + (wrong,), timeout=240)
    assert run.rc == 0 and smtp.mails == []
    [mailed] = results(run, 1)["results"]
    # deadline 10 s: 2 attempts of at most 4 s each, 1 s apart (usdx.incident.notifier_config).
    assert (mailed["backend"], mailed["delivered"], mailed["attempts"]) == ("email", False, 2) and smtp.refused_connections == 2
    assert mailed["error"].startswith("Authentication to 127.0.0.1:")
