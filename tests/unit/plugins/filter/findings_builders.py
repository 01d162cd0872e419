# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Findings documents for the filter tests: a healthy stack in the modules' shapes, and changes that break it."""

from __future__ import annotations

from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import severity

SERVICES = ("db", "redis", "chain", "indexer", "webapp")


def healthy():
    """Findings of a healthy stack, in the shapes the modules return (trimmed)."""
    return {
        "api": {"status": 200, "json": {"status": "ok", "checks": {"db": "ok", "redis": "ok", "chain": "ok"}}, "elapsed": 0.01},
        "webapp": {"healthy": True, "status_code": 200},
        "services": {"changed": False, "project_found": True, "running": list(SERVICES), "not_running": [],
                     "services": {n: {"running": True, "state": "running", "health": "healthy", "exit_code": 0,
                                      "oom_killed": False, "restart_count": 0} for n in SERVICES}},
        "postgres": {"is_available": True, "exhausted": False, "use_percent": 25.0, "max_connections": 20,
                     "connections": {"total": 5}, "waiting_locks": [], "idle_in_transaction": []},
        "logs": {"causes": {}, "error_count": 0},
        "disk": {"paths": [{"path": "/srv/data", "percent_used": 40.0, "inodes_percent_used": 1.0, "free_bytes": 10**9,
                            "over_threshold": False}], "full": [], "threshold_percent": 90.0},
        "lag": {"status": "ok", "lag_blocks": 1, "lag_seconds": 1.0, "catch_up_blocks_per_second": 0.0,
                "indexer": {"paused": False, "maintenance": False}, "rpc": {"reachable": True, "latency_ms": 2.5, "error": None}},
        "deployment": {"repo_found": True, "repo": {"dirty": False},
                       "recent_changes": [{"kind": "container", "name": "indexer", "age_hours": 0.4, "description": "x"}]},
    }


def db_exhausted(f):
    f["api"] = {"status": 503, "json": {"status": "error", "checks": {
        "db": 'connection to server at "db" (172.21.0.3), port 5432 failed: FATAL: too many connections for role "usdx"',
        "redis": "ok", "chain": "ok"}}}
    f["postgres"].update(exhausted=True, use_percent=85.0, connections={"total": 17}, idle_in_transaction=[{"pid": 1}],
                         waiting_locks=[{"pid": 2}])
    f["logs"]["causes"] = {"db_connections_exhausted": {"count": 12, "services": ["indexer"], "sample": "too many connections"}}
    f["lag"].update(status="stalled", lag_blocks=40, lag_seconds=40.0, catch_up_blocks_per_second=-1.0)


def rpc_down(f):
    f["api"] = {"status": 503, "json": {"status": "error", "checks": {"db": "ok", "redis": "ok", "chain": "[Errno 111] Connection refused"}}}
    f["services"]["services"]["chain"].update(running=False, state="exited", exit_code=137)
    f["lag"] = {"status": "rpc_unreachable", "lag_blocks": 25, "lag_seconds": 25.0,
                "rpc": {"reachable": False, "latency_ms": None, "error": "[Errno 111] Connection refused"}}
    f["logs"]["causes"] = {"rpc_failure": {"count": 9, "services": ["indexer"]}}


def api_down(f):
    f["api"] = {"status": -1, "msg": "Status code was -1 and not [200, 503]: Request failed: <urlopen error [Errno 111] Connection refused>"}
    f["services"]["services"]["indexer"].update(running=False, state="exited", exit_code=137)
    f["lag"] = {"status": "indexer_unreachable", "lag_blocks": None, "rpc": {"reachable": True, "latency_ms": 2.0}}


def indexer_lag(f):
    f["lag"].update(status="stalled", lag_blocks=45, lag_seconds=45.0, catch_up_blocks_per_second=-1.0)


def disk_full(f):
    f["disk"]["paths"][0].update(percent_used=96.2, free_bytes=10 * 2**20, over_threshold=True)
    f["disk"]["full"] = ["/srv/data"]


def disk_full_db_errors(f):
    f["disk"]["paths"][0].update(percent_used=100.0, free_bytes=0, over_threshold=True)
    f["disk"]["full"] = ["/srv/data"]
    f["postgres"] = {"is_available": False, "exhausted": False, "error": "could not extend file: No space left on device"}
    f["api"] = {"status": 503, "json": {"checks": {"db": "server closed the connection unexpectedly", "redis": "ok", "chain": "ok"}}}
    f["logs"]["causes"] = {"disk_full": {"count": 3, "services": ["db"]}, "db_connections_exhausted": {"count": 1}}
    f["lag"].update(status="stalled", lag_blocks=30, lag_seconds=30.0)


# The indexer's container re-created by a deploy at this time (deployment_info's recent_changes).
DEPLOYED_AT = "2026-11-28T07:00:00+00:00"
NEW_ERROR = 'GET /api/marketplace/listings failed: UndefinedTable: relation "<str>" does not exist'


def bad_deploy(f):
    """A release that breaks one API path: /health stays 200, users get 500 there, the indexer logs a new error."""
    f["deployment"]["recent_changes"] = [
        {"kind": "container", "name": "indexer", "age_hours": 0.1, "time": DEPLOYED_AT,
         "description": "container usdx-wexel-indexer-1 created from usdx/indexer:v1.5.0"},
        {"kind": "commit", "name": "0a1b2c3", "age_hours": 0.1, "time": DEPLOYED_AT, "description": "deploy indexer v1.5.0 (was v1.4.0)"}]
    f["logs"] = {"causes": {}, "error_count": 12, "services": {"indexer": {"error_count": 12, "signatures": [
        {"signature": NEW_ERROR, "level": "ERROR", "component": "api", "count": 12, "first_seen": "2026-11-28T07:00:09.123456789Z",
         "last_seen": "2026-11-28T07:04:09.5Z", "sample": "ERROR [api] GET /api/marketplace/listings failed: UndefinedTable"}]}}}
    f["users"] = {"window_seconds": 300, "clients_total": 7, "clients_failed": 3, "requests_total": 90, "requests_failed": 12,
                  "failed_paths": {"/api/marketplace/listings": 3, "/health": 1}}


def stale_exhaustion_lines(f):
    """Database log lines naming the exhaustion, while the database has slots to spare."""
    f["logs"]["causes"] = {"db_connections_exhausted": {"count": 2, "services": ["db"], "sample": "FATAL: too many connections"}}


def apply(*changes):
    findings = healthy()
    for change in changes:
        change(findings)
    return findings


def set_path(path, value):
    def change(f):
        target = f
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return change


def judged(*changes):
    findings = apply(*changes)
    return dict(findings, severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))
