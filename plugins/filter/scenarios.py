# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The rank_scenarios filter (see rank_scenarios.yml): the runbook scenarios with evidence, the root cause first."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _judge
from ansible_collections.usdx.incident.plugins.plugin_utils._findings import API_SERVICES, Findings

Evidence = t.Dict[str, t.List[t.Tuple[int, str]]]
# Error lines of one service, new with a change, that make them a repeated failure rather than a one-off.
REPEATED_ERRORS = 3


def _api_unavailable(view: Findings) -> list[tuple[int, str]]:
    """The API does not serve, the indexer or a dependency it needs is down."""
    ev = []
    causes = view.causes or {}
    if view.api and not view.api["healthy"]:
        ev.append((1 if _judge.api_down_only_for_chain(view) else 3, view.describe_endpoint("api")))
    ev += [(3, view.describe_service(name)) for name in _judge.not_running(view, view.opts["critical_services"])]
    if view.webapp and not view.webapp["healthy"] and not view.webapp["maintenance"]:
        ev.append((1, view.describe_endpoint("webapp")))
    ev += [(2, view.describe_cause(cause)) for cause in ("out_of_memory", "crash_on_startup", "db_unreachable") if cause in causes]
    if view.postgres and not view.postgres["available"] and not view.postgres["exhausted"]:
        ev.append((2, f"database unavailable: {view.postgres['error'] or 'no answer'}"))
    if view.lag and view.lag["status"] == "indexer_unreachable":
        ev.append((1, "indexer metrics unreachable"))
    return ev


def _db_connections_exhausted(view: Findings) -> list[tuple[int, str]]:
    ev = []
    pg = view.postgres
    if pg:
        if pg["exhausted"]:
            ev.append((4, f"no connection slots left: {pg['error'] or view.describe_postgres_use()}"))
        elif pg["available"] and pg["use_percent"] is not None and pg["use_percent"] >= view.opts["pg_high_percent"]:
            ev.append((1, f"connection use high: {view.describe_postgres_use()}"))
        if pg["idle_in_transaction"] or pg["waiting_locks"]:
            ev.append((1, f"sessions idle in transaction: {pg['idle_in_transaction']}, lock waits: {pg['waiting_locks']}"))
    if view.api and _runbook.TOO_MANY_CONNECTIONS.search(view.api["checks"].get("db", "")):
        ev.append((2, f"API health db check: {view.api['checks']['db']}"))
    if "db_connections_exhausted" in (view.causes or {}):
        # Log lines alone, while the database has slots to spare, are stale: they weigh less than what is failing now.
        ev.append((2 if _judge.database_under_pressure(view) else 1, view.describe_cause("db_connections_exhausted")))
    return ev


def _disk_full(view: Findings) -> list[tuple[int, str]]:
    ev = [(3 if view.disk_grade(entry) <= 1 else 2, _judge.describe_disk(entry)) for entry in view.disk or []]
    return ev + [(2, message) for message in _judge.no_space_errors(view)]


def _external_service_failure(view: Findings) -> list[tuple[int, str]]:
    """The chain RPC (or another external dependency)."""
    ev = []
    services = view.services or {}
    if _judge.rpc_down(view):
        error = view.rpc["error"] if view.rpc else None
        ev.append((4, "chain RPC unreachable" + (f": {error}" if error else "")))
    elif view.rpc and view.rpc["latency_ms"] is not None and view.rpc["latency_ms"] >= view.opts["slow_ms"]:
        ev.append((1, f"chain RPC slow: {view.rpc['latency_ms']:.0f} ms"))
    if view.api and "chain" in view.api["checks"]:
        ev.append((2, f"API health chain check: {view.api['checks']['chain']}"))
    if "chain" in services and (not services["chain"]["running"] or services["chain"]["restarting"]):
        ev.append((2, view.describe_service("chain")))
    if "rpc_failure" in (view.causes or {}):
        ev.append((2, view.describe_cause("rpc_failure")))
    return ev


def _bad_deployment(view: Findings, ev: Evidence) -> list[tuple[int, str]]:
    """A recent change, with the symptoms a bad release shows: the API or the indexer failing, restarts, errors a
    changed service logs only since its change (and no known cause explains), and then users getting 5xx on some
    paths. The access log's window may reach back before the change (a release rolled back since): failing users
    count only beside errors new with the change."""
    new_errors = _judge.errors_since_change(view)
    failing_paths = _judge.user_failures(view) if new_errors else []
    restarts = any(s["restart_count"] for s in (view.services or {}).values())
    symptoms = ev["api_unavailable"] or ev["indexer_lag"] or restarts or new_errors or failing_paths
    if not (view.changes and symptoms):
        return []
    shown = ", ".join(
        f"{c.get('kind', 'change')} {c.get('name', '?')}"
        + (f" {c['age_hours']:g}h ago" if isinstance(c.get("age_hours"), (int, float)) and not isinstance(c["age_hours"], bool) else "")
        for c in view.changes[:5])
    found = [(1, f"recent changes ({len(view.changes)}): {shown}")]
    # New with the change and not the effect of a known cause: the strongest sign the release itself is broken -
    # when users fail with it or it keeps failing. A one-off error (a connection reset while the database was out
    # of slots) is a sign, not proof: it must not outrank a fault measured now.
    for service, line in zip(sorted({s["service"] for s in new_errors}), _judge.describe_errors(new_errors, view.changed_at)):
        repeated = sum(s["count"] for s in new_errors if s["service"] == service) >= REPEATED_ERRORS
        found.append((3 if failing_paths or repeated else 1, line))
    if failing_paths:
        found.append((2, "users affected: " + _judge.describe_user_failures(view, failing_paths)))
    if "crash_on_startup" in (view.causes or {}):
        found.append((2, view.describe_cause("crash_on_startup")))
    if view.dirty:
        found.append((1, "uncommitted changes in the deploy directory"))
    return found


def evidence_of(view: Findings) -> Evidence:
    """Scenario -> (weight, text) items of evidence."""
    ev: Evidence = {
        "api_unavailable": _api_unavailable(view),
        "db_connections_exhausted": _db_connections_exhausted(view),
        "indexer_lag": [(3 if _judge.lag_is_major(view) else 2, _judge.describe_lag(view))]
        if view.lag and view.lag["status"] in ("stalled", "lagging") else [],
        "disk_full": _disk_full(view),
        "external_service_failure": _external_service_failure(view),
        # One weight per check: what could not be looked at is evidence of nothing but itself.
        "triage_incomplete": [(1, f"{check}: {reasons}") for check, reasons in _judge.describe_incomplete(view).items()],
    }
    ev["bad_deployment"] = _bad_deployment(view, ev)
    return ev


def links_of(view: Findings, ev: Evidence) -> dict[str, set[str]]:
    """Cause -> the scenarios whose symptoms it explains (direct links only): causes outrank their effects."""
    links: dict[str, set[str]] = {name: set() for name in _runbook.RANK_ORDER}
    api = view.api
    down = _judge.not_running(view, view.opts["critical_services"])
    if _judge.disk_explains_failures(view):
        # Writes fail: the database errors, the API fails its checks, the indexer stops.
        links["disk_full"] |= {"db_connections_exhausted", "api_unavailable", "indexer_lag"}
    if any(weight >= 2 for weight, _text in ev["external_service_failure"]):
        links["external_service_failure"].add("indexer_lag")
        # The API answers and fails its chain check: the RPC is the cause.
        if api and not api["healthy"] and api["answered"] and "chain" in api["checks"] and not down:
            links["external_service_failure"].add("api_unavailable")
    if view.postgres and view.postgres["exhausted"]:
        links["db_connections_exhausted"].add("indexer_lag")
    if ev["db_connections_exhausted"]:
        # The API fails on the database, or its own errors name the exhaustion: then even the API's own container
        # having crashed (from it) is an effect. A crashed db or redis is not.
        answered_on_db = view.postgres and view.postgres["exhausted"] and _judge.api_fails_on_db(view) and not down
        crashed_from_it = (_judge.api_reports_exhaustion(view) and set(down) <= set(API_SERVICES)
                           and _judge.database_under_pressure(view))
        if answered_on_db or crashed_from_it:
            links["db_connections_exhausted"].add("api_unavailable")
    if _judge.not_running(view, API_SERVICES) or (api and not api["healthy"] and not api["answered"]):
        links["api_unavailable"].add("indexer_lag")
    return links


def rank_scenarios(findings: t.Any, **options: t.Any) -> list[dict[str, t.Any]]:
    """The runbook scenarios that have evidence, the most likely root cause first (see rank_scenarios.yml)."""
    view = Findings(findings, "rank_scenarios", options)
    ev = evidence_of(view)
    links = links_of(view, ev)
    present = {name for name in _runbook.RANK_ORDER if ev[name]}
    own = {name: sum(weight for weight, _text in ev[name]) for name in present}

    def explained(name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for effect in links[todo.pop()]:
                if effect in present and effect not in seen and effect != name:
                    seen.add(effect)
                    todo.append(effect)
        return seen

    ranked = []
    for name in present:
        effects = explained(name)
        ranked.append({
            "scenario": name,
            "score": own[name] + sum(own[e] for e in effects),
            "evidence": [text for _w, text in ev[name]],
            "explains": sorted(effects, key=_runbook.RANK_ORDER.index),
        })
    ranked.sort(key=lambda r: (-r["score"], _runbook.RANK_ORDER.index(r["scenario"])))
    return ranked


class FilterModule:
    """Scenario ranking."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"rank_scenarios": rank_scenarios}
