# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The findings document (see plugins/filter/severity.yml), read once into plain attributes for the filters.

The sections come from hosts, so their contents are data of any shape: an unreadable field is unknown and is
reported as a reason the check is incomplete, never an exception. Only an input that is not a findings document
at all, or a bad option (the user's own input), raises AnsibleFilterError. A check that failed, timed out,
returned C(partial) reasons, or was asked for (C(checks)) and left no result makes the findings incomplete.
"""

from __future__ import annotations

import datetime
import re
import typing as t
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils import _logscan, _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils._values import as_number, number, show, text

# The sections a findings document may carry; at least one of them (or C(checks)) must be there.
FINDINGS_KEYS = ("api", "webapp", "services", "postgres", "logs", "disk", "lag", "rpc", "deployment", "security", "users",
                 "checks")
SECTIONS = tuple(key for key in FINDINGS_KEYS if key != "checks")

DEFAULTS: dict[str, t.Any] = {
    "critical_services": _runbook.CRITICAL_SERVICES,
    "disk_critical_percent": 95.0,
    "disk_exhausted_percent": 99.0,
    "pg_high_percent": 80.0,
    "lag_major_blocks": 100,
    "lag_major_seconds": 300.0,
    "slow_ms": 1000.0,
}
# The service that serves the API: the one the api check establishes.
API_SERVICES = _runbook.CHECK_COVERS["api"]


# An ISO 8601 time as the modules write it (docker's has nanoseconds): the fraction is cut to microseconds.
_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def parse_time(value: t.Any) -> datetime.datetime | None:
    """An ISO 8601 time (UTC when it names no offset) as an aware datetime; None for anything else."""
    match = _TIME.match(text(value).strip())
    if not match:
        return None
    whole, fraction, offset = match.groups()
    try:
        moment = datetime.datetime.fromisoformat(whole + (f".{fraction[:6]:0<6}" if fraction else ""))
    except ValueError:
        return None
    zone = datetime.timezone.utc if offset in (None, "Z") else datetime.datetime.strptime(offset, "%z").tzinfo
    return moment.replace(tzinfo=zone)


def is_list(value: t.Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def percent(value: float | None) -> str:
    return "?" if value is None else f"{value:g}%"


def read_options(options: Mapping[str, t.Any], filter_name: str) -> dict[str, t.Any]:
    """The filter options over DEFAULTS; raises AnsibleFilterError naming a bad option and the accepted ones."""
    opts = dict(DEFAULTS)
    for key, value in options.items():
        if key not in DEFAULTS:
            raise AnsibleFilterError(
                f"{filter_name}: unknown option {show(key)}; accepted options are {', '.join(sorted(DEFAULTS))}")
        if key == "critical_services":
            if not is_list(value) or not all(isinstance(v, str) for v in value):
                raise AnsibleFilterError(f"{filter_name}: critical_services must be a list of service names, got {show(value)}")
            opts[key] = tuple(value)
        else:
            opts[key] = number(value, key, filter_name)
    return opts


class Findings:
    """The findings, normalised: one attribute per section (None when absent or unreadable), and C(incomplete)."""

    def __init__(self, findings: t.Any, filter_name: str, options: Mapping[str, t.Any]) -> None:
        if not isinstance(findings, Mapping):
            raise AnsibleFilterError(f"{filter_name}: the input must be a findings dict, got {show(findings)}")
        if not any(findings.get(key) is not None for key in FINDINGS_KEYS):
            raise AnsibleFilterError(
                f"{filter_name}: the findings have none of the keys {', '.join(FINDINGS_KEYS)}: {show(findings)}")
        self.opts = read_options(options, filter_name)
        # (check, reason) in the order found: what could not be checked.
        self.incomplete: list[dict[str, str]] = []
        sections = {key: self._section(findings, key) for key in SECTIONS}
        self._expected(findings, sections)
        self.error_lines = 0
        self.api = self._endpoint(sections["api"], "api")
        self.webapp = self._endpoint(sections["webapp"], "webapp")
        self.services = self._services(sections["services"])
        self.postgres = self._postgres(sections["postgres"])
        self.causes = self._causes(sections["logs"])
        self.signatures = self._signatures(sections["logs"])
        self.disk = self._disk(sections["disk"])
        self.lag = self._lag(sections["lag"])
        self.rpc = self._rpc(sections["rpc"])
        self.changes, self.dirty = self._deployment(sections["deployment"])
        self.changed_at = self._changed_at()
        self.users = read_users(sections["users"], self._unreadable)
        security = sections["security"] or {}
        self.security: str | None = None
        if security.get("suspected"):
            self.security = text(security.get("reason")) or "security incident suspected"

    # -- what could not be checked ----------------------------------------------------------------
    def _unreadable(self, check: str, reason: str) -> None:
        entry = {"check": check, "reason": reason}
        if entry not in self.incomplete:
            self.incomplete.append(entry)

    def _field(self, check: str, doc: Mapping, key: str, path: str | None = None) -> float | None:
        """A numeric field: None when absent; unknown (and a reason) when it is not a number."""
        value = doc.get(key)
        if value is None:
            return None
        result = as_number(value)
        if result is None:
            self._unreadable(check, f"findings.{path or check}.{key} must be a number, got {show(value)}")
        return result

    def _flag(self, check: str, doc: Mapping, key: str) -> bool | None:
        value = doc.get(key)
        if value is None or isinstance(value, bool):
            return value
        self._unreadable(check, f"findings.{check}.{key} must be true or false, got {show(value)}")
        return None

    def _section(self, findings: Mapping, key: str) -> Mapping | None:
        """A section that ran: None when absent, failed or unreadable (each but the first is a reason)."""
        doc = findings.get(key)
        if doc is None:
            return None
        if not isinstance(doc, Mapping):
            self._unreadable(key, f"findings.{key} must be a dict, got {show(doc)}")
            return None
        answered = key in ("api", "webapp") and doc.get("status", doc.get("status_code")) is not None
        if doc.get("timed_out") is True:
            self._unreadable(key, "timed out" + (f": {text(doc.get('msg'))}" if doc.get("msg") else ""))
            return None
        # A failed HTTP request is the API's answer (uri registers it so); any other failure is a check that did not run.
        if doc.get("failed") is True and not answered:
            self._unreadable(key, text(doc.get("msg")) or "failed without a message")
            return None
        partial = doc.get("partial")
        if partial:
            for reason in partial if is_list(partial) else [partial]:
                self._unreadable(key, text(reason))
        vanished = doc.get("vanished")
        if vanished:
            # Containers listed and gone before they could be read: what they were is not known.
            names = ", ".join(text(v)[:12] for v in (vanished if is_list(vanished) else [vanished]))
            self._unreadable(key, f"containers vanished while being read: {names}")
        return doc

    def _expected(self, findings: Mapping, sections: Mapping[str, Mapping | None]) -> None:
        """Checks the triage asked for (C(checks)) that left no section."""
        asked = findings.get("checks")
        if asked is None:
            return
        if not is_list(asked):
            self._unreadable("checks", f"findings.checks must be a list of check names, got {show(asked)}")
            return
        for name in asked:
            if findings.get(text(name)) is None:
                self._unreadable(text(name), "no result: the check did not run")

    # -- api / webapp -------------------------------------------------------------------------------
    def _endpoint(self, doc: Mapping | None, key: str) -> dict[str, t.Any] | None:
        if doc is None:
            return None
        code = self._field(key, doc, "status_code")
        if code is None:
            code = self._field(key, doc, "status")  # an ansible.builtin.uri result
        # health_verdict is THE /health rule: an answered status decides; a hand-written C(healthy) fills in for none.
        body = {"checks": doc["checks"]} if doc.get("checks") is not None else doc.get("json")
        if doc.get("checks") is not None and not isinstance(doc.get("checks"), Mapping):
            self._unreadable(key, f"findings.{key}.checks must be a dict, got {show(doc.get('checks'))}")
        verdict = _runbook.health_verdict(int(code) if code is not None else None, body)
        stated = self._flag(key, doc, "healthy")
        healthy = (verdict["healthy"] and stated is not False) if verdict["answered"] else stated is True
        error = doc.get("error") or (None if healthy else doc.get("msg"))
        latency = self._field(key, doc, "latency_ms")
        elapsed = self._field(key, doc, "elapsed")
        if latency is None and elapsed is not None:
            latency = elapsed * 1000.0
        return {
            "healthy": healthy,
            "status_code": verdict["status_code"],
            "answered": verdict["answered"],
            "checks": verdict["failing"],
            "error": text(error) or None,
            "latency_ms": latency,
            "maintenance": doc.get("maintenance") is True,
        }

    def describe_endpoint(self, key: str) -> str:
        doc = getattr(self, key)
        name = "API" if key == "api" else "webapp"
        if not doc["answered"]:
            return f"{name} does not answer" + (f": {doc['error']}" if doc["error"] else "")
        description = f"{name} health returned {doc['status_code']}"
        if doc["checks"]:
            description += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(doc["checks"].items())) + ")"
        elif doc["error"]:
            description += f": {doc['error']}"
        return description

    # -- services -------------------------------------------------------------------------------------
    def _services(self, doc: Mapping | None) -> dict[str, dict[str, t.Any]] | None:
        if doc is None:
            return None
        raw = doc.get("services") if isinstance(doc.get("services"), Mapping) else doc
        services = {}
        for name, info in raw.items():
            if not isinstance(info, Mapping):
                continue  # the other keys of a registered result: changed, running, ...
            state = text(info.get("state")) or None
            running = self._flag("services", info, "running")
            services[str(name)] = {
                "running": state == "running" if running is None else running,
                "state": state,
                "restarting": info.get("restarting") is True or state == "restarting",
                "exit_code": info.get("exit_code"),
                "oom_killed": info.get("oom_killed") is True,
                "health": text(info.get("health")) or None,
                "restart_count": int(self._field("services", info, "restart_count", f"services.{name}") or 0),
            }
        # No container at all is the worst "not running": a project that is gone, services asked for by name, or a
        # critical service absent from a project that exists (compose lists only the containers it finds).
        missing = doc.get("missing") or []
        absent = [text(name) for name in missing] if is_list(missing) else []
        if doc.get("project_found") is False or services:
            absent += [name for name in self.opts["critical_services"] if name not in services]
        for name in absent:
            services.setdefault(name, {"running": False, "state": "missing", "restarting": False, "exit_code": None,
                                       "oom_killed": False, "health": None, "restart_count": 0})
        return services

    def describe_service(self, name: str) -> str:
        info = self.services[name]
        description = f"{name} container {info['state'] or 'not running'}"
        if info["exit_code"] not in (None, 0) and not info["running"]:
            description += f" (exit code {info['exit_code']})"
        if info["oom_killed"]:
            description += ", killed by the OOM killer"
        if info["restart_count"]:
            description += f", {info['restart_count']} restarts"
        return description

    # -- postgres -------------------------------------------------------------------------------------
    def _postgres(self, doc: Mapping | None) -> dict[str, t.Any] | None:
        if doc is None:
            return None
        available = self._flag("postgres", doc, "is_available")
        if available is None and "reachable" in doc:
            available = self._flag("postgres", doc, "reachable")
        if available is None:
            # Not said is not "available": the triage cannot call the database fine without it.
            self._unreadable("postgres", "findings.postgres.is_available is missing: the database's availability is unknown")
        error = text(doc.get("error")) or None
        connections = doc.get("connections")
        total = self._field("postgres", connections, "total", "postgres.connections") if isinstance(connections, Mapping) \
            else self._field("postgres", doc, "connections")
        maximum = self._field("postgres", doc, "max_connections")
        use = self._field("postgres", doc, "use_percent")
        if use is None and total is not None and maximum:
            use = round(100.0 * total / maximum, 1)
        exhausted = self._flag("postgres", doc, "exhausted")
        if exhausted is None:
            exhausted = bool(_runbook.TOO_MANY_CONNECTIONS.search(error or ""))
        role_uses = [self._field("postgres", role, "use_percent", "postgres.role_limits[].use_percent")
                     for role in (doc.get("role_limits") if is_list(doc.get("role_limits")) else [])
                     if isinstance(role, Mapping)]
        return {
            "available": available is not False,
            "error": error,
            "exhausted": exhausted,
            "connections": None if total is None else int(total),
            "max_connections": None if maximum is None else int(maximum),
            "use_percent": use,
            # The fullest login role against its own CONNECTION LIMIT (pg_activity_info's role_limits).
            "role_use_percent": max((u for u in role_uses if u is not None), default=None),
            "waiting_locks": self._count(doc, "waiting_locks"),
            "idle_in_transaction": self._count(doc, "idle_in_transaction"),
        }

    def _count(self, doc: Mapping, key: str) -> int:
        """A list (its length) or a number."""
        value = doc.get(key)
        if is_list(value):
            return len(value)
        return int(self._field("postgres", doc, key) or 0)

    def describe_postgres_use(self) -> str:
        pg = self.postgres
        if pg["connections"] is not None and pg["max_connections"] is not None:
            return f"{pg['connections']}/{pg['max_connections']} connections ({percent(pg['use_percent'])})"
        return f"connection use {percent(pg['use_percent'])}"

    # -- logs -----------------------------------------------------------------------------------------
    def _causes(self, doc: Mapping | None) -> dict[str, dict[str, t.Any]] | None:
        if doc is None:
            return None
        causes = doc.get("causes") or {}
        result: dict[str, dict[str, t.Any]] = {}
        if isinstance(causes, Mapping):
            for name, info in causes.items():
                if isinstance(info, Mapping):
                    result[str(name)] = self._cause(info)
                elif info:
                    result[str(name)] = {"count": as_number(info), "services": [], "sample": None}
        elif is_list(causes):
            for item in causes:
                if isinstance(item, str):
                    result[item] = {"count": None, "services": [], "sample": None}
                elif isinstance(item, Mapping) and (item.get("cause") or item.get("name")):
                    result[text(item.get("cause") or item.get("name"))] = self._cause(item)
                else:
                    self._unreadable("logs", f"findings.logs.causes items must be names or dicts with a cause, got {show(item)}")
        else:
            self._unreadable("logs", f"findings.logs.causes must be a dict or a list, got {show(causes)}")
        self.error_lines = int(self._field("logs", doc, "error_count") or 0)
        return result

    def _signatures(self, doc: Mapping | None) -> list[dict[str, t.Any]]:
        """The error signatures of every service's logs (container_log_scan's C(services.*.signatures)), each with
        the known causes its text shows: a signature no known cause explains is an error of the service itself."""
        services = (doc or {}).get("services")
        if not isinstance(services, Mapping):
            return []
        found = []
        for service, scan in sorted(services.items()):
            listed = scan.get("signatures") if isinstance(scan, Mapping) else None
            for item in listed if is_list(listed) else []:
                if not isinstance(item, Mapping) or not text(item.get("signature")):
                    continue
                signature = text(item.get("signature"))
                found.append({
                    "service": text(service),
                    "signature": signature,
                    "count": int(as_number(item.get("count")) or 0),
                    "first_seen": parse_time(item.get("first_seen")),
                    "last_seen": parse_time(item.get("last_seen")),
                    "causes": _logscan.detect_causes(" ".join((signature, text(item.get("sample"))))),
                })
        return found

    @staticmethod
    def _cause(info: Mapping) -> dict[str, t.Any]:
        services = info.get("services")
        return {
            "count": as_number(info.get("count")),
            "services": [text(s) for s in services] if is_list(services) else ([text(services)] if services else []),
            "sample": text(info.get("sample")) or None,
        }

    def describe_cause(self, cause: str) -> str:
        info = self.causes[cause]
        description = f"logs show {cause}"
        details = []
        if info["count"]:
            details.append(f"{info['count']:g} lines")
        if info["services"]:
            details.append("in " + ", ".join(info["services"]))
        if details:
            description += " (" + " ".join(details) + ")"
        if info["sample"]:
            description += f": {info['sample'][:160]}"
        return description

    # -- disk -----------------------------------------------------------------------------------------
    def _disk(self, doc: Mapping | None) -> list[dict[str, t.Any]] | None:
        if doc is None:
            return None
        threshold = self._field("disk", doc, "threshold_percent") or 90.0
        entries = []
        paths = doc.get("paths")
        if paths is not None and not is_list(paths):
            self._unreadable("disk", f"findings.disk.paths must be a list, got {show(paths)}")
            paths = None
        for item in paths or []:
            if not isinstance(item, Mapping):
                self._unreadable("disk", f"findings.disk.paths items must be dicts, got {show(item)}")
                continue
            used = [self._field("disk", item, key, "disk.paths[]") for key in ("percent_used", "inodes_percent_used")]
            use = max((p for p in used if p is not None), default=None)
            over = item.get("over_threshold")
            entries.append({
                "path": text(item.get("path")),
                "percent": use,
                "free_bytes": self._field("disk", item, "free_bytes", "disk.paths[]"),
                "over": over if isinstance(over, bool) else (use is not None and use >= threshold),
            })
        full = doc.get("full") or []
        if not is_list(full):
            self._unreadable("disk", f"findings.disk.full must be a list of paths, got {show(full)}")
            full = []
        for path in map(text, full):
            known = [entry for entry in entries if entry["path"] == path]
            for entry in known:
                entry["over"] = True
            if not known:
                entries.append({"path": path, "percent": None, "free_bytes": None, "over": True})
        return [e for e in entries if e["over"]]

    def disk_grade(self, entry: dict[str, t.Any]) -> int:
        """0: exhausted, 1: critical, 2: over the threshold."""
        if entry["free_bytes"] == 0 or (entry["percent"] is not None and entry["percent"] >= self.opts["disk_exhausted_percent"]):
            return 0
        if entry["percent"] is not None and entry["percent"] >= self.opts["disk_critical_percent"]:
            return 1
        return 2

    # -- lag / rpc ------------------------------------------------------------------------------------
    def _lag(self, doc: Mapping | None) -> dict[str, t.Any] | None:
        if doc is None:
            return None
        status = doc.get("status")
        if status is not None and status not in _runbook.LAG_STATUSES:
            self._unreadable("lag", f"findings.lag.status must be one of {', '.join(_runbook.LAG_STATUSES)}, got {show(status)}")
            status = None
        indexer = doc.get("indexer") if isinstance(doc.get("indexer"), Mapping) else {}
        rpc = doc.get("rpc")
        if rpc is not None and not isinstance(rpc, Mapping):
            self._unreadable("lag", f"findings.lag.rpc must be a dict, got {show(rpc)}")
            rpc = None
        return {
            "status": status,
            "blocks": self._field("lag", doc, "lag_blocks"),
            "seconds": self._field("lag", doc, "lag_seconds"),
            "rate": self._field("lag", doc, "catch_up_blocks_per_second"),
            "paused": doc.get("paused", indexer.get("paused")) is True,
            "maintenance": doc.get("maintenance", indexer.get("maintenance")) is True,
            "rpc": rpc,
        }

    def _rpc(self, doc: Mapping | None) -> dict[str, t.Any] | None:
        check = "rpc"
        if doc is None and self.lag is not None:
            doc, check = self.lag["rpc"], "lag"
        if doc is None:
            if self.lag is not None and self.lag["status"] == "rpc_unreachable":
                return {"reachable": False, "latency_ms": None, "error": None}
            return None
        reachable = doc.get("reachable")
        if not isinstance(reachable, bool):
            self._unreadable(check, f"findings.{check}.rpc.reachable must be true or false, got {show(reachable)}")
            reachable = None
        return {
            "reachable": reachable is not False,
            "latency_ms": self._field(check, doc, "latency_ms", f"{check}.rpc" if check == "lag" else None),
            "error": text(doc.get("error")) or None,
        }

    # -- deployment -----------------------------------------------------------------------------------
    def _deployment(self, doc: Mapping | None) -> tuple[list[Mapping], bool]:
        if doc is None:
            return [], False
        changes = doc.get("recent_changes") or []
        if not is_list(changes):
            self._unreadable("deployment", f"findings.deployment.recent_changes must be a list of dicts, got {show(changes)}")
            changes = []
        for change in changes:
            if not isinstance(change, Mapping):
                self._unreadable("deployment", f"findings.deployment.recent_changes items must be dicts, got {show(change)}")
        repo = doc.get("repo") if isinstance(doc.get("repo"), Mapping) else {}
        return [c for c in changes if isinstance(c, Mapping)], repo.get("dirty") is True

    def _changed_at(self) -> dict[str, datetime.datetime]:
        """Service -> when its newest recent container was created (a deploy or any other re-creation)."""
        changed: dict[str, datetime.datetime] = {}
        for change in self.changes:
            moment = parse_time(change.get("time"))
            if change.get("kind") == "container" and change.get("name") and moment is not None:
                name = text(change["name"])
                changed[name] = max(moment, changed.get(name, moment))
        return changed


def read_users(doc: Mapping | None, unreadable: t.Callable[[str, str], None]) -> dict[str, t.Any] | None:
    """The C(users) section (who got errors or no answer): any missing or unreadable number is unknown (None)."""
    if doc is None:
        return None
    counts = {}
    for key in ("window_seconds", "clients_total", "clients_failed", "requests_total", "requests_failed"):
        value = as_number(doc.get(key))
        if doc.get(key) is not None and value is None:
            unreadable("users", f"findings.users.{key} must be a number, got {show(doc.get(key))}")
        counts[key] = None if value is None else int(value)
    paths = doc.get("failed_paths")
    failed_paths = []
    if isinstance(paths, Mapping):
        failed_paths = sorted(((text(path), int(as_number(n) or 0)) for path, n in paths.items()), key=lambda p: (-p[1], p[0]))
    elif paths is not None:
        unreadable("users", f"findings.users.failed_paths must be a dict of path to count, got {show(paths)}")
    return dict(counts, failed_paths=failed_paths)
