# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The severity filter (see severity.yml): the runbook's severity level of a findings document."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _judge
from ansible_collections.usdx.incident.plugins.plugin_utils._findings import Findings

# Indexes into _runbook.LEVELS.
P0 = _runbook.LEVELS.index("P0")
P1 = _runbook.LEVELS.index("P1")
P2 = _runbook.LEVELS.index("P2")
P3 = _runbook.LEVELS.index("P3")
DISK_LABELS = {0: "disk full, data loss risk", 1: "disk nearly full", 2: "disk use over the threshold"}


def _incomplete_signals(view: Findings) -> list[tuple[int, str, str]]:
    """A check that did not run hides what it covers: P1 when that is a critical service, else P2 (never healthy)."""
    critical = set(view.opts["critical_services"])
    return [(P1 if critical & set(_runbook.CHECK_COVERS.get(check, ())) else P2, f"check {check} incomplete: {reasons}", check)
            for check, reasons in _judge.describe_incomplete(view).items()]


def _service_signals(view: Findings, critical: bool) -> list[tuple[int, str]]:
    """Containers not running: a critical one is the API unavailable (P0), any other a major feature broken (P1)."""
    names = [s for s in view.services or {} if (s in view.opts["critical_services"]) is critical]
    if critical:
        return [(P0, f"API unavailable: {view.describe_service(name)}") for name in _judge.not_running(view, names)]
    return [(P1, view.describe_service(name)) for name in _judge.not_running(view, names)]


def _api_signals(view: Findings) -> list[tuple[int, str]]:
    """The API: P0 when it does not serve; P1 when only its chain check fails (deposits stall)."""
    api = view.api
    if api and not api["healthy"]:
        if _judge.api_down_only_for_chain(view):
            return [(P1, f"{view.describe_endpoint('api')}: the chain RPC is unreachable, deposits are not processed")]
        return [(P0, f"API unavailable: {view.describe_endpoint('api')}")]
    if api and api["latency_ms"] is not None and api["latency_ms"] >= view.opts["slow_ms"]:
        return [(P2, f"API slow: health answered in {api['latency_ms']:.0f} ms")]
    return []


def _webapp_signals(view: Findings) -> list[tuple[int, str]]:
    """The webapp down while the API works is a major feature broken; its maintenance page is not."""
    webapp = view.webapp
    if not webapp or webapp["healthy"]:
        return []
    if webapp["maintenance"] or (view.lag and view.lag["maintenance"]):
        return [(P2, "maintenance mode is on: users see the maintenance page")]
    return [(P1, f"webapp down: {view.describe_endpoint('webapp')}")]


def _user_signals(view: Findings) -> list[tuple[int, str]]:
    """Users get a 5xx on some paths while /health answers 200, and the services serving them log errors of their
    own: a major feature broken (P1). The access log alone judges nothing: the logs must show the failure too."""
    paths = _judge.user_failures(view)
    errors = _judge.own_errors(view, _runbook.CHECK_COVERS["users"])
    if not (paths and errors):
        return []
    return [(P1, f"major feature broken: {_judge.describe_user_failures(view, paths)}; " + "; ".join(_judge.describe_errors(errors)))]


def _data_signals(view: Findings) -> list[tuple[int, str]]:
    """The database and the disks."""
    signals = []
    pg = view.postgres
    if pg:
        if pg["exhausted"]:
            signals.append((P0, f"database connections exhausted: {pg['error'] or view.describe_postgres_use()}"))
        elif not pg["available"]:
            signals.append((P0, f"database unavailable: {pg['error'] or 'no answer'}"))
        elif pg["use_percent"] is not None and pg["use_percent"] >= view.opts["pg_high_percent"]:
            signals.append((P2, f"database connection use high: {view.describe_postgres_use()}"))
        if not pg["exhausted"] and pg["waiting_locks"]:
            signals.append((P2, f"database lock waits: {pg['waiting_locks']}"))
    for entry in view.disk or []:
        grade = view.disk_grade(entry)
        signals.append((grade, f"{DISK_LABELS[grade]}: {_judge.describe_disk(entry)}"))
    if view.disk and _judge.no_space_errors(view):
        signals.append((P0, "writes fail for lack of space, data loss risk: " + "; ".join(_judge.no_space_errors(view))))
    return signals


def _chain_signals(view: Findings) -> list[tuple[int, str]]:
    """The chain RPC and the indexer's lag behind it."""
    signals = []
    if _judge.rpc_down(view) and not _judge.api_down_only_for_chain(view):
        error = view.rpc["error"] if view.rpc else None
        signals.append((P1, "chain RPC unreachable" + (f": {error}" if error else "") + ", deposits are not processed"))
    elif view.rpc and view.rpc["latency_ms"] is not None and view.rpc["latency_ms"] >= view.opts["slow_ms"]:
        signals.append((P2, f"chain RPC slow: {view.rpc['latency_ms']:.0f} ms"))
    if view.lag:
        if _judge.lag_is_major(view):
            signals.append((P1, f"deposits delayed: {_judge.describe_lag(view)}"))
        elif view.lag["status"] == "lagging":
            signals.append((P2, f"indexer behind: {_judge.describe_lag(view)}"))
        elif view.lag["status"] == "indexer_unreachable" and not (view.api and not view.api["healthy"]):
            signals.append((P2, "indexer metrics unreachable"))
    return signals


def _log_signals(view: Findings) -> list[tuple[int, str]]:
    signals = [(P2, f"{name} container unhealthy") for name, info in sorted((view.services or {}).items())
               if info["running"] and not info["restarting"] and info["health"] == "unhealthy"]
    if view.causes:
        signals += [(P2, view.describe_cause(cause)) for cause in sorted(view.causes)]
    elif view.causes is not None and view.error_lines:
        signals.append((P3, f"{view.error_lines} error lines in the logs"))
    return signals


def signals_of(view: Findings) -> list[tuple[int, str, str | None]]:
    """(level index, reason, the incomplete check or None) of everything wrong, in a fixed order."""
    found = [(P0, f"security: {view.security}")] if view.security else []
    found += _api_signals(view) + _service_signals(view, critical=True) + _data_signals(view)
    found += _webapp_signals(view) + _user_signals(view) + _service_signals(view, critical=False) + _chain_signals(view)
    found += _log_signals(view)
    return [(level, reason, None) for level, reason in found] + _incomplete_signals(view)


def severity(findings: t.Any, **options: t.Any) -> dict[str, t.Any]:
    """The runbook's severity level of the findings (see severity.yml)."""
    view = Findings(findings, "severity", options)
    signals = signals_of(view)
    verdict: dict[str, t.Any] = {"level": None, "response_time": None, "reason": "all checks passed",
                                 "actions": "No action needed", "signals": []}
    if signals:
        top = min(level for level, _reason, _check in signals)
        level = _runbook.LEVELS[top]
        verdict.update(
            level=level,
            response_time=_runbook.RESPONSE_TIMES[level],
            reason="; ".join(reason for lvl, reason, _check in signals if lvl == top),
            actions=_runbook.ACTIONS[level],
            signals=[dict({"level": _runbook.LEVELS[lvl], "reason": reason}, **({"check": check} if check else {}))
                     for lvl, reason, check in sorted(signals, key=lambda s: s[0])],
        )
    verdict.update(complete=not view.incomplete, incomplete=list(view.incomplete))
    return verdict


class FilterModule:
    """Severity."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"severity": severity}
