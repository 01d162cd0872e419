# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Text a response writes from its record: the run's summary and the P2/P3 bug report.

Values that come from hosts (evidence, log lines, error messages) are inserted as data: they are put into fenced
or escaped text by Python, never rendered as a template.
"""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _runbook

STATUS_MARK = {"ok": "ok", "changed": "changed", "skipped": "skipped", "failed": "FAILED", "refused": "REFUSED",
               "escalated": "ESCALATED", "running": "running"}


def _clock(seconds: t.Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"T+{hours}h{rest // 60:02d}m" if hours else f"T+{rest // 60}m{rest % 60:02d}s"


def response_summary(record: t.Mapping[str, t.Any], incident: t.Mapping[str, t.Any]) -> list[str]:
    """Lines an on-call engineer reads at the end of a run: outcome, then each step on the T+ clock."""
    lines = [f"{incident.get('id')} {record.get('host')}: {str(record.get('outcome', 'open')).upper()}"
             f" (severity {record.get('severity') or 'none'}, channel {incident.get('channel')})"]
    if record.get("refused"):
        lines.append(f"refused: {record['refused']}")
    for step in record.get("steps", []):
        verdict = {True: "in time", False: "LATE", None: ""}[step.get("deadline_met")]
        lines.append(f"{step['id']:<12} {STATUS_MARK.get(step.get('status'), step.get('status')):<9} "
                     f"{_clock(step.get('tplus_end')):>9} / {_clock(step.get('deadline_seconds')):<9} {verdict:<7} "
                     f"{step.get('summary', '')}")
    for escalation in record.get("escalations", []):
        lines.append(f"escalated to {escalation['level']} at {escalation['at']} ({escalation['step']}): {escalation['reason']}")
    if record.get("stopped"):
        lines.append(f"destructive steps stopped: {record['stopped']}")
    return lines


def _fence(lines: t.Iterable[t.Any]) -> str:
    body = "\n".join(str(line).replace("```", "'''") for line in lines)
    return f"```text\n{body}\n```"


def bug_report(findings: t.Mapping[str, t.Any], severity: t.Any, incident_id: t.Any, host: t.Any) -> str:
    """A Markdown bug report for the tracker (P2/P3): title, severity, evidence, suggested fix."""
    ranked = [s for s in findings.get("scenarios") or [] if isinstance(s, t.Mapping)]
    top = ranked[0] if ranked else {}
    name = top.get("scenario")
    title = (_runbook.SCENARIOS.get(name) or _runbook.OTHER_FINDINGS.get(name) or "Degraded service") if name else "Degraded service"
    level = severity if severity in _runbook.LEVELS else "P3"
    # One line: a line break from a host's message would start Markdown blocks (a fence, a heading) of its own.
    reason = " ".join(str((findings.get("severity") or {}).get("reason") or "no reason recorded").split())
    evidence = [f"{s.get('scenario')}: {e}" for s in ranked for e in s.get("evidence") or []] or ["no scenario evidence"]
    fix = {
        "api_unavailable": "Restart the API service and find why it stopped (logs, OOM kills).",
        "db_connections_exhausted": "Find the connection leak of the top holder; terminate idle connections meanwhile.",
        "indexer_lag": "Check the RPC provider and the indexer's batch size; restart the indexer if it is stuck.",
        "disk_full": "Clean old logs, backups and Docker garbage; extend the volume.",
        "bad_deployment": "Roll back to the previous release and fix the release before deploying again.",
        "external_service_failure": "Contact the provider; switch to a backup provider if there is one.",
    }.get(name, "Investigate the evidence below; no scenario of the runbook matches.")
    return "\n".join([
        f"# [{level}] {title} on {host}",
        "",
        f"- **Incident**: {incident_id}",
        f"- **Severity**: {level} - {_runbook.TITLES[level]} ({_runbook.ACTIONS[level]})",
        f"- **Collected**: {findings.get('collected_at')}",
        f"- **Why this severity**: {reason}",
        "",
        "## Evidence",
        "",
        _fence(evidence),
        "",
        "## Suggested fix",
        "",
        fix,
        "",
    ])
