# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an incident tells people (plugin_utils/_comms.py): the status page's phase and messages, the user notice,
the status cadence and the escalation ladder.

The records are recorded: tests/unit/fixtures/records/*.json are the incident and the stack's record of real P0
chains on the sandbox (api-down: maintenance page; disk-full: contracts paused and indexer stopped). A record as it
stood during the chain is that record cut at a step. Failures are made with the chain's own functions over recorded
triage findings. The messages are rendered from the role's shipped templates.
"""

from __future__ import annotations

import copy
import datetime
import json
import pathlib
import re
import typing as t

import pytest
import yaml

from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import severity
from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _chain, _comms
from ansible_collections.usdx.incident.plugins.plugin_utils._incident import iso, parse_iso

REPO = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "unit" / "fixtures"
TEMPLATES = REPO / "roles" / "step_communicate" / "templates"
RECORDS = ("api_down_resolved", "disk_full_resolved")
# The status page's phase while each step of the P0 chain runs (the record cut at that step).
PHASE_DURING = {"alert": "investigating", "assess": "investigating", "contain": "identified", "diagnose": "identified",
                "fix": "identified", "verify": "monitoring", "communicate": "resolved", "postmortem": "resolved"}
HOSTILE = "{{ lookup('ansible.builtin.pipe', 'id') }} {% if true %}ran{% endif %}\n# Heading injected\n```"
LADDER = {
    "L1": {"contacts": [{"name": "On-call engineer", "notify": ["pagerduty"]}]},
    "L2": {"contacts": [{"name": "Team lead", "notify": ["slack", "email"], "email": "lead@example.com",
                         "phone": "+49 30 1234567"}]},
}


def recorded(name: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """(incident, record) of a recorded chain."""
    data = json.loads((FIXTURES / "records" / f"{name}.json").read_text(encoding="utf-8"))
    return data["incident"], data["record"]


def as_of(record: t.Mapping[str, t.Any], step_id: str) -> dict[str, t.Any]:
    """The record as it stood while step_id ran: later steps not there yet, and only what earlier steps recorded
    (the decision comes with assess, contained with contain, its undo with verify)."""
    cut = copy.deepcopy(dict(record))
    ids = [step["id"] for step in cut["steps"]]
    index = ids.index(step_id)
    cut["steps"] = cut["steps"][: index + 1]
    cut["steps"][-1].update({"status": "running", "ended_at": None, "elapsed_seconds": None, "tplus_end": None,
                             "deadline_met": None, "summary": "", "actions": []})
    done = set(ids[:index])
    if "assess" not in done:
        cut.pop("decision", None)
    if "contain" not in done:
        cut.pop("contained", None)
    elif "verify" not in done and cut.get("contained"):
        cut["contained"]["undone"] = []
    cut.update({"outcome": "open", "stopped": None, "escalations": []})
    return cut


def judged(state: str) -> dict[str, t.Any]:
    findings = json.loads((FIXTURES / "findings" / f"{state}.json").read_text(encoding="utf-8"))
    return dict(findings, severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))


def ended(record: dict[str, t.Any], incident: t.Mapping[str, t.Any], result: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The running step of record ended with result, through the chain's own end_step, at the recorded time."""
    running = record["steps"][-1]
    _chain.end_step(record, incident["started_at"], result, parse_iso(running["started_at"]))
    record["outcome"] = _chain.outcome(record, record["severity"])
    return record


def templates() -> dict[str, str]:
    return {phase: (TEMPLATES / f"status_{phase}.j2").read_text(encoding="utf-8") for phase in _runbook.STATUS_PHASES}


def notice_template() -> str:
    return (TEMPLATES / "user_notice.j2").read_text(encoding="utf-8")


def minutes_after(incident: t.Mapping[str, t.Any], minutes: float) -> datetime.datetime:
    return parse_iso(incident["started_at"]) + datetime.timedelta(minutes=minutes)


# --- the phase ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", RECORDS)
@pytest.mark.parametrize("step_id", list(PHASE_DURING))
def test_the_phase_follows_the_recorded_chain(name, step_id):
    _incident, record = recorded(name)
    assert _comms.status_phase(as_of(record, step_id)) == PHASE_DURING[step_id]


@pytest.mark.parametrize("name", RECORDS)
def test_a_finished_chain_that_verified_is_resolved(name):
    _incident, record = recorded(name)
    assert record["outcome"] == "resolved"
    assert _comms.status_phase(record) == "resolved"


@pytest.mark.parametrize("name", RECORDS)
def test_a_failed_verify_stays_identified_and_says_the_fix_did_not_restore_service(name):
    incident, record = recorded(name)
    cut = as_of(record, "verify")
    # The fresh triage still finds the fault the chain was called for (recorded findings of that fault).
    ended(cut, incident, _chain.verify_verdict(judged("api-down"), None))
    assert cut["steps"][-1]["status"] == "failed" and cut["stopped"] and cut["outcome"] == "not_resolved"
    assert _comms.status_phase(cut) == "identified"
    message = _comms.status_message(templates(), cut, incident, minutes_after(incident, 20))
    assert message["phase"] == "identified" and message["status"] == "Identified"
    assert "The fix we applied did not restore service; our team is working on it. ETA: with our next update." in message["text"]
    notice = _comms.user_notice(notice_template(), cut, incident)
    assert "- Status: Identified (service is not restored yet; our team is working on it)" in notice
    assert "We have been experiencing a service disruption since " in notice


@pytest.mark.parametrize("name", RECORDS)
def test_a_stopped_chain_is_never_resolved_even_when_verify_passed(name):
    _incident, record = recorded(name)
    stopped = dict(record, stopped="contain: contain failed")
    assert _comms.status_phase(stopped) == "identified"
    assert _comms.status_context(stopped, _incident, minutes_after(_incident, 50))["not_restored"] is True


@pytest.mark.parametrize("name", RECORDS)
def test_a_failed_fix_is_identified_and_named_as_tried(name):
    incident, record = recorded(name)
    cut = ended(as_of(record, "fix"), incident, {"status": "failed", "summary": "restart timed out", "stop": "fix failed"})
    context = _comms.user_notice_context(cut, incident)
    assert context["phase"] == "identified" and context["not_restored"] is True
    assert "Tried: restarted the affected services (this did not restore service)" in context["actions"]
    assert _comms.VERIFIED not in context["actions"]


@pytest.mark.parametrize("name", RECORDS)
def test_a_dry_run_is_never_monitoring_or_resolved(name):
    _incident, record = recorded(name)
    dry = dict(copy.deepcopy(record), check_mode=True)
    dry["contained"]["applied"] = False
    for step_id in PHASE_DURING:
        assert _comms.status_phase(as_of(dry, step_id) | {"check_mode": True}) in ("investigating", "identified")
    assert _comms.status_phase(dry) == "identified"
    assert _comms.user_notice_context(dry, _incident)["actions"] == [], "a dry run did nothing"


def test_without_a_scenario_the_phase_is_investigating_and_the_reason_is_what_happened():
    incident, record = recorded("api_down_resolved")
    cut = as_of(record, "diagnose")
    findings = judged("rpc-down")
    cut["decision"] = _chain_decision(findings)
    assert cut["decision"]["scenario"]["scenario"] is None, "the recorded rpc-down findings escalate to the provider"
    assert _comms.status_phase(cut) == "investigating"
    context = _comms.user_notice_context(cut, incident)
    assert context["description"] is None
    assert context["what_happened"].startswith("external service failure: ")


def _chain_decision(findings: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    level = _chain.resolve_severity("auto", findings)
    chosen = _chain.resolve_scenario("auto", findings)
    fix = _chain.fix_option("auto", chosen["scenario"]) if chosen["scenario"] else None
    return {"severity": level, "scenario": chosen, "fix": fix, "contain": _chain.contain_actions(findings)}


# --- the messages ---------------------------------------------------------------------------------------------------

def test_the_investigating_message_promises_the_next_update():
    incident, record = recorded("api_down_resolved")
    now = minutes_after(incident, 1)
    message = _comms.status_message(templates(), as_of(record, "assess"), incident, now)
    next_update = now + datetime.timedelta(minutes=15)
    assert message == {
        "phase": "investigating", "status": "Investigating", "title": None, "next_update_at": iso(next_update),
        "text": "We are currently investigating reports of a service outage.\n"
                f"We will provide an update in 15 minutes ({next_update:%H:%M} UTC).\n"}


def test_the_identified_message_gives_the_verify_deadline_as_eta_until_it_passed():
    incident, record = recorded("api_down_resolved")
    cut = as_of(record, "contain")
    start = parse_iso(incident["started_at"])
    eta = start + datetime.timedelta(seconds=dict((s, d) for s, _t, d in _runbook.STEPS["P0"])["verify"])
    early = _comms.status_message(templates(), cut, incident, minutes_after(incident, 2))
    assert early["title"] == "API Unavailable"
    assert early["text"] == ("We have identified the issue: API Unavailable.\n"
                             f"Our team is working on a fix. ETA: {eta:%H:%M} UTC.\n"
                             f"We will provide an update in 15 minutes ({minutes_after(incident, 17):%H:%M} UTC).\n")
    late = _comms.status_message(templates(), cut, incident, minutes_after(incident, 50))
    assert "Our team is working on a fix. ETA: with our next update.\n" in late["text"]


def test_the_monitoring_message_links_the_maintenance_page_while_it_is_up():
    incident, record = recorded("api_down_resolved")
    cut = as_of(record, "verify")
    assert "maintenance_on" in [a["action"] for a in cut["contained"]["actions"]] and cut["contained"]["undone"] == []
    now = minutes_after(incident, 3)
    message = _comms.status_message(templates(), cut, incident, now, "http://127.0.0.1:3000")
    assert message["text"] == ("A fix has been implemented for the issue: API Unavailable.\n"
                               "We are monitoring the results to make sure all services are working again.\n"
                               "Meanwhile our maintenance page is up: http://127.0.0.1:3000\n"
                               f"We will provide an update in 15 minutes ({now + datetime.timedelta(minutes=15):%H:%M} UTC).\n")
    default = _comms.status_message(templates(), cut, incident, now)
    assert f"Meanwhile our maintenance page is up: {_runbook.STATUS_PAGE_URL}\n" in default["text"]


@pytest.mark.parametrize("name", RECORDS)
def test_the_resolved_message_is_the_runbooks_with_the_verify_time(name):
    incident, record = recorded(name)
    verified = parse_iso([s for s in record["steps"] if s["id"] == "verify"][0]["ended_at"])
    message = _comms.status_message(templates(), record, incident, verified + datetime.timedelta(seconds=5))
    assert message["next_update_at"] is None
    assert message["text"] == (f"The issue has been resolved at {verified:%H:%M} UTC. All services are now operational.\n"
                               "We apologize for any inconvenience.\n")
    assert "maintenance page" not in message["text"], "verify took the maintenance page down"


def test_the_user_notice_is_the_runbooks_filled_from_the_recorded_run():
    incident, record = recorded("disk_full_resolved")
    start = parse_iso(incident["started_at"])
    verified = parse_iso([s for s in record["steps"] if s["id"] == "verify"][0]["ended_at"])
    done = ("Paused blockchain operations; Stopped processing; Restarted the affected services; "
            "Resumed blockchain operations; Restarted processing; Verified that all services are healthy")
    assert _comms.user_notice(notice_template(), record, incident) == f"""Subject: Service Disruption - {start:%Y-%m-%d}

Dear Users,

We experienced a service disruption on {start:%Y-%m-%d} from {start:%H:%M} to {verified:%H:%M} UTC.
The issue was: Out of Disk Space.

- What happened: Out of Disk Space: /work/main/sandbox/.state/data 96.3% used (9.4 MiB free)
- What we did: {done}
- Status: Resolved

We apologize for the inconvenience. If you have questions,
please contact support@usdx-wexel.com.

Thank you for your patience.
The USDX/Wexel Team
"""


def test_the_user_notice_while_the_maintenance_page_is_up_links_it():
    incident, record = recorded("api_down_resolved")
    notice = _comms.user_notice(notice_template(), as_of(record, "verify"), incident, "https://app.example.com")
    assert "- What we did: Put up the maintenance page; Restarted the affected services\n" in notice
    assert "- Status: Monitoring\n" in notice
    assert "\nUntil the service is back, our maintenance page is up: https://app.example.com\n" in notice


@pytest.mark.parametrize("name", RECORDS)
def test_host_text_is_data_on_one_line_never_a_template(name):
    incident, record = recorded(name)
    hostile = copy.deepcopy(record)
    hostile["decision"]["scenario"]["reason"] = _comms.TRIAGE_REASON + HOSTILE
    notice = _comms.user_notice(notice_template(), hostile, incident)
    flat = " ".join(HOSTILE.split())
    assert f"- What happened: {_comms._description(hostile)}: {flat}\n" in notice
    assert "# Heading injected" not in notice.splitlines(), "a host's line break started a block of its own"


@pytest.mark.parametrize("phase", _runbook.STATUS_PHASES)
def test_a_broken_override_is_an_error_naming_the_template(phase):
    incident, record = recorded("api_down_resolved")
    record_in_phase = {"investigating": as_of(record, "alert"), "identified": as_of(record, "fix"),
                       "monitoring": as_of(record, "verify"), "resolved": record}[phase]
    broken = dict(templates(), **{phase: "We fixed {{ the_thing }}."})
    with pytest.raises(_comms.CommsError, match=rf"^status_{phase} template: cannot be rendered: 'the_thing' is undefined$"):
        _comms.status_message(broken, record_in_phase, incident, minutes_after(incident, 1))


@pytest.mark.parametrize(("texts", "message"), [
    ("text", r"^templates: expected a mapping of investigating, identified, monitoring, resolved to template texts, got 'text'$"),
    ({"investigating": "a", "identified": "b", "resolved": "c"},
     r"^templates: expected the texts of investigating, identified, monitoring, resolved; missing or not text: monitoring; unknown: none$"),
    ({"investigating": "a", "identified": "b", "monitoring": None, "resolved": "c", "fixed": "d"},
     r"^templates: .*; missing or not text: monitoring; unknown: fixed$"),
])
def test_every_phase_needs_its_template_text(texts, message):
    incident, record = recorded("api_down_resolved")
    with pytest.raises(_comms.CommsError, match=message):
        _comms.status_message(texts, record, incident, minutes_after(incident, 1))


@pytest.mark.parametrize(("call", "message"), [
    (lambda i, r: _comms.status_phase(["steps"]), r"^record: expected a mapping, got \['steps'\]$"),
    (lambda i, r: _comms.user_notice_context(r, "INC-2026-11-29-01"), r"^incident: expected a mapping, got "),
    (lambda i, r: _comms.user_notice_context(r, dict(i, started_at="03:00")),
     r"^incident started_at: expected a UTC time like 2026-11-28T03:00:00Z, got '03:00'$"),
    (lambda i, r: _comms.status_context(r, i, datetime.datetime(2026, 11, 29, 3, 0)), r"^now: expected a timezone-aware datetime"),
    (lambda i, r: _comms.user_notice_context(r, i, None), r"^maintenance_url: expected a URL or an empty string"),
    (lambda i, r: _comms.user_notice(None, r, i), r"^user_notice template: the template must be text, got NoneType$"),
])
def test_bad_input_is_one_line_naming_it(call, message):
    incident, record = recorded("api_down_resolved")
    with pytest.raises(_comms.CommsError, match=message):
        call(incident, record)


def test_the_documentation_lists_every_value_a_template_can_use():
    incident, record = recorded("api_down_resolved")
    documented = set(re.findall(r"^\| `(\w+)` \|", (REPO / "docs" / "communication.md").read_text(encoding="utf-8"), re.M))
    names = set(_comms.status_context(record, incident, minutes_after(incident, 1)))
    assert names <= documented, f"not in docs/communication.md: {sorted(names - documented)}"
    assert set(_comms.user_notice_context(record, incident)) <= names


# --- the cadence ----------------------------------------------------------------------------------------------------

NOW = datetime.datetime(2026, 11, 29, 4, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(("last", "cadence", "due"), [
    (None, 900, True),
    ("", 900, True),
    ("2026-11-29T03:45:01Z", 900, False),
    ("2026-11-29T03:45:00Z", 900, True),
    ("2026-11-29T03:00:00Z", 900, True),
    ("2026-11-29T03:59:00Z", 60, True),
], ids=["never-sent", "empty", "14m59s-ago", "15m-ago", "an-hour-ago", "own-cadence"])
def test_a_status_update_is_due_every_15_minutes_and_first_always(last, cadence, due):
    assert _comms.status_due(last, NOW, cadence) is due


@pytest.mark.parametrize(("last", "cadence", "message"), [
    ("03:45", 900, r"^last_sent_at: expected a UTC time like 2026-11-28T03:00:00Z or empty \(never sent\), got '03:45'$"),
    (None, 0, r"^cadence_seconds: expected a positive whole number of seconds, got 0$"),
    (None, "900", r"^cadence_seconds: expected a positive whole number of seconds, got '900'$"),
])
def test_the_cadence_refuses_what_it_cannot_read(last, cadence, message):
    with pytest.raises(_comms.CommsError, match=message):
        _comms.status_due(last, NOW, cadence)


# --- the page's acknowledge -----------------------------------------------------------------------------------------

def _acknowledges(order: tuple[str, ...], scenario: t.Optional[str]) -> list[str]:
    """The steps that acknowledge the page when the chain runs the steps in order, with the recorded chain's record
    (as it stood when each step began) holding only what the earlier of them wrote."""
    _incident, done = recorded("api_down_resolved")
    decision = copy.deepcopy(done["decision"])
    if scenario is None:
        decision["scenario"] = {"scenario": None}
    record: dict[str, t.Any] = {"steps": []}
    acknowledged = []
    for step in order:
        if _comms.page_acknowledge_due(copy.deepcopy(record), step, (decision.get("scenario") or {}).get("scenario")):
            acknowledged.append(step)
        record["steps"].append({"id": step, "status": "ok"})
        if step == "assess":
            record["decision"] = decision
    return acknowledged


@pytest.mark.parametrize(("order", "acknowledged_by"), [
    (("alert", "assess"), ["assess"]),
    (("assess", "alert"), ["alert"]),
    (("assess", "alert", "assess"), ["alert"]),
], ids=["severity-chain", "severity-auto", "auto-then-assess-again"])
def test_the_page_is_acknowledged_once_and_only_after_its_trigger(order, acknowledged_by):
    assert _acknowledges(order, "api_unavailable") == acknowledged_by


@pytest.mark.parametrize("order", [("alert", "assess"), ("assess", "alert")], ids=["severity-chain", "severity-auto"])
def test_a_finding_no_role_takes_is_never_acknowledged(order):
    assert not _acknowledges(order, None)


def test_only_alert_and_assess_acknowledge():
    with pytest.raises(_comms.CommsError, match=r"^step: expected one of alert, assess, got 'fix'$"):
        _comms.page_acknowledge_due({}, "fix", "api_unavailable")


# --- deliveries -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("results", "said"), [
    ([], "not sent: no configured notifier takes it (notify_backends)"),
    ([{"name": "statuspage", "delivered": True, "error": None}, {"name": "slack", "delivered": True}],
     "delivered to statuspage, slack"),
    ([{"name": "statuspage", "delivered": True}, {"name": "hook", "delivered": False, "error": "HTTP 500\nafter 3 attempts"}],
     "delivered to statuspage; NOT delivered to hook (HTTP 500 after 3 attempts)"),
    ([{"name": "hook", "delivered": False}], "NOT delivered to hook (no reason given)"),
])
def test_what_became_of_a_message_names_each_backend(results, said):
    assert _comms.delivery_summary(results) == said


# --- the escalation ladder ------------------------------------------------------------------------------------------

def test_the_ladder_takes_roles_and_timings_from_the_runbook():
    ladder = _comms.escalation_ladder(LADDER)
    assert list(ladder) == ["L1", "L2", "L3", "external"]
    assert ladder["L1"] == {"role": "On-Call Engineer", "handles": "Initial response, common fixes", "from_seconds": 0,
                            "until_seconds": 1800, "contacts": [{"name": "On-call engineer", "notify": ["pagerduty"],
                                                                 "email": None, "phone": None}]}
    assert (ladder["L2"]["from_seconds"], ladder["L2"]["until_seconds"]) == (1800, 3600)
    assert ladder["L3"]["role"] == "CTO / Founders" and ladder["L3"]["contacts"] == []
    assert _comms.escalation_ladder(ladder) == ladder, "a normalized ladder is accepted again"


def test_the_sandbox_inventory_ladder_is_valid_and_reaches_the_sandbox_webhook():
    group_vars = yaml.safe_load((REPO / "inventories" / "sandbox" / "group_vars" / "usdx_stacks.yml").read_text())
    ladder = _comms.escalation_ladder(group_vars["usdx_escalation_ladder"], backends=["sandbox-webhook"])
    assert all(contact["notify"] == ["sandbox-webhook"] for level in ladder.values() for contact in level["contacts"])
    assert all(ladder[level]["contacts"] for level in _comms.LADDER_LEVELS)


@pytest.mark.parametrize(("value", "message"), [
    ("L1: oncall", r"^usdx_escalation_ladder: expected a mapping of the levels L1, L2, L3, external to \{contacts: "),
    (dict(LADDER, L4={"contacts": []}), r"^usdx_escalation_ladder: level 'L4' is not one of: L1, L2, L3, external$"),
    ({"L2": LADDER["L2"]}, r"^usdx_escalation_ladder\.L1\.contacts: the On-Call Engineer level needs at least one contact "),
    (dict(LADDER, L2={"contacts": []}), r"^usdx_escalation_ladder\.L2\.contacts: the Team Lead / Senior Engineer level needs "),
    (dict(LADDER, L1={"contacts": [{"notify": ["pagerduty"]}]}),
     r"^usdx_escalation_ladder\.L1\.contacts\[0\]: a contact needs a name, got \{'notify': \['pagerduty'\]\}$"),
    (dict(LADDER, L1={"contacts": [{"name": " ", "notify": ["pagerduty"]}]}), r"^usdx_escalation_ladder\.L1\.contacts\[0\]: a contact needs a name"),
    (dict(LADDER, L1={"contacts": [{"name": "On call", "notify": ["pagerduty"], "mail": "x@example.com"}]}),
     r"^usdx_escalation_ladder\.L1\.contacts\[0\]: key 'mail' is not one of: name, notify, email, phone$"),
    (dict(LADDER, L1={"contacts": [{"name": "On call"}]}),
     r"^usdx_escalation_ladder\.L1\.contacts\[0\]\.notify: expected a non-empty list of notifier backend names, got None$"),
    (dict(LADDER, L1={"contacts": [{"name": "On call", "notify": "pagerduty"}]}),
     r"^usdx_escalation_ladder\.L1\.contacts\[0\]\.notify: expected a non-empty list of notifier backend names, got 'pagerduty'$"),
    (dict(LADDER, L1={"contacts": [{"name": "On call", "notify": ["pagerduty"], "email": "on call"}]}),
     r"^usdx_escalation_ladder\.L1\.contacts\[0\]\.email: expected an address like oncall@example.com, got 'on call'$"),
    (dict(LADDER, L1={"contacts": [{"name": "On call", "notify": ["pagerduty"], "phone": 4930}]}),
     r"^usdx_escalation_ladder\.L1\.contacts\[0\]\.phone: expected a phone number as text, got 4930$"),
    (dict(LADDER, L1=[{"name": "On call", "notify": ["pagerduty"]}]), r"^usdx_escalation_ladder\.L1: expected \{contacts: \[\.\.\.\]\}, got \["),
    (dict(LADDER, L1={"contact": []}), r"^usdx_escalation_ladder\.L1: key 'contact' is not one of: contacts \(role and timings come from the runbook\)$"),
    (dict(LADDER, L1={"contacts": {"name": "On call"}}), r"^usdx_escalation_ladder\.L1\.contacts: expected a list of contacts "),
    (dict(LADDER, L2=dict(LADDER["L2"], from_seconds=600)),
     r"^usdx_escalation_ladder\.L2\.from_seconds: 600 differs from the runbook's 1800 \(the ladder's roles and timings come "),
], ids=["not-a-mapping", "bad-level", "no-L1", "empty-L2", "no-name", "blank-name", "unknown-key", "no-notify",
        "notify-not-a-list", "bad-email", "phone-not-text", "level-not-a-mapping", "level-unknown-key",
        "contacts-not-a-list", "changed-timing"])
def test_a_bad_ladder_is_one_line_naming_the_variable_the_value_and_what_is_accepted(value, message):
    with pytest.raises(_comms.CommsError, match=message) as raised:
        _comms.escalation_ladder(value)
    assert "\n" not in str(raised.value)


def test_a_contact_must_name_a_configured_backend():
    backends = [{"type": "pagerduty", "name": "pagerduty"}, {"type": "slack", "name": "slack"}]
    with pytest.raises(_comms.CommsError, match=r"^usdx_escalation_ladder\.L2\.contacts\[0\]\.notify: backend 'email' is not one "
                                                r"of the configured backends: pagerduty, slack$"):
        _comms.escalation_ladder(LADDER, backends=backends)
    assert _comms.escalation_ladder(LADDER, backends=backends + ["email"])["L2"]["contacts"][0]["notify"] == ["slack", "email"]
    with pytest.raises(_comms.CommsError, match=r"^backends: expected a list of backend names, got 'slack'$"):
        _comms.escalation_ladder(LADDER, backends="slack")


def test_the_variable_named_in_errors_is_the_one_given():
    with pytest.raises(_comms.CommsError, match=r"^ladder_under_test: level 'L0' "):
        _comms.escalation_ladder({"L0": {}}, variable="ladder_under_test")


def recorded_escalations() -> list[tuple[str, dict[str, t.Any]]]:
    """Escalations as the chain records them: a late step, a refused contain, a failed verify, a provider's fault."""
    incident, record = recorded("api_down_resolved")
    late = as_of(record, "fix")
    late["steps"][-1]["started_at"] = iso(minutes_after(incident, 29))
    _chain.end_step(late, incident["started_at"], {"status": "changed", "summary": "restarted"}, minutes_after(incident, 31))
    refused = ended(as_of(record, "contain"), incident,
                    _chain.contain_verdict(as_of(record, "contain"), record["decision"]["contain"], [], False))
    failed = ended(as_of(record, "verify"), incident, _chain.verify_verdict(judged("api-down"), None))
    external = as_of(record, "diagnose")
    external["decision"] = _chain_decision(judged("rpc-down"))
    ended(external, incident, _chain.diagnosis(external))
    return [("late-step", late["escalations"][-1]), ("refused-contain", refused["escalations"][-1]),
            ("failed-verify", failed["escalations"][-1]), ("external", external["escalations"][-1])]


FULL_LADDER = dict(LADDER, L3={"contacts": [{"name": "CTO", "notify": ["email"]}]},
                   external={"contacts": [{"name": "Provider support", "notify": ["email"], "email": "support@provider.com"}]})


@pytest.mark.parametrize(("escalation", "names"), [
    pytest.param(escalation, {"L1": ["On-call engineer"], "L2": ["Team lead"], "L3": ["CTO"], "external": ["Provider support"]},
                 id=name) for name, escalation in recorded_escalations()])
def test_a_recorded_escalation_reaches_the_contacts_of_its_level(escalation, names):
    contacts = _comms.escalation_contacts(FULL_LADDER, escalation)
    assert [c["name"] for c in contacts] == names[escalation["level"]]
    assert {c["level"] for c in contacts} == {escalation["level"]}
    assert {c["role"] for c in contacts} == {_comms.LADDER[escalation["level"]][1]}


@pytest.mark.parametrize(("escalation", "level"), [pytest.param(e, e["level"], id=name) for name, e in recorded_escalations()])
def test_a_level_without_contacts_reaches_the_team_lead(escalation, level):
    contacts = _comms.escalation_contacts(LADDER, escalation)
    reached = "L1" if level == "L1" else "L2"
    assert [(c["name"], c["level"]) for c in contacts] == [(LADDER[reached]["contacts"][0]["name"], reached)]


def test_an_escalation_of_no_known_level_is_refused():
    with pytest.raises(_comms.CommsError, match=r"^escalation level: 'L9' is not one of: L1, L2, L3, external$"):
        _comms.escalation_contacts(LADDER, {"at": "2026-11-29T03:00:00Z", "level": "L9", "reason": "", "step": "fix"})
    with pytest.raises(_comms.CommsError, match=r"^escalation: expected a recorded escalation"):
        _comms.escalation_contacts(LADDER, "L2")


@pytest.mark.parametrize(("trigger", "minutes", "level"), [
    ("deadline_missed", 10, "L2"),
    ("deadline_missed", 31, "L2"),
    ("deadline_missed", 59.9, "L2"),
    ("deadline_missed", 60, "L3"),
    ("deadline_missed", 24 * 60, "L3"),
    ("deadline_missed", None, "L2"),
    ("fix_failed", 12, "L2"),
    ("verify_failed", 20, "L2"),
    ("verify_failed", 75, "L3"),
    ("step_failed", 1, "L2"),
    ("breaker_tripped", 5, "L2"),
    ("no_scenario", 5, "L2"),
    ("approval_missing", 8, "L3"),
    ("security", 0, "L3"),
    ("external_service", 2, "external"),
    ("external_service", 90, "external"),
])
def test_which_level_a_trigger_reaches(trigger, minutes, level):
    elapsed = None if minutes is None else minutes * 60
    assert _comms.escalation_level_for(trigger, elapsed) == level


@pytest.mark.parametrize(("trigger", "elapsed", "message"), [
    ("late", 60, r"^escalation trigger: 'late' is not one of: deadline_missed, step_failed, fix_failed, verify_failed, "),
    ("fix_failed", -1, r"^elapsed_seconds: expected seconds since the incident started \(0 or more\) or None, got -1$"),
    ("fix_failed", "60", r"^elapsed_seconds: .* got '60'$"),
    ("fix_failed", True, r"^elapsed_seconds: .* got True$"),
])
def test_an_unknown_trigger_or_time_is_refused(trigger, elapsed, message):
    with pytest.raises(_comms.CommsError, match=message):
        _comms.escalation_level_for(trigger, elapsed)


def test_every_level_a_trigger_names_is_on_the_ladder():
    assert {level for level, _why in _runbook.ESCALATION_TRIGGERS.values()} <= set(_comms.LADDER_LEVELS)


# --- who an escalation reached -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("results", "reached"), [
    ([{"name": "slack", "delivered": True}, {"name": "mail", "delivered": False}], ["Team lead"]),
    ([{"name": "slack", "delivered": True}, {"name": "mail", "delivered": True}], ["Team lead", "CTO"]),
    ([{"name": "slack", "delivered": False, "error": "HTTP 500"}], []),
    ([], []),
], ids=["one-of-two", "both", "all-failed", "nothing-sent"])
def test_an_escalation_reached_the_contacts_whose_notifier_delivered(results, reached):
    contacts = [{"name": "Team lead", "notify": ["slack"]}, {"name": "CTO", "notify": ["mail", "pager"]}]
    assert _comms.escalation_reached(contacts, results) == reached


@pytest.mark.parametrize(("contacts", "results"), [("Team lead", []), ([{"notify": ["slack"]}], []), ([], "delivered")])
def test_escalation_reached_bad_input_is_one_line(contacts, results):
    with pytest.raises(_comms.CommsError) as caught:
        _comms.escalation_reached(contacts, results)
    assert "\n" not in str(caught.value)
