# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import datetime

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.incident import (
    FilterModule,
    data_at_risk,
    human_duration,
    human_size,
    rank_scenarios,
    sla_deadline,
    severity,
    triage_summary,
)

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


def apply(*changes):
    findings = healthy()
    for change in changes:
        change(findings)
    return findings


# ----------------------------------------------------------------------------------------- severity

def test_healthy_is_p_nothing():
    assert severity(healthy()) == {"level": None, "response_time": None, "reason": "all checks passed",
                                   "actions": "No action needed", "signals": []}


def _set(path, value):
    def change(f):
        target = f
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    return change


@pytest.mark.parametrize(
    ("changes", "level", "reason"),
    [
        ((api_down,), "P0", "API unavailable: API does not answer: Status code was -1"),
        ((db_exhausted,), "P0", "database connections exhausted"),
        ((rpc_down,), "P1", "API health returned 503 (chain: [Errno 111] Connection refused): the chain RPC is unreachable"),
        ((indexer_lag,), "P1", "deposits delayed: indexer stalled, 45 blocks (45s) behind, catch-up rate -1 blocks/s"),
        ((disk_full,), "P1", "disk nearly full: /srv/data 96.2% used (10.0 MiB free)"),
        ((disk_full_db_errors,), "P0", "disk full, data loss risk: /srv/data 100% used (0 B free)"),
        ((_set(("disk", "paths"), [{"path": "/d", "percent_used": 91.0, "free_bytes": 10**9}]),), "P2",
         "disk use over the threshold: /d 91% used (953.7 MiB free)"),
        ((_set(("disk", "paths"), [{"path": "/d", "percent_used": 50.0, "inodes_percent_used": 99.5}]),), "P0", "/d 99.5% used"),
        ((_set(("disk", "full"), ["/legacy"]),), "P2", "disk use over the threshold: /legacy (use unknown)"),
        ((_set(("disk", "paths"), [{"path": "/d", "percent_used": 92.0}]), _set(("logs", "causes"), ["disk_full"])), "P0",
         "writes fail for lack of space, data loss risk: logs show disk_full"),
        ((_set(("lag", "status"), "lagging"), _set(("lag", "lag_blocks"), 150)), "P1", "deposits delayed: indexer lagging, 150 blocks"),
        ((_set(("lag", "status"), "lagging"), _set(("lag", "lag_blocks"), 20), _set(("lag", "lag_seconds"), 400)), "P1",
         "deposits delayed"),
        ((_set(("lag", "status"), "lagging"), _set(("lag", "lag_blocks"), 20), _set(("lag", "lag_seconds"), 20)), "P2",
         "indexer behind: indexer lagging, 20 blocks (20s) behind"),
        ((_set(("lag", "status"), "indexer_unreachable"),), "P2", "indexer metrics unreachable"),
        ((_set(("lag", "rpc"), {"reachable": False, "error": "timed out"}),), "P1", "chain RPC unreachable: timed out, deposits"),
        ((_set(("rpc",), {"reachable": True, "latency_ms": 2500}),), "P2", "chain RPC slow: 2500 ms"),
        ((_set(("api", "elapsed"), 1.5),), "P2", "API slow: health answered in 1500 ms"),
        ((_set(("webapp",), {"status_code": 502}),), "P1", "webapp down: webapp health returned 502"),
        ((_set(("webapp",), {"status_code": 503, "maintenance": True}),), "P2", "maintenance mode is on"),
        ((_set(("webapp",), {"status_code": 503}), _set(("lag", "indexer", "maintenance"), True)), "P2", "maintenance mode is on"),
        ((_set(("services", "services", "webapp", "running"), False), _set(("services", "services", "webapp", "state"), "exited")),
         "P1", "webapp container exited"),
        ((_set(("services", "services", "redis", "running"), False), _set(("services", "services", "redis", "state"), "exited"),
          _set(("services", "services", "redis", "oom_killed"), True)), "P0",
         "API unavailable: redis container exited, killed by the OOM killer"),
        ((_set(("services", "services", "indexer", "restarting"), True), _set(("services", "services", "indexer", "restart_count"), 4)),
         "P0", "indexer container running, 4 restarts"),
        ((_set(("services", "services", "webapp", "health"), "unhealthy"),), "P2", "webapp container unhealthy"),
        ((_set(("postgres", "use_percent"), 85.0), _set(("postgres", "connections"), {"total": 17})), "P2",
         "database connection use high: 17/20 connections (85%)"),
        ((_set(("postgres", "waiting_locks"), [{"pid": 1}, {"pid": 2}]),), "P2", "database lock waits: 2"),
        ((_set(("postgres",), {"is_available": False, "error": "timeout expired"}),), "P0", "database unavailable: timeout expired"),
        ((_set(("postgres",), {"reachable": False, "error": "FATAL: sorry, too many clients already"}),), "P0",
         "database connections exhausted: FATAL: sorry, too many clients already"),
        ((_set(("logs", "causes"), {"out_of_memory": {"count": 1, "services": ["indexer"], "sample": "Killed"}}),), "P2",
         "logs show out_of_memory (1 lines in indexer): Killed"),
        ((_set(("logs", "error_count"), 7),), "P3", "7 error lines in the logs"),
        ((_set(("security",), {"suspected": True, "reason": "unknown admin key used"}),), "P0", "security: unknown admin key used"),
        ((_set(("security",), {"suspected": True}),), "P0", "security: security incident suspected"),
    ],
    ids=["api-down", "db-exhausted", "rpc-down", "indexer-stalled", "disk-nearly-full", "disk-full-db-errors", "disk-over-threshold",
         "inodes-exhausted", "full-list-only", "no-space-in-logs", "lag-major-blocks", "lag-major-seconds", "lag-minor",
         "metrics-unreachable", "rpc-unreachable", "rpc-slow", "api-slow", "webapp-down-api-ok", "webapp-maintenance",
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
    findings = apply(_set(("lag", "status"), "lagging"), _set(("lag", "lag_blocks"), 60), _set(("lag", "lag_seconds"), 60))
    assert severity(findings)["level"] == "P2"
    assert severity(findings, lag_major_blocks=50)["level"] == "P1"
    assert severity(findings, lag_major_seconds="30")["level"] == "P1"
    assert severity(apply(disk_full), disk_critical_percent=97)["level"] == "P2"
    assert severity(apply(disk_full), disk_exhausted_percent=96)["level"] == "P0"
    down = apply(_set(("services", "services", "webapp", "running"), False))
    assert severity(down, critical_services=["webapp"])["level"] == "P0"
    assert severity(apply(_set(("postgres", "use_percent"), 50.0)), pg_high_percent=50)["level"] == "P2"
    assert severity(apply(_set(("api", "elapsed"), 0.2)), slow_ms=100)["level"] == "P2"


@pytest.mark.parametrize(
    ("findings", "options", "message"),
    [
        ("P0", {}, "severity: the input must be a findings dict, got 'P0'"),
        (None, {}, "severity: the input must be a findings dict, got None"),
        ({}, {}, "severity: the findings have none of the keys api, webapp, services"),
        ({"foo": 1}, {}, "the findings have none of the keys"),
        ({"api": "down"}, {}, "severity: findings.api must be a dict, got 'down'"),
        ({"api": {"healthy": "no"}}, {}, "findings.api.healthy must be true or false, got 'no'"),
        ({"api": {"status_code": "abc"}}, {}, "findings.api.status_code must be a number, got 'abc'"),
        ({"api": {"healthy": True, "checks": ["db"]}}, {}, "findings.api.checks must be a dict, got ['db']"),
        ({"lag": {"status": "slow"}}, {}, "findings.lag.status must be one of ok, lagging, stalled, rpc_unreachable, indexer_unreachable, got 'slow'"),
        ({"lag": {"status": "ok", "lag_blocks": True}}, {}, "findings.lag.lag_blocks must be a number, got True"),
        ({"disk": {"paths": "/data"}}, {}, "findings.disk.paths must be a list, got '/data'"),
        ({"disk": {"paths": ["/data"]}}, {}, "findings.disk.paths items must be dicts, got '/data'"),
        ({"disk": {"full": "/data"}}, {}, "findings.disk.full must be a list of paths, got '/data'"),
        ({"logs": {"causes": "disk_full"}}, {}, "findings.logs.causes must be a dict or a list, got 'disk_full'"),
        ({"logs": {"causes": [3]}}, {}, "findings.logs.causes items must be names or dicts with a cause, got 3"),
        ({"deployment": {"recent_changes": "today"}}, {}, "findings.deployment.recent_changes must be a list of dicts, got 'today'"),
        ({"postgres": {"use_percent": float("nan")}}, {}, "findings.postgres.use_percent must be a number, got nan"),
        ({"api": {"healthy": True}}, {"lag_major": 5}, "severity: unknown option 'lag_major'; accepted options are critical_services"),
        ({"api": {"healthy": True}}, {"critical_services": "db"}, "critical_services must be a list of service names, got 'db'"),
        ({"api": {"healthy": True}}, {"slow_ms": "fast"}, "severity: slow_ms must be a number, got 'fast'"),
        ({"api": {"healthy": True}}, {"slow_ms": None}, "severity: slow_ms must be a number, got None"),
    ],
    ids=["string", "none", "empty", "no-known-key", "api-not-dict", "healthy-not-bool", "status-not-number", "checks-not-dict",
         "bad-lag-status", "bool-as-number", "paths-not-list", "paths-items", "full-not-list", "causes-string", "causes-items",
         "changes-not-list", "nan", "unknown-option", "critical-services-string", "option-not-number", "option-none"],
)
def test_severity_bad_input_names_the_value(findings, options, message):
    with pytest.raises(AnsibleFilterError) as error:
        severity(findings, **options)
    assert message in str(error.value)


def test_severity_does_not_modify_the_input():
    findings = apply(db_exhausted, disk_full)
    before = copy.deepcopy(findings)
    severity(findings)
    rank_scenarios(findings)
    assert findings == before


# ----------------------------------------------------------------------------------------- rank_scenarios

@pytest.mark.parametrize(
    ("changes", "order"),
    [
        ((db_exhausted,), ["db_connections_exhausted", "api_unavailable", "indexer_lag", "bad_deployment"]),
        ((rpc_down,), ["external_service_failure", "api_unavailable", "bad_deployment"]),
        ((disk_full_db_errors,), ["disk_full", "api_unavailable", "indexer_lag", "db_connections_exhausted", "bad_deployment"]),
        ((api_down,), ["api_unavailable", "bad_deployment"]),
        ((indexer_lag,), ["indexer_lag", "bad_deployment"]),
        ((disk_full,), ["disk_full"]),
        ((disk_full, api_down), ["api_unavailable", "disk_full", "bad_deployment"]),
    ],
    ids=["db-exhausted-explains-health-503", "rpc-down-explains-health-and-lag", "disk-full-explains-db-errors",
         "crashed-indexer-alone", "stalled-indexer-alone", "disk-full-alone", "crash-beside-unrelated-full-disk"],
)
def test_rank_order(changes, order):
    ranked = rank_scenarios(apply(*changes))
    assert [r["scenario"] for r in ranked] == order
    scores = [r["score"] for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(r["evidence"] for r in ranked)


def test_rank_two_causes_outrank_their_common_effect():
    findings = apply(db_exhausted)
    findings["api"]["json"]["checks"]["chain"] = "[Errno 111] Connection refused"
    findings["lag"].update(status="rpc_unreachable", rpc={"reachable": False, "error": "[Errno 111] Connection refused"})
    findings["logs"]["causes"]["rpc_failure"] = {"count": 3}
    ranked = rank_scenarios(findings)
    assert {r["scenario"] for r in ranked[:2]} == {"db_connections_exhausted", "external_service_failure"}
    assert [r["scenario"] for r in ranked[2:]] == ["api_unavailable", "bad_deployment"]
    assert all("api_unavailable" in r["explains"] for r in ranked[:2])


def test_rank_details_for_db_exhaustion():
    top, api = rank_scenarios(apply(db_exhausted))[:2]
    assert top["explains"] == ["api_unavailable", "indexer_lag"]
    assert top["evidence"][0] == "no connection slots left: 17/20 connections (85%)"
    assert "sessions idle in transaction: 1, lock waits: 1" in top["evidence"]
    assert any(e.startswith("API health db check: connection to server") for e in top["evidence"])
    assert top["score"] > api["score"]
    assert api["evidence"][0].startswith("API health returned 503 (db: connection to server")


def test_rank_rpc_down_evidence():
    top = rank_scenarios(apply(rpc_down))[0]
    assert top["evidence"] == ["chain RPC unreachable: [Errno 111] Connection refused",
                               "API health chain check: [Errno 111] Connection refused",
                               "chain container exited (exit code 137)",
                               "logs show rpc_failure (9 lines in indexer)"]


def test_rank_healthy_is_empty():
    assert rank_scenarios(healthy()) == []


def test_bad_deployment_needs_a_symptom_and_a_change():
    assert rank_scenarios(apply(disk_full)) == [r for r in rank_scenarios(apply(disk_full)) if r["scenario"] != "bad_deployment"]
    no_changes = apply(api_down, _set(("deployment", "recent_changes"), []))
    assert [r["scenario"] for r in rank_scenarios(no_changes)] == ["api_unavailable"]
    crash = apply(api_down, _set(("logs", "causes"), {"crash_on_startup": {"count": 2, "services": ["indexer"]}}),
                  _set(("deployment", "repo", "dirty"), True))
    deployment = [r for r in rank_scenarios(crash) if r["scenario"] == "bad_deployment"][0]
    assert deployment["evidence"] == ["recent changes (1): container indexer 0.4h ago", "logs show crash_on_startup (2 lines in indexer)",
                                      "uncommitted changes in the deploy directory"]
    assert deployment["explains"] == []


def test_rank_ties_follow_the_fixed_order():
    findings = {"disk": {"full": ["/a"]}, "lag": {"status": "lagging", "lag_blocks": 20}}
    assert [(r["scenario"], r["score"]) for r in rank_scenarios(findings)] == [("disk_full", 2), ("indexer_lag", 2)]


def test_rank_is_deterministic():
    findings = apply(db_exhausted, rpc_down, disk_full)
    assert all(rank_scenarios(findings) == rank_scenarios(copy.deepcopy(findings)) for _i in range(5))


def test_rank_bad_input():
    with pytest.raises(AnsibleFilterError, match=r"rank_scenarios: the input must be a findings dict, got \['api'\]"):
        rank_scenarios(["api"])
    with pytest.raises(AnsibleFilterError, match="rank_scenarios: unknown option 'foo'"):
        rank_scenarios(healthy(), foo=1)


# ----------------------------------------------------------------------------------------- formatting

@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        (0, (), "0 B"), (1, (), "1 B"), (1023, (), "1023 B"), (1024, (), "1.0 KiB"), (1536, (), "1.5 KiB"),
        (1610612736, (), "1.5 GiB"), (1048575, (), "1.0 MiB"), (1023.96 * 1024, (), "1.0 MiB"),
        (5 * 2**60, (), "5.0 EiB"), (2**70, (), "1024.0 EiB"), (-1536, (), "-1.5 KiB"), ("2048", (), "2.0 KiB"),
        (1199000000, (2, False), "1.20 GB"), (999, (1, False), "999 B"), (1000, (0, False), "1 kB"), (12345678, (3,), "11.774 MiB"),
    ],
    ids=["zero", "one", "under-kib", "kib", "1.5-kib", "1.5-gib", "rounds-up-to-next-unit", "float-rounding", "eib",
         "beyond-eib", "negative", "numeric-string", "decimal", "decimal-bytes", "decimal-no-decimals", "precision-3"],
)
def test_human_size(value, args, expected):
    assert human_size(value, *args) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (None, {}, "human_size: the input must be a number, got None"),
        ("big", {}, "human_size: the input must be a number, got 'big'"),
        (True, {}, "human_size: the input must be a number, got True"),
        ([1], {}, "human_size: the input must be a number, got [1]"),
        (float("inf"), {}, "human_size: the input must be a finite number of bytes, got inf"),
        (1, {"precision": 9}, "human_size: precision must be an integer from 0 to 6, got 9"),
        (1, {"precision": "2"}, "precision must be an integer from 0 to 6, got '2'"),
        (1, {"binary": "yes"}, "human_size: binary must be true or false, got 'yes'"),
    ],
    ids=["none", "word", "bool", "list", "inf", "precision-range", "precision-string", "binary-string"],
)
def test_human_size_bad_input(value, kwargs, message):
    with pytest.raises(AnsibleFilterError) as error:
        human_size(value, **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0s"), (0.4, "0s"), (0.6, "1s"), (45, "45s"), (59.6, "1m 00s"), (125, "2m 05s"), (3600, "1h 00m 00s"),
        (3725, "1h 02m 05s"), (86399, "23h 59m 59s"), (86400, "1d 00h 00m 00s"), (187200, "2d 04h 00m 00s"),
        (-125, "-2m 05s"), (-0.2, "0s"), ("90", "1m 30s"), (1e7, "115d 17h 46m 40s"),
    ],
    ids=["zero", "rounds-down", "rounds-up", "seconds", "rounds-to-a-minute", "minutes", "one-hour", "hours", "almost-a-day",
         "one-day", "days", "negative", "negative-rounds-to-zero", "numeric-string", "large"],
)
def test_human_duration(value, expected):
    assert human_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [(None, "human_duration: the input must be a number, got None"), ("1h", "human_duration: the input must be a number, got '1h'"),
     (False, "got False"), (float("-inf"), "must be a finite number of seconds, got -inf"), ({"s": 1}, "got {'s': 1}")],
    ids=["none", "duration-string", "bool", "inf", "dict"],
)
def test_human_duration_bad_input(value, message):
    with pytest.raises(AnsibleFilterError) as error:
        human_duration(value)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("level", "since", "kwargs", "expected"),
    [
        ("P0", "2026-11-28T07:00:00Z", {}, "2026-11-28T07:00:00+00:00"),
        ("P1", "2026-11-28T07:00:00Z", {}, "2026-11-28T07:15:00+00:00"),
        ("P2", "2026-11-28T07:50:00+02:00", {}, "2026-11-28T08:50:00+02:00"),
        ("P3", "2026-11-25T10:00:00Z", {}, "2026-11-26T09:00:00+00:00"),
        ("P3", "2026-11-27T18:00:00+01:00", {}, "2026-11-30T09:00:00+01:00"),
        ("P3", "2026-11-28T07:00:00Z", {"business_day_start": 8}, "2026-11-30T08:00:00+00:00"),
        ("P1", 0, {}, "1970-01-01T00:15:00+00:00"),
        ("P1", "2026-11-28T07:00:00", {}, "2026-11-28T07:15:00+00:00"),
        ({"level": "P2"}, datetime.datetime(2026, 11, 28, 7, 0), {}, "2026-11-28T08:00:00+00:00"),
        (None, "2026-11-28T07:00:00Z", {}, None),
        ({"level": None}, None, {}, None),
    ],
    ids=["p0-immediate", "p1-15-minutes", "p2-keeps-offset", "p3-next-day", "p3-friday-to-monday", "p3-saturday-custom-hour",
         "unix-seconds", "naive-is-utc", "severity-result-and-datetime", "no-level", "healthy-severity"],
)
def test_sla_deadline(level, since, kwargs, expected):
    assert sla_deadline(level, since, **kwargs) == expected


def test_sla_deadline_defaults_to_now():
    deadline = datetime.datetime.fromisoformat(sla_deadline("P1"))
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=15)
    assert abs((deadline - expected).total_seconds()) < 5


@pytest.mark.parametrize(
    ("level", "since", "kwargs", "message"),
    [
        ("P4", None, {}, "sla_deadline: level must be one of P0, P1, P2, P3 or null, got 'P4'"),
        ("p1", None, {}, "got 'p1'"),
        ("P1", "tomorrow", {}, "sla_deadline: since must be an ISO 8601 time or a Unix timestamp, got 'tomorrow'"),
        ("P1", [2026], {}, "got [2026]"),
        ("P1", True, {}, "got True"),
        ("P3", None, {"business_day_start": 24}, "sla_deadline: business_day_start must be an hour from 0 to 23, got 24"),
    ],
    ids=["unknown-level", "lower-case", "bad-time", "list", "bool", "bad-hour"],
)
def test_sla_deadline_bad_input(level, since, kwargs, message):
    with pytest.raises(AnsibleFilterError) as error:
        sla_deadline(level, since, **kwargs)
    assert message in str(error.value)


def test_filter_map():
    assert FilterModule().filters() == {
        "severity": severity, "rank_scenarios": rank_scenarios, "human_size": human_size,
        "human_duration": human_duration, "sla_deadline": sla_deadline, "data_at_risk": data_at_risk,
        "triage_summary": triage_summary,
    }


# ----------------------------------------------------------------------------------------- data at risk

@pytest.mark.parametrize(
    "changes, at_risk, reason",
    [
        ((), False, None),
        ((db_exhausted,), False, None),
        ((api_down,), False, None),
        ((rpc_down,), False, None),
        ((disk_full,), True, "disk nearly full, writes will fail: /srv/data 96.2% used"),
        ((disk_full_db_errors,), True, "writes fail for lack of space"),
        ((disk_full_db_errors,), True, "database unavailable: could not extend file: No space left on device"),
        ((lambda f: f["services"]["services"]["db"].update(running=False, state="exited", exit_code=1),), True,
         "db container exited (exit code 1)"),
    ],
    ids=["healthy", "db-exhausted-loses-nothing", "api-down", "rpc-down", "disk-nearly-full", "no-space-errors",
         "db-unavailable", "db-stopped"],
)
def test_data_at_risk(changes, at_risk, reason):
    result = data_at_risk(apply(*changes))
    assert result["at_risk"] is at_risk
    if reason is None:
        assert result["reasons"] == []
    else:
        assert any(reason in text for text in result["reasons"]), result["reasons"]


def test_data_at_risk_bad_input_names_the_value():
    with pytest.raises(AnsibleFilterError, match=r"data_at_risk: the input must be a findings dict, got .*'nope'"):
        data_at_risk("nope")
    with pytest.raises(AnsibleFilterError, match="unknown option 'disk_percent'"):
        data_at_risk(healthy(), disk_percent=3)


# ----------------------------------------------------------------------------------------- summary

def judged(*changes):
    findings = apply(*changes)
    return dict(findings, severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))


def test_summary_of_a_healthy_stack():
    assert triage_summary(judged(), "/tmp/f.json") == [
        "HEALTHY: no severity, all checks passed", "data at risk: no", "findings: /tmp/f.json"]


def test_summary_names_severity_first_scenario_and_risk():
    lines = triage_summary(judged(db_exhausted))
    assert lines[0].startswith("P0 (respond: Immediate): ")
    assert "database connections exhausted" in lines[0]
    assert any(line.startswith("scenario 1: db_connections_exhausted (score ") for line in lines)
    assert lines[-1] == "data at risk: no"


def test_summary_of_a_full_disk_says_data_is_at_risk():
    assert triage_summary(judged(disk_full_db_errors))[-1].startswith("data at risk: YES: ")


@pytest.mark.parametrize(
    "findings, message",
    [("text", "got 'text'"), ({"severity": {}}, "severity and data_at_risk"),
     ({"severity": {"level": None}, "data_at_risk": {}, "scenarios": "x"}, "scenarios must be a list, got 'x'")],
    ids=["not-a-dict", "not-judged", "scenarios-not-a-list"],
)
def test_summary_bad_input(findings, message):
    with pytest.raises(AnsibleFilterError, match=message):
        triage_summary(findings)


def test_summary_folds_multi_line_host_errors_into_one_line():
    def pg_refused(f):
        error = 'connection to server at "127.0.0.1" failed: Connection refused\n\tIs the server running on that host?'
        f["postgres"] = {"is_available": False, "error": error}
    lines = triage_summary(judged(pg_refused))
    assert lines[0] == ('P0 (respond: Immediate): database unavailable: connection to server at "127.0.0.1" failed: '
                        "Connection refused Is the server running on that host?")
    assert all("\n" not in line for line in lines)


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
