# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Incident triage filters: severity, scenario ranking, human-readable sizes and durations, SLA deadlines.

The findings document accepted by C(severity) and C(rank_scenarios) is described in
C(plugins/filter/severity.yml); every key is optional, unknown keys are ignored, and the registered
results of the collection's modules can be passed in as they are.
"""

from __future__ import annotations

import datetime
import math
import re
import typing as t
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

LEVELS = ("P0", "P1", "P2", "P3")
RESPONSE_TIMES = {"P0": "Immediate", "P1": "< 15 minutes", "P2": "< 1 hour", "P3": "Next business day"}
ACTIONS = {
    "P0": "All hands on deck, immediate escalation",
    "P1": "On-call engineer responds, team notified",
    "P2": "Normal response, fix in next release",
    "P3": "Log as bug, schedule fix",
}
SLA_DELAYS = {"P0": datetime.timedelta(0), "P1": datetime.timedelta(minutes=15), "P2": datetime.timedelta(hours=1)}
FINDINGS_KEYS = ("api", "webapp", "services", "postgres", "logs", "disk", "lag", "rpc", "deployment", "security")
SCENARIOS = (
    "disk_full",
    "external_service_failure",
    "db_connections_exhausted",
    "api_unavailable",
    "indexer_lag",
    "bad_deployment",
)
LAG_STATUSES = ("ok", "lagging", "stalled", "rpc_unreachable", "indexer_unreachable")
OK_WORDS = ("ok", "healthy", "up", "pass", "passed", "true")
NO_SPACE_WORDS = ("no space left", "enospc", "could not extend file", "disk full", "disk is full", "quota exceeded")
TOO_MANY_WORDS = ("too many clients", "too many connections", "remaining connection slots", "connection slots are reserved")

DEFAULTS: dict[str, t.Any] = {
    "critical_services": ("db", "redis", "indexer"),
    "disk_critical_percent": 95.0,
    "disk_exhausted_percent": 99.0,
    "pg_high_percent": 80.0,
    "lag_major_blocks": 100,
    "lag_major_seconds": 300.0,
    "slow_ms": 1000.0,
}


# --------------------------------------------------------------------------------------------
# helpers


def _show(value: t.Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _number(value: t.Any, what: str, filter_name: str, allow_none: bool = True) -> float | None:
    """An int or float (not a bool); numeric strings too, since Jinja2 values often are strings."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool):
        raise AnsibleFilterError(f"{filter_name}: {what} must be a number, got {_show(value)}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise AnsibleFilterError(f"{filter_name}: {what} must be a number, got {_show(value)}") from None
    else:
        raise AnsibleFilterError(f"{filter_name}: {what} must be a number, got {_show(value)}")
    if math.isnan(number):
        raise AnsibleFilterError(f"{filter_name}: {what} must be a number, got {_show(value)}")
    return number


def _section(findings: Mapping, key: str, filter_name: str) -> Mapping | None:
    value = findings.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"{filter_name}: findings.{key} must be a dict, got {_show(value)}")
    return value


def _text(value: t.Any) -> str:
    return "" if value is None else str(value)


def _contains(text: t.Any, words: t.Iterable[str]) -> bool:
    lowered = _text(text).lower()
    return any(word in lowered for word in words)


def _percent(value: float | None) -> str:
    return "?" if value is None else f"{value:g}%"


def _size(value: float | None) -> str:
    return "?" if value is None else human_size(value)


# --------------------------------------------------------------------------------------------
# the findings document, normalised once


class _Findings:
    """Reads the findings document (see severity.yml) into plain attributes; raises on bad shapes."""

    def __init__(self, findings: t.Any, filter_name: str, options: Mapping[str, t.Any]) -> None:
        self.name = filter_name
        if not isinstance(findings, Mapping):
            raise AnsibleFilterError(f"{filter_name}: the input must be a findings dict, got {_show(findings)}")
        if not any(findings.get(key) is not None for key in FINDINGS_KEYS):
            raise AnsibleFilterError(
                f"{filter_name}: the findings have none of the keys {', '.join(FINDINGS_KEYS)}: {_show(findings)}")
        self.opts = self._options(options)
        self.error_lines = 0
        self.api = self._endpoint(findings, "api")
        self.webapp = self._endpoint(findings, "webapp")
        self.services = self._services(findings)
        self.postgres = self._postgres(findings)
        self.causes = self._causes(findings)
        self.disk = self._disk(findings)
        self.lag = self._lag(findings)
        self.rpc = self._rpc(findings)
        self.changes, self.dirty = self._deployment(findings)
        security = _section(findings, "security", filter_name) or {}
        self.security: str | None = None
        if security.get("suspected"):
            self.security = _text(security.get("reason")) or "security incident suspected"

    # -- options -------------------------------------------------------------------------
    def _options(self, options: Mapping[str, t.Any]) -> dict[str, t.Any]:
        opts = dict(DEFAULTS)
        for key, value in options.items():
            if key not in DEFAULTS:
                raise AnsibleFilterError(
                    f"{self.name}: unknown option {_show(key)}; accepted options are {', '.join(sorted(DEFAULTS))}")
            if key == "critical_services":
                if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
                    raise AnsibleFilterError(f"{self.name}: critical_services must be a list of service names, got {_show(value)}")
                opts[key] = tuple(value)
            else:
                opts[key] = _number(value, key, self.name, allow_none=False)
        return opts

    # -- api / webapp --------------------------------------------------------------------
    def _endpoint(self, findings: Mapping, key: str) -> dict[str, t.Any] | None:
        doc = _section(findings, key, self.name)
        if doc is None:
            return None
        code = doc.get("status_code")
        if code is None and isinstance(doc.get("status"), (int, float)) and not isinstance(doc.get("status"), bool):
            code = doc.get("status")  # an ansible.builtin.uri result
        code_num = _number(code, f"findings.{key}.status_code", self.name)
        code_int = int(code_num) if code_num is not None and code_num > 0 else None
        body = doc.get("json") if isinstance(doc.get("json"), Mapping) else {}
        checks = doc.get("checks", body.get("checks")) or {}
        if not isinstance(checks, Mapping):
            raise AnsibleFilterError(f"{self.name}: findings.{key}.checks must be a dict, got {_show(checks)}")
        healthy = doc.get("healthy")
        if healthy is None:
            healthy = code_int is not None and 200 <= code_int < 300
        elif not isinstance(healthy, bool):
            raise AnsibleFilterError(f"{self.name}: findings.{key}.healthy must be true or false, got {_show(healthy)}")
        failing = {str(name): _text(value) for name, value in checks.items()
                   if value is not True and _text(value).strip().lower() not in OK_WORDS}
        error = doc.get("error") or (None if healthy else doc.get("msg"))
        latency = doc.get("latency_ms")
        if latency is None and doc.get("elapsed") is not None:
            elapsed = _number(doc.get("elapsed"), f"findings.{key}.elapsed", self.name)
            latency = None if elapsed is None else elapsed * 1000.0
        return {
            "healthy": healthy,
            "status_code": code_int,
            "answered": code_int is not None,
            "checks": failing,
            "error": _text(error) or None,
            "latency_ms": _number(latency, f"findings.{key}.latency_ms", self.name),
            "maintenance": bool(doc.get("maintenance")),
        }

    def describe_endpoint(self, key: str) -> str:
        doc = getattr(self, key)
        name = "API" if key == "api" else "webapp"
        if not doc["answered"]:
            return f"{name} does not answer" + (f": {doc['error']}" if doc["error"] else "")
        text = f"{name} health returned {doc['status_code']}"
        if doc["checks"]:
            text += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(doc["checks"].items())) + ")"
        elif doc["error"]:
            text += f": {doc['error']}"
        return text

    # -- services --------------------------------------------------------------------------
    def _services(self, findings: Mapping) -> dict[str, dict[str, t.Any]] | None:
        doc = _section(findings, "services", self.name)
        if doc is None:
            return None
        raw = doc.get("services") if isinstance(doc.get("services"), Mapping) else doc
        services = {}
        for name, info in raw.items():
            if not isinstance(info, Mapping):
                continue  # the other keys of a registered result: changed, running, ...
            state = _text(info.get("state")) or None
            running = info.get("running")
            if running is None:
                running = state == "running"
            services[str(name)] = {
                "running": bool(running),
                "state": state,
                "restarting": bool(info.get("restarting")) or state == "restarting",
                "exit_code": info.get("exit_code"),
                "oom_killed": bool(info.get("oom_killed")),
                "health": _text(info.get("health")) or None,
                "restart_count": int(_number(info.get("restart_count"), f"findings.services.{name}.restart_count", self.name) or 0),
            }
        # No container at all is the worst "not running": a project that is gone, or services asked for by name.
        absent = list(doc.get("missing") or [])
        if doc.get("project_found") is False:
            absent += self.opts["critical_services"]
        for name in absent:
            services.setdefault(str(name), {"running": False, "state": "missing", "restarting": False, "exit_code": None,
                                            "oom_killed": False, "health": None, "restart_count": 0})
        return services

    def describe_service(self, name: str) -> str:
        info = self.services[name]
        text = f"{name} container {info['state'] or 'not running'}"
        if info["exit_code"] not in (None, 0) and not info["running"]:
            text += f" (exit code {info['exit_code']})"
        if info["oom_killed"]:
            text += ", killed by the OOM killer"
        if info["restart_count"]:
            text += f", {info['restart_count']} restarts"
        return text

    # -- postgres ----------------------------------------------------------------------------
    def _postgres(self, findings: Mapping) -> dict[str, t.Any] | None:
        doc = _section(findings, "postgres", self.name)
        if doc is None:
            return None
        available = doc.get("is_available", doc.get("reachable"))
        error = _text(doc.get("error")) or None
        connections = doc.get("connections")
        if isinstance(connections, Mapping):
            connections = connections.get("total")
        total = _number(connections, "findings.postgres.connections", self.name)
        maximum = _number(doc.get("max_connections"), "findings.postgres.max_connections", self.name)
        use = _number(doc.get("use_percent"), "findings.postgres.use_percent", self.name)
        if use is None and total is not None and maximum:
            use = round(100.0 * total / maximum, 1)
        exhausted = doc.get("exhausted")
        if exhausted is None:
            exhausted = _contains(error, TOO_MANY_WORDS)
        waiting = doc.get("waiting_locks") or []
        idle_tx = doc.get("idle_in_transaction") or []
        return {
            "available": True if available is None else bool(available),
            "error": error,
            "exhausted": bool(exhausted),
            "connections": None if total is None else int(total),
            "max_connections": None if maximum is None else int(maximum),
            "use_percent": use,
            "waiting_locks": self._count(waiting, "findings.postgres.waiting_locks"),
            "idle_in_transaction": self._count(idle_tx, "findings.postgres.idle_in_transaction"),
        }

    def _count(self, value: t.Any, what: str) -> int:
        """A list (its length) or a number."""
        if isinstance(value, Sequence) and not isinstance(value, str):
            return len(value)
        return int(_number(value, what, self.name) or 0)

    def describe_postgres_use(self) -> str:
        pg = self.postgres
        if pg["connections"] is not None and pg["max_connections"] is not None:
            return f"{pg['connections']}/{pg['max_connections']} connections ({_percent(pg['use_percent'])})"
        return f"connection use {_percent(pg['use_percent'])}"

    # -- logs ----------------------------------------------------------------------------------
    def _causes(self, findings: Mapping) -> dict[str, dict[str, t.Any]] | None:
        doc = _section(findings, "logs", self.name)
        if doc is None:
            return None
        causes = doc.get("causes") or {}
        result: dict[str, dict[str, t.Any]] = {}
        if isinstance(causes, Mapping):
            for name, info in causes.items():
                if isinstance(info, Mapping):
                    result[str(name)] = dict(info)
                elif info:
                    count = info if isinstance(info, int) and not isinstance(info, bool) else None
                    result[str(name)] = {"count": count}
        elif isinstance(causes, Sequence) and not isinstance(causes, str):
            for item in causes:
                if isinstance(item, str):
                    result[item] = {}
                elif isinstance(item, Mapping) and (item.get("cause") or item.get("name")):
                    result[str(item.get("cause") or item.get("name"))] = dict(item)
                else:
                    raise AnsibleFilterError(f"{self.name}: findings.logs.causes items must be names or dicts with a cause, got {_show(item)}")
        else:
            raise AnsibleFilterError(f"{self.name}: findings.logs.causes must be a dict or a list, got {_show(causes)}")
        self.error_lines = int(_number(doc.get("error_count"), "findings.logs.error_count", self.name) or 0)
        return result

    def describe_cause(self, cause: str) -> str:
        info = self.causes[cause]
        text = f"logs show {cause}"
        details = []
        if info.get("count"):
            details.append(f"{info['count']} lines")
        if info.get("services"):
            details.append("in " + ", ".join(str(s) for s in info["services"]))
        if details:
            text += " (" + " ".join(details) + ")"
        if info.get("sample"):
            text += f": {_text(info['sample'])[:160]}"
        return text

    # -- disk ------------------------------------------------------------------------------------
    def _disk(self, findings: Mapping) -> list[dict[str, t.Any]] | None:
        doc = _section(findings, "disk", self.name)
        if doc is None:
            return None
        threshold = _number(doc.get("threshold_percent"), "findings.disk.threshold_percent", self.name) or 90.0
        entries = []
        paths = doc.get("paths")
        if paths is not None:
            if isinstance(paths, str) or not isinstance(paths, Sequence):
                raise AnsibleFilterError(f"{self.name}: findings.disk.paths must be a list, got {_show(paths)}")
            for item in paths:
                if not isinstance(item, Mapping):
                    raise AnsibleFilterError(f"{self.name}: findings.disk.paths items must be dicts, got {_show(item)}")
                percent = _number(item.get("percent_used"), "findings.disk.paths[].percent_used", self.name)
                inodes = _number(item.get("inodes_percent_used"), "findings.disk.paths[].inodes_percent_used", self.name)
                use = max(p for p in (percent, inodes, -1.0) if p is not None)
                over = item.get("over_threshold")
                entries.append({
                    "path": _text(item.get("path")),
                    "percent": None if use < 0 else use,
                    "free_bytes": _number(item.get("free_bytes"), "findings.disk.paths[].free_bytes", self.name),
                    "over": bool(over) if over is not None else (use >= threshold),
                })
        full = doc.get("full") or []
        if isinstance(full, str) or not isinstance(full, Sequence):
            raise AnsibleFilterError(f"{self.name}: findings.disk.full must be a list of paths, got {_show(full)}")
        known = {e["path"] for e in entries}
        for path in full:
            if _text(path) not in known:
                entries.append({"path": _text(path), "percent": None, "free_bytes": None, "over": True})
            else:
                for entry in entries:
                    if entry["path"] == _text(path):
                        entry["over"] = True
        return [e for e in entries if e["over"]]

    def disk_grade(self, entry: dict[str, t.Any]) -> int:
        """0: exhausted, 1: critical, 2: over the threshold."""
        if entry["free_bytes"] == 0 or (entry["percent"] is not None and entry["percent"] >= self.opts["disk_exhausted_percent"]):
            return 0
        if entry["percent"] is not None and entry["percent"] >= self.opts["disk_critical_percent"]:
            return 1
        return 2

    @staticmethod
    def describe_disk(entry: dict[str, t.Any]) -> str:
        if entry["percent"] is None:
            return f"{entry['path']} (use unknown)"
        text = f"{entry['path']} {_percent(entry['percent'])} used"
        if entry["free_bytes"] is not None:
            text += f" ({_size(entry['free_bytes'])} free)"
        return text

    # -- lag / rpc ---------------------------------------------------------------------------------
    def _lag(self, findings: Mapping) -> dict[str, t.Any] | None:
        doc = _section(findings, "lag", self.name)
        if doc is None:
            return None
        status = doc.get("status")
        if status is not None and status not in LAG_STATUSES:
            raise AnsibleFilterError(f"{self.name}: findings.lag.status must be one of {', '.join(LAG_STATUSES)}, got {_show(status)}")
        indexer = doc.get("indexer") if isinstance(doc.get("indexer"), Mapping) else {}
        return {
            "status": status,
            "blocks": _number(doc.get("lag_blocks"), "findings.lag.lag_blocks", self.name),
            "seconds": _number(doc.get("lag_seconds"), "findings.lag.lag_seconds", self.name),
            "rate": _number(doc.get("catch_up_blocks_per_second"), "findings.lag.catch_up_blocks_per_second", self.name),
            "eta": _number(doc.get("eta_seconds"), "findings.lag.eta_seconds", self.name),
            "paused": bool(doc.get("paused", indexer.get("paused"))),
            "maintenance": bool(doc.get("maintenance", indexer.get("maintenance"))),
            "rpc": doc.get("rpc") if isinstance(doc.get("rpc"), Mapping) else None,
        }

    def describe_lag(self) -> str:
        lag = self.lag
        text = f"indexer {lag['status']}"
        if lag["blocks"] is not None:
            text += f", {int(lag['blocks'])} blocks"
            if lag["seconds"] is not None:
                text += f" ({human_duration(lag['seconds'])})"
            text += " behind"
        if lag["rate"] is not None:
            text += f", catch-up rate {lag['rate']:g} blocks/s"
        if lag["paused"]:
            text += ", paused"
        return text

    def _rpc(self, findings: Mapping) -> dict[str, t.Any] | None:
        doc = _section(findings, "rpc", self.name)
        if doc is None and self.lag is not None:
            doc = self.lag["rpc"]
        if doc is None:
            if self.lag is not None and self.lag["status"] == "rpc_unreachable":
                return {"reachable": False, "latency_ms": None, "error": None}
            return None
        reachable = doc.get("reachable")
        return {
            "reachable": True if reachable is None else bool(reachable),
            "latency_ms": _number(doc.get("latency_ms"), "findings.rpc.latency_ms", self.name),
            "error": _text(doc.get("error")) or None,
        }

    # -- deployment ------------------------------------------------------------------------------
    def _deployment(self, findings: Mapping) -> tuple[list[Mapping], bool]:
        doc = _section(findings, "deployment", self.name)
        if doc is None:
            return [], False
        changes = doc.get("recent_changes") or []
        if isinstance(changes, str) or not isinstance(changes, Sequence) or not all(isinstance(c, Mapping) for c in changes):
            raise AnsibleFilterError(f"{self.name}: findings.deployment.recent_changes must be a list of dicts, got {_show(changes)}")
        repo = doc.get("repo") if isinstance(doc.get("repo"), Mapping) else {}
        return list(changes), bool(repo.get("dirty"))

    # -- shared judgements -----------------------------------------------------------------------
    def api_fails_on_db(self) -> bool:
        api = self.api
        return bool(api and not api["healthy"] and api["answered"] and (not api["checks"] or "db" in api["checks"]))

    def disk_explains_failures(self) -> bool:
        """A full disk is behind other failures: writes fail for lack of space, or the disk is (nearly) full
        and the database is failing."""
        grades = [self.disk_grade(e) for e in self.disk or []]
        if not grades:
            return False
        if 0 in grades or self.no_space_errors():
            return True
        database_failing = bool(self.postgres and not self.postgres["available"]) or self.api_fails_on_db() or (
            "db_unreachable" in (self.causes or {}))
        return 1 in grades and database_failing

    def api_down_only_for_chain(self) -> bool:
        """The API answers but its health fails only because of the chain (an external dependency)."""
        api = self.api
        return bool(api and not api["healthy"] and api["answered"] and api["checks"] and set(api["checks"]) <= {"chain"})

    def not_running(self, names: t.Iterable[str] | None = None) -> list[str]:
        if not self.services:
            return []
        wanted = set(names) if names is not None else set(self.services)
        return sorted(n for n, s in self.services.items() if n in wanted and (not s["running"] or s["restarting"]))

    def lag_is_major(self) -> bool:
        """Stalled, or lagging by at least lag_major_blocks or lag_major_seconds."""
        lag = self.lag
        if not lag:
            return False
        if lag["status"] == "stalled":
            return True
        return lag["status"] == "lagging" and (
            (lag["blocks"] or 0) >= self.opts["lag_major_blocks"] or (lag["seconds"] or 0) >= self.opts["lag_major_seconds"])

    def rpc_down(self) -> bool:
        return bool(self.rpc and not self.rpc["reachable"]) or bool(self.lag and self.lag["status"] == "rpc_unreachable")

    def no_space_errors(self) -> list[str]:
        found = []
        if self.causes and "disk_full" in self.causes:
            found.append(self.describe_cause("disk_full"))
        if self.postgres and _contains(self.postgres["error"], NO_SPACE_WORDS):
            found.append(f"database error: {self.postgres['error']}")
        if self.api and any(_contains(v, NO_SPACE_WORDS) for v in self.api["checks"].values()):
            found.append(self.describe_endpoint("api"))
        return found


# --------------------------------------------------------------------------------------------
# severity


def _signals(view: _Findings) -> list[tuple[int, str]]:
    """(level index, reason) of everything wrong, in a fixed order."""
    signals: list[tuple[int, str]] = []
    opts = view.opts
    critical = opts["critical_services"]

    if view.security:
        signals.append((0, f"security: {view.security}"))

    # The API: P0 when it does not serve; P1 when only its chain check fails (deposits stall).
    if view.api and not view.api["healthy"]:
        if view.api_down_only_for_chain():
            signals.append((1, f"{view.describe_endpoint('api')}: the chain RPC is unreachable, deposits are not processed"))
        else:
            signals.append((0, f"API unavailable: {view.describe_endpoint('api')}"))
    elif view.api and view.api["latency_ms"] is not None and view.api["latency_ms"] >= opts["slow_ms"]:
        signals.append((2, f"API slow: health answered in {view.api['latency_ms']:.0f} ms"))

    for name in view.not_running(critical):
        signals.append((0, f"API unavailable: {view.describe_service(name)}"))

    if view.postgres:
        pg = view.postgres
        if pg["exhausted"]:
            signals.append((0, f"database connections exhausted: {pg['error'] or view.describe_postgres_use()}"))
        elif not pg["available"]:
            signals.append((0, f"database unavailable: {pg['error'] or 'no answer'}"))
        elif pg["use_percent"] is not None and pg["use_percent"] >= opts["pg_high_percent"]:
            signals.append((2, f"database connection use high: {view.describe_postgres_use()}"))
        if not pg["exhausted"] and pg["waiting_locks"]:
            signals.append((2, f"database lock waits: {pg['waiting_locks']}"))

    for entry in view.disk or []:
        grade = view.disk_grade(entry)
        label = {0: "disk full, data loss risk", 1: "disk nearly full", 2: "disk use over the threshold"}[grade]
        signals.append((grade, f"{label}: {view.describe_disk(entry)}"))
    if view.disk and view.no_space_errors():
        signals.append((0, "writes fail for lack of space, data loss risk: " + "; ".join(view.no_space_errors())))

    # The webapp: down while the API works is a major feature broken.
    if view.webapp and not view.webapp["healthy"]:
        if view.webapp["maintenance"] or (view.lag and view.lag["maintenance"]):
            signals.append((2, "maintenance mode is on: users see the maintenance page"))
        else:
            signals.append((1, f"webapp down: {view.describe_endpoint('webapp')}"))
    for name in view.not_running(s for s in (view.services or {}) if s not in critical):
        signals.append((1, f"{view.describe_service(name)}"))

    if view.rpc_down() and not view.api_down_only_for_chain():
        error = view.rpc["error"] if view.rpc else None
        signals.append((1, "chain RPC unreachable" + (f": {error}" if error else "") + ", deposits are not processed"))
    elif view.rpc and view.rpc["latency_ms"] is not None and view.rpc["latency_ms"] >= opts["slow_ms"]:
        signals.append((2, f"chain RPC slow: {view.rpc['latency_ms']:.0f} ms"))

    if view.lag:
        if view.lag_is_major():
            signals.append((1, f"deposits delayed: {view.describe_lag()}"))
        elif view.lag["status"] == "lagging":
            signals.append((2, f"indexer behind: {view.describe_lag()}"))
        elif view.lag["status"] == "indexer_unreachable" and not (view.api and not view.api["healthy"]):
            signals.append((2, "indexer metrics unreachable"))

    for name, info in sorted((view.services or {}).items()):
        if info["running"] and not info["restarting"] and info["health"] == "unhealthy":
            signals.append((2, f"{name} container unhealthy"))

    if view.causes:
        for cause in sorted(view.causes):
            signals.append((2, view.describe_cause(cause)))
    elif view.causes is not None and view.error_lines:
        signals.append((3, f"{view.error_lines} error lines in the logs"))
    return signals


def severity(findings: t.Any, **options: t.Any) -> dict[str, t.Any]:
    """The runbook's severity level of the findings (see severity.yml)."""
    view = _Findings(findings, "severity", options)
    signals = _signals(view)
    if not signals:
        return {"level": None, "response_time": None, "reason": "all checks passed",
                "actions": "No action needed", "signals": []}
    top = min(level for level, _reason in signals)
    level = LEVELS[top]
    return {
        "level": level,
        "response_time": RESPONSE_TIMES[level],
        "reason": "; ".join(reason for lvl, reason in signals if lvl == top),
        "actions": ACTIONS[level],
        "signals": [{"level": LEVELS[lvl], "reason": reason} for lvl, reason in sorted(signals, key=lambda s: s[0])],
    }


# --------------------------------------------------------------------------------------------
# data at risk


def data_at_risk(findings: t.Any, **options: t.Any) -> dict[str, t.Any]:
    """Whether the findings put data at risk, the runbook's Step 3 question (see data_at_risk.yml)."""
    view = _Findings(findings, "data_at_risk", options)
    reasons = [f"writes fail for lack of space: {text}" for text in view.no_space_errors()]
    for entry in view.disk or []:
        if view.disk_grade(entry) <= 1:
            reasons.append(f"disk nearly full, writes will fail: {view.describe_disk(entry)}")
    if view.postgres and not view.postgres["available"] and not view.postgres["exhausted"]:
        reasons.append(f"database unavailable: {view.postgres['error'] or 'no answer'}")
    if "db" in (view.services or {}) and "db" in view.not_running(["db"]):
        reasons.append(view.describe_service("db"))
    return {"at_risk": bool(reasons), "reasons": reasons}


# --------------------------------------------------------------------------------------------
# summary

SUMMARY_SCENARIOS = 3
SUMMARY_EVIDENCE = 3


def triage_summary(findings: t.Any, document: t.Any = None) -> list[str]:
    """The ten-second summary of a judged findings document (see triage_summary.yml)."""
    if not isinstance(findings, Mapping) or not all(isinstance(findings.get(k), Mapping) for k in ("severity", "data_at_risk")):
        raise AnsibleFilterError(
            f"triage_summary: the input must be findings with severity and data_at_risk dicts, got {_show(findings)}")
    scenarios = findings.get("scenarios") or []
    if isinstance(scenarios, str) or not isinstance(scenarios, Sequence):
        raise AnsibleFilterError(f"triage_summary: findings.scenarios must be a list, got {_show(scenarios)}")
    verdict = findings["severity"]
    if verdict.get("level") is None:
        lines = ["HEALTHY: no severity, all checks passed"]
    else:
        lines = [f"{verdict['level']} (respond: {verdict['response_time']}): {verdict['reason']}"]
        lines += [f"  also {s['level']}: {s['reason']}" for s in verdict.get("signals", [])[1:] if s["level"] != verdict["level"]][:4]
    for rank, scenario in enumerate(scenarios[:SUMMARY_SCENARIOS], start=1):
        evidence = "; ".join(scenario.get("evidence", [])[:SUMMARY_EVIDENCE])
        lines.append(f"scenario {rank}: {scenario['scenario']} (score {scenario['score']}): {evidence}")
    risk = findings["data_at_risk"]
    lines.append("data at risk: " + ("YES: " + "; ".join(risk.get("reasons", [])) if risk.get("at_risk") else "no"))
    if document:
        lines.append(f"findings: {document}")
    # Error texts from hosts span lines (psycopg2's hints, tracebacks): one line per item stays readable.
    return [re.sub(r"\s*\n\s*", " ", line) for line in lines]


# --------------------------------------------------------------------------------------------
# scenario ranking


def _evidence(view: _Findings) -> dict[str, list[tuple[int, str]]]:
    """Scenario -> (weight, text) items of evidence."""
    ev: dict[str, list[tuple[int, str]]] = {name: [] for name in SCENARIOS}
    causes = view.causes or {}
    services = view.services or {}

    # api_unavailable: the API does not serve, the indexer or a dependency it needs is down.
    if view.api and not view.api["healthy"]:
        ev["api_unavailable"].append((1 if view.api_down_only_for_chain() else 3, view.describe_endpoint("api")))
    for name in view.not_running(view.opts["critical_services"]):
        ev["api_unavailable"].append((3, view.describe_service(name)))
    if view.webapp and not view.webapp["healthy"] and not view.webapp["maintenance"]:
        ev["api_unavailable"].append((1, view.describe_endpoint("webapp")))
    for cause in ("out_of_memory", "crash_on_startup", "db_unreachable"):
        if cause in causes:
            ev["api_unavailable"].append((2, view.describe_cause(cause)))
    if view.postgres and not view.postgres["available"] and not view.postgres["exhausted"]:
        ev["api_unavailable"].append((2, f"database unavailable: {view.postgres['error'] or 'no answer'}"))
    if view.lag and view.lag["status"] == "indexer_unreachable":
        ev["api_unavailable"].append((1, "indexer metrics unreachable"))

    # db_connections_exhausted
    if view.postgres:
        pg = view.postgres
        if pg["exhausted"]:
            ev["db_connections_exhausted"].append((4, f"no connection slots left: {pg['error'] or view.describe_postgres_use()}"))
        elif pg["available"] and pg["use_percent"] is not None and pg["use_percent"] >= view.opts["pg_high_percent"]:
            ev["db_connections_exhausted"].append((1, f"connection use high: {view.describe_postgres_use()}"))
        if pg["idle_in_transaction"] or pg["waiting_locks"]:
            ev["db_connections_exhausted"].append(
                (1, f"sessions idle in transaction: {pg['idle_in_transaction']}, lock waits: {pg['waiting_locks']}"))
    if view.api and _contains(view.api["checks"].get("db"), TOO_MANY_WORDS):
        ev["db_connections_exhausted"].append((2, f"API health db check: {view.api['checks']['db']}"))
    if "db_connections_exhausted" in causes:
        ev["db_connections_exhausted"].append((2, view.describe_cause("db_connections_exhausted")))

    # indexer_lag
    if view.lag and view.lag["status"] in ("stalled", "lagging"):
        ev["indexer_lag"].append((3 if view.lag_is_major() else 2, view.describe_lag()))

    # disk_full
    for entry in view.disk or []:
        ev["disk_full"].append((3 if view.disk_grade(entry) <= 1 else 2, f"{view.describe_disk(entry)}"))
    for text in view.no_space_errors():
        ev["disk_full"].append((2, text))

    # external_service_failure: the chain RPC (or another external dependency).
    if view.rpc_down():
        error = view.rpc["error"] if view.rpc else None
        ev["external_service_failure"].append((4, "chain RPC unreachable" + (f": {error}" if error else "")))
    elif view.rpc and view.rpc["latency_ms"] is not None and view.rpc["latency_ms"] >= view.opts["slow_ms"]:
        ev["external_service_failure"].append((1, f"chain RPC slow: {view.rpc['latency_ms']:.0f} ms"))
    if view.api and "chain" in view.api["checks"]:
        ev["external_service_failure"].append((2, f"API health chain check: {view.api['checks']['chain']}"))
    if "chain" in services and (not services["chain"]["running"] or services["chain"]["restarting"]):
        ev["external_service_failure"].append((2, view.describe_service("chain")))
    if "rpc_failure" in causes:
        ev["external_service_failure"].append((2, view.describe_cause("rpc_failure")))

    # bad_deployment: a recent change, with the symptoms a bad release shows.
    symptoms = ev["api_unavailable"] or ev["indexer_lag"] or any(s["restart_count"] for s in services.values())
    if view.changes and symptoms:
        shown = ", ".join(
            f"{c.get('kind', 'change')} {c.get('name', '?')}" + (f" {c['age_hours']:g}h ago" if isinstance(c.get("age_hours"), (int, float)) else "")
            for c in view.changes[:5])
        ev["bad_deployment"].append((1, f"recent changes ({len(view.changes)}): {shown}"))
        if "crash_on_startup" in causes:
            ev["bad_deployment"].append((2, view.describe_cause("crash_on_startup")))
        if view.dirty:
            ev["bad_deployment"].append((1, "uncommitted changes in the deploy directory"))
    return ev


def _explains(view: _Findings, ev: dict[str, list[tuple[int, str]]]) -> dict[str, set[str]]:
    """Cause -> the scenarios whose symptoms it explains (direct links only)."""
    links: dict[str, set[str]] = {name: set() for name in SCENARIOS}
    api = view.api
    critical_down = bool(view.not_running(view.opts["critical_services"]))
    if view.disk_explains_failures():
        # Writes fail: the database errors, the API fails its checks, the indexer stops.
        links["disk_full"] |= {"db_connections_exhausted", "api_unavailable", "indexer_lag"}
    if any(weight >= 2 for weight, _text in ev["external_service_failure"]):
        links["external_service_failure"].add("indexer_lag")
        # The API answers and fails its chain check: the RPC is the cause.
        if api and not api["healthy"] and api["answered"] and "chain" in api["checks"] and not critical_down:
            links["external_service_failure"].add("api_unavailable")
    if view.postgres and view.postgres["exhausted"]:
        links["db_connections_exhausted"].add("indexer_lag")
        # The API answers and fails its database check.
        if view.api_fails_on_db() and not critical_down:
            links["db_connections_exhausted"].add("api_unavailable")
    if view.not_running(["indexer"]) or (api and not api["healthy"] and not api["answered"]):
        links["api_unavailable"].add("indexer_lag")
    return links


def rank_scenarios(findings: t.Any, **options: t.Any) -> list[dict[str, t.Any]]:
    """The runbook scenarios that have evidence, the most likely root cause first (see rank_scenarios.yml)."""
    view = _Findings(findings, "rank_scenarios", options)
    ev = _evidence(view)
    links = _explains(view, ev)
    present = {name for name in SCENARIOS if ev[name]}
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
            "explains": sorted(effects, key=SCENARIOS.index),
        })
    ranked.sort(key=lambda r: (-r["score"], SCENARIOS.index(r["scenario"])))
    return ranked


# --------------------------------------------------------------------------------------------
# formatting


_BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def human_size(value: t.Any, precision: t.Any = 1, binary: t.Any = True) -> str:
    """Bytes -> C(1.5 GiB) (or C(1.6 GB) with O(binary=false))."""
    number = _number(value, "the input", "human_size", allow_none=False)
    if not isinstance(precision, int) or isinstance(precision, bool) or not 0 <= precision <= 6:
        raise AnsibleFilterError(f"human_size: precision must be an integer from 0 to 6, got {_show(precision)}")
    if not isinstance(binary, bool):
        raise AnsibleFilterError(f"human_size: binary must be true or false, got {_show(binary)}")
    if math.isinf(number):
        raise AnsibleFilterError(f"human_size: the input must be a finite number of bytes, got {_show(value)}")
    base, units = (1024.0, _BINARY_UNITS) if binary else (1000.0, _DECIMAL_UNITS)
    sign = "-" if number < 0 else ""
    size = abs(number)
    if size < base:
        return f"{sign}{size:.0f} B"
    index = 0
    while size >= base and index < len(units) - 1:
        size /= base
        index += 1
    # 1023.96 KiB printed with one decimal would read "1024.0 KiB": move to the next unit.
    if round(size, precision) >= base and index < len(units) - 1:
        size /= base
        index += 1
    return f"{sign}{size:.{precision}f} {units[index]}"


def human_duration(value: t.Any) -> str:
    """Seconds -> C(1h 02m 05s), C(2d 03h 00m 00s), C(45s)."""
    number = _number(value, "the input", "human_duration", allow_none=False)
    if math.isinf(number):
        raise AnsibleFilterError(f"human_duration: the input must be a finite number of seconds, got {_show(value)}")
    total = int(round(abs(number)))
    sign = "-" if number < 0 and total else ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        text = f"{days}d {hours:02d}h {minutes:02d}m {seconds:02d}s"
    elif hours:
        text = f"{hours}h {minutes:02d}m {seconds:02d}s"
    elif minutes:
        text = f"{minutes}m {seconds:02d}s"
    else:
        text = f"{seconds}s"
    return sign + text


def _parse_when(value: t.Any) -> datetime.datetime:
    if value is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, tz=datetime.timezone.utc)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise AnsibleFilterError(f"sla_deadline: since must be an ISO 8601 time or a Unix timestamp, got {_show(value)}") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    raise AnsibleFilterError(f"sla_deadline: since must be an ISO 8601 time or a Unix timestamp, got {_show(value)}")


def sla_deadline(level: t.Any, since: t.Any = None, business_day_start: t.Any = 9) -> str | None:
    """When the response is due for a severity level, as ISO 8601 (V(null) for no level)."""
    if isinstance(level, Mapping):
        level = level.get("level")
    if level is None:
        return None
    if level not in LEVELS:
        raise AnsibleFilterError(f"sla_deadline: level must be one of {', '.join(LEVELS)} or null, got {_show(level)}")
    if not isinstance(business_day_start, int) or isinstance(business_day_start, bool) or not 0 <= business_day_start <= 23:
        raise AnsibleFilterError(f"sla_deadline: business_day_start must be an hour from 0 to 23, got {_show(business_day_start)}")
    when = _parse_when(since)
    if level in SLA_DELAYS:
        deadline = when + SLA_DELAYS[level]
    else:
        day = when.date() + datetime.timedelta(days=1)
        while day.weekday() >= 5:
            day += datetime.timedelta(days=1)
        deadline = datetime.datetime.combine(day, datetime.time(business_day_start), tzinfo=when.tzinfo)
    return deadline.isoformat(timespec="seconds")


class FilterModule:
    """Incident triage filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "severity": severity,
            "rank_scenarios": rank_scenarios,
            "data_at_risk": data_at_risk,
            "triage_summary": triage_summary,
            "human_size": human_size,
            "human_duration": human_duration,
            "sla_deadline": sla_deadline,
        }
