# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Judgements shared by the severity, scenario and data-at-risk filters, over a normalised Findings."""

from __future__ import annotations

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
