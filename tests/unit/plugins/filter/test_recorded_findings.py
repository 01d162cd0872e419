# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters over findings recorded from the sandbox under each fault (tests/tools/record_findings.py).

A change in a module's result shape shows here: a field the filters can no longer read makes the triage
incomplete, and a judgement that moves changes the level or the first scenario.
"""

from __future__ import annotations

import json
import pathlib

import pytest

from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import severity
from ansible_collections.usdx.incident.plugins.filter.summary import triage_summary

RECORDED = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "findings"

# state -> (severity level, first scenario, data at risk)
EXPECTED = {
    "healthy": (None, None, False),
    "api-down": ("P0", "api_unavailable", False),
    "db-connections": ("P0", "db_connections_exhausted", False),
    "indexer-lag": ("P1", "indexer_lag", False),
    "disk-full": ("P1", "disk_full", True),
    "rpc-down": ("P1", "external_service_failure", False),
    # The indexer killed while the database is out of connections: the exhaustion is still the cause to fix first.
    "db-connections+api-down": ("P0", "db_connections_exhausted", False),
    # A nearly full disk beside a failing database: the disk is ranked as the cause (it explains database errors).
    "disk-full+db-connections": ("P0", "disk_full", True),
    # A release whose marketplace query fails: /health 200, users get 500 on one path, the indexer logs a new error.
    "bad-deploy": ("P1", "bad_deployment", False),
}


def recorded(state: str) -> dict:
    return json.loads((RECORDED / f"{state}.json").read_text(encoding="utf-8"))


def test_every_recorded_state_has_an_expectation():
    assert sorted(path.stem for path in RECORDED.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_recorded_findings_are_judged(state):
    findings = recorded(state)
    level, first, at_risk = EXPECTED[state]
    verdict = severity(findings)
    ranked = rank_scenarios(findings)
    assert verdict["complete"] is True, verdict["incomplete"]
    assert verdict["level"] == level, verdict["reason"]
    assert (ranked[0]["scenario"] if ranked else None) == first, [(r["scenario"], r["score"]) for r in ranked]
    assert data_at_risk(findings)["at_risk"] is at_risk
    summary = triage_summary(dict(findings, severity=verdict, scenarios=ranked, data_at_risk=data_at_risk(findings)))
    assert summary[0].startswith("HEALTHY" if level is None else f"{level} (respond: ")


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_recorded_findings_name_every_check_they_ran(state):
    findings = recorded(state)
    assert findings["checks"], "the triage records which checks it asked for"
    assert all(isinstance(findings.get(check), dict) for check in findings["checks"])


@pytest.mark.parametrize(
    ("state", "check"),
    [("healthy", "services"), ("healthy", "logs"), ("db-connections", "postgres"), ("indexer-lag", "lag"), ("disk-full", "disk")],
)
def test_a_recorded_check_that_failed_makes_the_recording_incomplete(state, check):
    findings = recorded(state)
    findings[check] = {"failed": True, "msg": f"{check}: docker: permission denied"}
    verdict = severity(findings)
    assert verdict["complete"] is False
    assert verdict["level"] is not None
    assert {"check": check, "reason": f"{check}: docker: permission denied"} in verdict["incomplete"]
