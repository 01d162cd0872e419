# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Text for people: T+ times, step lines and the summary table of an incident (used live and by `show`).

Colour only on a terminal and never with NO_COLOR set (https://no-color.org); the words carry the meaning, colour
only repeats it.
"""

from __future__ import annotations

import os
import typing as t

COLOURS = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}
STATUS_COLOURS = {"ok": "green", "changed": "green", "skipped": "dim", "failed": "red", "refused": "yellow",
                  "escalated": "yellow", "resolved": "green", "recorded": "green", "not_resolved": "red",
                  "open": "yellow", "healthy": "green", "dry_run": "green"}


def use_colour(stream: t.Any, environ: t.Optional[t.Mapping[str, str]] = None) -> bool:
    environ = os.environ if environ is None else environ
    # no-color.org: NO_COLOR set to anything but the empty string turns colour off.
    return bool(getattr(stream, "isatty", lambda: False)()) and not environ.get("NO_COLOR") and environ.get("TERM") != "dumb"


class Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, name: t.Optional[str]) -> str:
        if not self.colour or name not in COLOURS:
            return text
        return f"\x1b[{COLOURS[name]}m{text}\x1b[0m"

    def status(self, status: t.Any) -> str:
        text = str(status)
        return self(text, STATUS_COLOURS.get(text))


def clock(seconds: t.Any) -> str:
    """Seconds since the incident began as the runbook's T+ clock: 4:05, 1:02:03; '-' when unknown."""
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool):
        return "-"
    whole = int(seconds)
    sign = "-" if whole < 0 else ""
    hours, rest = divmod(abs(whole), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def deadline_verdict(entry: t.Mapping[str, t.Any]) -> str:
    met = entry.get("deadline_met")
    return "met" if met is True else "missed" if met is False else "-"


def step_line(host: str, entry: t.Optional[t.Mapping[str, t.Any]], paint: Painter) -> str:
    """One stack's result of one step: status, T+ end against the deadline, and the step's own summary."""
    if entry is None:
        return f"  {host}: {paint('no record', 'red')} (the playbook wrote nothing for this step)"
    verdict = deadline_verdict(entry)
    timing = f"T+{clock(entry.get('tplus_end'))} (deadline T+{clock(entry.get('deadline_seconds'))} " \
             f"{paint(verdict, 'red' if verdict == 'missed' else None)})"
    summary = str(entry.get("summary") or "")
    gate = f" - needs approval: {entry['needs_approval']}" if entry.get("needs_approval") else ""
    return f"  {host}: {paint.status(entry.get('status'))} at {timing}{' - ' + summary if summary else ''}{gate}"


def table(rows: t.Sequence[t.Sequence[str]], widths_of: t.Sequence[t.Sequence[str]]) -> list[str]:
    """Left-aligned columns; widths from widths_of (the uncoloured text), so escape codes do not skew them."""
    widths = [max(len(row[i]) for row in widths_of) for i in range(len(widths_of[0]))]
    return ["  ".join(cell + " " * (widths[i] - len(plain[i])) for i, cell in enumerate(row)).rstrip()
            for row, plain in zip(rows, widths_of)]


def incident_summary(document: t.Mapping[str, t.Any], paint: Painter) -> list[str]:
    """read_incident()'s {'incident', 'hosts'} as lines: the incident, then each stack's steps and outcome."""
    incident = document.get("incident") or {}
    lines = [paint(str(incident.get("id", "?")), "bold") + "  " + "  ".join(
        str(part) for part in (incident.get("severity"), incident.get("channel"), f"started {incident.get('started_at')}",
                               "check mode" if incident.get("check_mode") else None) if part)]
    if incident.get("scenario") or incident.get("fix_option"):
        lines.append(f"requested: scenario {incident.get('scenario')}, fix option {incident.get('fix_option')}")
    header = ["host", "step", "status", "T+ end", "deadline", "verdict", "summary"]
    for host, record in (document.get("hosts") or {}).items():
        record = record or {}
        plain = [header]
        rows = [[paint(cell, "bold") for cell in header]]
        for entry in record.get("steps") or []:
            cells = [host, str(entry.get("id")), str(entry.get("status")), "T+" + clock(entry.get("tplus_end")),
                     "T+" + clock(entry.get("deadline_seconds")), deadline_verdict(entry),
                     str(entry.get("summary") or "") + (f" (needs approval: {entry['needs_approval']})"
                                                        if entry.get("needs_approval") else "")]
            plain.append(cells)
            verdict_colour = "red" if cells[5] == "missed" else None
            rows.append(cells[:2] + [paint.status(cells[2])] + cells[3:5] + [paint(cells[5], verdict_colour), cells[6]])
        lines.append("")
        lines.extend(table(rows, plain))
        for escalation in record.get("escalations") or []:
            lines.append(f"  escalated to {escalation.get('level')} at {escalation.get('at')}: {escalation.get('reason')}")
        if record.get("stopped"):
            lines.append(f"  stopped: {record['stopped']}")
        choices = (("scenario", _name(record.get("scenario"), "scenario")),
                   ("fix option", _name(record.get("fix_option"), "option")))
        chosen = [f"{label} {name}" for label, name in choices if name]
        lines.append(f"  {host}: outcome {paint.status(record.get('outcome', 'open'))}"
                     + "".join(f", {part}" for part in chosen))
    return lines


def _name(value: t.Any, key: str) -> t.Optional[str]:
    """A choice recorded either as its name or as a mapping with the name under key (and its reason)."""
    if isinstance(value, t.Mapping):
        value = value.get(key)
    return None if value is None else str(value)


def stack_rows(document: t.Mapping[str, t.Any], dropped: t.Optional[t.Mapping[str, str]] = None) -> list[dict[str, t.Any]]:
    """One summary row per stack of read_incident()'s {'incident', 'hosts'}: severity (None: healthy or not yet
    assessed), scenario (the one fixed, else the one diagnosed, else the one given; none for a stack found healthy,
    whose triage may still rank a scenario on weak evidence), outcome, the steps run (each once, in order), the T+
    second the last one ended, and why the chain went on without it (dropped)."""
    incident = document.get("incident") or {}
    given = incident.get("scenario") if incident.get("scenario") not in (None, "auto") else None
    rows = []
    for host, record in (document.get("hosts") or {}).items():
        record = record or {}
        decision = record.get("decision") if isinstance(record.get("decision"), t.Mapping) else {}
        steps = [entry for entry in record.get("steps") or [] if isinstance(entry, t.Mapping)]
        ends = [entry.get("tplus_end") for entry in steps if isinstance(entry.get("tplus_end"), (int, float))]
        severity = record.get("severity")
        rows.append({
            "host": host,
            "severity": severity if isinstance(severity, str) and severity != "auto" else None,
            "scenario": None if record.get("outcome") == "healthy" else (
                _name(record.get("scenario"), "scenario") or _name(decision.get("scenario"), "scenario") or given),
            "outcome": record.get("outcome"),
            "steps": list(dict.fromkeys(str(entry.get("id")) for entry in steps)),
            "tplus_end": max(ends) if ends else None,
            "dropped": (dropped or {}).get(host),
        })
    return rows


def stacks_table(rows: t.Sequence[t.Mapping[str, t.Any]], paint: Painter) -> list[str]:
    """stack_rows() as a table, one line per stack (a dropped stack's outcome says so; the reason is printed apart)."""
    header = ["host", "severity", "scenario", "outcome", "steps run", "last step T+"]
    plain, coloured = [header], [[paint(cell, "bold") for cell in header]]
    for row in rows:
        state = str(row.get("outcome") or "open")
        cells = [str(row["host"]), str(row.get("severity") or "-"), str(row.get("scenario") or "-"),
                 state + (" (dropped)" if row.get("dropped") else ""), str(len(row.get("steps") or [])),
                 "T+" + clock(row.get("tplus_end")) if row.get("tplus_end") is not None else "-"]
        plain.append(cells)
        coloured.append(cells[:3] + [paint(cells[3], "red") if row.get("dropped") else paint.status(state)] + cells[4:])
    return table(coloured, plain)
