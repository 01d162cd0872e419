# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions of a severity chain (plugin_utils/_chain.py), over the findings recorded from the sandbox per fault.

The recorded findings (tests/unit/fixtures/findings/<state>.json) hold the checks' results only; they are judged
here with the triage's own filters, as roles/triage does, before the chain decides on them.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import pathlib
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import severity
from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _chain
from ansible_collections.usdx.incident.plugins.plugin_utils._incident import iso

RECORDED = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "findings"
START = datetime.datetime(2026, 11, 28, 3, 0, 0, tzinfo=datetime.timezone.utc)
STARTED_AT = "2026-11-28T03:00:00Z"
ALL_GATES = list(_chain.GATES)

# state -> (severity level, scenario to fix, escalation instead of a scenario, contain actions)
EXPECTED = {
    "healthy": (None, None, None, []),
    "api-down": ("P0", "api_unavailable", None, ["maintenance_on"]),
    "db-connections": ("P0", "db_connections_exhausted", None, ["maintenance_on"]),
    "indexer-lag": ("P1", "indexer_lag", None, []),
    "disk-full": ("P1", "disk_full", None, ["pause_contracts", "stop_indexer"]),
    # The chain RPC is the provider's: nothing a scenario role restarts brings it back.
    "rpc-down": ("P1", None, "external_service", []),
    "db-connections+api-down": ("P0", "db_connections_exhausted", None, ["maintenance_on"]),
    "disk-full+db-connections": ("P0", "disk_full", None, ["pause_contracts", "stop_indexer", "maintenance_on"]),
    # A release that breaks a feature: rolled back (option B), nothing to contain (no data at risk, /health 200).
    "bad-deploy": ("P1", "bad_deployment", None, []),
}
FAULTS = sorted(state for state in EXPECTED if state != "healthy")
FIXABLE = sorted(state for state, expected in EXPECTED.items() if expected[1])
# Fixed by restarting what a scenario role names (option A); a bad deployment is rolled back instead.
RESTARTABLE = sorted(state for state in FIXABLE if EXPECTED[state][1] in _runbook.SCENARIOS)


def judged(state: str) -> dict[str, t.Any]:
    """A recorded findings document with the triage's verdicts, as roles/triage writes it."""
    findings = json.loads((RECORDED / f"{state}.json").read_text(encoding="utf-8"))
    return dict(findings, severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))


def decision(findings: t.Mapping[str, t.Any], scenario: str = "auto", option: str = "auto", deploy_ref: str = "") -> dict[str, t.Any]:
    """What the assess step keeps in a stack's record (the response_decision filter, without Ansible)."""
    chosen = _chain.resolve_scenario(scenario, findings)
    return {"severity": _chain.resolve_severity("auto", findings), "scenario": chosen,
            "fix": _chain.fix_option(option, chosen["scenario"], deploy_ref) if chosen["scenario"] else None,
            "contain": _chain.contain_actions(findings)}


def record_of(findings: t.Mapping[str, t.Any], **decided: str) -> dict[str, t.Any]:
    return {"host": "sandbox", "steps": [], "escalations": [], "stopped": None, "decision": decision(findings, **decided)}


def at(seconds: float) -> datetime.datetime:
    return START + datetime.timedelta(seconds=seconds)


def one_line_error(call: t.Callable[[], t.Any]) -> str:
    with pytest.raises(_chain.ChainError) as raised:
        call()
    message = str(raised.value)
    assert message and len(message.splitlines()) == 1, message
    return message


def test_every_recorded_state_has_an_expectation():
    assert sorted(path.stem for path in RECORDED.glob("*.json")) == sorted(EXPECTED)


# --- severity and scenario ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_auto_severity_is_the_triages_level(state):
    level = _chain.resolve_severity("auto", judged(state))
    assert level["level"] == EXPECTED[state][0], level
    assert level["reason"], "a severity without a reason cannot be explained to the on-call engineer"


@pytest.mark.parametrize("given", ["P0", "P1", "P2", "P3"])
def test_a_given_severity_wins_over_the_triage(given):
    assert _chain.resolve_severity(given, judged("healthy")) == {"level": given, "reason": "given"}


@pytest.mark.parametrize("findings", [None, {}, {"severity": None}, {"severity": {"level": "P9", "reason": "odd"}}, ["P0"]],
                         ids=["none", "empty", "null-verdict", "unknown-level", "not-a-mapping"])
def test_auto_severity_without_a_triage_verdict_is_an_error_not_a_healthy_stack(findings):
    # A stack the triage did not judge is not healthy: "nothing to respond to" would close the incident unseen.
    message = one_line_error(lambda: _chain.resolve_severity("auto", findings))
    assert "_severity=auto" in message


@pytest.mark.parametrize("requested", ["p0", "P4", "", None, "critical"])
def test_an_unknown_severity_is_refused_naming_it_and_the_accepted_ones(requested):
    message = one_line_error(lambda: _chain.resolve_severity(requested, judged("api-down")))
    assert message.endswith(f"_severity={requested!r} is not one of: P0, P1, P2, P3, auto"), message


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_auto_scenario_is_the_fault_the_sandbox_had(state):
    chosen = _chain.resolve_scenario("auto", judged(state))
    _level, scenario, escalation, _contain = EXPECTED[state]
    assert (chosen["scenario"], chosen["escalate"]) == (scenario, escalation), chosen


@pytest.mark.parametrize("state", FIXABLE)
def test_auto_scenario_gives_the_triages_evidence_as_reason(state):
    findings = judged(state)
    chosen = _chain.resolve_scenario("auto", findings)
    assert chosen["reason"].startswith("top-ranked by the triage: ")
    assert findings["scenarios"][0]["evidence"][0] in chosen["reason"]


def test_rpc_down_escalates_to_the_provider_and_never_yields_a_role():
    findings = judged("rpc-down")
    chosen = _chain.resolve_scenario("auto", findings)
    assert chosen["scenario"] is None and chosen["escalate"] == "external_service"
    assert chosen["reason"].startswith("external service failure: chain RPC unreachable")
    for option in _chain.FIX_OPTIONS:
        assert decision(findings, option=option)["fix"] is None, option
    record = record_of(findings)
    plan = _chain.fix_plan(record, ALL_GATES)
    assert plan["status"] == "escalated" and "role" not in plan, plan
    assert plan["escalations"] == [{"trigger": "external_service", "reason": chosen["reason"]}]
    assert plan["stop"], "later destructive steps must not act on a finding no role fits"
    assert _chain.diagnosis(record)["status"] == "escalated"


@pytest.mark.parametrize(("top", "escalation"), [("external_service_failure", "external_service"), ("triage_incomplete", "no_scenario")])
def test_findings_no_scenario_role_fits_escalate(top, escalation):
    findings = {"severity": {"level": "P1", "reason": "x"}, "scenarios": [{"scenario": top, "evidence": ["e1", "e2"]}]}
    chosen = _chain.resolve_scenario("auto", findings)
    assert chosen == {"scenario": None, "reason": chosen["reason"], "escalate": escalation}
    assert "e1; e2" in chosen["reason"]


def test_a_bad_deployment_ranked_first_is_a_scenario_fixed_by_rollback():
    findings = {"severity": {"level": "P1", "reason": "x"},
                "scenarios": [{"scenario": "bad_deployment", "evidence": ["indexer image changed 10 min ago"]}]}
    chosen = _chain.resolve_scenario("auto", findings)
    assert chosen["scenario"] == "bad_deployment"
    assert _chain.fix_option("auto", chosen["scenario"])["option"] == "B"


@pytest.mark.parametrize("findings", [{}, {"scenarios": []}, {"scenarios": "disk_full"}, {"scenarios": ["disk_full"]}, None])
def test_no_ranked_scenario_is_no_scenario_and_no_escalation(findings):
    assert _chain.resolve_scenario("auto", findings) == {"scenario": None, "reason": "the triage ranked no scenario", "escalate": None}


@pytest.mark.parametrize("given", sorted(_runbook.SCENARIOS) + ["bad_deployment"])
def test_a_given_scenario_wins_over_the_triage(given):
    assert _chain.resolve_scenario(given, judged("rpc-down")) == {"scenario": given, "reason": "given", "escalate": None}


@pytest.mark.parametrize("requested", ["api-down", "external_service_failure", "triage_incomplete", "", None])
def test_an_unknown_scenario_is_refused_naming_the_accepted_ones(requested):
    message = one_line_error(lambda: _chain.resolve_scenario(requested, judged("healthy")))
    assert message.endswith(f"_scenario={requested!r} is not one of: api_unavailable, db_connections_exhausted, "
                            "indexer_lag, disk_full, bad_deployment, auto"), message


# --- Fix options ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", RESTARTABLE)
def test_auto_fix_option_is_restart_for_every_recorded_fault(state):
    fix = decision(judged(state))["fix"]
    assert fix == {"option": "A", "title": "Restart services", "reason": f"chosen for {EXPECTED[state][1]}"}


@pytest.mark.parametrize(("scenario", "option"), [(name, "A") for name in _runbook.SCENARIOS] + [("bad_deployment", "B")])
def test_auto_fix_option_is_rollback_for_a_bad_deployment_and_restart_otherwise(scenario, option):
    assert _chain.fix_option("auto", scenario)["option"] == option


@pytest.mark.parametrize(("option", "scenario", "ref"), [
    ("A", "disk_full", ""),
    ("B", "api_unavailable", ""),
    ("B", "bad_deployment", ""),
    ("C", "indexer_lag", "v1.4.2"),
    ("C", "bad_deployment", "hotfix/indexer-batch"),
    ("D", "db_connections_exhausted", ""),
])
def test_a_given_fix_option_is_taken(option, scenario, ref):
    assert _chain.fix_option(option, scenario, ref) == {"option": option, "title": _chain.FIX_OPTION_TITLES[option], "reason": "given"}


@pytest.mark.parametrize("ref", ["", None])
def test_hotfix_without_a_ref_is_refused_naming_the_option_and_the_missing_ref(ref):
    message = one_line_error(lambda: _chain.fix_option("C", "api_unavailable", ref))
    assert "_fix_option=C " in message and "_deploy_ref" in message


@pytest.mark.parametrize("scenario", ["api_unavailable", "indexer_lag", "disk_full", "bad_deployment"])
def test_scaling_outside_the_database_is_refused_naming_the_scenario_and_the_accepted_one(scenario):
    message = one_line_error(lambda: _chain.fix_option("D", scenario))
    assert "_fix_option=D " in message and repr(scenario) in message and "db_connections_exhausted" in message


def test_restart_cannot_fix_a_bad_deployment():
    message = one_line_error(lambda: _chain.fix_option("A", "bad_deployment"))
    assert "_fix_option=A " in message and "B or C" in message


@pytest.mark.parametrize("requested", ["E", "a", "", None, 1])
def test_an_unknown_fix_option_is_refused_naming_the_accepted_ones(requested):
    message = one_line_error(lambda: _chain.fix_option(requested, "disk_full"))
    assert message.endswith(f"_fix_option={requested!r} is not one of: A, B, C, D, auto"), message


# --- Contain ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_contain_pauses_and_stops_for_data_at_risk_and_shows_maintenance_for_p0(state):
    findings = judged(state)
    actions = _chain.contain_actions(findings)
    assert [a["action"] for a in actions] == EXPECTED[state][3]
    undo = {"pause_contracts": "unpause_contracts", "stop_indexer": "start_indexer", "maintenance_on": "maintenance_off"}
    assert all(a["undo"] == undo[a["action"]] and a["reason"] for a in actions), actions


def test_contain_gives_the_risk_and_the_severity_as_reasons():
    findings = judged("disk-full+db-connections")
    reasons = {a["action"]: a["reason"] for a in _chain.contain_actions(findings)}
    assert reasons["stop_indexer"] == "; ".join(findings["data_at_risk"]["reasons"])
    assert reasons["maintenance_on"] == findings["severity"]["reason"]


@pytest.mark.parametrize("state", sorted(EXPECTED))
def test_contain_without_approval_is_refused_and_does_nothing(state):
    findings = judged(state)
    actions = _chain.contain_actions(findings)
    verdict = _chain.contain_verdict(record_of(findings), actions, [], False)
    if not actions:
        assert verdict == {"status": "skipped", "summary": "nothing to contain: no data at risk and the service is not down"}
        return
    assert verdict["status"] == "refused" and verdict["needs_approval"] == "contain"
    assert "actions" not in verdict, "a refused contain must not hand out actions to run"
    assert verdict["summary"].endswith("nothing was done")
    assert [e["trigger"] for e in verdict["escalations"]] == ["approval_missing"]
    assert all(a["action"] in verdict["summary"] for a in actions)


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check-mode"])
def test_approved_contain_acts(check_mode):
    findings = judged("disk-full+db-connections")
    verdict = _chain.contain_verdict(record_of(findings), _chain.contain_actions(findings), ["contain"], check_mode)
    assert verdict["status"] == "changed"
    assert verdict["actions"] == ["pause_contracts", "stop_indexer", "maintenance_on"]
    assert verdict["summary"].startswith("would: " if check_mode else "did: ")


def test_contain_after_a_stop_does_nothing_even_when_approved():
    findings = judged("api-down")
    record = dict(record_of(findings), stopped="fix: fix failed")
    verdict = _chain.contain_verdict(record, _chain.contain_actions(findings), ALL_GATES, False)
    assert verdict == {"status": "skipped", "summary": "destructive steps stopped after fix: fix failed"}


@pytest.mark.parametrize(("record", "actions"), [({}, None), (None, []), ("record", [])], ids=["no-actions", "no-record", "not-a-record"])
def test_contain_without_an_assessment_fails(record, actions):
    assert _chain.contain_verdict(record, actions, ALL_GATES, False) == {"status": "failed", "summary": _chain.NO_ASSESSMENT}


# --- Fix plan ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", RESTARTABLE)
def test_fix_runs_the_scenario_role_for_option_a(state):
    plan = _chain.fix_plan(record_of(judged(state)), [])
    scenario = EXPECTED[state][1]
    assert plan == {"status": "go", "role": f"usdx.incident.{scenario}", "scenario": scenario, "option": "A",
                    "title": "Restart services", "allow_db_restart": False}


@pytest.mark.parametrize(("approve", "allowed"), [([], False), (["contain", "rollback"], False), (["db_restart"], True)])
def test_a_database_restart_is_allowed_only_with_its_approval(approve, allowed):
    plan = _chain.fix_plan(record_of(judged("db-connections"), option="D"), approve)
    assert (plan["role"], plan["option"], plan["allow_db_restart"]) == ("usdx.incident.db_connections_exhausted", "D", allowed)


def test_the_recorded_bad_deployment_is_rolled_back_only_with_its_approval():
    record = record_of(judged("bad-deploy"))
    assert record["decision"]["fix"] == {"option": "B", "title": _chain.FIX_OPTION_TITLES["B"], "reason": "chosen for bad_deployment"}
    plan = _chain.fix_plan(record, ["rollback"])
    assert (plan["status"], plan["role"], plan["option"]) == ("go", "usdx.incident.release_rollback", "B")
    refused = _chain.fix_plan(record, ["contain", "db_restart"])
    assert refused["status"] == "refused" and "role" not in refused


def test_rollback_without_its_approval_is_refused_and_names_no_role():
    plan = _chain.fix_plan(record_of(judged("api-down"), option="B"), ["contain", "db_restart"])
    assert plan["status"] == "refused" and plan["needs_approval"] == "rollback" and "role" not in plan
    assert [e["trigger"] for e in plan["escalations"]] == ["approval_missing"]


@pytest.mark.parametrize(("option", "role"), [("B", "usdx.incident.release_rollback"), ("C", "usdx.incident.release_deploy")])
def test_release_options_run_the_release_roles(option, role):
    plan = _chain.fix_plan(record_of(judged("api-down"), option=option, deploy_ref="v1.4.2"), ["rollback"])
    assert (plan["status"], plan["role"], plan["option"]) == ("go", role, option)


def test_fix_after_a_stop_does_nothing_even_when_approved():
    record = dict(record_of(judged("db-connections")), stopped="contain: contain failed")
    assert _chain.fix_plan(record, ALL_GATES) == {"status": "skipped", "summary": "destructive steps stopped after contain: contain failed"}


@pytest.mark.parametrize("record", [{}, {"decision": None}, {"decision": "P0"}, None, []])
def test_fix_without_an_assessment_fails(record):
    assert _chain.fix_plan(record, ALL_GATES) == {"status": "failed", "summary": _chain.NO_ASSESSMENT}


# --- Diagnose ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", RESTARTABLE)
def test_diagnosis_names_root_cause_and_fix_strategy(state):
    findings = judged(state)
    result = _chain.diagnosis(record_of(findings))
    assert result["status"] == "ok"
    assert result["summary"].startswith(f"root cause: {_runbook.SCENARIOS[EXPECTED[state][1]]} (top-ranked by the triage: ")
    assert result["summary"].endswith("fix strategy: option A (Restart services, chosen for " + EXPECTED[state][1] + ")")


def test_diagnosis_without_an_assessment_fails():
    assert _chain.diagnosis({"steps": []}) == {"status": "failed", "summary": _chain.NO_ASSESSMENT}


# --- Verify -----------------------------------------------------------------------------------------------------------

def test_verify_passes_on_a_healthy_stack():
    assert _chain.verify_verdict(judged("healthy"), None) == {"status": "ok", "summary": "every check ran and the stack is healthy"}
    passed = _chain.verify_verdict(judged("healthy"), {"passed": True, "paths": {"deposit": {"passed": True}}})
    assert passed == {"status": "ok", "summary": "every check ran and the stack is healthy; smoke test passed"}


@pytest.mark.parametrize("state", FAULTS)
def test_verify_fails_stops_and_escalates_while_a_fault_remains(state):
    findings = judged(state)
    verdict = _chain.verify_verdict(findings, None)
    assert verdict["status"] == "failed" and verdict["stop"] == "verify failed"
    assert verdict["summary"].startswith(f"the stack is still {EXPECTED[state][0]}: {findings['severity']['reason']}")
    assert [e["trigger"] for e in verdict["escalations"]] == ["verify_failed"]


def test_verify_fails_when_a_check_could_not_run():
    findings = json.loads((RECORDED / "healthy.json").read_text(encoding="utf-8"))
    findings["postgres"] = {"failed": True, "msg": "postgres: docker: permission denied"}
    findings = dict(findings, severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))
    verdict = _chain.verify_verdict(findings, None)
    assert verdict["status"] == "failed"
    assert "some checks could not run, so health is not proven" in verdict["summary"]


@pytest.mark.parametrize("findings", [None, {}, {"severity": None}, {"severity": {"level": "P9"}}, "healthy"],
                         ids=["none", "empty", "null-verdict", "unknown-level", "not-a-mapping"])
def test_verify_without_a_triage_verdict_fails(findings):
    verdict = _chain.verify_verdict(findings, None)
    assert verdict["status"] == "failed" and verdict["stop"] == "verify failed", verdict


@pytest.mark.parametrize(("smoke", "summary"), [
    ({"passed": False, "paths": {"deposit": {"passed": False}, "balance": {"passed": True}, "withdraw": {"passed": False}}},
     "smoke test failed: deposit, withdraw"),
    ({"passed": False}, "smoke test failed"),
    ({}, "smoke test failed"),
    ("passed", "smoke test failed"),
], ids=["failing-paths", "no-paths", "empty", "not-a-mapping"])
def test_verify_fails_on_a_failed_smoke_test_of_a_healthy_stack(smoke, summary):
    verdict = _chain.verify_verdict(judged("healthy"), smoke)
    assert (verdict["status"], verdict["summary"]) == ("failed", summary)


# --- the chains, steps and the T+ clock -------------------------------------------------------------------------------

@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_chain_steps_are_the_runbooks_in_order_with_their_step_roles(level):
    steps = _chain.chain_steps(level)
    assert [(s["id"], s["title"], s["deadline_seconds"]) for s in steps] == list(_runbook.STEPS[level])
    assert [s["role"] for s in steps] == [f"usdx.incident.step_{s['id']}" for s in steps]
    assert [s["deadline_seconds"] for s in steps] == sorted(s["deadline_seconds"] for s in steps), "T+ deadlines go forward"


def test_step_ids_are_every_chains_steps_once():
    assert sorted(_chain.step_ids()) == sorted({sid for level in _runbook.LEVELS for sid, _title, _deadline in _runbook.STEPS[level]})
    assert len(_chain.step_ids()) == len(set(_chain.step_ids()))


@pytest.mark.parametrize(("only", "ids"), [
    (None, ["alert", "assess", "contain", "diagnose", "fix", "verify", "communicate", "postmortem"]),
    ([], ["alert", "assess", "contain", "diagnose", "fix", "verify", "communicate", "postmortem"]),
    (["verify", "fix"], ["fix", "verify"]),
    (["alert"], ["alert"]),
])
def test_selected_steps_keep_the_chains_order(only, ids):
    assert [s["id"] for s in _chain.selected_steps("P0", only)] == ids


def test_a_step_not_in_the_chain_is_refused_naming_the_chains_steps():
    message = one_line_error(lambda: _chain.selected_steps("P1", ["fix", "contain"]))
    assert message.endswith("_steps entry (the P1 chain)='contain' is not one of: respond, assess, fix, verify"), message


@pytest.mark.parametrize("severity_given", ["auto", "P5", None])
def test_a_chain_needs_a_level(severity_given):
    assert "is not one of: P0, P1, P2, P3" in one_line_error(lambda: _chain.chain_steps(severity_given))


# --- severity auto: assess first, then each stack's own chain ---------------------------------------------------------

def ids_of(steps):
    return [step["id"] for step in steps]


@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_an_assessed_chain_is_the_chain_without_assess(level):
    full = ids_of(_chain.chain_steps(level))
    assert ids_of(_chain.selected_steps(level, None, assessed=True)) == [sid for sid in full if sid != "assess"]


@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_the_assess_run_leaves_nothing_more_to_run_in_any_chain(level):
    """The run of the assess step asks every stack for [assess]: a P2/P3 chain, which has no assess, is not an error."""
    assert _chain.selected_steps(level, ["assess"], assessed=True) == []


@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_an_assessed_chain_still_refuses_a_step_it_does_not_have(level):
    other = next(sid for sid in _chain.step_ids() if sid not in ids_of(_chain.chain_steps(level)) + ["assess"])
    message = one_line_error(lambda: _chain.selected_steps(level, [other], assessed=True))
    assert f"'{other}' is not one of: " in message and "assess" in message.split("is not one of: ")[1]


@pytest.mark.parametrize("level", ["P2", "P3"])
def test_a_chain_without_assess_refuses_it_unless_assessed(level):
    assert "'assess' is not one of: record" in one_line_error(lambda: _chain.selected_steps(level, ["assess"]))


@pytest.mark.parametrize("levels", [combo for size in range(1, 5) for combo in itertools.combinations(_runbook.LEVELS, size)],
                         ids="+".join)
@pytest.mark.parametrize("assessed", [False, True], ids=["given", "assessed"])
def test_merged_chains_keep_every_chains_order_and_each_step_once(levels, assessed):
    merged = _chain.merged_order(levels, assessed)
    assert len(merged) == len(set(merged))
    for level in levels:
        own = ids_of(_chain.selected_steps(level, None, assessed))
        assert [sid for sid in merged if sid in own] == own, level
    assert set(merged) == {sid for level in levels for sid in ids_of(_chain.selected_steps(level, None, assessed))}


def test_merged_chains_put_each_step_by_its_t_plus_deadline():
    assert _chain.merged_order(["P0", "P1", "P2"], assessed=True) == [
        "alert", "respond", "contain", "diagnose", "fix", "verify", "communicate", "record", "postmortem"]
    assert _chain.merged_order([]) == []


def assessed_record(level, status="ok"):
    record = {"steps": [{"id": "assess", "status": status, "summary": "P0: api down"}]}
    if status == "ok":
        record["decision"] = {"severity": {"level": level, "reason": "the triage's"}, "scenario": {"scenario": None}}
    return record


@pytest.mark.parametrize("only", [None, [], ["assess"], ["assess", "alert"]])
@pytest.mark.parametrize("record", [{}, {"steps": []}, {"steps": [{"id": "assess", "status": "running"}]}],
                         ids=["new", "no-steps", "assess-interrupted"])
def test_auto_assesses_a_stack_without_an_assessment(record, only):
    assert _chain.response_plan("auto", record, only) == {"assess": True, "severity": None, "healthy": False, "steps": []}


@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_auto_takes_the_severity_assessed_in_an_earlier_run_and_never_assesses_again(level):
    plan = _chain.response_plan("auto", assessed_record(level))
    assert (plan["assess"], plan["severity"], plan["healthy"]) == (False, level, False)
    assert ids_of(plan["steps"]) == [sid for sid in ids_of(_chain.chain_steps(level)) if sid != "assess"]


@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_auto_runs_nothing_more_in_the_assess_run(level):
    assert _chain.response_plan("auto", assessed_record(level), ["assess"])["steps"] == []


@pytest.mark.parametrize(("level", "step"), [("P0", "alert"), ("P0", "postmortem"), ("P1", "respond"), ("P1", "verify"),
                                             ("P2", "record"), ("P3", "record")])
def test_auto_runs_the_one_step_asked_for_from_the_assessed_chain(level, step):
    plan = _chain.response_plan("auto", assessed_record(level), [step])
    assert ids_of(plan["steps"]) == [step]
    assert plan["steps"][0]["deadline_seconds"] == dict((s[0], s[2]) for s in _runbook.STEPS[level])[step]


def test_auto_on_a_healthy_stack_runs_nothing():
    assert _chain.response_plan("auto", assessed_record(None), ["assess"]) == {
        "assess": False, "severity": None, "healthy": True, "steps": []}


@pytest.mark.parametrize("status", ["failed", "skipped", "escalated"])
def test_auto_after_a_failed_assessment_is_an_error_not_a_healthy_stack(status):
    message = one_line_error(lambda: _chain.response_plan("auto", assessed_record("P0", status), ["alert"]))
    assert f"the assess step ended {status} on this stack (P0: api down)" in message


@pytest.mark.parametrize("only", [["alert"], ["record"], ["fix", "verify"]])
def test_auto_refuses_other_steps_before_any_assessment(only):
    message = one_line_error(lambda: _chain.response_plan("auto", {}, only))
    assert "no assessment yet" in message and "accepted: assess first" in message


@pytest.mark.parametrize("level", ["P5", None, 0, "auto"])
def test_auto_refuses_an_assessed_severity_outside_the_ladder(level):
    record = assessed_record("P0")
    record["decision"]["severity"]["level"] = level
    if level is None:
        assert _chain.response_plan("auto", record)["healthy"] is True
        return
    assert "the assessed severity=" in one_line_error(lambda: _chain.response_plan("auto", record))


@pytest.mark.parametrize(("record", "healthy"), [
    (assessed_record(None), True),
    *((assessed_record(level), False) for level in _runbook.LEVELS),
    (assessed_record("P0", "failed"), False),
    ({}, False), (None, False), ({"decision": {"severity": {}}}, False), ({"decision": "P0"}, False),
], ids=["healthy", *_runbook.LEVELS, "assess-failed", "empty", "none", "no-level", "not-a-mapping"])
def test_only_an_assessment_without_severity_is_healthy(record, healthy):
    assert _chain.assessed_healthy(record) is healthy


@pytest.mark.parametrize("level", _runbook.LEVELS)
def test_a_given_severity_is_its_chain_whatever_the_record_says(level):
    plan = _chain.response_plan(level, assessed_record("P3"))
    assert (plan["assess"], plan["severity"], plan["healthy"]) == (False, level, False)
    assert ids_of(plan["steps"]) == ids_of(_chain.chain_steps(level))


@pytest.mark.parametrize("requested", ["p0", "", None, "P4"])
def test_a_plan_needs_a_known_severity(requested):
    assert "respond_severity=" in one_line_error(lambda: _chain.response_plan(requested, {}))


def run_step(record: dict[str, t.Any], step_id: str, ended: float, result: t.Optional[dict[str, t.Any]] = None,
             level: str = "P0", started: t.Optional[float] = None) -> dict[str, t.Any]:
    step = next(s for s in _chain.chain_steps(level) if s["id"] == step_id)
    _chain.start_step(record, step, at(ended if started is None else started))
    return _chain.end_step(record, STARTED_AT, result or {"status": "ok", "summary": "done"}, at(ended))


@pytest.mark.parametrize(("ended", "met"), [(0, True), (59, True), (60, True), (61, False), (3600, False)])
def test_the_t0_alert_has_a_minute_of_grace(ended, met):
    record: dict[str, t.Any] = {}
    entry = run_step(record, "alert", ended, started=0)
    assert (entry["tplus_end"], entry["deadline_met"]) == (ended, met)
    assert bool(record.get("escalations")) is not met, "a missed deadline escalates, a met one does not"


# A missed deadline reaches the team lead (L2); past the runbook's 60 minutes the incident is a major outage (L3).
@pytest.mark.parametrize(("step_id", "deadline", "level"),
                         [("assess", 300, "L2"), ("fix", 1800, "L2"), ("verify", 2700, "L2"), ("postmortem", 86400, "L3")])
def test_a_deadline_is_met_up_to_its_second_and_missed_after(step_id, deadline, level):
    assert run_step({}, step_id, deadline)["deadline_met"] is True
    record: dict[str, t.Any] = {}
    entry = run_step(record, step_id, deadline + 1)
    assert entry["deadline_met"] is False
    assert record["escalations"] == [{
        "at": iso(at(deadline + 1)), "level": level, "trigger": "deadline_missed", "step": step_id,
        "reason": f"step {step_id} ended at T+{deadline + 1}s, past its T+{deadline}s deadline"}]


def test_a_step_entry_records_the_run_on_the_t_plus_clock():
    record: dict[str, t.Any] = {}
    step = _chain.chain_steps("P0")[1]
    started = _chain.start_step(record, step, at(100))
    assert started["status"] == "running" and started["ended_at"] is None
    entry = _chain.end_step(record, STARTED_AT, {"status": "changed", "summary": "s", "actions": ["a", "b"]}, at(142.5))
    assert entry == {"id": "assess", "title": "Assess", "deadline_seconds": 300, "started_at": "2026-11-28T03:01:40Z",
                     "ended_at": "2026-11-28T03:02:22Z", "elapsed_seconds": 42.5, "tplus_end": 142, "deadline_met": True,
                     "status": "changed", "summary": "s", "actions": ["a", "b"]}
    assert record["steps"] == [entry]


def test_without_an_incident_start_no_deadline_verdict_and_no_escalation():
    record: dict[str, t.Any] = {}
    _chain.start_step(record, _chain.chain_steps("P0")[0], at(0))
    entry = _chain.end_step(record, None, {"status": "ok"}, at(7200))
    assert (entry["tplus_end"], entry["deadline_met"]) == (None, None)
    assert "escalations" not in record


def test_ending_a_step_needs_a_running_one():
    record: dict[str, t.Any] = {}
    run_step(record, "alert", 10)
    assert one_line_error(lambda: _chain.end_step(record, STARTED_AT, {"status": "ok"}, at(20))) == "no step is running in this record"


@pytest.mark.parametrize(("result", "message"), [
    ({"status": "done"}, "step status='done' is not one of: ok, changed, skipped, failed, refused, escalated"),
    ({"status": "refused", "needs_approval": "deploy"}, "approval gate='deploy' is not one of: contain, rollback, db_restart"),
    ({"status": "escalated", "escalations": [{"trigger": "panic", "reason": "x"}]},
     "escalation trigger='panic' is not one of: deadline_missed, step_failed, fix_failed, verify_failed, breaker_tripped, "
     "no_scenario, approval_missing, security, external_service"),
])
def test_a_step_result_outside_the_vocabulary_is_refused(result, message):
    record: dict[str, t.Any] = {}
    _chain.start_step(record, _chain.chain_steps("P0")[2], at(0))
    assert one_line_error(lambda: _chain.end_step(record, STARTED_AT, result, at(10))) == message


def test_a_step_results_escalations_and_gate_are_recorded():
    record: dict[str, t.Any] = {}
    verdict = _chain.contain_verdict(record_of(judged("api-down")), _chain.contain_actions(judged("api-down")), [], False)
    entry = run_step(record, "contain", 200, verdict)
    assert (entry["status"], entry["needs_approval"]) == ("refused", "contain")
    assert [(e["level"], e["step"]) for e in record["escalations"]] == [("L3", "contain")]
    assert record.get("stopped") is None, "a refused contain does not stop the fix"


# --- outcomes ---------------------------------------------------------------------------------------------------------

def p0_chain(results: t.Mapping[str, dict[str, t.Any]]) -> dict[str, t.Any]:
    """A P0 record with every step run on time, each with the given result (ok by default)."""
    record: dict[str, t.Any] = {"steps": [], "escalations": [], "stopped": None}
    for step in _chain.chain_steps("P0"):
        run_step(record, step["id"], min(step["deadline_seconds"], 60), results.get(step["id"]))
    return record


def test_a_chain_that_verified_is_resolved():
    record = p0_chain({"verify": _chain.verify_verdict(judged("healthy"), None)})
    assert _chain.outcome(record, "P0") == "resolved"
    assert record["escalations"] == [] and record["stopped"] is None


@pytest.mark.parametrize("failing", ["alert", "assess", "contain", "diagnose", "fix"])
def test_a_chain_stopped_before_verify_is_never_resolved_even_if_verify_passes(failing):
    record = p0_chain({failing: {"status": "failed", "summary": "boom", "stop": f"{failing} failed"},
                       "verify": _chain.verify_verdict(judged("healthy"), None)})
    assert record["stopped"] == f"{failing}: {failing} failed"
    assert _chain.outcome(record, "P0") == "not_resolved"


def test_the_first_stop_is_kept():
    record = p0_chain({"fix": {"status": "failed", "stop": "fix failed"}, "verify": _chain.verify_verdict(judged("api-down"), None)})
    assert record["stopped"] == "fix: fix failed"


def test_after_a_stop_destructive_steps_may_not_act_and_the_others_may():
    record = {"stopped": "fix: fix failed"}
    assert {sid: _chain.may_act(record, sid) for sid in _chain.step_ids()} == {
        sid: ("destructive steps stopped after fix: fix failed" if sid in ("contain", "fix") else None) for sid in _chain.step_ids()}
    assert all(_chain.may_act({"stopped": None}, sid) is None for sid in _chain.step_ids())


@pytest.mark.parametrize("state", FAULTS)
def test_a_failed_verify_is_not_resolved(state):
    record = p0_chain({"verify": _chain.verify_verdict(judged(state), None)})
    assert record["stopped"] == "verify: verify failed"
    assert _chain.outcome(record, "P0") == "not_resolved"


@pytest.mark.parametrize("verify", [{"status": "skipped", "summary": "check mode"}, {"status": "escalated"}, {"status": "refused"}])
def test_a_verify_that_did_not_pass_is_not_resolved(verify):
    assert _chain.outcome(p0_chain({"verify": verify}), "P0") == "not_resolved"


@pytest.mark.parametrize("refusing", ["alert", "fix"])
def test_a_refused_alert_or_fix_makes_the_chain_refused(refusing):
    record = p0_chain({refusing: {"status": "refused", "summary": "circuit breaker", "stop": "circuit breaker tripped"}})
    assert _chain.outcome(record, "P0") == "refused"


def test_a_refused_respond_makes_a_p1_chain_refused():
    record: dict[str, t.Any] = {}
    run_step(record, "respond", 30, {"status": "refused"}, level="P1")
    assert _chain.outcome(record, "P1") == "refused"


def test_a_chain_before_or_during_verify_is_open():
    record: dict[str, t.Any] = {}
    run_step(record, "respond", 30, level="P1")
    run_step(record, "fix", 600, level="P1")
    assert _chain.outcome(record, "P1") == "open"
    _chain.start_step(record, _chain.chain_steps("P1")[3], at(700))
    assert _chain.outcome(record, "P1") == "open"


@pytest.mark.parametrize(("level", "status", "expected"), [
    ("P2", "ok", "recorded"), ("P3", "changed", "recorded"), ("P2", "failed", "open"), ("P3", "skipped", "open"), ("P3", None, "open"),
])
def test_p2_and_p3_are_recorded_once_the_record_step_succeeded(level, status, expected):
    record: dict[str, t.Any] = {}
    if status:
        run_step(record, "record", 60, {"status": status}, level=level)
    assert _chain.outcome(record, level) == expected


def test_a_refused_response_and_a_healthy_stack_win_over_the_steps():
    verified = p0_chain({"verify": _chain.verify_verdict(judged("healthy"), None)})
    assert _chain.outcome(dict(verified, refused="incident INC-2026-11-28-01 is in progress on this stack"), "P0") == "refused"
    assert _chain.outcome({"healthy": True, "steps": []}, None) == "healthy"
    assert _chain.outcome({"refused": "lock", "healthy": True}, None) == "refused"


def test_outcomes_are_the_documented_ones():
    records = [p0_chain({}), p0_chain({"verify": {"status": "failed"}}), {"refused": "x"}, {"healthy": True}, {}]
    assert {_chain.outcome(copy.deepcopy(r), "P0") for r in records} <= set(_chain.OUTCOMES)


@pytest.mark.parametrize("level", ["P2", "P3"])
def test_verify_passes_with_a_minor_finding_left_and_names_it_for_follow_up(level):
    findings = dict(judged("healthy"), severity={"level": level, "reason": "database lock waits: 1"})
    verdict = _chain.verify_verdict(findings, None)
    assert verdict == {"status": "ok",
                       "summary": f"every check ran, the service is back; left for follow-up ({level}): database lock waits: 1"}


@pytest.mark.parametrize(("steps", "window"), [
    ([{"id": "fix", "ended_at": "2026-11-28T03:00:00Z"}], "13s"),
    ([{"id": "fix", "ended_at": "2026-11-28T03:00:12Z"}], "1s"),
    ([{"id": "fix", "ended_at": "2026-11-28T03:00:30Z"}], "1s"),  # a clock step backwards still reads something
    ([{"id": "fix", "ended_at": None}], "60s"),
    ([{"id": "assess", "ended_at": "2026-11-28T02:00:00Z"}], "60s"),
    ([], "60s"),
], ids=["12s-after", "same-second", "clock-behind", "fix-not-ended", "no-fix", "no-steps"])
def test_verify_reads_only_the_logs_written_after_the_fix(steps, window):
    now = datetime.datetime(2026, 11, 28, 3, 0, 12, tzinfo=datetime.timezone.utc)
    assert _chain.verify_log_window({"steps": steps}, now) == window
