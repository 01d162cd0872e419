# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The triage_summary filter (see triage_summary.yml): the ten-second summary of a judged findings document."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils._runbook import HEALTH_CHECKS
from ansible_collections.usdx.incident.plugins.plugin_utils._findings import is_list, read_users
from ansible_collections.usdx.incident.plugins.plugin_utils._formatting import human_duration
from ansible_collections.usdx.incident.plugins.plugin_utils._values import show, text

SUMMARY_SCENARIOS = 3
SUMMARY_EVIDENCE = 3
SUMMARY_SIGNALS = 4
SUMMARY_PATHS = 5
# Checks without which "no data at risk" cannot be said.
DATA_CHECKS = ("disk", "postgres", "services")


def _items(value: t.Any) -> list:
    """A list from the judged document; anything else is no items (the document may have been edited by hand)."""
    return list(value) if is_list(value) else []


def _incomplete_line(entries: list[Mapping]) -> str | None:
    """C(INCOMPLETE: checks that did not run: services (reason), ...) from severity's C(incomplete) entries."""
    grouped: dict[str, list[str]] = {}
    for entry in entries:
        grouped.setdefault(text(entry.get("check")) or "?", []).append(text(entry.get("reason")))
    if not grouped:
        return None
    return "INCOMPLETE: checks that did not run: " + ", ".join(f"{check} ({'; '.join(reasons)})" for check, reasons in grouped.items())


def _window(seconds: int | None) -> str:
    if seconds is None:
        return "the window"
    if seconds and seconds % 3600 == 0:
        return f"the last {seconds // 3600}h"
    if seconds and seconds % 60 == 0:
        return f"the last {seconds // 60}m"
    return f"the last {human_duration(seconds)}"


def _users_line(section: t.Any) -> str | None:
    """How many users are affected: the C(users) section, any unknown number shown as C(?)."""
    if not isinstance(section, Mapping) or section.get("failed") is True:
        return None  # a failed users check is named by the INCOMPLETE line
    users = read_users(section, lambda _check, _reason: None)
    failed, total = users["clients_failed"], users["clients_total"]
    line = (f"users affected: {'?' if failed is None else failed} of {'?' if total is None else total} clients got errors"
            f" or no answer in {_window(users['window_seconds'])}")
    if users["failed_paths"]:
        line += " (paths: " + ", ".join(f"{path} {count}" for path, count in users["failed_paths"][:SUMMARY_PATHS]) + ")"
    return line


def triage_summary(findings: t.Any, document: t.Any = None) -> list[str]:
    """The ten-second summary: severity (or HEALTHY only when every check ran), scenarios, users, data at risk."""
    if not isinstance(findings, Mapping) or not all(isinstance(findings.get(k), Mapping) for k in ("severity", "data_at_risk")):
        raise AnsibleFilterError(
            f"triage_summary: the input must be findings with severity and data_at_risk dicts, got {show(findings)}")
    scenarios = findings.get("scenarios") or []
    if not is_list(scenarios):
        raise AnsibleFilterError(f"triage_summary: findings.scenarios must be a list, got {show(scenarios)}")
    verdict = findings["severity"]
    entries = [e for e in _items(verdict.get("incomplete")) if isinstance(e, Mapping)]
    incomplete = _incomplete_line(entries)
    if verdict.get("complete") is not True and incomplete is None:
        incomplete = "INCOMPLETE: the severity does not say that every check ran"
    signals = [s for s in _items(verdict.get("signals")) if isinstance(s, Mapping)]
    wrong = [s for s in signals if not s.get("check")]
    ran = findings.get("checks")
    not_asked = [check for check in HEALTH_CHECKS if is_list(ran) and check not in ran]
    if verdict.get("level") is None and incomplete is None and not_asked:
        # A triage narrowed to some checks says nothing of the others: no HEALTHY for the whole stack.
        lines = [f"NO FAULT FOUND in the checks run ({', '.join(text(c) for c in ran)}); "
                 f"not checked: {', '.join(not_asked)}"]
    elif verdict.get("level") is None and incomplete is None:
        lines = ["HEALTHY: no severity, all checks passed"]
    else:
        level_line = f"{verdict.get('level')} (respond: {verdict.get('response_time')}): {verdict.get('reason')}"
        lines = [level_line, incomplete] if wrong or incomplete is None else [incomplete, level_line]
        lines += [f"  also {s.get('level')}: {s.get('reason')}" for s in signals[1:]
                  if s.get("level") != verdict.get("level")][:SUMMARY_SIGNALS]
    for rank, scenario in enumerate(s for s in scenarios[:SUMMARY_SCENARIOS] if isinstance(s, Mapping)):
        evidence = "; ".join(text(e) for e in _items(scenario.get("evidence"))[:SUMMARY_EVIDENCE])
        lines.append(f"scenario {rank + 1}: {scenario.get('scenario')} (score {scenario.get('score')}): {evidence}")
    users = _users_line(findings.get("users"))
    if users:
        lines.append(users)
    risk = findings["data_at_risk"]
    unchecked = sorted({text(e.get("check")) for e in entries} & set(DATA_CHECKS))
    if risk.get("at_risk"):
        lines.append("data at risk: YES: " + "; ".join(text(r) for r in _items(risk.get("reasons"))))
    elif unchecked:
        lines.append(f"data at risk: not ruled out, not checked: {', '.join(unchecked)}")
    else:
        lines.append("data at risk: no")
    if document:
        lines.append(f"findings: {document}")
    # Error texts from hosts span lines (psycopg2's hints, tracebacks): one line per item stays readable.
    return [re.sub(r"\s*\n\s*", " ", line) for line in lines if line is not None]


class FilterModule:
    """The summary."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"triage_summary": triage_summary}
