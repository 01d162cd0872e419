# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The findings normaliser and the value readers it is built on."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils._findings import FINDINGS_KEYS, Findings, read_options, read_users
from ansible_collections.usdx.incident.plugins.plugin_utils._values import as_number, number, show


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3.0), (2.5, 2.5), (" 7 ", 7.0), ("1e3", 1000.0), (True, None), (None, None), ("x", None), ([1], None),
     (float("nan"), None), (float("inf"), None), ("inf", None), ({}, None)],
)
def test_as_number_reads_only_finite_numbers(value, expected):
    assert as_number(value) == expected


def test_number_is_strict_and_names_the_value():
    assert number("4", "slow_ms", "severity") == 4.0
    with pytest.raises(AnsibleFilterError, match="severity: slow_ms must be a number, got True"):
        number(True, "slow_ms", "severity")
    assert show("x" * 300).endswith("...") and len(show("x" * 300)) == 203


def test_options_default_to_the_runbook():
    assert read_options({}, "severity")["critical_services"] == _runbook.CRITICAL_SERVICES
    with pytest.raises(AnsibleFilterError, match="accepted options are critical_services, disk_critical_percent"):
        read_options({"nope": 1}, "severity")


def test_users_is_a_findings_key():
    assert "users" in FINDINGS_KEYS
    assert Findings({"users": {"clients_total": 1}}, "severity", {}).users["clients_total"] == 1


@pytest.mark.parametrize(
    ("section", "expected", "reasons"),
    [
        ({"window_seconds": 300, "clients_total": 12, "clients_failed": 5, "requests_total": 80, "requests_failed": 20,
          "failed_paths": {"/b": 2, "/a": 2, "/c": 9}, "failed": False},
         {"window_seconds": 300, "clients_total": 12, "clients_failed": 5, "requests_total": 80, "requests_failed": 20,
          "failed_paths": [("/c", 9), ("/a", 2), ("/b", 2)]}, []),
        ({}, {"window_seconds": None, "clients_total": None, "clients_failed": None, "requests_total": None,
              "requests_failed": None, "failed_paths": []}, []),
        ({"clients_total": "12", "clients_failed": True, "failed_paths": {"/x": "many"}},
         {"window_seconds": None, "clients_total": 12, "clients_failed": None, "requests_total": None,
          "requests_failed": None, "failed_paths": [("/x", 0)]},
         ["findings.users.clients_failed must be a number, got True"]),
        ({"failed_paths": ["/x"]}, None, ["findings.users.failed_paths must be a dict of path to count, got ['/x']"]),
    ],
    ids=["complete", "empty", "odd-values", "paths-not-a-dict"],
)
def test_read_users_is_lenient(section, expected, reasons):
    found = []
    users = read_users(section, lambda check, reason: found.append((check, reason)))
    if expected is not None:
        assert users == expected
    assert found == [("users", reason) for reason in reasons]


def test_checks_asked_for_without_a_result_are_incomplete():
    view = Findings({"checks": ["api", "postgres", "deployment"], "api": {"status": 200}}, "severity", {})
    assert view.incomplete == [{"check": "postgres", "reason": "no result: the check did not run"},
                               {"check": "deployment", "reason": "no result: the check did not run"}]


def test_partial_reasons_keep_the_section():
    view = Findings({"disk": {"paths": [{"path": "/d", "percent_used": 97.0}], "partial": ["/d/backups: permission denied"]}},
                    "severity", {})
    assert view.incomplete == [{"check": "disk", "reason": "/d/backups: permission denied"}]
    assert view.disk[0]["percent"] == 97.0


@pytest.mark.parametrize(
    ("status", "body", "healthy", "failing"),
    [
        (200, {"checks": {"db": "ok", "redis": {"status": "up"}}}, True, {}),
        (200, {"checks": {"db": "too many clients"}}, False, {"db": "too many clients"}),
        (503, ["anything"], False, {}),
        (204, "text", True, {}),
        (-1, None, False, {}),
    ],
    ids=["ok", "2xx-with-failing-check", "list-body", "string-body", "no-answer"],
)
def test_the_api_is_judged_by_the_runbooks_health_rule(status, body, healthy, failing):
    view = Findings({"api": {"status": status, "json": body}}, "severity", {})
    verdict = _runbook.health_verdict(status, body)
    assert (view.api["healthy"], view.api["checks"]) == (verdict["healthy"], verdict["failing"]) == (healthy, failing)
