# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""What the runbook scenario "Database Connection Exhausted" does, decided from what the database reports.

One function, L(plan), reads

- the diagnosis: a M(usdx.incident.pg_activity_info) result, or a M(usdx.incident.triage_info) result whose
  C(postgres) check is that result. Failed, timed out, partial or unavailable: the plan refuses (fail closed);
- the session list: one row C(doc) of the role's C(community.postgresql.postgresql_query) (the server's settings,
  the application role's connection limit and every backend with its state, age, role attributes);
- the host's memory: C(/proc/meminfo) text and the db container's memory limit (0: none);

and returns the pids to terminate, who holds the connections, the use before and (predicted) after the clean-up,
and whether C(max_connections) must be raised and to what. The role db_connections_exhausted only wires modules
to it; the same function judges the database again during verify (C(healthy)).

Rules:

- the role acts only while the database is in trouble: pg_activity_info says C(exhausted), or the use is at or above
  O(use_threshold) percent. Use is the higher of the application role's connections against its CONNECTION LIMIT and
  all client connections against the slots not reserved for superusers;
- a session is terminated only if it is a C(client backend) in O(database), not this role's own, not of a superuser
  or replication role, not of an application in O(protected_applications), and either C(idle) for more than
  O(idle_threshold) seconds or - only when O(idle_in_transaction_threshold) is set - C(idle in transaction) for more
  than that. C(active) sessions (a running query, a lock wait) are never terminated;
- when the use predicted after the clean-up is still at or above the threshold and the server-wide slots are what
  is short (the application role is not itself at or above the threshold of its CONNECTION LIMIT, which
  max_connections does not lift), C(max_connections) is raised to the lower of O(max_connections_ceiling) and what memory allows:
  (memory - shared_buffers) / work_mem, memory being the container's limit or else the host's MemTotal. The change
  needs a restart, run only when O(allow_restart); otherwise reported as required. A role at its own CONNECTION
  LIMIT is reported: raising max_connections does not help it. The memory matters for that raise only:
  C(memory_needed) says when, so a caller may read the memory only when a plan made without it says it is needed.

Host data (application names, client addresses, states) is data of any shape: it is read leniently and never
raises; only the options raise AnsibleFilterError.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.plugin_utils._values import as_mapping, as_number, clipped, show, whole_number

NAME = "db_connections_plan"

DEFAULTS: dict[str, t.Any] = {
    "database": None,
    "app_user": None,
    "idle_threshold": 300,
    "idle_in_transaction_threshold": None,
    "use_threshold": 80,
    "max_connections_ceiling": 200,
    "allow_restart": False,
    "protected_applications": ["pg_dump", "pg_dumpall", "pg_restore", "pg_basebackup", "pg_rewind", "vacuumdb",
                               "reindexdb", "clusterdb", "pg_upgrade"],
    "meminfo": None,
    "container_memory": 0,
}

_MEMTOTAL_RE = re.compile(r"^MemTotal:\s+(\d+)\s+kB\s*$", re.MULTILINE)


# ------------------------------------------------------------------------------------ options (the user's input)


def _int_option(opts: Mapping[str, t.Any], key: str, low: int, high: int, allow_none: bool = False) -> int | None:
    value = opts[key]
    if value is None and allow_none:
        return None
    number = as_number(value)
    if number is None or number != int(number) or not low <= number <= high:
        raise AnsibleFilterError(f"{NAME}: {key} must be an integer from {low} to {high}"
                                 f"{' or null' if allow_none else ''}, got {show(value)}")
    return int(number)


def read_options(options: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The options over DEFAULTS; raises AnsibleFilterError naming the bad option and what it accepts."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise AnsibleFilterError(f"{NAME}: unknown option {show(unknown[0])}; accepted options are {', '.join(sorted(DEFAULTS))}")
    opts = {**DEFAULTS, **options}
    for key in ("database", "app_user"):
        if not isinstance(opts[key], str) or not opts[key]:
            raise AnsibleFilterError(f"{NAME}: {key} must be a non-empty string, got {show(opts[key])}")
    opts["idle_threshold"] = _int_option(opts, "idle_threshold", 1, 10 * 365 * 86400)
    opts["idle_in_transaction_threshold"] = _int_option(opts, "idle_in_transaction_threshold", 1, 10 * 365 * 86400, True)
    if opts["idle_in_transaction_threshold"] is not None and opts["idle_in_transaction_threshold"] <= opts["idle_threshold"]:
        raise AnsibleFilterError(f"{NAME}: idle_in_transaction_threshold must be longer than idle_threshold "
                                 f"({opts['idle_threshold']}), got {opts['idle_in_transaction_threshold']}")
    opts["use_threshold"] = _int_option(opts, "use_threshold", 1, 100)
    opts["max_connections_ceiling"] = _int_option(opts, "max_connections_ceiling", 1, 262143)
    opts["container_memory"] = _int_option(opts, "container_memory", 0, 2**62)
    if not isinstance(opts["allow_restart"], bool):
        raise AnsibleFilterError(f"{NAME}: allow_restart must be true or false, got {show(opts['allow_restart'])}")
    apps = opts["protected_applications"]
    if not isinstance(apps, (list, tuple)) or not all(isinstance(app, str) for app in apps):
        raise AnsibleFilterError(f"{NAME}: protected_applications must be a list of strings, got {show(apps)}")
    if opts["meminfo"] is not None and not isinstance(opts["meminfo"], str):
        raise AnsibleFilterError(f"{NAME}: meminfo must be the text of /proc/meminfo or null, got {show(opts['meminfo'])}")
    return opts


# ------------------------------------------------------------------------------------ reading host data


def diagnosis_problem(activity: t.Any) -> str | None:
    """Why the diagnosis of the database cannot be acted on, or None."""
    doc = as_mapping(activity)
    if "postgres" in doc and "connections" not in doc:  # a triage_info result: its postgres check
        doc = doc["postgres"]
        if not isinstance(doc, Mapping):
            return "triage_info has no postgres result: the check did not run"
    if not doc:
        return "no pg_activity_info result: the diagnosis did not run"
    if doc.get("failed"):
        reason = "timed out" if doc.get("timed_out") else "failed"
        return f"the postgres diagnosis {reason}: {clipped(doc.get('msg'))}"
    if doc.get("partial"):
        reasons = doc["partial"] if isinstance(doc["partial"], list) else [doc["partial"]]
        return "the postgres diagnosis is partial: " + "; ".join(clipped(r) for r in reasons)
    if doc.get("is_available") is not True:
        detail = "timed out" if doc.get("timed_out") else clipped(doc.get("error")) or "no answer"
        return f"the database could not be queried even as the admin user: {detail}"
    return None


def session_view(row: t.Any) -> dict[str, t.Any] | None:
    """One backend as the plan reads it; None for a row without a usable pid."""
    row = as_mapping(row)
    pid = whole_number(row.get("pid"))
    if pid is None or pid <= 0:
        return None
    idle = as_number(row.get("idle_seconds"))
    return {
        "pid": pid,
        "user": clipped(row.get("user")),
        "database": clipped(row.get("database")),
        "application": clipped(row.get("application")),
        "client": clipped(row.get("client_addr")) or "local socket",
        "state": clipped(row.get("state")),
        "backend_type": clipped(row.get("backend_type")),
        "superuser": row.get("superuser") is not False,  # unknown counts as superuser: never terminated
        "replication": row.get("replication") is not False,
        "own": row.get("own") is True,
        "idle_seconds": round(idle, 1) if idle is not None and idle >= 0 else None,
    }


def memory_bytes(meminfo: str | None, container_limit: int) -> tuple[int | None, str]:
    """The memory the server may use, and where the figure comes from."""
    if container_limit > 0:
        return container_limit, "the db container's memory limit"
    match = _MEMTOTAL_RE.search(meminfo or "")
    if match:
        return int(match.group(1)) * 1024, "the host's MemTotal"
    return None, "unknown (no container limit and no MemTotal in /proc/meminfo)"


# ------------------------------------------------------------------------------------ the decision


def keep_reason(session: Mapping[str, t.Any], opts: Mapping[str, t.Any]) -> str | None:
    """Why a session is kept, or None when it is to be terminated."""
    if session["own"]:
        return "own session"
    if session["backend_type"] != "client backend":
        return "not a client backend"
    if session["database"] != opts["database"]:
        return "another database"
    if session["superuser"] or session["replication"]:
        return "superuser or replication role"
    if session["application"] in opts["protected_applications"]:
        return "maintenance application"
    idle = session["idle_seconds"]
    if session["state"] == "idle":
        return None if idle is not None and idle > opts["idle_threshold"] else "idle below the threshold"
    if session["state"].startswith("idle in transaction"):
        limit = opts["idle_in_transaction_threshold"]
        if limit is None:
            return "idle in transaction (not opted in)"
        return None if idle is not None and idle > limit else "idle in transaction below its threshold"
    return session["state"] or "unknown state"


def _percent(used: int, limit: int) -> float:
    return round(100.0 * used / limit, 1) if limit > 0 else 100.0


def holders(sessions: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """Connections grouped by application and client, the largest group first."""
    groups: dict[tuple[str, str], dict[str, t.Any]] = {}
    for s in sessions:
        group = groups.setdefault((s["application"], s["client"]), {
            "application": s["application"], "client": s["client"], "connections": 0, "by_state": {}})
        group["connections"] += 1
        group["by_state"][s["state"] or "unknown"] = group["by_state"].get(s["state"] or "unknown", 0) + 1
    return sorted(groups.values(), key=lambda g: (-g["connections"], g["application"], g["client"]))


def plan(activity: t.Any, sessions_doc: t.Any, options: Mapping[str, t.Any]) -> dict[str, t.Any]:
    opts = read_options(options)
    refused: list[str] = []
    problem = diagnosis_problem(activity)
    if problem:
        refused.append(problem)
    doc = as_mapping(sessions_doc)
    settings = as_mapping(doc.get("settings"))
    max_connections = whole_number(settings.get("max_connections"))
    reserved = whole_number(settings.get("reserved_connections"))
    work_mem = whole_number(settings.get("work_mem_bytes"))
    shared_buffers = whole_number(settings.get("shared_buffers_bytes"))
    role_limit = whole_number(doc.get("role_connection_limit"))
    rows = doc.get("sessions")
    if not isinstance(rows, list) or None in (max_connections, reserved, work_mem, shared_buffers) or max_connections <= 0:
        refused.append("the session list or the server settings could not be read")
        rows = []
    sessions = [s for s in (session_view(r) for r in rows) if s is not None]
    if len(sessions) != len(rows):
        refused.append(f"{len(rows) - len(sessions)} session(s) without a usable pid in the session list")

    clients = [s for s in sessions if s["backend_type"] == "client backend" and not s["own"]]
    app_sessions = [s for s in clients if s["user"] == opts["app_user"]]
    usable = max(0, (max_connections or 0) - (reserved or 0))
    role_bound = role_limit is not None and role_limit > 0

    terminate: list[dict[str, t.Any]] = []
    kept: dict[str, int] = {}
    for s in sessions:
        reason = keep_reason(s, opts)
        if reason is None:
            terminate.append({k: s[k] for k in ("pid", "user", "application", "client", "state", "idle_seconds")})
        elif s["backend_type"] == "client backend" and not s["own"]:
            kept[reason] = kept.get(reason, 0) + 1
    gone = {s["pid"] for s in terminate}

    def use(after: bool) -> dict[str, t.Any]:
        total = sum(1 for s in clients if not (after and s["pid"] in gone))
        role = sum(1 for s in app_sessions if not (after and s["pid"] in gone))
        server = {"connections": total, "limit": usable, "percent": _percent(total, usable)}
        by_role = {"connections": role, "limit": role_limit, "percent": _percent(role, role_limit)} if role_bound else None
        scope = "role" if by_role and by_role["percent"] >= server["percent"] else "server"
        return {"server": server, "role": by_role, "scope": scope, "percent": (by_role if scope == "role" else server)["percent"]}

    before, after = use(False), use(True)
    exhausted = as_mapping(activity).get("exhausted") is True or as_mapping(as_mapping(activity).get("postgres")).get("exhausted") is True
    in_trouble = exhausted or before["percent"] >= opts["use_threshold"]
    if not in_trouble or refused:
        terminate, gone, after = [], set(), before

    scoped = app_sessions if before["scope"] == "role" else clients
    groups = holders(scoped)
    top = None
    if groups:
        g = groups[0]
        limit = before["role"]["limit"] if before["scope"] == "role" else usable
        whose = f"role {opts['app_user']}'s limit" if before["scope"] == "role" else "slots for ordinary clients"
        top = (f"application {g['application'] or '(none)'!r} from {g['client']} holds {g['connections']} of "
               f"{limit} ({whose})")

    mem, mem_source = memory_bytes(opts["meminfo"], opts["container_memory"])
    raise_to = None
    blocked = None
    memory_needed = False
    escalate: list[str] = []
    if in_trouble and not refused and after["percent"] >= opts["use_threshold"]:
        if after["role"] and after["role"]["percent"] >= opts["use_threshold"]:
            escalate.append(f"role {opts['app_user']} still holds {after['role']['connections']} of its CONNECTION LIMIT "
                            f"{role_limit} after the clean-up: raising max_connections does not help it "
                            f"(ALTER ROLE ... CONNECTION LIMIT, or fix the application's pool)")
        elif after["server"]["percent"] >= opts["use_threshold"]:
            memory_needed = True
            memory_max = (mem - shared_buffers) // work_mem if mem and work_mem and mem > shared_buffers else None
            target = min(x for x in (opts["max_connections_ceiling"], memory_max) if x is not None)
            if memory_max is None:
                blocked = f"the server's memory is {mem_source}: max_connections is not raised blind"
            elif target <= max_connections:
                blocked = (f"max_connections is {max_connections}; the ceiling allows {opts['max_connections_ceiling']} and "
                           f"memory ({mem_source}, {mem} bytes, shared_buffers {shared_buffers}, work_mem {work_mem}) "
                           f"allows {memory_max}: no higher value is allowed")
            else:
                raise_to = {"from": max_connections, "to": target, "ceiling": opts["max_connections_ceiling"],
                            "memory_max": memory_max, "memory_bytes": mem, "memory_source": mem_source}
            if blocked:
                escalate.append(blocked)

    healthy = not refused and not exhausted and before["percent"] < opts["use_threshold"]
    result = {
        "refused": refused,
        "healthy": healthy,
        "exhausted": exhausted,
        "act": in_trouble and not refused,
        "use_before": before,
        "use_after": after,
        "holders": groups,
        "top_holder": top,
        "terminate": sorted(terminate, key=lambda s: s["pid"]),
        "terminate_pids": sorted(gone),
        "kept": kept,
        "max_connections": max_connections,
        "raise_max_connections": raise_to,
        "memory_needed": memory_needed,
        "restart": None if raise_to is None else ("run" if opts["allow_restart"] else "required"),
        "escalate": escalate,
    }
    result["summary"] = summary(result, opts)
    result["report"] = report(result)
    return result


def summary(result: Mapping[str, t.Any], opts: Mapping[str, t.Any]) -> str:
    before = result["use_before"]
    use = f"use {before['percent']}% ({before['scope']})"
    if result["refused"]:
        return "REFUSED: " + "; ".join(result["refused"])
    if result["healthy"]:
        return f"HEALTHY: {use}, below {opts['use_threshold']}%"
    parts = [f"terminate {len(result['terminate_pids'])} idle session(s)"]
    if result["raise_max_connections"]:
        r = result["raise_max_connections"]
        parts.append(f"raise max_connections {r['from']} -> {r['to']} (restart {result['restart']})")
    parts.extend(f"ESCALATE: {e}" for e in result["escalate"])
    return f"PLAN ({use}, predicted after clean-up {result['use_after']['percent']}%): " + "; ".join(parts)


def report(result: Mapping[str, t.Any]) -> list[str]:
    lines = [result["summary"]]
    if result["top_holder"]:
        lines.append(f"top holder: {result['top_holder']}")
    for s in result["terminate"]:
        lines.append(f"terminate pid {s['pid']}: user {s['user']!r}, application {s['application']!r}, "
                     f"client {s['client']}, {s['state']} for {s['idle_seconds']} s")
    for reason, count in sorted(result["kept"].items()):
        lines.append(f"keep {count} session(s): {reason}")
    return lines
