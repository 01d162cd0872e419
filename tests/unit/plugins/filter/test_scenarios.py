# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rank_scenarios filter."""

from __future__ import annotations

import copy

import pytest
from ansible.errors import AnsibleFilterError
from findings_builders import (NEW_ERROR, api_down, apply, bad_deploy, db_exhausted, disk_full, disk_full_db_errors, healthy, indexer_lag, rpc_down,
                               set_path, stale_exhaustion_lines)

from ansible_collections.usdx.incident.plugins.filter.scenarios import FilterModule, evidence_of, rank_scenarios
from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils._findings import Findings


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
    no_changes = apply(api_down, set_path(("deployment", "recent_changes"), []))
    assert [r["scenario"] for r in rank_scenarios(no_changes)] == ["api_unavailable"]
    crash = apply(api_down, set_path(("logs", "causes"), {"crash_on_startup": {"count": 2, "services": ["indexer"]}}),
                  set_path(("deployment", "repo", "dirty"), True))
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


# ----------------------------------------------------------------------------------------- cause outranks effect

def indexer_crashed_by_exhaustion(f):
    """The database is out of connections and the indexer (the API) crashed of it: no /health answer at all."""
    db_exhausted(f)
    api_down(f)


def api_restarting_on_exhaustion(f):
    """The API still answers, its db check says too many connections, and its container keeps restarting."""
    db_exhausted(f)
    f["services"]["services"]["indexer"].update(restarting=True, restart_count=5)


def exhaustion_only_in_the_api_logs(f):
    """No postgres check result (it timed out): the API's own logs name the exhaustion."""
    api_down(f)
    f["postgres"] = {"failed": True, "timed_out": True, "msg": "postgres: no answer within 20s"}
    f["logs"]["causes"] = {"db_connections_exhausted": {"count": 40, "services": ["indexer"], "sample": "FATAL: too many clients"}}


def full_disk_failing_the_database(f):
    disk_full(f)
    f["postgres"] = {"is_available": False, "exhausted": False, "error": "could not write to file: No space left on device"}
    f["api"] = {"status": 503, "json": {"checks": {"db": "could not write: No space left on device", "redis": "ok", "chain": "ok"}}}


def rpc_outage_lagging_the_indexer(f):
    f["lag"] = {"status": "stalled", "lag_blocks": 400, "lag_seconds": 400.0}
    f["rpc"] = {"reachable": False, "error": "connection refused"}
    f["api"] = {"status": 503, "json": {"checks": {"db": "ok", "redis": "ok", "chain": "connection refused"}}}


def rpc_slow_and_lag_stalled(f):
    indexer_lag(f)
    f["logs"]["causes"] = {"rpc_failure": {"count": 12, "services": ["indexer"], "sample": "eth_getBlockByNumber timed out"}}


@pytest.mark.parametrize(
    ("changes", "cause", "effects"),
    [
        ((indexer_crashed_by_exhaustion,), "db_connections_exhausted", ["api_unavailable"]),
        ((api_restarting_on_exhaustion,), "db_connections_exhausted", ["api_unavailable", "indexer_lag"]),
        ((exhaustion_only_in_the_api_logs,), "db_connections_exhausted", ["api_unavailable"]),
        ((full_disk_failing_the_database,), "disk_full", ["api_unavailable"]),
        ((disk_full_db_errors,), "disk_full", ["db_connections_exhausted", "api_unavailable", "indexer_lag"]),
        ((rpc_outage_lagging_the_indexer,), "external_service_failure", ["api_unavailable", "indexer_lag"]),
        ((rpc_slow_and_lag_stalled,), "external_service_failure", ["indexer_lag"]),
    ],
    ids=["exhaustion-crashed-the-indexer", "exhaustion-restarting-the-api", "exhaustion-only-in-api-logs",
         "full-disk-fails-the-database", "full-disk-db-errors", "rpc-outage-lag", "rpc-failures-in-logs-lag"],
)
def test_cause_outranks_effect(changes, cause, effects):
    ranked = rank_scenarios(apply(*changes))
    assert ranked[0]["scenario"] == cause, [(r["scenario"], r["score"]) for r in ranked]
    assert ranked[0]["explains"] == effects
    assert all(ranked[0]["score"] > r["score"] for r in ranked[1:])


@pytest.mark.parametrize(
    "changes",
    [
        # The database is exhausted but the API's own errors say nothing of it: the crash is its own problem.
        (lambda f: (db_exhausted(f), api_down(f), f["logs"].update(causes={"out_of_memory": {"count": 1, "services": ["indexer"]}})),),
        # Redis is gone too: the exhaustion does not explain a missing redis.
        (indexer_crashed_by_exhaustion, lambda f: f["services"]["services"]["redis"].update(running=False, state="exited")),
        # The logs remember an exhaustion of minutes ago, the database has slots again: the crash is its own problem.
        (api_down, lambda f: f["logs"].update(causes={"db_connections_exhausted": {"count": 11, "services": ["indexer", "db"]}})),
    ],
    ids=["crash-without-exhaustion-in-api-errors", "other-critical-service-down", "exhaustion-only-in-stale-logs"],
)
def test_exhaustion_does_not_explain_what_it_cannot_cause(changes):
    ranked = rank_scenarios(apply(*changes))
    exhaustion = [r for r in ranked if r["scenario"] == "db_connections_exhausted"][0]
    assert "api_unavailable" not in exhaustion["explains"]
    assert ranked[0]["scenario"] != "db_connections_exhausted", [(r["scenario"], r["score"]) for r in ranked]


def test_a_role_at_its_own_limit_keeps_logged_exhaustion_the_cause_of_a_crash():
    """The indexer crashed and released its slots: the server has room, the application role is still near its limit."""
    findings = apply(exhaustion_only_in_the_api_logs)
    findings["postgres"] = {"is_available": True, "exhausted": False, "use_percent": 65.0,
                            "role_limits": [{"user": "usdx", "limit": 15, "connections": 13, "use_percent": 86.7}]}
    ranked = rank_scenarios(findings)
    assert ranked[0]["scenario"] == "db_connections_exhausted" and "api_unavailable" in ranked[0]["explains"]


# ----------------------------------------------------------------------------------------- incomplete triage

def test_checks_that_did_not_run_are_a_scenario_of_their_own():
    findings = healthy()
    for check in ("services", "logs"):
        findings[check] = {"failed": True, "msg": "docker: permission denied"}
    findings["checks"] = ["api", "services", "logs", "users"]
    ranked = rank_scenarios(findings)
    assert ranked == [{"scenario": "triage_incomplete", "score": 3, "explains": [],
                       "evidence": ["services: docker: permission denied", "logs: docker: permission denied",
                                    "users: no result: the check did not run"]}]


def test_incomplete_triage_ranks_after_real_evidence():
    findings = apply(api_down)
    findings["disk"] = {"failed": True, "msg": "disk measurement failed: permission denied"}
    assert [r["scenario"] for r in rank_scenarios(findings)] == ["api_unavailable", "bad_deployment", "triage_incomplete"]


def test_filter_map():
    assert FilterModule().filters() == {"rank_scenarios": rank_scenarios}


def test_every_scenario_id_is_the_runbooks():
    assert set(evidence_of(Findings(healthy(), "rank_scenarios", {}))) == set(_runbook.RANK_ORDER)
    assert set(_runbook.RANK_ORDER) == set(_runbook.SCENARIOS) | set(_runbook.OTHER_FINDINGS)


# --- a bad deployment: a change, then errors new with it and users getting 5xx while /health is 200 ----------------

def signature_with(**fields):
    def change(f):
        f["logs"]["services"]["indexer"]["signatures"][0].update(fields)
    return change


def later_change(f):
    """Another service recreated a minute after the indexer's change."""
    f["deployment"]["recent_changes"].insert(0, {"kind": "container", "name": "webapp", "age_hours": 0.05,
                                                 "time": "2026-11-28T07:01:00Z"})


def bad_deployment_of(*changes):
    return [r for r in rank_scenarios(apply(*changes)) if r["scenario"] == "bad_deployment"]


def test_a_deploy_followed_by_new_errors_and_failing_users_is_a_bad_deployment():
    ranked = rank_scenarios(apply(bad_deploy, stale_exhaustion_lines))
    assert [r["scenario"] for r in ranked] == ["bad_deployment", "db_connections_exhausted"], [(r["scenario"], r["score"]) for r in ranked]
    assert ranked[0]["evidence"] == [
        "recent changes (2): container indexer 0.1h ago, commit 0a1b2c3 0.1h ago",
        f"indexer logs 1 new error signature(s) since its change at 2026-11-28T07:00:00Z: {NEW_ERROR} (12 lines)",
        "users affected: 3 of 7 clients got 5xx on /api/marketplace/listings (3 clients) while /health answers 200"]


@pytest.mark.parametrize(
    ("change", "still"),
    [
        # Seen before the change: an old error, not one the release brought.
        (signature_with(first_seen="2026-11-28T06:59:59Z"), False),
        # A known cause showing through the service (the database's, not the release's).
        (signature_with(signature="query failed: FATAL: too many connections"), False),
        # A session an operator (or the db_connections remediation) terminated: an action, not the release's error.
        (signature_with(signature="<ts> [<n>] usdx@usdx_wexel FATAL: terminating connection due to administrator command"), False),
        # The error is in a service that did not change.
        (lambda f: f["logs"]["services"].update(webapp=f["logs"]["services"].pop("indexer")), False),
        (signature_with(first_seen="not a time"), False),
        # Another service down: the errors may be its effect.
        (lambda f: f["services"]["services"]["redis"].update(running=False, state="exited", exit_code=1), False),
        (signature_with(first_seen="2026-11-28T07:00:00Z"), True),
        # Not seen again since a newer change (of any service: a rollback, a restart): gone, not a current fault.
        (lambda f: (signature_with(last_seen="2026-11-28T07:00:30Z")(f), later_change(f)), False),
        # Still seen after the newer change: still there.
        (lambda f: (signature_with(last_seen="2026-11-28T07:02:00Z")(f), later_change(f)), True),
    ],
    ids=["before-the-change", "known-cause", "operator-action", "unchanged-service", "unreadable-time", "another-service-down", "at-the-change",
         "gone-since-a-newer-change", "still-seen-after-a-newer-change"],
)
def test_only_errors_new_with_the_change_count_against_it(change, still):
    evidence = [text for r in bad_deployment_of(bad_deploy, change) for text in r["evidence"]]
    assert any("new error signature" in text for text in evidence) is still
    # Failing users alone do not make a deploy suspect: the access log's window may reach back before a rollback.
    assert any(text.startswith("users affected") for text in evidence) is still


@pytest.mark.parametrize(
    "change",
    [
        set_path(("users", "failed_paths"), {"/health": 3, "/readyz": 1}),
        set_path(("users", "clients_failed"), 0),
        # The API down: every path fails with it, and api_unavailable says so.
        set_path(("api",), {"status": 503, "json": {"checks": {"db": "ok", "redis": "down"}}}),
    ],
    ids=["only-probes", "no-client-failed", "api-unhealthy"],
)
def test_users_failing_count_only_on_real_paths_while_health_is_200(change):
    evidence = [text for r in bad_deployment_of(bad_deploy, change) for text in r["evidence"]]
    assert evidence and not any(text.startswith("users affected") for text in evidence)


def test_no_change_no_bad_deployment_whatever_fails():
    assert bad_deployment_of(bad_deploy, set_path(("deployment", "recent_changes"), [])) == []


def test_new_errors_alone_make_a_deploy_suspect_and_failing_users_alone_do_not():
    only_errors = bad_deployment_of(bad_deploy, set_path(("users",), None))[0]["evidence"]
    assert len(only_errors) == 2 and "new error signature" in only_errors[1]
    # A release rolled back since: the users' 5xx are still in the access log's window, the errors are gone.
    assert bad_deployment_of(bad_deploy, set_path(("logs",), {"causes": {}, "error_count": 0})) == []


def test_stale_exhaustion_lines_weigh_less_than_a_database_out_of_slots():
    stale = [r for r in rank_scenarios(apply(stale_exhaustion_lines)) if r["scenario"] == "db_connections_exhausted"][0]
    current = [r for r in rank_scenarios(apply(stale_exhaustion_lines, set_path(("postgres", "use_percent"), 90.0)))
               if r["scenario"] == "db_connections_exhausted"][0]
    assert (stale["score"], current["score"]) == (1, 3)


def test_an_echo_in_a_service_changed_earlier_is_the_later_changes():
    def database_echo(f):
        f["deployment"]["recent_changes"].append({"kind": "container", "name": "db", "age_hours": 2.0, "time": "2026-11-28T05:00:00Z"})
        f["logs"]["services"]["db"] = {"signatures": [{"signature": 'ERROR: relation "<str>" does not exist', "count": 12,
                                                      "first_seen": "2026-11-28T07:00:09Z"}]}
    evidence = bad_deployment_of(bad_deploy, database_echo)[0]["evidence"]
    assert [text.split(" logs ")[0] for text in evidence if "new error signature" in text] == ["indexer"]


def test_a_one_off_error_after_a_change_does_not_outrank_a_fault_measured_now():
    """A traceback logged once after a container was recreated (the indexer's connection reset while the database
    was out of slots) and no user failing: the stalled indexer stays first."""
    def one_off(f):
        f["logs"]["services"]["indexer"]["signatures"][0].update(signature="ConnectionResetError: [Errno <n>] Connection reset by peer",
                                                                 count=1)
        f["users"] = None
    ranked = rank_scenarios(apply(bad_deploy, one_off, indexer_lag))
    assert ranked[0]["scenario"] == "indexer_lag", [(r["scenario"], r["score"]) for r in ranked]
    deployment = [r for r in ranked if r["scenario"] == "bad_deployment"][0]
    assert deployment["score"] == 2, deployment
