# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""What an incident tells people: the status page's phase and messages, the user notice, and the escalation ladder.

Messages are rendered by _render from templates a user may override; this module only builds their values from
the stack's record, so every message says what the run saw and did. Values that come from hosts (evidence, error
messages) are cut to one line here: a line break in them must not start a block of its own in a Markdown notice.
The ladder's levels, timings and triggers come from _runbook; the inventory gives only the people.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _render
from ansible_collections.usdx.incident.plugins.plugin_utils._incident import iso, parse_iso
from ansible_collections.usdx.incident.plugins.plugin_utils._values import show

PHASE_TITLES = {phase: phase.capitalize() for phase in _runbook.STATUS_PHASES}
DONE = ("ok", "changed")
# What the status page says before the scenario is known, by severity ("reports of [issue]").
ISSUE_WORDS = {
    "P0": "a service outage",
    "P1": "a major feature not working",
    "P2": "a minor feature not working",
    "P3": "a cosmetic issue",
}
ISSUE_UNKNOWN = "a service disruption"
# The runbook's Contain actions as users read them: (when done, when undone after verify).
CONTAIN_WORDS = {
    "pause_contracts": ("Paused blockchain operations", "Resumed blockchain operations"),
    "stop_indexer": ("Stopped processing", "Restarted processing"),
    "maintenance_on": ("Put up the maintenance page", "Took the maintenance page down"),
}
# The runbook's Fix options as users read them.
FIX_WORDS = {
    "A": "Restarted the affected services",
    "B": "Rolled back to the previous release",
    "C": "Deployed a fix",
    "D": "Raised the database connection limit",
}
VERIFIED = "Verified that all services are healthy"
# resolve_scenario's reason for a scenario the triage ranked first; the evidence follows it.
TRIAGE_REASON = "top-ranked by the triage: "
HOST_TEXT_LIMIT = 300

LADDER = {row[0]: row for row in _runbook.ESCALATION_LEVELS}
LADDER_LEVELS = tuple(LADDER)
# The time-bound levels in the order a response climbs them.
CLIMB = tuple(level for level, _who, _handles, start, _until in _runbook.ESCALATION_LEVELS if start is not None)
# The runbook's Contacts: the on-call is paged and the team lead is reached by phone or email. Without them nobody
# is escalated to, so a ladder without them is refused before an incident starts.
REQUIRED_LEVELS = ("L1", "L2")
# A level without contacts of its own reaches the team lead, who is required.
FALLBACK_LEVEL = "L2"
CONTACT_KEYS = ("name", "notify", "email", "phone")


class CommsError(ValueError):
    """A value communication cannot work with; str() is one line naming it and what is accepted."""


# --- the record, read --------------------------------------------------------------------------------------------

def _mapping(name: str, value: t.Any) -> t.Mapping[str, t.Any]:
    if not isinstance(value, t.Mapping):
        raise CommsError(f"{name}: expected a mapping, got {show(value)}")
    return value


def _steps(record: t.Mapping[str, t.Any]) -> dict[str, t.Mapping[str, t.Any]]:
    """The last entry of each step id (assess may run before the chain and again in it)."""
    steps = record.get("steps") or []
    return {step["id"]: step for step in steps if isinstance(step, t.Mapping) and "id" in step}


def _decision(record: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    decision = record.get("decision")
    return decision if isinstance(decision, t.Mapping) else {}


def _chosen(record: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    chosen = _decision(record).get("scenario")
    return chosen if isinstance(chosen, t.Mapping) else {}


def _ended(step: t.Optional[t.Mapping[str, t.Any]]) -> bool:
    return step is not None and step.get("status") not in (None, "running")


def _line(value: t.Any, limit: int = HOST_TEXT_LIMIT) -> str:
    """Host text as one line of at most limit characters."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _hhmm(moment: t.Optional[datetime.datetime]) -> t.Optional[str]:
    return moment.strftime("%H:%M") if moment else None


def _start(incident: t.Mapping[str, t.Any]) -> datetime.datetime:
    start = parse_iso(incident.get("started_at"))
    if start is None:
        raise CommsError(f"incident started_at: expected a UTC time like 2026-11-28T03:00:00Z, got {show(incident.get('started_at'))}")
    return start


def _now(now: t.Any) -> datetime.datetime:
    if not isinstance(now, datetime.datetime) or now.tzinfo is None:
        raise CommsError(f"now: expected a timezone-aware datetime, got {show(now)}")
    return now.astimezone(datetime.timezone.utc)


def _resolved(record: t.Mapping[str, t.Any], steps: t.Mapping[str, t.Mapping[str, t.Any]]) -> bool:
    verify = steps.get("verify")
    return (verify is not None and verify.get("status") in DONE and not record.get("stopped")
            and not record.get("check_mode"))


def _not_restored(record: t.Mapping[str, t.Any], steps: t.Mapping[str, t.Mapping[str, t.Any]]) -> bool:
    """The chain acted and the service is not back: verify failed, or a failure stopped the destructive steps."""
    verify = steps.get("verify")
    return bool(record.get("stopped")) or (_ended(verify) and verify.get("status") not in DONE + ("skipped",))


def status_phase(record: t.Any) -> str:
    """The status page's phase of one stack's record.

    resolved: verify passed and nothing stopped the chain. investigating: no scenario decided. monitoring: the fix
    ended ok or changed and verify has not ended (nothing stopped). identified otherwise, a failed verify included.
    A dry run changed nothing, so it is never monitoring or resolved.
    """
    record = _mapping("record", record)
    steps = _steps(record)
    if _resolved(record, steps):
        return "resolved"
    if not _chosen(record).get("scenario"):
        return "investigating"
    fix, verify = steps.get("fix"), steps.get("verify")
    if (fix is not None and fix.get("status") in DONE and not _ended(verify) and not record.get("stopped")
            and not record.get("check_mode")):
        return "monitoring"
    return "identified"


def _description(record: t.Mapping[str, t.Any]) -> t.Optional[str]:
    scenario = _chosen(record).get("scenario")
    if not scenario:
        return None
    return _runbook.SCENARIOS.get(scenario) or _runbook.OTHER_FINDINGS.get(scenario) or str(scenario)


def _what_happened(record: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The decision's evidence: the triage's for its top-ranked scenario, the reason for anything else."""
    reason = _chosen(record).get("reason")
    reason = "" if reason in (None, "given") else str(reason)
    if reason.startswith(TRIAGE_REASON):
        reason = reason[len(TRIAGE_REASON):]
    reason = _line(reason)
    title = _description(record)
    if title and reason:
        return f"{title}: {reason}"
    return title or reason or None


def _contained(record: t.Mapping[str, t.Any]) -> tuple[list[str], list[str]]:
    """The contain actions done and the ones undone since (action names); a dry run did none."""
    contained = record.get("contained")
    if not isinstance(contained, t.Mapping) or not contained.get("applied") or record.get("check_mode"):
        return [], []
    done = [a.get("action") for a in contained.get("actions") or [] if isinstance(a, t.Mapping)]
    undone = [name for name in contained.get("undone") or [] if name in done]
    return [name for name in done if isinstance(name, str)], undone


def _actions(record: t.Mapping[str, t.Any], steps: t.Mapping[str, t.Mapping[str, t.Any]]) -> list[str]:
    """What was done, in the order it was done: contain, fix, undo of contain, verify."""
    done, undone = _contained(record)
    actions = [CONTAIN_WORDS.get(name, (name, name))[0] for name in done]
    fix = steps.get("fix")
    option = (_decision(record).get("fix") or {}).get("option")
    if fix is not None and not record.get("check_mode"):
        words = FIX_WORDS.get(option, "Applied a fix")
        if fix.get("status") in DONE:
            actions.append(words)
        elif fix.get("status") == "failed":
            actions.append(f"Tried: {words[0].lower()}{words[1:]} (this did not restore service)")
    actions.extend(CONTAIN_WORDS.get(name, (name, name))[1] for name in undone)
    if _resolved(record, steps):
        actions.append(VERIFIED)
    return actions


def _maintenance(record: t.Mapping[str, t.Any]) -> bool:
    """Whether users see the maintenance page now: contain put it up and verify has not taken it down."""
    done, undone = _contained(record)
    return "maintenance_on" in done and "maintenance_on" not in undone


def _common(record: t.Mapping[str, t.Any], incident: t.Mapping[str, t.Any], maintenance_url: t.Any) -> dict[str, t.Any]:
    if not isinstance(maintenance_url, str):
        raise CommsError(f"maintenance_url: expected a URL or an empty string (the runbook's status page), got {show(maintenance_url)}")
    start = _start(incident)
    steps = _steps(record)
    phase = status_phase(record)
    resolved_at = parse_iso(steps["verify"].get("ended_at")) if phase == "resolved" else None
    actions = _actions(record, steps)
    severity = record.get("severity") or incident.get("severity")
    return {
        "incident_id": str(incident.get("id") or ""),
        "host": str(record.get("host") or ""),
        "severity": severity if severity in _runbook.LEVELS else None,
        "phase": phase,
        "status": PHASE_TITLES[phase],
        "date": start.strftime("%Y-%m-%d"),
        "started_at": _hhmm(start),
        "resolved_at": _hhmm(resolved_at),
        "issue": ISSUE_WORDS.get(severity, ISSUE_UNKNOWN),
        "description": _description(record),
        "what_happened": _what_happened(record),
        "actions": actions,
        "what_was_done": "; ".join(actions),
        "not_restored": phase == "identified" and _not_restored(record, steps),
        "maintenance": _maintenance(record),
        "maintenance_url": maintenance_url or _runbook.STATUS_PAGE_URL,
        "status_page_url": _runbook.STATUS_PAGE_URL,
    }


def status_context(record: t.Any, incident: t.Any, now: t.Any, maintenance_url: t.Any = "") -> dict[str, t.Any]:
    """The values of a status page message at moment now (UTC times as HH:MM).

    Adds to the notice's values: now, update_minutes (the runbook's cadence), next_update (that much later; None
    once resolved) and eta (when verify is due by the chain's T+ deadline; None when that has passed or the fix did
    not restore service).
    """
    record, incident, moment = _mapping("record", record), _mapping("incident", incident), _now(now)
    context = _common(record, incident, maintenance_url)
    resolved = context["phase"] == "resolved"
    due = dict((sid, deadline) for sid, _title, deadline in _runbook.STEPS.get(context["severity"] or "", ()))
    eta = _start(incident) + datetime.timedelta(seconds=due["verify"]) if "verify" in due else None
    context.update({
        "now": _hhmm(moment),
        "update_minutes": _runbook.STATUS_UPDATE_SECONDS // 60,
        "next_update": None if resolved else _hhmm(moment + datetime.timedelta(seconds=_runbook.STATUS_UPDATE_SECONDS)),
        "next_update_at": None if resolved else iso(moment + datetime.timedelta(seconds=_runbook.STATUS_UPDATE_SECONDS)),
        "eta": _hhmm(eta) if eta and eta > moment and not context["not_restored"] else None,
    })
    return context


def user_notice_context(record: t.Any, incident: t.Any, maintenance_url: t.Any = "") -> dict[str, t.Any]:
    """The values of the runbook's user notice ("Service Disruption - [Date]"): times, description, what happened,
    what was done, status."""
    return _common(_mapping("record", record), _mapping("incident", incident), maintenance_url)


def status_message(templates: t.Any, record: t.Any, incident: t.Any, now: t.Any, maintenance_url: t.Any = "") -> dict[str, t.Any]:
    """The status page message of the record's phase: {'phase', 'status', 'title', 'text', 'next_update_at'}, title
    being the status page incident's name (the scenario's runbook title; None until it is known).

    templates maps every phase to its template text; all four are required, so a broken override is found on the
    first message rather than at the phase that needs it.
    """
    if not isinstance(templates, t.Mapping):
        raise CommsError(f"templates: expected a mapping of {', '.join(_runbook.STATUS_PHASES)} to template texts, got {show(templates)}")
    missing = [phase for phase in _runbook.STATUS_PHASES if not isinstance(templates.get(phase), str)]
    unknown = sorted(str(key) for key in templates if key not in _runbook.STATUS_PHASES)
    if missing or unknown:
        raise CommsError(f"templates: expected the texts of {', '.join(_runbook.STATUS_PHASES)}; "
                         f"missing or not text: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}")
    context = status_context(record, incident, now, maintenance_url)
    phase = context["phase"]
    try:
        text = _render.render(templates[phase], context, name=f"status_{phase} template")
    except _render.TemplateProblem as exc:
        raise CommsError(str(exc)) from None
    return {"phase": phase, "status": context["status"], "title": context["description"], "text": text.strip() + "\n",
            "next_update_at": context["next_update_at"]}


def user_notice(template: t.Any, record: t.Any, incident: t.Any, maintenance_url: t.Any = "") -> str:
    """The user notice rendered from template with the record's values."""
    context = user_notice_context(record, incident, maintenance_url)
    try:
        return _render.render(template, context, name="user_notice template").strip() + "\n"
    except _render.TemplateProblem as exc:
        raise CommsError(str(exc)) from None


def page_acknowledge_due(record: t.Any, step: t.Any, scenario: t.Any) -> bool:
    """Whether this step acknowledges the page: a scenario role took the incident and the page was triggered.

    The alert step triggers the page and the assessment chooses the role. In a severity's chain alert runs first, so
    assess acknowledges; under severity auto assess runs first, so alert acknowledges right after its trigger. An
    acknowledge sent before the trigger would leave the page open, so each step checks the other already ran.
    record is the stack's record as it was when the step began.
    """
    record = _mapping("record", record)
    if scenario in (None, ""):
        return False
    if step == "alert":
        return bool(_chosen(record).get("scenario"))
    if step == "assess":
        return _ended(_steps(record).get("alert")) and not _chosen(record).get("scenario")
    raise CommsError(f"step: expected one of alert, assess, got {show(step)}")


def status_due(last_sent_at: t.Any, now: t.Any, cadence_seconds: t.Any = _runbook.STATUS_UPDATE_SECONDS) -> bool:
    """Whether a status update is due: none was sent yet (None or empty), or the last one is cadence_seconds old."""
    moment = _now(now)
    if not isinstance(cadence_seconds, int) or isinstance(cadence_seconds, bool) or cadence_seconds <= 0:
        raise CommsError(f"cadence_seconds: expected a positive whole number of seconds, got {show(cadence_seconds)}")
    if last_sent_at in (None, ""):
        return True
    last = parse_iso(last_sent_at)
    if last is None:
        raise CommsError(f"last_sent_at: expected a UTC time like 2026-11-28T03:00:00Z or empty (never sent), got {show(last_sent_at)}")
    return (moment - last).total_seconds() >= cadence_seconds


def delivery_summary(results: t.Any) -> str:
    """What became of one message, from usdx.incident.notify's notify_results: who got it, who did not and why."""
    if not isinstance(results, (list, tuple)) or not all(isinstance(r, t.Mapping) for r in results):
        raise CommsError(f"results: expected notify_results, a list of {{name, delivered, error}}, got {show(results)}")
    if not results:
        return "not sent: no configured notifier takes it (notify_backends)"
    delivered = [str(r.get("name")) for r in results if r.get("delivered") is True]
    failed = [f"{r.get('name')} ({_line(r.get('error') or 'no reason given', 200)})" for r in results if r.get("delivered") is not True]
    said = [f"delivered to {', '.join(delivered)}"] if delivered else []
    if failed:
        said.append(f"NOT delivered to {', '.join(failed)}")
    return "; ".join(said)


# --- the escalation ladder -----------------------------------------------------------------------------------------

def _runbook_keys(level: str) -> dict[str, t.Any]:
    """A level's fields that come from the runbook (a normalized ladder carries them; a user may not change them)."""
    _level, role, handles, start, until = LADDER[level]
    return {"role": role, "handles": handles, "from_seconds": start, "until_seconds": until}


def _backend_names(backends: t.Any) -> t.Optional[tuple[str, ...]]:
    """The configured backends' names (a list of names, or of backends with a name); None: do not check."""
    if backends is None:
        return None
    if not isinstance(backends, (list, tuple)):
        raise CommsError(f"backends: expected a list of backend names, got {show(backends)}")
    names = [b.get("name") if isinstance(b, t.Mapping) else b for b in backends]
    if not all(isinstance(name, str) and name for name in names):
        raise CommsError(f"backends: expected a list of backend names, got {show(backends)}")
    return tuple(names)


def _contact(where: str, value: t.Any, backends: t.Optional[tuple[str, ...]]) -> dict[str, t.Any]:
    if not isinstance(value, t.Mapping):
        raise CommsError(f"{where}: expected a contact {{name, notify: [backend names], email, phone}}, got {show(value)}")
    unknown = [str(key) for key in value if key not in CONTACT_KEYS]
    if unknown:
        raise CommsError(f"{where}: key {unknown[0]!r} is not one of: {', '.join(CONTACT_KEYS)}")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CommsError(f"{where}: a contact needs a name, got {show(dict(value))}")
    notify = value.get("notify")
    if not isinstance(notify, (list, tuple)) or not notify or not all(isinstance(n, str) and n for n in notify):
        raise CommsError(f"{where}.notify: expected a non-empty list of notifier backend names, got {show(notify)}")
    if backends is not None:
        for backend in notify:
            if backend not in backends:
                raise CommsError(f"{where}.notify: backend {backend!r} is not one of the configured backends: "
                                 f"{', '.join(backends) or 'none'}")
    email, phone = value.get("email"), value.get("phone")
    if email is not None and (not isinstance(email, str) or email.count("@") != 1 or len(email.split()) != 1):
        raise CommsError(f"{where}.email: expected an address like oncall@example.com, got {show(email)}")
    if phone is not None and (not isinstance(phone, str) or not phone.strip()):
        raise CommsError(f"{where}.phone: expected a phone number as text, got {show(phone)}")
    return {"name": name, "notify": list(notify), "email": email, "phone": phone}


def escalation_ladder(value: t.Any, variable: str = "usdx_escalation_ladder", backends: t.Any = None) -> dict[str, t.Any]:
    """The inventory's ladder validated and completed with the runbook's roles and timings.

    value maps levels (L1, L2, L3, external) to {contacts: [{name, notify, email, phone}]}; L1 and L2 need a
    contact. Returns every level, in the runbook's order, as {role, handles, from_seconds, until_seconds, contacts};
    that result is accepted again. With backends, every contact's notify names a configured backend.
    """
    if not isinstance(value, t.Mapping):
        raise CommsError(f"{variable}: expected a mapping of the levels {', '.join(LADDER_LEVELS)} to "
                         f"{{contacts: [{{name, notify: [backend names]}}]}}, got {show(value)}")
    known = _backend_names(backends)
    for level in value:
        if level not in LADDER:
            raise CommsError(f"{variable}: level {level!r} is not one of: {', '.join(LADDER_LEVELS)}")
    ladder = {}
    for level in LADDER_LEVELS:
        where = f"{variable}.{level}"
        entry = value.get(level)
        runbook = _runbook_keys(level)
        if entry is None:
            entry = {}
        if not isinstance(entry, t.Mapping):
            raise CommsError(f"{where}: expected {{contacts: [...]}}, got {show(entry)}")
        for key, given in entry.items():
            if key != "contacts" and key not in runbook:
                raise CommsError(f"{where}: key {key!r} is not one of: contacts (role and timings come from the runbook)")
            if key in runbook and given != runbook[key]:
                raise CommsError(f"{where}.{key}: {given!r} differs from the runbook's {runbook[key]!r} "
                                 "(the ladder's roles and timings come from the runbook; leave them out)")
        contacts = entry.get("contacts", [])
        if not isinstance(contacts, (list, tuple)):
            raise CommsError(f"{where}.contacts: expected a list of contacts {{name, notify: [backend names]}}, got {show(contacts)}")
        normalized = [_contact(f"{where}.contacts[{index}]", contact, known) for index, contact in enumerate(contacts)]
        if level in REQUIRED_LEVELS and not normalized:
            raise CommsError(f"{where}.contacts: the {runbook['role']} level needs at least one contact "
                             f"{{name, notify: [backend names]}}, got {show(entry.get('contacts'))}")
        ladder[level] = dict(runbook, contacts=normalized)
    return ladder


def escalation_contacts(ladder: t.Any, escalation: t.Any, variable: str = "usdx_escalation_ladder",
                        backends: t.Any = None) -> list[dict[str, t.Any]]:
    """Who one recorded escalation ({at, level, reason, step}) reaches: the contacts of its level, each with the
    level and role it was reached as. A level without contacts (L3, external) reaches the team lead (L2) instead."""
    checked = escalation_ladder(ladder, variable, backends)
    if not isinstance(escalation, t.Mapping):
        raise CommsError(f"escalation: expected a recorded escalation {{at, level, reason, step}}, got {show(escalation)}")
    level = escalation.get("level")
    if level not in LADDER:
        raise CommsError(f"escalation level: {show(level)} is not one of: {', '.join(LADDER_LEVELS)}")
    reached = level if checked[level]["contacts"] else FALLBACK_LEVEL
    return [dict(contact, level=reached, role=checked[reached]["role"]) for contact in checked[reached]["contacts"]]


def escalation_reached(contacts: t.Any, results: t.Any) -> list[str]:
    """The contacts (of escalation_contacts) that one escalation message reached: those with a notifier among their
    C(notify) names that delivered it (usdx.incident.notify's notify_results)."""
    if not isinstance(contacts, (list, tuple)) or not all(isinstance(c, t.Mapping) and c.get("name") for c in contacts):
        raise CommsError(f"contacts: expected escalation_contacts, a list of {{name, notify}}, got {show(contacts)}")
    if not isinstance(results, (list, tuple)) or not all(isinstance(r, t.Mapping) for r in results):
        raise CommsError(f"results: expected notify_results, a list of {{name, delivered, error}}, got {show(results)}")
    delivered = {r.get("name") for r in results if r.get("delivered") is True}
    return [str(c["name"]) for c in contacts if delivered & set(c.get("notify") or [])]


def escalation_level_for(trigger: t.Any, elapsed_seconds: t.Any) -> str:
    """The level a trigger reaches elapsed_seconds after the incident started (None: not known).

    Each trigger has its lowest level (_runbook.ESCALATION_TRIGGERS); the time-bound levels rise with the clock as
    the runbook's ladder does (L2 from 30 minutes, L3 from 60: an incident open that long is a major outage). An
    external service failure goes to the provider whatever the time.
    """
    if trigger not in _runbook.ESCALATION_TRIGGERS:
        raise CommsError(f"escalation trigger: {show(trigger)} is not one of: {', '.join(_runbook.ESCALATION_TRIGGERS)}")
    if elapsed_seconds is not None and (isinstance(elapsed_seconds, bool) or not isinstance(elapsed_seconds, (int, float))
                                        or elapsed_seconds < 0):
        raise CommsError(f"elapsed_seconds: expected seconds since the incident started (0 or more) or None, got {show(elapsed_seconds)}")
    base = _runbook.ESCALATION_TRIGGERS[trigger][0]
    if base not in CLIMB:
        return base
    elapsed = elapsed_seconds or 0
    by_clock = [level for level in CLIMB if LADDER[level][3] <= elapsed]
    return max(base, by_clock[-1], key=CLIMB.index)
