# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The severity filter."""

from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError
from findings_builders import (api_down, apply, bad_deploy, db_exhausted, disk_full, disk_full_db_errors, healthy, indexer_lag, rpc_down, set_path,
                               stale_exhaustion_lines)

from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import FilterModule, severity
from ansible_collections.usdx.incident.plugins.filter.summary import triage_summary


def test_healthy_is_p_nothing():
    assert severity(healthy()) == {"level": None, "response_time": None, "reason": "all checks passed",
                                   "actions": "No action needed", "signals": [], "complete": True, "incomplete": []}


@pytest.mark.parametrize(
    ("changes", "level", "reason"),
    [
        ((api_down,), "P0", "API unavailable: API does not answer: Status code was -1"),
        ((db_exhausted,), "P0", "database connections exhausted"),
        ((rpc_down,), "P1", "API health returned 503 (chain: [Errno 111] Connection refused): the chain RPC is unreachable"),
        ((indexer_lag,), "P1", "deposits delayed: indexer stalled, 45 blocks (45s) behind, catch-up rate -1 blocks/s"),
        ((disk_full,), "P1", "disk nearly full: /srv/data 96.2% used (10.0 MiB free)"),
        ((disk_full_db_errors,), "P0", "disk full, data loss risk: /srv/data 100% used (0 B free)"),
        ((set_path(("disk", "paths"), [{"path": "/d", "percent_used": 91.0, "free_bytes": 10**9}]),), "P2",
         "disk use over the threshold: /d 91% used (953.7 MiB free)"),
        ((set_path(("disk", "paths"), [{"path": "/d", "percent_used": 50.0, "inodes_percent_used": 99.5}]),), "P0", "/d 99.5% used"),
        ((set_path(("disk", "full"), ["/legacy"]),), "P2", "disk use over the threshold: /legacy (use unknown)"),
        ((set_path(("disk", "paths"), [{"path": "/d", "percent_used": 92.0}]), set_path(("logs", "causes"), ["disk_full"])), "P0",
         "writes fail for lack of space, data loss risk: logs show disk_full"),
        ((set_path(("lag", "status"), "lagging"), set_path(("lag", "lag_blocks"), 150)), "P1", "deposits delayed: indexer lagging, 150 blocks"),
        ((set_path(("lag", "status"), "lagging"), set_path(("lag", "lag_blocks"), 20), set_path(("lag", "lag_seconds"), 400)), "P1",
         "deposits delayed"),
        ((set_path(("lag", "status"), "lagging"), set_path(("lag", "lag_blocks"), 20), set_path(("lag", "lag_seconds"), 20)), "P2",
         "indexer behind: indexer lagging, 20 blocks (20s) behind"),
        ((set_path(("lag", "status"), "lagging"), set_path(("lag", "lag_blocks"), 16), set_path(("lag", "lag_seconds"), 16),
          set_path(("lag", "catch_up_blocks_per_second"), -0.9)), "P1",
         "deposits delayed: indexer lagging, 16 blocks (16s) behind, catch-up rate -0.9 blocks/s"),
        ((set_path(("lag", "status"), "indexer_unreachable"),), "P2", "indexer metrics unreachable"),
        ((set_path(("lag", "rpc"), {"reachable": False, "error": "timed out"}),), "P1", "chain RPC unreachable: timed out, deposits"),
        ((set_path(("rpc",), {"reachable": True, "latency_ms": 2500}),), "P2", "chain RPC slow: 2500 ms"),
        ((set_path(("api", "elapsed"), 1.5),), "P2", "API slow: health answered in 1500 ms"),
        ((set_path(("webapp",), {"status_code": 502}),), "P1", "webapp down: webapp health returned 502"),
        ((set_path(("webapp",), {"status_code": 503, "maintenance": True}),), "P2", "maintenance mode is on"),
        ((set_path(("webapp",), {"status_code": 503}), set_path(("lag", "indexer", "maintenance"), True)), "P2", "maintenance mode is on"),
        ((set_path(("services", "services", "webapp", "running"), False), set_path(("services", "services", "webapp", "state"), "exited")),
         "P1", "webapp container exited"),
        ((set_path(("services", "services", "redis", "running"), False), set_path(("services", "services", "redis", "state"), "exited"),
          set_path(("services", "services", "redis", "oom_killed"), True)), "P0",
         "API unavailable: redis container exited, killed by the OOM killer"),
        ((set_path(("services", "services", "indexer", "restarting"), True), set_path(("services", "services", "indexer", "restart_count"), 4)),
         "P0", "indexer container running, 4 restarts"),
        ((set_path(("services", "services", "webapp", "health"), "unhealthy"),), "P2", "webapp container unhealthy"),
        ((set_path(("postgres", "use_percent"), 85.0), set_path(("postgres", "connections"), {"total": 17})), "P2",
         "database connection use high: 17/20 connections (85%)"),
        ((set_path(("postgres", "waiting_locks"), [{"pid": 1}, {"pid": 2}]),), "P2", "database lock waits: 2"),
        ((set_path(("postgres",), {"is_available": False, "error": "timeout expired"}),), "P0", "database unavailable: timeout expired"),
        ((set_path(("postgres",), {"reachable": False, "error": "FATAL: sorry, too many clients already"}),), "P0",
         "database connections exhausted: FATAL: sorry, too many clients already"),
        ((set_path(("logs", "causes"), {"out_of_memory": {"count": 1, "services": ["indexer"], "sample": "Killed"}}),), "P2",
         "logs show out_of_memory (1 lines in indexer): Killed"),
        ((set_path(("logs", "error_count"), 7),), "P3", "7 error lines in the logs"),
        ((set_path(("security",), {"suspected": True, "reason": "unknown admin key used"}),), "P0", "security: unknown admin key used"),
        ((set_path(("security",), {"suspected": True}),), "P0", "security: security incident suspected"),
    ],
    ids=["api-down", "db-exhausted", "rpc-down", "indexer-stalled", "disk-nearly-full", "disk-full-db-errors", "disk-over-threshold",
         "inodes-exhausted", "full-list-only", "no-space-in-logs", "lag-major-blocks", "lag-major-seconds", "lag-minor",
         "lag-growing", "metrics-unreachable", "rpc-unreachable", "rpc-slow", "api-slow", "webapp-down-api-ok", "webapp-maintenance",
         "maintenance-from-metrics", "webapp-container-down", "critical-service-oom", "critical-service-restarting",
         "unhealthy-container", "pg-high-use", "pg-lock-waits", "pg-unavailable", "pg-refuses-with-error", "log-cause",
         "log-errors-only", "security", "security-no-reason"],
)
def test_severity_levels(changes, level, reason):
    result = severity(apply(*changes))
    assert result["level"] == level
    assert reason in result["reason"]
    assert result["response_time"] == {"P0": "Immediate", "P1": "< 15 minutes", "P2": "< 1 hour", "P3": "Next business day"}[level]
    assert result["signals"][0]["level"] == level


def test_severity_reason_joins_every_finding_of_the_top_level():
    result = severity(apply(db_exhausted))
    assert result["reason"].startswith("API unavailable: API health returned 503 (db: connection to server")
    assert "; database connections exhausted: connection to server" not in result["reason"]
    assert "; database connections exhausted: 17/20 connections (85%)" in result["reason"]
    assert result["actions"] == "All hands on deck, immediate escalation"
    assert [s["level"] for s in result["signals"]] == ["P0", "P0", "P1", "P2"]


def test_severity_accepts_partial_findings():
    assert severity({"lag": {"status": "ok", "lag_blocks": 0}})["level"] is None
    assert severity({"api": {"healthy": False, "status_code": 503}})["level"] == "P0"
    assert severity({"api": {"healthy": True}, "unknown": 1})["level"] is None


def test_severity_options():
    findings = apply(set_path(("lag", "status"), "lagging"), set_path(("lag", "lag_blocks"), 60), set_path(("lag", "lag_seconds"), 60))
    assert severity(findings)["level"] == "P2"
    assert severity(findings, lag_major_blocks=50)["level"] == "P1"
    assert severity(findings, lag_major_seconds="30")["level"] == "P1"
    assert severity(apply(disk_full), disk_critical_percent=97)["level"] == "P2"
    assert severity(apply(disk_full), disk_exhausted_percent=96)["level"] == "P0"
    down = apply(set_path(("services", "services", "webapp", "running"), False))
    assert severity(down, critical_services=["webapp"])["level"] == "P0"
    assert severity(apply(set_path(("postgres", "use_percent"), 50.0)), pg_high_percent=50)["level"] == "P2"
    assert severity(apply(set_path(("api", "elapsed"), 0.2)), slow_ms=100)["level"] == "P2"


@pytest.mark.parametrize(
    ("findings", "options", "message"),
    [
        ("P0", {}, "severity: the input must be a findings dict, got 'P0'"),
        (None, {}, "severity: the input must be a findings dict, got None"),
        ({}, {}, "severity: the findings have none of the keys api, webapp, services"),
        ({"foo": 1}, {}, "the findings have none of the keys"),
        ({"api": {"healthy": True}}, {"lag_major": 5}, "severity: unknown option 'lag_major'; accepted options are critical_services"),
        ({"api": {"healthy": True}}, {"critical_services": "db"}, "critical_services must be a list of service names, got 'db'"),
        ({"api": {"healthy": True}}, {"slow_ms": "fast"}, "severity: slow_ms must be a number, got 'fast'"),
        ({"api": {"healthy": True}}, {"slow_ms": None}, "severity: slow_ms must be a number, got None"),
    ],
    ids=["string", "none", "empty", "no-known-key", "unknown-option", "critical-services-string", "option-not-number", "option-none"],
)
def test_severity_bad_input_names_the_value(findings, options, message):
    """Only what is not a findings document at all, or a bad option (the user's own input), is an error."""
    with pytest.raises(AnsibleFilterError) as error:
        severity(findings, **options)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("findings", "check", "message"),
    [
        ({"api": "down"}, "api", "findings.api must be a dict, got 'down'"),
        ({"api": {"healthy": "no"}}, "api", "findings.api.healthy must be true or false, got 'no'"),
        ({"api": {"status_code": "abc"}}, "api", "findings.api.status_code must be a number, got 'abc'"),
        ({"api": {"healthy": True, "checks": ["db"]}}, "api", "findings.api.checks must be a dict, got ['db']"),
        ({"lag": {"status": "slow"}}, "lag",
         "findings.lag.status must be one of ok, lagging, stalled, rpc_unreachable, indexer_unreachable, got 'slow'"),
        ({"lag": {"status": "ok", "lag_blocks": True}}, "lag", "findings.lag.lag_blocks must be a number, got True"),
        ({"disk": {"paths": "/data"}}, "disk", "findings.disk.paths must be a list, got '/data'"),
        ({"disk": {"paths": ["/data"]}}, "disk", "findings.disk.paths items must be dicts, got '/data'"),
        ({"disk": {"full": "/data"}}, "disk", "findings.disk.full must be a list of paths, got '/data'"),
        ({"logs": {"causes": "disk_full"}}, "logs", "findings.logs.causes must be a dict or a list, got 'disk_full'"),
        ({"logs": {"causes": [3]}}, "logs", "findings.logs.causes items must be names or dicts with a cause, got 3"),
        ({"deployment": {"recent_changes": "today"}}, "deployment",
         "findings.deployment.recent_changes must be a list of dicts, got 'today'"),
        ({"postgres": {"use_percent": float("nan")}}, "postgres", "findings.postgres.use_percent must be a number, got nan"),
    ],
    ids=["api-not-dict", "healthy-not-bool", "status-not-number", "checks-not-dict", "bad-lag-status", "bool-as-number",
         "paths-not-list", "paths-items", "full-not-list", "causes-string", "causes-items", "changes-not-list", "nan"],
)
def test_unreadable_host_data_is_an_incomplete_check_naming_the_value(findings, check, message):
    """Host data of a bad shape is not an error: the check it came from is incomplete, and says why."""
    result = severity(findings)
    assert {"check": check, "reason": message} in result["incomplete"]
    assert result["complete"] is False
    assert result["level"] in ("P0", "P1", "P2")
    assert any(s.get("check") == check and message in s["reason"] for s in result["signals"])


def test_severity_does_not_modify_the_input():
    findings = apply(db_exhausted, disk_full)
    before = copy.deepcopy(findings)
    severity(findings)
    rank_scenarios(findings)
    assert findings == before


def test_a_project_without_containers_is_every_critical_service_missing():
    def project_gone(f):
        f["services"] = {"changed": False, "project_found": False, "services": {}, "running": [], "not_running": []}
    result = severity(apply(project_gone))
    assert result["level"] == "P0"
    for name in ("db", "redis", "indexer"):
        assert f"API unavailable: {name} container missing" in result["reason"]
    assert rank_scenarios(apply(project_gone))[0]["scenario"] == "api_unavailable"


def test_a_service_asked_for_but_absent_is_missing():
    def webapp_removed(f):
        del f["services"]["services"]["webapp"]
        f["services"]["missing"] = ["webapp"]
    assert "webapp container missing" in severity(apply(webapp_removed))["reason"]


# ----------------------------------------------------------------------------------------- fail closed

DOCKER_DENIED = {"failed": True, "msg": "compose_service_info: docker: permission denied while trying to connect to the Docker daemon socket"}


def failing_docker(f):
    """The docker CLI fails: every check that needs it reports failed, the HTTP ones still answer."""
    for check in ("services", "logs", "disk"):
        f[check] = dict(DOCKER_DENIED)
    f["checks"] = ["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment"]


@pytest.mark.parametrize(
    ("changes", "level", "incomplete"),
    [
        ((failing_docker,), "P1", ["services", "logs", "disk"]),
        ((set_path(("deployment",), {"failed": True, "msg": "git: not a repository"}),), "P2", ["deployment"]),
        ((set_path(("postgres",), {"failed": True, "timed_out": True, "msg": "no answer in 20s"}),), "P1", ["postgres"]),
        ((set_path(("lag", "timed_out"), True),), "P1", ["lag"]),
        ((set_path(("webapp",), {"failed": True, "msg": "webapp: url is not http"}),), "P2", ["webapp"]),
        ((set_path(("disk", "partial"), ["/srv/backups: permission denied"]),), "P1", ["disk"]),
        ((set_path(("checks",), ["api", "services", "users"]),), "P1", ["users"]),
        ((set_path(("checks",), ["api", "deployment", "security"]),), "P2", ["security"]),
        ((set_path(("users",), {"failed": True, "msg": "access log unreadable"}),), "P1", ["users"]),
    ],
    ids=["docker-cli-fails", "deployment-failed", "postgres-timed-out", "lag-timed-out", "webapp-failed", "disk-partial",
         "asked-for-check-absent", "asked-for-check-covering-nothing", "users-failed"],
)
def test_a_check_that_did_not_run_is_never_healthy(changes, level, incomplete):
    result = severity(apply(*changes))
    assert result["level"] == level, result
    assert result["complete"] is False
    assert [entry["check"] for entry in result["incomplete"]] == incomplete
    assert all(entry["reason"] for entry in result["incomplete"])
    assert [s["check"] for s in result["signals"] if "check" in s] == incomplete


def test_failing_docker_names_each_check_and_its_reason():
    result = severity(apply(failing_docker))
    assert result["incomplete"][0] == {"check": "services", "reason": DOCKER_DENIED["msg"]}
    assert result["reason"].startswith(f"check services incomplete: {DOCKER_DENIED['msg']}")
    assert result["response_time"] == "< 15 minutes"


def test_incomplete_checks_do_not_lower_a_real_finding():
    result = severity(apply(api_down, failing_docker))
    assert result["level"] == "P0"
    assert result["complete"] is False
    assert result["reason"].startswith("API unavailable: API does not answer")


def test_incomplete_covering_a_critical_service_follows_the_option():
    findings = apply(set_path(("webapp",), {"failed": True, "msg": "boom"}))
    assert severity(findings)["level"] == "P2"
    assert severity(findings, critical_services=["webapp"])["level"] == "P1"


def test_a_failed_http_request_is_the_answer_not_a_missing_check():
    # ansible.builtin.uri registers an unanswered request as failed with status -1: that is the API down.
    result = severity(apply(set_path(("api",), {"failed": True, "status": -1, "msg": "Request failed: connection refused"})))
    assert result["level"] == "P0"
    assert result["complete"] is True
    assert "API unavailable: API does not answer: Request failed: connection refused" in result["reason"]


# ----------------------------------------------------------------------------------------- judge correctly

def redis_removed(f):
    """docker rm -f of the redis container: compose lists only the containers it finds."""
    del f["services"]["services"]["redis"]
    f["services"]["running"].remove("redis")


@pytest.mark.parametrize(
    "change, name",
    [
        (redis_removed, "redis"),
        (lambda f: f["services"].update(missing=["db"]) or f["services"]["services"].pop("db"), "db"),
        (lambda f: f["services"].update(project_found=False, services={}), "indexer"),
        (lambda f: f.update(services={"webapp": {"running": True, "state": "running"}}), "db"),
    ],
    ids=["container-removed", "listed-missing", "project-gone", "hand-written-without-it"],
)
def test_a_critical_service_without_a_container_is_missing_and_p0(change, name):
    result = severity(apply(change))
    assert result["level"] == "P0"
    assert f"API unavailable: {name} container missing" in result["reason"]


def test_a_non_critical_service_that_compose_does_not_list_is_not_invented():
    findings = apply(lambda f: f["services"]["services"].pop("chain"))
    assert severity(findings)["level"] is None


# ----------------------------------------------------------------------------------------- host data of any shape

HOSTILE = [
    ("api", {"status": 200, "json": ["ok"]}),
    ("api", {"status": 200, "json": "ok"}),
    ("api", {"status": 200, "json": None}),
    ("api", {"status": 503, "json": {"checks": {"db": {"status": "down", "error": None}, "7": [1, 2], "x": None}}}),
    ("api", {"status": 503, "json": {"checks": ["db"]}}),
    ("api", {"status": "200", "elapsed": "fast"}),
    ("api", {"status": True, "msg": {"nested": 1}}),
    ("api", {"status": 1e400}),
    ("webapp", {"status_code": None, "maintenance": "yes", "healthy": None}),
    ("services", {"services": {"indexer": {"running": "yes", "restart_count": "many", "exit_code": {}}, "db": None}}),
    ("services", {"services": [], "missing": "redis"}),
    ("services", {"project_found": "no", "services": {"db": {"state": None}}}),
    ("postgres", {"is_available": "yes", "connections": {"total": None}, "max_connections": "twenty", "use_percent": [1]}),
    ("postgres", {"exhausted": 1, "error": {"code": 53300}, "waiting_locks": {"a": 1}, "idle_in_transaction": "3"}),
    ("logs", {"causes": {"db_connections_exhausted": {"count": "x", "services": "indexer", "sample": 7}, "oom": None}}),
    ("logs", {"causes": [{"cause": None}, {"name": 3}], "error_count": float("nan")}),
    ("disk", {"paths": [{"path": None, "percent_used": "full", "free_bytes": -1, "over_threshold": "yes"}], "full": [None, 3]}),
    ("disk", {"threshold_percent": "high", "paths": [{"inodes_percent_used": float("inf")}]}),
    ("lag", {"status": None, "lag_blocks": "12", "lag_seconds": [], "rpc": "down", "indexer": []}),
    ("lag", {"status": "rpc_unreachable", "rpc": {"reachable": "no", "latency_ms": {}, "error": ["refused"]}}),
    ("lag", {"status": "lagging", "lag_blocks": None, "lag_seconds": None, "catch_up_blocks_per_second": "slow"}),
    ("rpc", {"reachable": None, "latency_ms": "1e9"}),
    ("deployment", {"recent_changes": [None, "x", {"kind": None, "age_hours": True}], "repo": "dirty"}),
    ("users", {"clients_total": "12", "clients_failed": None, "failed_paths": ["/api"], "window_seconds": {}}),
    ("security", {"suspected": [], "reason": {"who": "?"}}),
    ("checks", "api"),
    ("checks", [None, 3, {"x": 1}]),
]


@pytest.mark.parametrize(("key", "section"), HOSTILE, ids=[f"{key}-{n}" for n, (key, _s) in enumerate(HOSTILE)])
def test_hostile_shapes_never_crash_the_filters(key, section):
    findings = apply(set_path((key,), section))
    result = severity(findings)
    assert result["level"] in (None, "P0", "P1", "P2", "P3")
    assert isinstance(result["complete"], bool)
    ranked = rank_scenarios(findings)
    assert all(isinstance(r["score"], int) for r in ranked)
    risk = data_at_risk(findings)
    lines = triage_summary(dict(findings, severity=result, scenarios=ranked, data_at_risk=risk))
    assert lines and all(isinstance(line, str) and "\n" not in line for line in lines)
    assert not lines[0].startswith("HEALTHY") or result["complete"]
    for entry in result["incomplete"]:
        assert set(entry) == {"check", "reason"} and isinstance(entry["reason"], str) and entry["reason"]


@pytest.mark.parametrize(
    ("key", "section", "reason"),
    [
        ("lag", {"status": "ok", "lag_blocks": "many"}, "findings.lag.lag_blocks must be a number, got 'many'"),
        ("lag", {"status": "ok", "rpc": "down"}, "findings.lag.rpc must be a dict, got 'down'"),
        ("lag", {"status": "ok", "rpc": {"reachable": "no"}}, "findings.lag.rpc.reachable must be true or false, got 'no'"),
        ("rpc", {"reachable": True, "latency_ms": [3]}, "findings.rpc.latency_ms must be a number, got [3]"),
        ("postgres", {"is_available": "yes"}, "findings.postgres.is_available must be true or false, got 'yes'"),
        ("services", {"services": {"db": {"running": "yes"}}}, "findings.services.running must be true or false, got 'yes'"),
        ("users", {"clients_total": "twelve"}, "findings.users.clients_total must be a number, got 'twelve'"),
        ("checks", "api", "findings.checks must be a list of check names, got 'api'"),
    ],
    ids=["lag-blocks", "lag-rpc", "rpc-reachable", "rpc-latency", "pg-available", "service-running", "users-count", "checks"],
)
def test_an_unreadable_field_that_matters_is_a_partial_reason(key, section, reason):
    result = severity(apply(set_path((key,), section)))
    assert reason in [entry["reason"] for entry in result["incomplete"]]
    assert result["level"] is not None


def test_users_do_not_change_the_severity():
    users = {"window_seconds": 300, "clients_total": 12, "clients_failed": 5, "requests_total": 80, "requests_failed": 20,
             "failed_paths": {"/api/deposits": 9}, "failed": False}
    assert severity(apply(set_path(("users",), users)))["level"] is None
    assert severity({"users": users})["level"] is None


def test_filter_map():
    assert FilterModule().filters() == {"severity": severity}


def test_containers_that_vanished_while_read_make_the_triage_incomplete():
    findings = apply()
    findings["services"]["vanished"] = ["0123456789abcdef0123"]
    verdict = severity(findings)
    assert verdict["complete"] is False
    assert verdict["incomplete"][0]["check"] == "services" and "vanished" in verdict["incomplete"][0]["reason"]
    assert verdict["level"] in ("P0", "P1")


@pytest.mark.parametrize(
    ("path", "check"),
    [(("postgres", "is_available"), "postgres"), (("lag", "rpc", "reachable"), "lag")],
    ids=["postgres-availability-not-said", "rpc-reachability-not-said"],
)
def test_an_availability_that_is_not_said_is_not_read_as_available(path, check):
    findings = apply()
    section = findings
    for key in path[:-1]:
        section = section[key]
    del section[path[-1]]
    verdict = severity(findings)
    assert verdict["complete"] is False and verdict["level"] is not None
    assert any(entry["check"] == check and path[-1] in entry["reason"] for entry in verdict["incomplete"]), verdict["incomplete"]


# --- a major feature broken: users get 5xx on a path while /health answers 200 --------------------------------------

def test_users_failing_on_a_path_the_service_logs_errors_for_is_a_major_feature_broken():
    result = severity(apply(bad_deploy, stale_exhaustion_lines))
    assert result["level"] == "P1" and result["response_time"] == "< 15 minutes"
    assert result["reason"].startswith("major feature broken: 3 of 7 clients got 5xx on /api/marketplace/listings (3 clients)"
                                       " while /health answers 200; indexer logs 1 error signature(s): GET /api/marketplace")
    assert "/health (" not in result["reason"], "a probe's failure is no feature of the users'"


@pytest.mark.parametrize(
    ("change", "level"),
    [
        # The access log alone: the logs do not show the failure (test_users_do_not_change_the_severity).
        (set_path(("logs",), {"causes": {}, "error_count": 0}), None),
        # Errors in the logs, no user failing: what the logs show alone (P3).
        (set_path(("users", "clients_failed"), 0), "P3"),
        (set_path(("users", "failed_paths"), {"/health": 3}), "P3"),
        # The errors are a known cause showing through (the database's): its own signal judges it, not this one.
        (lambda f: f["logs"]["services"]["indexer"]["signatures"][0].update(signature="query failed: too many connections"), "P3"),
        # Only a service that does not serve users logs errors.
        (lambda f: f["logs"]["services"].update(db=f["logs"]["services"].pop("indexer")), "P3"),
        # /health fails: the API is unavailable, P0 whatever the paths say.
        (set_path(("api",), {"status": 503, "json": {"checks": {"db": "ok", "redis": "down"}}}), "P0"),
    ],
    ids=["users-alone", "errors-alone", "only-probes-fail", "known-cause", "errors-elsewhere", "health-fails"],
)
def test_a_feature_is_called_broken_only_on_both_sides_while_health_is_200(change, level):
    result = severity(apply(bad_deploy, change))
    assert result["level"] == level, result["reason"]
    assert not any(s["reason"].startswith("major feature broken") for s in result["signals"])
