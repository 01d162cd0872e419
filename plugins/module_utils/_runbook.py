# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The runbook as data: the one place its levels, response times, steps, scenario ids and vocabulary live.

Modules (on the target) and filters and plugin_utils (on the controller) both import this file, so a level, a
deadline, a scenario id or the words that mean "too many connections" are spelled once. The source is
C(incident-response-runbook.md) of the USDX/Wexel DevOps team.
"""

from __future__ import annotations

import re
import typing as t

# --- severity levels ------------------------------------------------------------------------------------------
LEVELS = ("P0", "P1", "P2", "P3")
TITLES = {
    "P0": "Critical (Production Down)",
    "P1": "High (Major Feature Broken)",
    "P2": "Medium (Minor Feature Broken)",
    "P3": "Low (Cosmetic Issue)",
}
RESPONSE_TIMES = {"P0": "Immediate", "P1": "< 15 minutes", "P2": "< 1 hour", "P3": "Next business day"}
# Seconds from detection to the start of the response; P3 is "next business day" (see sla_deadline).
SLA_DELAY_SECONDS = {"P0": 0, "P1": 15 * 60, "P2": 60 * 60}
ACTIONS = {
    "P0": "All hands on deck, immediate escalation",
    "P1": "On-call engineer responds, team notified",
    "P2": "Normal response, fix in next release",
    "P3": "Log as bug, schedule fix",
}

# --- the response chains: (step id, runbook title, T+ deadline in seconds) --------------------------------------
STEPS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "P0": (
        ("alert", "Alert & Assemble", 0),
        ("assess", "Assess", 5 * 60),
        ("contain", "Contain", 10 * 60),
        ("diagnose", "Diagnose", 15 * 60),
        ("fix", "Fix", 30 * 60),
        ("verify", "Verify", 45 * 60),
        ("communicate", "Communicate", 60 * 60),
        ("postmortem", "Post-Mortem", 24 * 60 * 60),
    ),
    "P1": (
        ("respond", "Respond", 0),
        ("assess", "Assess", 5 * 60),
        ("fix", "Fix", 30 * 60),
        ("verify", "Verify", 45 * 60),
    ),
    # P2 and P3 are logged and scheduled, not remediated.
    "P2": (("record", "Log and schedule", 60 * 60),),
    "P3": (("record", "Log as bug", 24 * 60 * 60),),
}

# --- the Common Scenarios, and the failures the triage recognises besides them -----------------------------------
SCENARIOS = {
    "api_unavailable": "API Unavailable",
    "db_connections_exhausted": "Database Connection Exhausted",
    "indexer_lag": "Blockchain Indexer Lagging",
    "disk_full": "Out of Disk Space",
}
# Ranked by the triage, handled by escalation or a release decision rather than a scenario role.
OTHER_FINDINGS = {
    "external_service_failure": "External service failure (RPC, oracle)",
    "bad_deployment": "Bad deployment",
    "triage_incomplete": "Checks that could not run",
}
# The ranking's tie-break order: causes before the effects they produce.
RANK_ORDER = (
    "disk_full",
    "external_service_failure",
    "db_connections_exhausted",
    "api_unavailable",
    "indexer_lag",
    "bad_deployment",
    "triage_incomplete",
)

# --- escalation: (level, who, what they handle, from and until seconds after the start; None: not time-bound) -----
ESCALATION_LEVELS = (
    ("L1", "On-Call Engineer", "Initial response, common fixes", 0, 30 * 60),
    ("L2", "Team Lead / Senior Engineer", "Complex issues, architecture decisions", 30 * 60, 60 * 60),
    ("L3", "CTO / Founders", "Business decisions, security incidents, major outages", 60 * 60, None),
    ("external", "Infrastructure Provider", "Cloud platform issues, network problems", None, None),
)
# What makes a response escalate, and the lowest level each reaches. The time-bound levels rise with the T+ clock
# (an incident still open past 60 minutes is a major outage: L3); the provider is reached for what only it can fix.
ESCALATION_TRIGGERS = {
    "deadline_missed": ("L2", "a step missed its T+ deadline"),
    "step_failed": ("L2", "a step failed"),
    "fix_failed": ("L2", "the fix failed"),
    "verify_failed": ("L2", "verify failed: the fix did not restore service"),
    "breaker_tripped": ("L2", "the circuit breaker tripped: the same fault keeps coming back"),
    "no_scenario": ("L2", "no scenario of the runbook fits the findings"),
    "approval_missing": ("L3", "a business decision (contain, rollback) was not approved"),
    "security": ("L3", "a security incident"),
    "external_service": ("external", "an external service failed (RPC, oracle, cloud platform)"),
}

# --- communication: the status page and its cadence ("We will provide an update in 15 minutes") ---------------
STATUS_PAGE_URL = "https://status.usdx-wexel.com"
STATUS_UPDATE_SECONDS = 15 * 60
# The status page's phases in order (Statuspage's incident states; the runbook writes three, monitoring between
# the fix and its verification).
STATUS_PHASES = ("investigating", "identified", "monitoring", "resolved")

# --- the services the stack cannot work without ------------------------------------------------------------------
CRITICAL_SERVICES = ("db", "redis", "indexer")
# triage_info checks -> the services whose state they establish. A check that did not run leaves these unknown.
CHECK_COVERS = {
    "api": ("indexer",),
    "webapp": ("webapp",),
    "services": ("db", "redis", "indexer", "webapp", "chain"),
    "logs": ("indexer", "webapp", "db"),
    "postgres": ("db",),
    "disk": ("db", "redis"),
    "lag": ("indexer", "chain"),
    "deployment": (),
    "users": ("indexer", "webapp"),
}
# The checks without which a stack cannot be called healthy ("users" counts clients, it judges no service).
HEALTH_CHECKS = tuple(check for check in CHECK_COVERS if check != "users")

# --- vocabulary shared by the modules and the filters --------------------------------------------------------
LAG_STATUSES = ("ok", "lagging", "stalled", "rpc_unreachable", "indexer_unreachable")
TOO_MANY_CONNECTIONS = re.compile(
    r"too many (?:connections|clients)|remaining connection slots are reserved|connection slots are reserved",
    re.IGNORECASE,
)
NO_SPACE = re.compile(
    r"no space left on device|\benospc\b|could not extend file|disk (?:is )?full|disk quota exceeded|\bedquot\b",
    re.IGNORECASE,
)
# A /health check value that means "this dependency works".
HEALTH_OK_WORDS = frozenset(("ok", "healthy", "up", "pass", "passed", "true"))


def health_check_ok(value: t.Any) -> bool:
    """Whether one entry of a /health document's C(checks) says the dependency works."""
    if value is True:
        return True
    if isinstance(value, dict):
        value = value.get("status")
    return isinstance(value, str) and value.strip().lower() in HEALTH_OK_WORDS


def health_verdict(status: t.Any, body: t.Any) -> dict[str, t.Any]:
    """The one rule for a /health answer, used by the triage and by every role.

    Healthy means: an HTTP 2xx status and no failing entry in the body's C(checks) (any JSON shape is accepted;
    a body that is not a mapping, or whose C(checks) is not a mapping, names no dependency). Returns C(healthy),
    C(answered) (a status was received) and C(failing) (check name -> its value as text).
    """
    code = status if isinstance(status, int) and not isinstance(status, bool) and status > 0 else None
    checks = body.get("checks") if isinstance(body, dict) else None
    failing = {}
    if isinstance(checks, dict):
        failing = {str(name): _text(value) for name, value in checks.items() if not health_check_ok(value)}
    healthy = code is not None and 200 <= code < 300 and not failing
    return {"healthy": healthy, "answered": code is not None, "status_code": code, "failing": failing}


def _text(value: t.Any) -> str:
    if isinstance(value, dict):
        value = value.get("error") or value.get("status") or value
    return "" if value is None else str(value)[:500]
