# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The triage_summary filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from findings_builders import db_exhausted, disk_full_db_errors, judged

from ansible_collections.usdx.incident.plugins.filter.summary import FilterModule, triage_summary


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


# ----------------------------------------------------------------------------------------- incomplete

def docker_denied(f):
    for check in ("services", "logs"):
        f[check] = {"failed": True, "msg": "docker: permission denied"}
    f["checks"] = ["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment"]


def test_a_failing_docker_cli_is_never_healthy():
    lines = triage_summary(judged(docker_denied))
    assert lines[0] == "INCOMPLETE: checks that did not run: services (docker: permission denied), logs (docker: permission denied)"
    assert lines[1] == ("P1 (respond: < 15 minutes): check services incomplete: docker: permission denied; "
                        "check logs incomplete: docker: permission denied")
    assert not any(line.startswith("HEALTHY") for line in lines)
    assert "scenario 1: triage_incomplete (score 2): services: docker: permission denied; logs: docker: permission denied" in lines
    assert lines[-1] == "data at risk: not ruled out, not checked: services"


def test_a_finding_with_missing_checks_says_both():
    lines = triage_summary(judged(db_exhausted, docker_denied))
    assert lines[0].startswith("P0 (respond: Immediate): ")
    assert lines[1] == "INCOMPLETE: checks that did not run: services (docker: permission denied), logs (docker: permission denied)"


def test_a_severity_that_does_not_say_every_check_ran_is_not_healthy():
    lines = triage_summary({"severity": {"level": None, "reason": "all checks passed"}, "data_at_risk": {"at_risk": False}})
    assert lines[0] == "INCOMPLETE: the severity does not say that every check ran"


# ----------------------------------------------------------------------------------------- users affected

USERS = {"window_seconds": 300, "clients_total": 12, "clients_failed": 5, "requests_total": 80, "requests_failed": 20,
         "failed_paths": {"/api/deposits": 9, "/health": 2, "/api/withdrawals": 9}, "failed": False}


@pytest.mark.parametrize(
    ("users", "line"),
    [
        (USERS, "users affected: 5 of 12 clients got errors or no answer in the last 5m "
                "(paths: /api/deposits 9, /api/withdrawals 9, /health 2)"),
        (dict(USERS, clients_failed=0, failed_paths={}), "users affected: 0 of 12 clients got errors or no answer in the last 5m"),
        ({"clients_total": 3}, "users affected: ? of 3 clients got errors or no answer in the window"),
        (dict(USERS, window_seconds=3600), "users affected: 5 of 12 clients got errors or no answer in the last 1h (paths:"),
        (dict(USERS, window_seconds=90, clients_total="x"), "users affected: 5 of ? clients got errors or no answer in the last 1m 30s"),
        (dict(USERS, failed_paths={f"/p{n}": n for n in range(9)}), "(paths: /p8 8, /p7 7, /p6 6, /p5 5, /p4 4)"),
    ],
    ids=["affected", "nobody", "unknown-counts", "hours", "odd-window-and-bad-total", "top-five-paths"],
)
def test_summary_says_how_many_users_are_affected(users, line):
    lines = triage_summary(judged(lambda f: f.update(users=users)))
    assert [text for text in lines if text.startswith("users affected: ")] == [text for text in lines if line in text], lines
    assert any(line in text for text in lines), lines


def test_a_failed_users_check_is_named_incomplete_not_counted():
    lines = triage_summary(judged(lambda f: f.update(users={"failed": True, "msg": "access log unreadable"})))
    assert lines[0] == "INCOMPLETE: checks that did not run: users (access log unreadable)"
    assert not any(line.startswith("users affected") for line in lines)


def test_filter_map():
    assert FilterModule().filters() == {"triage_summary": triage_summary}


@pytest.mark.parametrize(
    "verdict",
    [
        {"level": None, "complete": True, "signals": "x", "incomplete": 5},
        {"level": "P2", "reason": None, "signals": [None, 3, {"level": "P3"}], "incomplete": [None, {"check": 1}]},
        {"complete": "yes"},
    ],
    ids=["odd-types", "odd-items", "complete-not-true"],
)
def test_summary_of_an_odd_severity_does_not_crash(verdict):
    lines = triage_summary({"severity": verdict, "data_at_risk": {"at_risk": True, "reasons": 5},
                            "scenarios": [None, {"evidence": 7}, {"evidence": None}]})
    assert all(isinstance(line, str) for line in lines)
    assert lines[0].startswith("HEALTHY") is (verdict.get("complete") is True and verdict.get("level") is None)


def test_a_triage_narrowed_to_some_checks_is_never_called_healthy():
    findings = dict(judged(), checks=["api", "webapp"])
    lines = triage_summary(findings)
    assert lines[0] == ("NO FAULT FOUND in the checks run (api, webapp); "
                        "not checked: services, logs, postgres, disk, lag, deployment")


def test_every_health_check_asked_for_and_passed_is_healthy():
    findings = dict(judged(), checks=["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment"])
    assert triage_summary(findings)[0] == "HEALTHY: no severity, all checks passed"
