# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The chain filters (filter/chain.py) as the step roles call them: over recorded findings, and with Ansible's errors.

The decisions themselves are tested in tests/unit/plugin_utils/test_chain.py.
"""

from __future__ import annotations

import json
import pathlib
import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter import chain
from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import severity

RECORDED = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "findings"


def judged(state: str) -> dict[str, t.Any]:
    findings = json.loads((RECORDED / f"{state}.json").read_text(encoding="utf-8"))
    return dict(findings, severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))


def filter_error(call: t.Callable[[], t.Any], name: str) -> str:
    with pytest.raises(AnsibleFilterError) as raised:
        call()
    message = str(raised.value)
    assert message.startswith(f"{name}: ") and len(message.splitlines()) == 1, message
    return message


def test_the_filters_the_roles_call_are_registered():
    assert set(chain.FilterModule().filters()) == {"chain_steps", "response_plan", "assessed_healthy", "response_decision", "contain_verdict", "fix_plan",
                                                   "verify_verdict", "diagnosis", "verify_log_window"}


@pytest.mark.parametrize(("state", "level", "scenario", "option", "contain"), [
    ("api-down", "P0", "api_unavailable", "A", ["maintenance_on"]),
    ("disk-full", "P1", "disk_full", "A", ["pause_contracts", "stop_indexer"]),
    ("rpc-down", "P1", None, None, []),
    ("healthy", None, None, None, []),
])
def test_response_decision_of_recorded_findings(state, level, scenario, option, contain):
    decided = chain.response_decision(judged(state))
    assert decided["severity"]["level"] == level
    assert decided["scenario"]["scenario"] == scenario
    assert (decided["fix"] or {}).get("option") == option
    assert [a["action"] for a in decided["contain"]] == contain


def test_response_decision_takes_what_is_given():
    decided = chain.response_decision(judged("healthy"), "P2", "db_connections_exhausted", "D")
    assert decided["severity"] == {"level": "P2", "reason": "given"}
    assert decided["fix"]["option"] == "D"


@pytest.mark.parametrize(("args", "named"), [
    (("P5",), "'P5'"),
    (("auto", "rpc_down"), "'rpc_down'"),
    (("auto", "auto", "Z"), "'Z'"),
    (("auto", "auto", "C", ""), "_deploy_ref"),
    (("auto", "auto", "D"), "'api_unavailable'"),
])
def test_response_decision_refuses_bad_choices_naming_them(args, named):
    assert named in filter_error(lambda: chain.response_decision(judged("api-down"), *args), "response_decision")


def test_response_decision_of_findings_without_a_verdict_is_an_error():
    findings = json.loads((RECORDED / "api-down.json").read_text(encoding="utf-8"))
    filter_error(lambda: chain.response_decision(findings), "response_decision")


def test_chain_steps_filter_limits_and_refuses():
    assert [s["id"] for s in chain.chain_steps("P1", ["verify", "respond"])] == ["respond", "verify"]
    assert "'contain'" in filter_error(lambda: chain.chain_steps("P1", ["contain"]), "chain_steps")
    assert "'auto'" in filter_error(lambda: chain.chain_steps("auto"), "chain_steps")


@pytest.mark.parametrize(("level", "ids"), [("P0", ["alert", "contain", "diagnose", "fix", "verify", "communicate", "postmortem"]),
                                            ("P1", ["respond", "fix", "verify"]), ("P2", ["record"]), ("P3", ["record"])])
def test_chain_steps_filter_assessed_leaves_assess_out_of_every_chain(level, ids):
    assert [s["id"] for s in chain.chain_steps(level, None, True)] == ids
    assert chain.chain_steps(level, ["assess"], assessed=True) == []


def test_response_plan_filter_reads_the_assessment_and_reports_as_ansible_does():
    record = {"steps": [{"id": "assess", "status": "ok"}], "decision": {"severity": {"level": "P2"}}}
    assert chain.response_plan("auto", record, ["assess"]) == {"assess": False, "severity": "P2", "healthy": False, "steps": []}
    assert [s["id"] for s in chain.response_plan("auto", record)["steps"]] == ["record"]
    assert "no assessment yet" in filter_error(lambda: chain.response_plan("auto", {}, ["alert"]), "response_plan")
    assert chain.assessed_healthy(dict(record, decision={"severity": {"level": None}})) is True
    assert chain.assessed_healthy(record) is False


def test_fix_plan_filter_reports_an_option_no_role_carries_out():
    record = {"decision": {"scenario": {"scenario": "bad_deployment"}, "fix": {"option": "A", "title": "Restart services"}}}
    assert "no role carries out Fix option A" in filter_error(lambda: chain.fix_plan(record, []), "fix_plan")


def test_contain_verdict_filter_reads_check_mode_as_a_bool():
    findings = judged("api-down")
    record = {"decision": chain.response_decision(findings)}
    assert chain.contain_verdict(record, record["decision"]["contain"], ["contain"], 1)["summary"].startswith("would: ")
    assert chain.contain_verdict(record, record["decision"]["contain"], ["contain"])["summary"].startswith("did: ")
    assert chain.contain_verdict(record, record["decision"]["contain"])["status"] == "refused"


def test_verify_and_diagnosis_filters_over_recorded_findings():
    assert chain.verify_verdict(judged("healthy"))["status"] == "ok"
    assert chain.verify_verdict(judged("indexer-lag"))["status"] == "failed"
    record = {"decision": chain.response_decision(judged("indexer-lag"))}
    assert chain.diagnosis(record)["summary"].startswith("root cause: Blockchain Indexer Lagging")
