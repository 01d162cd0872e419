# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The report filters (response_summary.yml, bug_report.yml, tplus_time.yml): text a response writes."""

from __future__ import annotations

import datetime
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.plugin_utils import _report
from ansible_collections.usdx.incident.plugins.plugin_utils._incident import iso, parse_iso
from ansible_collections.usdx.incident.plugins.plugin_utils._values import show


def _mapping(name: str, value: t.Any) -> Mapping:
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"{name}: expected a mapping, got {show(value)}")
    return value


def response_summary(record: t.Any, incident: t.Any) -> list[str]:
    """The end-of-run lines of one stack's response."""
    return _report.response_summary(_mapping("response_summary", record), _mapping("response_summary incident", incident))


def bug_report(findings: t.Any, severity: t.Any, incident_id: t.Any, host: t.Any) -> str:
    """A Markdown bug report from triage findings (P2/P3)."""
    return _report.bug_report(_mapping("bug_report", findings), severity, incident_id, host)


def tplus_time(started_at: t.Any, seconds: t.Any) -> str:
    """The UTC time of T+seconds for an incident that started at started_at (ISO 8601, as the record writes it)."""
    start = parse_iso(started_at)
    if start is None or not isinstance(seconds, int) or isinstance(seconds, bool):
        raise AnsibleFilterError(f"tplus_time: expected a start like 2026-11-28T03:00:00Z and whole seconds, got {show(started_at)} and {show(seconds)}")
    return iso(start + datetime.timedelta(seconds=seconds))


class FilterModule:
    """Response reports."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"response_summary": response_summary, "bug_report": bug_report,
                "tplus_time": tplus_time}
