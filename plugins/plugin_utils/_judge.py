# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Judgements shared by the severity, scenario and data-at-risk filters, over a normalised Findings."""

from __future__ import annotations

import re
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils._findings import API_SERVICES, Findings, percent
from ansible_collections.usdx.incident.plugins.plugin_utils._formatting import human_duration, human_size


def not_running(view: Findings, names: t.Iterable[str] | None = None) -> list[str]:
    if not view.services:
        return []
    wanted = set(names) if names is not None else set(view.services)
    return sorted(n for n, s in view.services.items() if n in wanted and (not s["running"] or s["restarting"]))


def api_fails_on_db(view: Findings) -> bool:
    """The API answers and fails its database check (or names no check at all)."""
    api = view.api
    return bool(api and not api["healthy"] and api["answered"] and (not api["checks"] or "db" in api["checks"]))


def api_reports_exhaustion(view: Findings) -> bool:
    """The API's own errors say the database has no connection slot left: its health db check, or its logs."""
    api_says = bool(view.api and _runbook.TOO_MANY_CONNECTIONS.search(view.api["checks"].get("db", "")))
    cause = (view.causes or {}).get("db_connections_exhausted")
    logs_say = bool(cause and set(cause["services"]) & set(API_SERVICES))
    return api_says or logs_say


def database_under_pressure(view: Findings) -> bool:
    """Whether the database now is short of connections, or cannot be said not to be (no postgres check).

    Log lines naming the exhaustion may be minutes old: they explain a crashed API only while the database still
    is out of slots, refuses them, or is near the server's or a role's limit.
    """
    pg = view.postgres
    if pg is None:
        return True
    uses = [u for u in (pg["use_percent"], pg["role_use_percent"]) if u is not None]
    return pg["exhausted"] or not pg["available"] or any(u >= view.opts["pg_high_percent"] for u in uses)


def api_down_only_for_chain(view: Findings) -> bool:
    """The API answers but its health fails only because of the chain (an external dependency)."""
    api = view.api
    return bool(api and not api["healthy"] and api["answered"] and api["checks"] and set(api["checks"]) <= {"chain"})


def no_space_errors(view: Findings) -> list[str]:
    found = []
    if view.causes and "disk_full" in view.causes:
        found.append(view.describe_cause("disk_full"))
    if view.postgres and _runbook.NO_SPACE.search(view.postgres["error"] or ""):
        found.append(f"database error: {view.postgres['error']}")
    if view.api and any(_runbook.NO_SPACE.search(v) for v in view.api["checks"].values()):
        found.append(view.describe_endpoint("api"))
    return found


def disk_explains_failures(view: Findings) -> bool:
    """A full disk is behind other failures: writes fail for lack of space, or the disk is (nearly) full and the
    database is failing."""
    grades = [view.disk_grade(e) for e in view.disk or []]
    if not grades:
        return False
    if 0 in grades or no_space_errors(view):
        return True
    database_failing = bool(view.postgres and not view.postgres["available"]) or api_fails_on_db(view) or (
        "db_unreachable" in (view.causes or {}))
    return 1 in grades and database_failing


def lag_is_major(view: Findings) -> bool:
    """Stalled; or lagging by at least lag_major_blocks or lag_major_seconds, or falling further behind (a negative
    catch-up rate: the lag only grows, so deposits wait indefinitely)."""
    lag = view.lag
    if not lag:
        return False
    if lag["status"] == "stalled":
        return True
    return lag["status"] == "lagging" and (
        (lag["blocks"] or 0) >= view.opts["lag_major_blocks"] or (lag["seconds"] or 0) >= view.opts["lag_major_seconds"]
        or (lag["rate"] is not None and lag["rate"] < 0))


def rpc_down(view: Findings) -> bool:
    return bool(view.rpc and not view.rpc["reachable"]) or bool(view.lag and view.lag["status"] == "rpc_unreachable")


# Paths that probes ask, not users: their failures are the health check's (the api check judges it), no feature's.
PROBE_PATH = re.compile(r"/(?:health|healthz|livez?|readyz?|ping|metrics)/?$", re.IGNORECASE)


def user_failures(view: Findings) -> list[tuple[str, int]]:
    """(path, failing clients) of the paths users got a 5xx on while /health answers 200: a feature broken,
    not the API down (an API that is down is judged by the api check, and every path fails with it)."""
    users, api = view.users, view.api
    if not users or not users["clients_failed"] or not (api and api["healthy"]):
        return []
    return [(path, clients) for path, clients in users["failed_paths"] if clients and not PROBE_PATH.search(path.split("?")[0])]


# A session ended by an operator (or by this collection's own remediation: pg_terminate_backend, pg_cancel_backend) is
# logged at FATAL or ERROR by PostgreSQL: an action taken on the service, not a failure of it.
OPERATOR_ACTIONS = re.compile(r"terminating connection due to administrator command|canceling statement due to user request",
                              re.IGNORECASE)


def own_errors(view: Findings, services: t.Iterable[str] | None = None) -> list[dict[str, t.Any]]:
    """Error signatures in the logs (of C(services), default all) that no known cause explains: the service's own
    failures, not the database's, the disk's or the chain's showing through it, nor an operator's action on it."""
    wanted = None if services is None else set(services)
    return [s for s in view.signatures if not s["causes"] and (wanted is None or s["service"] in wanted)
            and not OPERATOR_ACTIONS.search(str(s["signature"]))]


def errors_since_change(view: Findings) -> list[dict[str, t.Any]]:
    """A service's own error signatures first seen at or after its recent change, when no other service changed in
    between and none other is down, and still seen after the newest change of any service: new with that change.
    The same error echoed by a service changed earlier (the database logging the new release's bad query, the webapp
    its failed proxying) is the later change's, not another suspect."""
    found = []
    down = set(not_running(view))
    latest_change = max(view.changed_at.values(), default=None)
    for signature in own_errors(view):
        if down - {signature["service"]}:
            continue  # another service is down: the errors may well be its effect (api_unavailable judges that)
        last = signature.get("last_seen")
        if latest_change is not None and last is not None and last < latest_change:
            continue  # not seen again since the newest change (a rollback, say): what it showed is gone
        seen = signature["first_seen"]
        before = [moment for moment in view.changed_at.values() if seen is not None and moment <= seen]
        if before and view.changed_at.get(signature["service"]) == max(before):
            found.append(signature)
    return found


def describe_user_failures(view: Findings, paths: list[tuple[str, int]]) -> str:
    users = view.users
    total = "?" if users["clients_total"] is None else users["clients_total"]
    return (f"{users['clients_failed']} of {total} clients got 5xx on "
            + ", ".join(f"{path} ({clients} clients)" for path, clients in paths[:5]) + " while /health answers 200")


def describe_errors(signatures: list[dict[str, t.Any]], since: t.Mapping[str, t.Any] | None = None) -> list[str]:
    """One line per service: its error signatures, the most frequent first (and since when, given C(since))."""
    lines = []
    for service in sorted({s["service"] for s in signatures}):
        own = sorted((s for s in signatures if s["service"] == service), key=lambda s: -s["count"])
        head = f"{service} logs {len(own)} new error signature(s) since its change at {since[service]:%Y-%m-%dT%H:%M:%SZ}" \
            if since else f"{service} logs {len(own)} error signature(s)"
        lines.append(head + ": " + "; ".join(f"{s['signature'][:160]} ({s['count']} lines)" for s in own[:3]))
    return lines


def describe_disk(entry: dict[str, t.Any]) -> str:
    if entry["percent"] is None:
        return f"{entry['path']} (use unknown)"
    description = f"{entry['path']} {percent(entry['percent'])} used"
    if entry["free_bytes"] is not None:
        description += f" ({human_size(entry['free_bytes'])} free)"
    return description


def describe_lag(view: Findings) -> str:
    lag = view.lag
    description = f"indexer {lag['status']}"
    if lag["blocks"] is not None:
        description += f", {int(lag['blocks'])} blocks"
        if lag["seconds"] is not None:
            description += f" ({human_duration(lag['seconds'])})"
        description += " behind"
    if lag["rate"] is not None:
        description += f", catch-up rate {lag['rate']:g} blocks/s"
    if lag["paused"]:
        description += ", paused"
    return description


def describe_incomplete(view: Findings) -> dict[str, str]:
    """Check -> its reasons joined, in the order found."""
    grouped: dict[str, list[str]] = {}
    for entry in view.incomplete:
        grouped.setdefault(entry["check"], []).append(entry["reason"])
    return {check: "; ".join(reasons) for check, reasons in grouped.items()}
