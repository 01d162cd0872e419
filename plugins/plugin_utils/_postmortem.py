# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The post-mortem of one incident from its folder: the values the runbook's Post-Mortem Template is filled with.

It reads what the run left in the incident folder: C(incident.json), each stack's record (C(hosts/<host>.json)),
the triage findings the chain took (C(findings/<host>.json) at assess, C(verify/<host>.json) at verify, and any
other folder of findings), and C(timeline.jsonl), the callback's event log (a last line cut by a killed run is
skipped; a missing file is said in the post-mortem). context() returns plain values for the templates
(C(roles/step_postmortem/templates/)), which _render renders as data; only the two SVG charts, built and escaped
by _svg, are marked safe for HTML. What only people can write (lessons, prevention, owners) is marked as such.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import typing as t

from markupsafe import Markup

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.module_utils._redact import redact
from ansible_collections.usdx.incident.plugins.plugin_utils import _chain, _incident, _render, _svg
from ansible_collections.usdx.incident.plugins.plugin_utils._timeline import TIMELINE_FILE
from ansible_collections.usdx.incident.plugins.plugin_utils._findings_file import Unsafe, write
from ansible_collections.usdx.incident.plugins.plugin_utils._formatting import human_duration
from ansible_collections.usdx.incident.plugins.plugin_utils._values import as_mapping, as_number

MARKDOWN_FILE = "postmortem.md"
HTML_FILE = "postmortem.html"
TEMPLATES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                             "roles", "step_postmortem", "templates")
DEFAULT_TEMPLATES = {"markdown": os.path.join(TEMPLATES_DIR, "postmortem.md.j2"),
                     "html": os.path.join(TEMPLATES_DIR, "postmortem.html.j2")}
BACKTICKS = re.compile(r"`+")
TO_BE_WRITTEN = "To be written by the team at the post-mortem meeting."
# Folders of the incident that hold no findings: the records, and what ansible-runner keeps per run.
NOT_FINDINGS = ("hosts", "artifacts", "env", "inventory", "project")
# Where the chain's steps put their triage findings, and what the post-mortem calls them.
FINDINGS_SOURCES = {"findings": "assess", "verify": "verify"}
# Step ids whose end is a milestone of the runbook's timeline ("Team alerted" ... "Incident closed").
ALERT_STEPS = ("alert", "respond")
DONE = ("ok", "changed")
OUTCOME_WORDS = {
    "resolved": "Resolved: verify passed",
    "not_resolved": "Not resolved",
    "refused": "Refused",
    "recorded": "Recorded for the next release (no remediation at this severity)",
    "healthy": "No incident: the triage found nothing to respond to",
    "dry_run": "Dry run (check mode): nothing was changed on the stack",
    "open": "Open: the run ended before the chain did",
}


class Metric(t.NamedTuple):
    """The scenario's key metric: how to read one value (and its reference lines) out of a findings document."""

    label: str
    unit: str
    read: t.Callable[[t.Mapping[str, t.Any]], t.Optional[float]]
    references: t.Callable[[t.Mapping[str, t.Any]], t.List[t.Tuple[str, float]]]


def _connections(findings: t.Mapping[str, t.Any]) -> t.Optional[float]:
    return as_number(as_mapping(as_mapping(findings.get("postgres")).get("connections")).get("total"))


def _connection_limits(findings: t.Mapping[str, t.Any]) -> t.List[t.Tuple[str, float]]:
    postgres = as_mapping(findings.get("postgres"))
    limits = [("max_connections", as_number(postgres.get("max_connections")))]
    limits += [(f"limit of role {as_mapping(r).get('user')}", as_number(as_mapping(r).get("limit")))
               for r in postgres.get("role_limits") or [] if as_mapping(r).get("at_limit")]
    return [(label, value) for label, value in limits if value is not None]


def _lag_blocks(findings: t.Mapping[str, t.Any]) -> t.Optional[float]:
    return as_number(as_mapping(findings.get("lag")).get("lag_blocks"))


def _disk_percent(findings: t.Mapping[str, t.Any]) -> t.Optional[float]:
    used = [as_number(as_mapping(p).get("percent_used")) for p in as_mapping(findings.get("disk")).get("paths") or []]
    known = [value for value in used if value is not None]
    return max(known) if known else None


def _disk_threshold(findings: t.Mapping[str, t.Any]) -> t.List[t.Tuple[str, float]]:
    threshold = as_number(as_mapping(findings.get("disk")).get("threshold_percent"))
    return [("threshold", threshold)] if threshold is not None else []


def _api_health(findings: t.Mapping[str, t.Any]) -> t.Optional[float]:
    healthy = as_mapping(findings.get("api")).get("healthy")
    return float(healthy) if isinstance(healthy, bool) else None


def _error_rate(findings: t.Mapping[str, t.Any]) -> t.Optional[float]:
    users = as_mapping(findings.get("users"))
    total, failed = as_number(users.get("requests_total")), as_number(users.get("requests_failed"))
    return round(100.0 * failed / total, 1) if total and failed is not None else None


def _none(_findings: t.Mapping[str, t.Any]) -> t.List[t.Tuple[str, float]]:
    return []


METRICS = {
    "db_connections_exhausted": Metric("Connections in use", "connections", _connections, _connection_limits),
    "indexer_lag": Metric("Indexer lag", "blocks", _lag_blocks, _none),
    "disk_full": Metric("Disk use", "% used", _disk_percent, _disk_threshold),
    "api_unavailable": Metric("API health", "1 = /health healthy, 0 = not", _api_health, _none),
    "bad_deployment": Metric("Error rate", "% of requests failed", _error_rate, _none),
}
# A finding the runbook has no scenario role for (an external service, an incomplete triage): whether the API is up.
DEFAULT_METRIC = "api_unavailable"


class Moment(t.NamedTuple):
    """A point of the incident: UTC time and T+ seconds."""

    at: t.Optional[datetime.datetime]
    tplus: t.Optional[float]


def parse_moment(value: t.Any) -> t.Optional[datetime.datetime]:
    """An ISO UTC time as the record (whole seconds) or the timeline (milliseconds) writes it; None otherwise."""
    if not isinstance(value, str):
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.datetime.strptime(value, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    return None


def read_timeline(incident_folder: str) -> t.Dict[str, t.Any]:
    """The events of timeline.jsonl: {'recorded', 'events', 'incomplete_last_line', 'unreadable_lines'}.

    The callback appends and flushes one JSON object per line, so a killed run can leave the last line cut short:
    it is skipped. A line in the middle that is not a JSON object is counted, not fatal.
    """
    path = os.path.join(incident_folder, TIMELINE_FILE)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return {"recorded": False, "events": [], "incomplete_last_line": False, "unreadable_lines": 0}
    except OSError as exc:
        raise Unsafe(f"{path}: cannot be read ({exc.strerror})") from exc
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the file ends with a newline; a cut line otherwise
    events, unreadable = [], 0
    for line in lines:
        event = _event(line)
        if event is None:
            unreadable += line.strip() != b""
        else:
            events.append(event)
    incomplete = False
    if last.strip():
        event = _event(last)
        if event is None:
            incomplete = True
        else:
            events.append(event)
    return {"recorded": True, "events": events, "incomplete_last_line": incomplete, "unreadable_lines": unreadable}


def _event(line: bytes) -> t.Optional[t.Dict[str, t.Any]]:
    try:
        event = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return event if isinstance(event, dict) and isinstance(event.get("event"), str) else None


def read_findings(incident_folder: str) -> t.List[t.Dict[str, t.Any]]:
    """Every triage findings document in the folder's sub-folders: [{'source', 'host', 'findings'}], by source.

    A findings document is a JSON object with C(collected_at) and C(checks) (what usdx.incident.triage writes);
    anything else in those folders is not one and is left alone.
    """
    found = []
    for name in sorted(os.listdir(incident_folder)):
        directory = os.path.join(incident_folder, name)
        if name in NOT_FINDINGS or name.startswith(".") or not os.path.isdir(directory) or os.path.islink(directory):
            continue
        for entry in sorted(os.listdir(directory)):
            if not entry.endswith(".json") or entry.startswith("."):
                continue
            try:
                document = _incident.read_json(os.path.join(directory, entry))
            except Unsafe:
                continue  # a findings file cut short by a killed run: the others still tell the story
            if document and "collected_at" in document and "checks" in document:
                found.append({"source": FINDINGS_SOURCES.get(name, name), "host": str(document.get("host") or entry[:-5]),
                              "findings": document})
    order = list(FINDINGS_SOURCES.values())
    found.sort(key=lambda item: (order.index(item["source"]) if item["source"] in order else len(order), item["source"]))
    return found


def _hhmm(moment: t.Optional[datetime.datetime]) -> str:
    return moment.strftime("%H:%M") if moment else "--:--"


def _hhmmss(moment: t.Optional[datetime.datetime]) -> str:
    return moment.strftime("%H:%M:%S") if moment else "--:--:--"


def _one_line(value: t.Any) -> str:
    """Host text for a line of the post-mortem: whitespace (line breaks too) collapsed, nothing else changed."""
    return " ".join(str(value if value is not None else "").split())


def _fence(lines: t.Sequence[str]) -> str:
    """A Markdown code fence longer than any run of backticks in lines, so the lines stay verbatim inside it."""
    longest = max([len(run) for line in lines for run in BACKTICKS.findall(line)] + [0])
    return "`" * max(3, longest + 1)


class _Builder:
    """Reads one incident folder once and derives the template's values from it."""

    def __init__(self, incident_folder: str, now: datetime.datetime) -> None:
        document = _incident.read_incident(incident_folder)
        self.incident = document["incident"]
        self.records = {host: record for host, record in document["hosts"].items() if isinstance(record, dict)}
        self.timeline = read_timeline(incident_folder)
        self.findings = read_findings(incident_folder)
        self.now = now
        self.start = _incident.parse_iso(self.incident.get("started_at"))
        # The records keep whole seconds; the timeline's step events the same moments to a tenth of a second, which
        # orders a step's end before the tasks of the next one. The k-th start of a step in the timeline is its k-th
        # entry in the record (a step run again after an approval has two of each).
        self.step_marks: t.Dict[t.Tuple[str, str, str], t.List[float]] = {}
        for event in self.timeline["events"]:
            moment = self.moment(event.get("at"), event.get("tplus"))
            if event["event"] in ("step_start", "step_end") and moment.tplus is not None:
                self.step_marks.setdefault((str(event.get("host")), str(event.get("step")), event["event"]), []).append(
                    moment.tplus)

    # --- time ----------------------------------------------------------------------------------------------------
    def moment(self, at: t.Any, tplus: t.Any = None) -> Moment:
        when = parse_moment(at)
        seconds = as_number(tplus)
        if when is not None and self.start is not None:
            # The time is the more precise of the two (the timeline rounds T+ to a tenth): it orders close events.
            seconds = (when - self.start).total_seconds()
        if when is None and seconds is not None and self.start is not None:
            when = self.start + datetime.timedelta(seconds=seconds)
        return Moment(when, seconds)

    def last_moment(self) -> Moment:
        """The last thing the run recorded: a step's end or start, an escalation, or any timeline event."""
        moments = [self.moment(self.incident.get("started_at"))]
        for record in self.records.values():
            for step in record.get("steps") or []:
                moments += [self.moment(step.get("started_at")), self.moment(step.get("ended_at"))]
            moments += [self.moment(e.get("at")) for e in record.get("escalations") or [] if isinstance(e, dict)]
        moments += [self.moment(e.get("at"), e.get("tplus")) for e in self.timeline["events"]]
        known = [m for m in moments if m.tplus is not None]
        return max(known, key=lambda m: m.tplus) if known else Moment(None, None)

    # --- what the run decided -----------------------------------------------------------------------------------
    def assess_findings(self, host: str) -> t.Mapping[str, t.Any]:
        return next((f["findings"] for f in self.findings if f["source"] == "assess" and f["host"] == host), {})

    def verify_findings(self, host: str) -> t.Mapping[str, t.Any]:
        return next((f["findings"] for f in self.findings if f["source"] == "verify" and f["host"] == host), {})

    def scenario(self, host: str) -> t.Optional[str]:
        decided = as_mapping(as_mapping(self.records[host].get("decision")).get("scenario")).get("scenario")
        if decided:
            return str(decided)
        requested = self.incident.get("scenario")
        return str(requested) if requested and requested != "auto" else None

    def incident_scenario(self) -> t.Optional[str]:
        scenarios = [s for s in (self.scenario(host) for host in self.records) if s]
        if scenarios:
            return scenarios[0]
        ranked = [as_mapping(s) for f in self.findings if f["source"] == "assess" for s in f["findings"].get("scenarios") or []]
        return str(ranked[0].get("scenario")) if ranked and ranked[0].get("scenario") else None

    def severity(self) -> t.Optional[str]:
        level = self.incident.get("severity")
        if level in _runbook.LEVELS:
            return str(level)
        levels = [r.get("severity") for r in self.records.values() if r.get("severity") in _runbook.LEVELS]
        return str(min(levels)) if levels else None

    def outcome(self, record: t.Mapping[str, t.Any]) -> str:
        # Computed, not read: while the post-mortem step runs the record is not finished yet and still says "open".
        return _chain.outcome(record, record.get("severity"))

    # --- the parts of the template ------------------------------------------------------------------------------
    def steps(self, host: str) -> t.List[t.Dict[str, t.Any]]:
        rows = []
        last = self.last_moment()
        seen: t.Dict[str, int] = {}
        for step in self.records[host].get("steps") or []:
            sid = str(step.get("id"))
            index = seen[sid] = seen.get(sid, -1) + 1
            started, ended = self.moment(step.get("started_at")), self.moment(step.get("ended_at"))
            status = str(step.get("status") or "running")
            deadline = as_number(step.get("deadline_seconds"))
            recorded_end = as_number(step.get("tplus_end"))
            start_tplus = _nth(self.step_marks.get((host, sid, "step_start")), index, started.tplus)
            end_tplus = None if status == "running" else _nth(
                self.step_marks.get((host, sid, "step_end")), index, recorded_end if recorded_end is not None else ended.tplus)
            # The deadline verdict is the record's: it is what the chain acted on (escalated, reported).
            late = step.get("deadline_met") is False
            rows.append({
                "host": host, "id": sid, "title": str(step.get("title") or sid), "status": status,
                "status_mark": "LATE" if late else _status_mark(status, sid),
                "started_at": step.get("started_at"), "start_tplus": start_tplus, "start_text": _svg.clock(start_tplus),
                "ended_at": step.get("ended_at"), "end_tplus": end_tplus,
                "end_text": _svg.clock(end_tplus) if end_tplus is not None else "no end recorded",
                "deadline_seconds": deadline, "deadline_text": _svg.clock(deadline), "deadline_met": step.get("deadline_met"),
                "late": late, "running": status == "running", "open_end": last.tplus,
                "summary": _one_line(step.get("summary")), "actions": [_one_line(a) for a in step.get("actions") or []],
            })
        return rows

    def escalations(self) -> t.List[t.Dict[str, t.Any]]:
        """The records' escalations, with whom the notifier reached (from the timeline) when it recorded that."""
        timeline = [e for e in self.timeline["events"] if e.get("event") == "escalation"]
        rows = []
        for host, record in self.records.items():
            for escalation in record.get("escalations") or []:
                if not isinstance(escalation, dict):
                    continue
                moment = self.moment(escalation.get("at"))
                match = next((e for e in timeline if e.get("host") == host and e.get("level") == escalation.get("level")
                              and e.get("step") == escalation.get("step")
                              and _close(self.moment(e.get("at"), e.get("tplus")).tplus, moment.tplus)), None)
                if match is not None:
                    timeline.remove(match)
                    # The record keeps whole seconds; the notifier's event says when, to a tenth of a second.
                    moment = self.moment(match.get("at"), match.get("tplus"))
                rows.append(self._escalation(host, escalation, moment, match))
        for event in timeline:  # escalations only the notifier recorded
            rows.append(self._escalation(str(event.get("host") or "-"), event, self.moment(event.get("at"), event.get("tplus")),
                                         event))
        return rows

    def _escalation(self, host: str, escalation: t.Mapping[str, t.Any], moment: Moment,
                    notified: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
        level = str(escalation.get("level"))
        who = next((row[1] for row in _runbook.ESCALATION_LEVELS if row[0] == level), level)
        reached = [str(name) for name in (notified or {}).get("reached") or []]
        return {"host": host, "at": (notified or {}).get("at") or escalation.get("at"), "level": level, "level_title": who,
                "step": str(escalation.get("step") or "-"),
                "reason": _one_line(escalation.get("reason")), "tplus": moment.tplus, "tplus_text": _svg.clock(moment.tplus),
                "clock": _hhmmss(moment.at), "reached": reached, "notified": notified is not None}

    def timeline_events(self, steps: t.Sequence[t.Mapping[str, t.Any]],
                        escalations: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
        """Every event in T+ order: steps started and ended, escalations, notifications, and the tasks that changed
        or failed something (the timeline's other tasks are the routine of a step)."""
        events: t.List[t.Tuple[float, t.Dict[str, t.Any]]] = []

        def add(moment: Moment, kind: str, host: str, what: str, late: bool = False) -> None:
            if moment.tplus is not None:
                events.append((moment.tplus, {"tplus": moment.tplus, "tplus_text": _svg.clock(moment.tplus),
                                              "clock": _hhmmss(moment.at), "kind": kind, "host": host,
                                              "text": what, "late": late}))

        # The records say in which order things happened within a second (they keep whole seconds): a step's
        # start, its end, the escalations it raised, then the next step. The sort by T+ below is stable.
        for step in steps:
            add(self.moment(None, step["start_tplus"]), "step_start", step["host"],
                f"{step['title']} started (due by {step['deadline_text']})")
            if not step["running"]:
                verdict = f"; LATE: its deadline was {step['deadline_text']}" if step["late"] else ""
                add(self.moment(None, step["end_tplus"]), "step_end", step["host"],
                    f"{step['title']} {step['status_mark']}: {step['summary']}{verdict}", step["late"])
            for escalation in [e for e in escalations if e["host"] == step["host"] and e["step"] == step["id"]
                               and (step["running"] or _close(e["tplus"], step["end_tplus"]))]:
                escalations = [e for e in escalations if e is not escalation]
                add(self.moment(escalation["at"], escalation["tplus"]), "escalation", escalation["host"],
                    _escalation_text(escalation))
        for escalation in escalations:
            add(self.moment(escalation["at"], escalation["tplus"]), "escalation", escalation["host"],
                _escalation_text(escalation))
        for event in self.timeline["events"]:
            moment = self.moment(event.get("at"), event.get("tplus"))
            host = str(event.get("host") or "-")
            if event["event"] == "notification":
                delivered = "delivered" if event.get("delivered") is True else "NOT delivered"
                error = f": {_one_line(event.get('error'))}" if event.get("error") else ""
                add(moment, "notification", host, f"{event.get('backend')} {event.get('kind')} {delivered} "
                    f"(attempts: {event.get('attempts')}){error}", event.get("delivered") is not True)
            elif event["event"] == "task" and event.get("status") in ("failed", "unreachable"):
                add(moment, "task", host, f"task '{_one_line(event.get('task'))}' {event.get('status')}: "
                    f"{_one_line(event.get('msg'))}", True)
            elif event["event"] == "task" and event.get("changed"):
                verb = "would change" if event.get("check_mode") else "changed"
                add(moment, "task", host, f"{verb}: {_one_line(event.get('task'))} ({event.get('action')})")
        events.sort(key=lambda item: item[0])
        return [event for _tplus, event in events]

    def milestones(self, steps: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
        """The runbook template's six timeline lines, each reached when every stack reached it (the latest time)."""
        alerts = [e for e in self.timeline["events"] if e.get("event") == "notification"
                  and e.get("kind") in ("alert", "page") and e.get("delivered") is True]

        def ended(host: str, ids: t.Sequence[str], statuses: t.Sequence[str] = DONE) -> t.Optional[float]:
            ends = [s["end_tplus"] for s in steps if s["host"] == host and s["id"] in ids and s["status"] in statuses
                    and s["end_tplus"] is not None]
            return ends[-1] if ends else None

        def root_cause(host: str) -> t.Optional[float]:
            if not self.scenario(host):
                return None
            return ended(host, ("diagnose",)) if any(s["id"] == "diagnose" for s in steps if s["host"] == host) \
                else ended(host, ("assess",))

        def closed(host: str) -> t.Optional[float]:
            if self.outcome(self.records[host]) not in ("resolved", "recorded"):
                return None
            ends = [s["end_tplus"] for s in steps if s["host"] == host and s["end_tplus"] is not None]
            return max(ends) if ends else None

        def alerted(host: str) -> t.Optional[float]:
            sent = [self.moment(e.get("at"), e.get("tplus")).tplus for e in alerts if e.get("host") in (host, None)]
            sent = [s for s in sent if s is not None]
            return min(sent) if sent else ended(host, ALERT_STEPS)

        finders = (
            ("Incident detected", lambda host: 0.0),
            ("Team alerted", alerted),
            ("Root cause identified", root_cause),
            ("Fix applied", lambda host: ended(host, ("fix",), ("changed",))),
            ("Services restored", lambda host: ended(host, ("verify",), ("ok",))),
            ("Incident closed", closed),
        )
        rows = []
        for label, finder in finders:
            found = {host: finder(host) for host in self.records}
            missing = sorted(host for host, value in found.items() if value is None)
            if missing or (not found and label != "Incident detected"):
                note = f"not reached on {', '.join(missing)}" if missing else "no stack was recorded"
                rows.append({"label": label, "reached": False, "clock": "--:--", "tplus": None,
                             "tplus_text": "not reached", "note": note})
                continue
            found = found or {"-": 0.0}
            seconds = max(t.cast(float, value) for value in found.values())
            moment = self.moment(None, seconds)
            rows.append({"label": label, "reached": True, "clock": _hhmm(moment.at), "tplus": seconds,
                         "tplus_text": _svg.clock(seconds), "note": ""})
        return rows

    def impact(self) -> t.Dict[str, t.Any]:
        counted = [(host, as_mapping(self.assess_findings(host).get("users"))) for host in self.records]
        counted = [(host, users) for host, users in counted if as_number(users.get("clients_failed")) is not None]
        if not counted:
            return {"measured": False, "users_affected": None,
                    "text": "not measured: the assessment read no access logs. " + TO_BE_WRITTEN}
        affected = int(sum(as_number(users.get("clients_failed")) or 0 for _host, users in counted))
        failed = int(sum(as_number(users.get("requests_failed")) or 0 for _host, users in counted))
        total = int(sum(as_number(users.get("requests_total")) or 0 for _host, users in counted))
        window = max(as_number(users.get("window_seconds")) or 0 for _host, users in counted)
        return {"measured": True, "users_affected": affected, "requests_failed": failed, "requests_total": total,
                "text": f"{affected} users affected (clients with failed requests in the access logs over the "
                        f"{human_duration(window)} before the assessment; {failed} of {total} requests failed)"}

    def root_cause(self) -> t.Dict[str, t.Any]:
        statements, evidence = [], []
        for host in self.records:
            scenario = self.scenario(host)
            decision = as_mapping(as_mapping(self.records[host].get("decision")).get("scenario"))
            diagnose = [s for s in self.records[host].get("steps") or [] if s.get("id") == "diagnose" and s.get("summary")]
            if diagnose:
                statements.append(f"{host}: {_one_line(diagnose[-1]['summary'])}")
            elif scenario:
                statements.append(f"{host}: {_title(scenario)} ({_one_line(decision.get('reason'))})")
            elif decision.get("reason"):
                statements.append(f"{host}: no scenario role fits: {_one_line(decision.get('reason'))}")
            findings = self.assess_findings(host)
            reason = as_mapping(findings.get("severity")).get("reason")
            if reason:
                evidence.append(f"{host} severity: {_one_line(reason)}")
            ranked = [as_mapping(s) for s in findings.get("scenarios") or []]
            chosen = next((s for s in ranked if s.get("scenario") == scenario), ranked[0] if ranked else {})
            evidence += [f"{host} {chosen.get('scenario')}: {_one_line(line)}" for line in chosen.get("evidence") or []]
        scenario = self.incident_scenario()
        return {"title": _title(scenario) if scenario else "Not identified by the run",
                "scenario": scenario, "statements": statements or ["The run identified no root cause."],
                "evidence": evidence, "fence": _fence(evidence)}

    def resolution(self, steps: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[str]:
        lines = []
        changes = [e for e in self.timeline["events"] if e.get("event") == "task" and e.get("step") == "fix"
                   and e.get("changed") and e.get("status") in ("changed", "ok")]
        for host, record in self.records.items():
            contained = as_mapping(record.get("contained"))
            for action in contained.get("actions") or []:
                state = "undone after verify" if as_mapping(action).get("action") in _undone(contained) else "still in place"
                lines.append(f"{host}: contain: {as_mapping(action).get('action')} ({state}): "
                             f"{_one_line(as_mapping(action).get('reason'))}")
            for step in steps:
                if step["host"] != host or step["id"] not in ("contain", "fix", "verify", "record"):
                    continue
                if step["id"] == "contain" and contained.get("actions") and step["status"] in DONE:
                    continue
                actions = f" [{', '.join(step['actions'])}]" if step["actions"] and step["id"] == "fix" else ""
                if step["running"]:
                    lines.append(f"{host}: {step['id']}: no end recorded, the run stopped during it")
                else:
                    lines.append(f"{host}: {step['id']} {step['status_mark']}: {step['summary']}{actions}")
            lines += [f"{host}: changed by the fix: {_one_line(e.get('task'))} ({e.get('action')})"
                      for e in changes if e.get("host") == host]
        return lines or ["The run changed nothing."]

    def action_items(self, steps: t.Sequence[t.Mapping[str, t.Any]],
                     escalations: t.Sequence[t.Mapping[str, t.Any]]) -> t.List[str]:
        items = []
        for host, record in self.records.items():
            left = as_mapping(self.verify_findings(host).get("severity"))
            if left.get("level") in ("P2", "P3"):
                items.append(f"Follow up what verify left on {host} ({left.get('level')}): {_one_line(left.get('reason'))}")
            result = self.outcome(record)
            if result in ("not_resolved", "refused", "open"):
                why = record.get("stopped") or record.get("refused") or "see the timeline"
                items.append(f"Resolve the incident on {host}: {OUTCOME_WORDS[result]} ({_one_line(why)})")
            contained = as_mapping(record.get("contained"))
            left = [str(as_mapping(a).get("action")) for a in contained.get("actions") or []
                    if contained.get("applied") and as_mapping(a).get("action") not in _undone(contained)]
            if left:
                items.append(f"Undo what contain left in place on {host} once the service is verified: {', '.join(left)}")
        for step in steps:
            if step["late"]:
                items.append(f"Find out why {step['title']} on {step['host']} ended at {step['end_text']}, past its "
                             f"{step['deadline_text']} deadline")
            elif step["status"] in ("failed", "refused", "escalated"):
                items.append(f"{step['title']} on {step['host']} was {step['status']}: {step['summary']}")
        items += [f"Review the escalation to {e['level']} ({e['level_title']}) from {e['step']} on {e['host']}: {e['reason']}"
                  for e in escalations]
        items += [f"Repair the {e.get('backend')} notifier: {e.get('kind')} was not delivered on {e.get('host')} "
                  f"({_one_line(e.get('error'))})" for e in self.timeline["events"]
                  if e.get("event") == "notification" and e.get("delivered") is not True]
        return list(dict.fromkeys(items))

    def lessons(self, steps: t.Sequence[t.Mapping[str, t.Any]]) -> t.Dict[str, t.List[str]]:
        ended = [s for s in steps if not s["running"]]
        in_time = [s for s in ended if s["deadline_met"] is True]
        went_well, improve = [], []
        if ended:
            went_well.append(f"{len(in_time)} of {len(ended)} steps ended within their T+ deadline")
        went_well += [f"{s['title']} on {s['host']} ended at {s['end_text']}" for s in steps
                      if s["id"] == "verify" and s["status"] == "ok"]
        improve += [f"{s['title']} on {s['host']} was late: ended at {s['end_text']}, deadline {s['deadline_text']}"
                    for s in steps if s["late"]]
        improve += [f"{s['title']} on {s['host']} has no end recorded: the run stopped during it" for s in steps
                    if s["running"] and s["id"] != "postmortem"]
        improve += [f"{s['title']} on {s['host']} was {s['status']}" for s in steps
                    if s["status"] in ("failed", "refused", "escalated")]
        return {"went_well": went_well, "improve": improve}

    def metric(self, steps: t.Sequence[t.Mapping[str, t.Any]], end: Moment) -> t.Dict[str, t.Any]:
        scenario = self.incident_scenario()
        name = scenario if scenario in METRICS else DEFAULT_METRIC
        metric = METRICS[name]
        points, references = [], []
        for item in self.findings:
            collected = self.moment(item["findings"].get("collected_at"))
            value = metric.read(item["findings"])
            if value is None or collected.tplus is None:
                continue
            points.append({"host": item["host"], "source": item["source"], "tplus": max(collected.tplus, 0.0),
                           "tplus_text": _svg.clock(collected.tplus), "clock": _hhmmss(collected.at), "value": value,
                           "value_text": _svg.number(value)})
            references += [r for r in metric.references(item["findings"]) if r not in references]
        markers = [(s["end_tplus"], f"{s['id']} ({s['host']})" if len(self.records) > 1 else s["id"]) for s in steps
                   if s["id"] in ("fix", "verify") and s["end_tplus"] is not None]
        series: t.Dict[str, t.List[t.Tuple[float, float]]] = {}
        for point in points:
            series.setdefault(point["host"], []).append((point["tplus"], point["value"]))
        chart = _svg.metric_chart(series, title=f"{metric.label} over the incident", unit=metric.unit,
                                  references=references, markers=markers, x_max=end.tplus,
                                  empty_note=f"No {metric.label.lower()} sample in the findings of this incident.")
        return {"scenario": name, "label": metric.label, "unit": metric.unit, "points": points,
                "references": [{"label": label, "value": value, "value_text": _svg.number(value)} for label, value in references],
                "chart": Markup(chart)}  # markup: built by _svg, which escapes every text it holds

    def timeline_chart(self, steps: t.Sequence[t.Mapping[str, t.Any]],
                       escalations: t.Sequence[t.Mapping[str, t.Any]]) -> Markup:
        several = len(self.records) > 1
        rows = []
        for step in steps:
            label = f"{step['host']}: {step['title']}" if several else step["title"]
            marks = [(e["tplus"], f"escalated to {e['level']}: {e['reason']}") for e in escalations
                     if e["host"] == step["host"] and e["step"] == step["id"] and step["start_tplus"] is not None
                     and e["tplus"] is not None and e["tplus"] >= step["start_tplus"] - 1
                     and (step["end_tplus"] is None or e["tplus"] <= step["end_tplus"] + 1)]
            rows.append({"label": label, "status": step["status"], "late": step["late"], "start": step["start_tplus"],
                         "end": step["end_tplus"], "open_end": step["open_end"], "deadline": step["deadline_seconds"],
                         "escalations": marks,
                         "tooltip": f"{label}: {step['status_mark']}, {step['start_text']} to {step['end_text']}, "
                                    f"deadline {step['deadline_text']}"})
        return Markup(_svg.timeline_chart(rows, title="Steps against their T+ deadlines"))  # markup: escaped by _svg

    def context(self) -> t.Dict[str, t.Any]:
        steps = [row for host in self.records for row in self.steps(host)]
        escalations = self.escalations()
        end = self.last_moment()
        severity = self.severity()
        scenario = self.incident_scenario()
        outcomes = {host: self.outcome(record) for host, record in self.records.items()}
        root_cause = self.root_cause()
        summary = self.summary(scenario, severity, outcomes)
        duration = end.tplus or 0.0
        timeline = self.timeline
        note = ""
        if not timeline["recorded"]:
            note = (f"The timeline ({TIMELINE_FILE}) was not recorded for this incident: the events below come from the "
                    "stacks' records only (no notifications, no task results).")
        elif timeline["incomplete_last_line"] or timeline["unreadable_lines"]:
            note = (f"{TIMELINE_FILE}: " + "; ".join(part for part in (
                "its last line was cut short (the run was stopped while writing it) and is left out"
                if timeline["incomplete_last_line"] else "",
                f"{timeline['unreadable_lines']} unreadable line(s) left out" if timeline["unreadable_lines"] else "")
                if part) + ".")
        data = {
            "incident": {
                "id": self.incident.get("id"), "channel": self.incident.get("channel"),
                "date": self.start.strftime("%Y-%m-%d") if self.start else "unknown",
                "started_at": self.incident.get("started_at"), "started_clock": _hhmmss(self.start),
                "severity": severity or "none", "severity_title": _runbook.TITLES.get(severity or "", "no severity"),
                "scenario": scenario, "scenario_title": _title(scenario) if scenario else "not identified",
                "check_mode": bool(self.incident.get("check_mode")), "hosts": list(self.records),
                "outcomes": outcomes, "outcome_text": "; ".join(f"{host}: {OUTCOME_WORDS.get(o, o)}" for host, o in outcomes.items())
                or "no stack was recorded",
            },
            "duration": {"seconds": duration, "hhmm": f"{int(duration) // 3600:02d}:{int(duration) % 3600 // 60:02d}",
                         "text": human_duration(duration), "ended_clock": _hhmmss(end.at), "ended_tplus": _svg.clock(end.tplus)},
            "impact": self.impact(),
            "summary": summary,
            "milestones": self.milestones(steps),
            "timeline": self.timeline_events(steps, escalations),
            "timeline_recorded": timeline["recorded"],
            "timeline_note": note,
            "steps": steps,
            "escalations": escalations,
            "root_cause": root_cause,
            "resolution": self.resolution(steps),
            "action_items": self.action_items(steps, escalations),
            "lessons": self.lessons(steps),
            "to_be_written": TO_BE_WRITTEN,
            "generated_at": _incident.iso(self.now),
            "sources": {"records": [f"hosts/{host}.json" for host in self.records],
                        "findings": [f"{item['source']}: {item['host']}" for item in self.findings],
                        "timeline": TIMELINE_FILE if timeline["recorded"] else None,
                        "timeline_events": len(timeline["events"])},
        }
        # Host text reaches the post-mortem only after the URL credentials in it are masked (as every finding is).
        data = redact(data)
        data["metric"] = self.metric(data["steps"], end)
        data["charts"] = {"timeline": self.timeline_chart(data["steps"], data["escalations"]),
                          "metric": data["metric"]["chart"]}
        return data

    def summary(self, scenario: t.Optional[str], severity: t.Optional[str], outcomes: t.Mapping[str, str]) -> str:
        hosts = ", ".join(self.records) or "no stack"
        what = _title(scenario) if scenario else "An incident without an identified scenario"
        reasons = [_one_line(as_mapping(self.assess_findings(h).get("severity")).get("reason")) for h in self.records]
        reasons = [r for r in reasons if r]
        told = f" The assessment found: {'; '.join(reasons)}." if reasons else ""
        ends = []
        for host, result in outcomes.items():
            record = self.records[host]
            detail = record.get("stopped") or record.get("refused") or ""
            ends.append(f"{host}: {OUTCOME_WORDS.get(result, result)}" + (f" ({_one_line(detail)})" if detail else ""))
        level = f"{severity} ({_runbook.TITLES[severity]})" if severity in _runbook.TITLES else "no severity"
        return f"{what} on {hosts}, handled at {level}.{told} Outcome: {'; '.join(ends) or 'no stack was recorded'}."


def _title(scenario: t.Optional[str]) -> str:
    return _runbook.SCENARIOS.get(scenario or "") or _runbook.OTHER_FINDINGS.get(scenario or "", str(scenario))


def _status_mark(status: str, step_id: t.Any) -> str:
    if status == "running":
        return "writing this report" if step_id == "postmortem" else "no end recorded"
    return {"failed": "FAILED", "refused": "REFUSED", "escalated": "ESCALATED"}.get(status, status)


def _undone(contained: t.Mapping[str, t.Any]) -> t.List[t.Any]:
    undone = contained.get("undone")
    return list(undone) if isinstance(undone, list) else []


def _nth(values: t.Optional[t.Sequence[float]], index: int, otherwise: t.Optional[float]) -> t.Optional[float]:
    return values[index] if values and index < len(values) else otherwise


def _escalation_text(escalation: t.Mapping[str, t.Any]) -> str:
    reached = f"; reached: {', '.join(escalation['reached'])}" if escalation["reached"] else (
        "; nobody reached" if escalation["notified"] else "")
    return (f"escalated to {escalation['level']} ({escalation['level_title']}) from {escalation['step']}: "
            f"{escalation['reason']}{reached}")


def _close(first: t.Optional[float], second: t.Optional[float], seconds: float = 5.0) -> bool:
    return first is not None and second is not None and abs(first - second) <= seconds


def context(incident_folder: str, now: t.Optional[datetime.datetime] = None) -> t.Dict[str, t.Any]:
    """The values of the post-mortem templates for one incident folder. Raises Unsafe for a folder that is not one."""
    return _Builder(incident_folder, now or _incident.utc_now()).context()


def render(values: t.Mapping[str, t.Any], templates: t.Mapping[str, t.Any],
           names: t.Mapping[str, str]) -> t.Dict[str, str]:
    """{'markdown': text, 'html': text} from the two template files; names are the variables naming them (for
    errors). Raises _render.TemplateProblem naming the variable."""
    rendered = {}
    for kind in ("markdown", "html"):
        path = templates.get(kind) or DEFAULT_TEMPLATES[kind]
        source = _render.read_template(path, names[kind])
        try:
            rendered[kind] = _render.render(source, values, name=f"{names[kind]}={path!r}", html=kind == "html")
        except _render.TemplateProblem as exc:
            line = getattr(exc.__cause__, "lineno", None)
            where = f" (line {line})" if line else ""
            raise _render.TemplateProblem(" ".join(str(exc).split()) + where) from exc
    return rendered


def write_files(incident_folder: str, rendered: t.Mapping[str, str]) -> t.Dict[str, str]:
    """Write postmortem.md and postmortem.html into the incident folder (safely, atomically); returns their paths."""
    paths = {}
    for kind, name in (("markdown", MARKDOWN_FILE), ("html", HTML_FILE)):
        paths[kind] = write(incident_folder, name, rendered[kind].encode("utf-8"), os.getuid())
    return paths
