# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The decisions of a severity chain, as plain functions over the triage findings and the stack's record.

The dispatcher role usdx.incident.respond and the step roles wire these together; they decide nothing in Jinja.
The chains themselves (steps, order, T+ deadlines) come from _runbook.STEPS.
"""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _comms
from ansible_collections.usdx.incident.plugins.plugin_utils._incident import iso, parse_iso

SEVERITIES = _runbook.LEVELS + ("auto",)
# The scenario a response may be given: the runbook's four, a bad deployment (Fix option B), or the triage's pick.
RESPONSE_SCENARIOS = tuple(_runbook.SCENARIOS) + ("bad_deployment", "auto")
FIX_OPTIONS = ("A", "B", "C", "D", "auto")
FIX_OPTION_TITLES = {
    "A": "Restart services",
    "B": "Rollback deployment",
    "C": "Hotfix (deploy a given ref)",
    "D": "Scale resources",
}
# Approval gates: business decisions and actions that can make an outage worse.
GATES = ("contain", "rollback", "db_restart")
STEP_STATUSES = ("ok", "changed", "skipped", "failed", "refused", "escalated")
OUTCOMES = ("open", "resolved", "not_resolved", "refused", "recorded", "healthy", "dry_run")
# Steps that change the stack; after a failed fix or verify they do nothing ("the chain never loops").
DESTRUCTIVE_STEPS = ("contain", "fix")
# Severities that mean the service is not back: verify fails while the triage still finds one of them.
BLOCKING_LEVELS = ("P0", "P1")
# "Alert & Assemble" is due at T+0, "immediate": met when it is done within the first minute.
IMMEDIATE_GRACE_SECONDS = 60


class ChainError(ValueError):
    """A value the chain cannot work with; str() is the one-line reason naming it and what is accepted."""


def _choice(name: str, value: t.Any, accepted: t.Sequence[str]) -> str:
    if not isinstance(value, str) or value not in accepted:
        raise ChainError(f"{name}={value!r} is not one of: {', '.join(accepted)}")
    return value


def chain_steps(severity: t.Any) -> list[dict[str, t.Any]]:
    """The runbook's chain of one severity: [{'id', 'title', 'deadline_seconds', 'role'}] in order."""
    level = _choice("severity", severity, _runbook.LEVELS)
    return [{"id": sid, "title": title, "deadline_seconds": deadline, "role": f"usdx.incident.step_{sid}"}
            for sid, title, deadline in _runbook.STEPS[level]]


def step_ids() -> tuple[str, ...]:
    """Every step id of every chain, in first-seen order (the step roles that must exist)."""
    return tuple(dict.fromkeys(sid for level in _runbook.LEVELS for sid, _title, _deadline in _runbook.STEPS[level]))


# The step respond_severity=auto runs first on every stack: its triage decides each stack's severity, and so its chain.
ASSESS = "assess"


def selected_steps(severity: t.Any, only: t.Any, assessed: bool = False) -> list[dict[str, t.Any]]:
    """The chain of severity, limited to the step ids in only (empty: all); an id not in the chain is an error.

    assessed: the assess step has run already (respond_severity=auto runs it before the severity is known), so it is
    left out, and accepted in only even by a chain without it (P2, P3): a stack assessed P2 has nothing more to run
    when only is [assess].
    """
    steps = chain_steps(severity)
    wanted = list(only or [])
    known = [step["id"] for step in steps]
    if assessed and ASSESS not in known:
        known.append(ASSESS)
    for sid in wanted:
        _choice(f"respond_steps entry (the {severity} chain)", sid, known)
    return [step for step in steps if (not wanted or step["id"] in wanted) and not (assessed and step["id"] == ASSESS)]


def merged_order(severities: t.Iterable[t.Any], assessed: bool = False) -> list[str]:
    """The step ids of several chains merged in the runbook's order: by T+ deadline (a step's earliest among the
    chains), then in step_ids() order; every chain's own order is kept (tests/unit/plugin_utils/test_chain.py)."""
    deadlines: dict[str, int] = {}
    for level in severities:
        for step in selected_steps(level, None, assessed):
            deadlines[step["id"]] = min(deadlines.get(step["id"], step["deadline_seconds"]), step["deadline_seconds"])
    order = step_ids()
    return sorted(deadlines, key=lambda sid: (deadlines[sid], order.index(sid)))


def assessment(record: t.Any) -> t.Optional[t.Mapping[str, t.Any]]:
    """The assess step's entry in a stack's record (its latest), or None when it has not run in this incident."""
    steps = record.get("steps") if isinstance(record, t.Mapping) else None
    found = [entry for entry in steps or [] if isinstance(entry, t.Mapping) and entry.get("id") == ASSESS]
    return found[-1] if found else None


def assessed_healthy(record: t.Any) -> bool:
    """Whether the stack's assessment found nothing to respond to (a decision with no severity): nobody is told
    anything about it, not even the status page's first "investigating"."""
    decision = _decision(record)
    verdict = decision.get("severity") if decision is not None else None
    return isinstance(verdict, t.Mapping) and "level" in verdict and verdict["level"] is None


def response_plan(requested: t.Any, record: t.Any, only: t.Any = None) -> dict[str, t.Any]:
    """What the dispatcher runs on one stack: {'assess', 'severity', 'healthy', 'steps'}.

    A given severity is the chain's (assess only when that chain has it). With 'auto', the severity is the one the
    assess step decided and kept in the stack's record (_decision: severity.level, None for a healthy stack), in
    this run or in an earlier run of the same incident (the usdx-incident command runs one step per run): until
    then 'assess' is true and the severity unknown. A failed assessment, or steps other than assess asked for
    before any, are errors: no severity is ever guessed.
    """
    _choice("respond_severity", requested, SEVERITIES)
    if requested != "auto":
        return {"assess": False, "severity": requested, "healthy": False, "steps": selected_steps(requested, only)}
    decision = _decision(record)
    if decision is None:
        entry = assessment(record)
        if entry is not None and entry.get("status") != "running":
            raise ChainError(f"respond_severity=auto: the assess step ended {entry.get('status')} on this stack "
                             f"({entry.get('summary') or 'no summary'}), so no severity was decided")
        if only and ASSESS not in only:
            raise ChainError(f"respond_severity=auto: this stack has no assessment yet, so respond_steps "
                             f"{', '.join(map(str, only))} cannot run (accepted: {ASSESS} first, or a severity P0, P1, P2 or P3)")
        return {"assess": True, "severity": None, "healthy": False, "steps": []}
    verdict = decision.get("severity")
    level = verdict.get("level") if isinstance(verdict, t.Mapping) else "missing"
    if level is None:
        return {"assess": False, "severity": None, "healthy": True, "steps": []}
    _choice("the assessed severity", level, _runbook.LEVELS)
    return {"assess": False, "severity": level, "healthy": False, "steps": selected_steps(level, only, assessed=True)}


def _level(findings: t.Mapping[str, t.Any]) -> t.Optional[str]:
    severity = findings.get("severity") if isinstance(findings, t.Mapping) else None
    level = severity.get("level") if isinstance(severity, t.Mapping) else None
    return level if level in _runbook.LEVELS else None


def _verdict(findings: t.Any) -> t.Optional[t.Mapping[str, t.Any]]:
    """The triage's severity verdict of findings (level P0..P3, or None for a healthy stack); None when there is none."""
    severity = findings.get("severity") if isinstance(findings, t.Mapping) else None
    if isinstance(severity, t.Mapping) and "level" in severity and severity["level"] in _runbook.LEVELS + (None,):
        return severity
    return None


def resolve_severity(requested: t.Any, findings: t.Any) -> dict[str, t.Any]:
    """The severity to respond at: the one given, or with 'auto' the triage's. A healthy stack has none.

    Findings without the triage's verdict are an error: reading them as "nothing to respond to" would close an
    incident nobody judged.
    """
    _choice("respond_severity", requested, SEVERITIES)
    if requested != "auto":
        return {"level": requested, "reason": "given"}
    verdict = _verdict(findings)
    if verdict is None:
        raise ChainError("respond_severity=auto takes the triage's level, and these findings have no severity verdict "
                         "(accepted: findings of usdx.incident.triage, or respond_severity P0, P1, P2 or P3)")
    return {"level": verdict["level"], "reason": verdict.get("reason") or "the triage found nothing to respond to"}


def resolve_scenario(requested: t.Any, findings: t.Any) -> dict[str, t.Any]:
    """The scenario to fix: the one given, or with 'auto' the triage's top-ranked one.

    Returns {'scenario', 'reason', 'escalate'}: scenario None when there is nothing a role can fix; escalate names
    the escalation trigger (_runbook.ESCALATION_TRIGGERS) when the finding belongs to a person or a provider (an
    external service, a triage that could not see enough).
    """
    _choice("respond_scenario", requested, RESPONSE_SCENARIOS)
    if requested != "auto":
        return {"scenario": requested, "reason": "given", "escalate": None}
    ranked = findings.get("scenarios") if isinstance(findings, t.Mapping) else None
    top = ranked[0] if isinstance(ranked, list) and ranked and isinstance(ranked[0], t.Mapping) else None
    if top is None:
        return {"scenario": None, "reason": "the triage ranked no scenario", "escalate": None}
    name = top.get("scenario")
    evidence = "; ".join(str(e) for e in (top.get("evidence") or [])[:3])
    if name in RESPONSE_SCENARIOS:
        return {"scenario": name, "reason": f"top-ranked by the triage: {evidence}", "escalate": None}
    if name == "external_service_failure":
        return {"scenario": None, "reason": f"external service failure: {evidence}", "escalate": "external_service"}
    return {"scenario": None, "reason": f"{name}: {evidence}", "escalate": "no_scenario"}


def fix_option(requested: t.Any, scenario: t.Any, deploy_ref: t.Any = "") -> dict[str, t.Any]:
    """The runbook Fix option for the scenario: the one given, or with 'auto' B for a bad deployment, else A."""
    _choice("respond_fix_option", requested, FIX_OPTIONS)
    option = requested
    if requested == "auto":
        option = "B" if scenario == "bad_deployment" else "A"
    if option == "C" and not deploy_ref:
        raise ChainError("respond_fix_option=C deploys a given ref: set respond_deploy_ref (accepted: a git ref or release)")
    if option == "D" and scenario != "db_connections_exhausted":
        raise ChainError(f"respond_fix_option=D scales the database connection ceiling; scenario {scenario!r} "
                         "is not db_connections_exhausted")
    if option == "A" and scenario == "bad_deployment":
        raise ChainError("respond_fix_option=A restarts what a scenario role names; a bad deployment is fixed by B or C")
    return {"option": option, "title": FIX_OPTION_TITLES[option],
            "reason": "given" if requested != "auto" else f"chosen for {scenario}"}


def contain_actions(findings: t.Any) -> list[dict[str, str]]:
    """The runbook's Contain for these findings: data at risk -> pause and stop the indexer; unavailable -> maintenance.

    Each action names how it is undone after a passing verify.
    """
    actions: list[dict[str, str]] = []
    risk = findings.get("data_at_risk") if isinstance(findings, t.Mapping) else None
    if isinstance(risk, t.Mapping) and risk.get("at_risk"):
        why = "; ".join(str(r) for r in risk.get("reasons") or []) or "data at risk"
        actions.append({"action": "pause_contracts", "undo": "unpause_contracts", "reason": why})
        actions.append({"action": "stop_indexer", "undo": "start_indexer", "reason": why})
    level = _level(findings)
    if level == "P0":
        reason = str((findings.get("severity") or {}).get("reason") or "service unavailable")
        actions.append({"action": "maintenance_on", "undo": "maintenance_off", "reason": reason})
    return actions


def tplus(started_at: t.Any, moment: datetime.datetime) -> t.Optional[int]:
    """Whole seconds from the incident's start to moment (the runbook's T+ clock); None without a start."""
    start = parse_iso(started_at)
    return None if start is None else int((moment - start).total_seconds())


def start_step(record: dict[str, t.Any], step: t.Mapping[str, t.Any], now: datetime.datetime) -> dict[str, t.Any]:
    """Append a step entry (started now) to a stack's record; returns the entry."""
    entry = {"id": step["id"], "title": step["title"], "deadline_seconds": step["deadline_seconds"],
             "started_at": iso(now), "ended_at": None, "elapsed_seconds": None, "tplus_end": None,
             "deadline_met": None, "status": "running", "summary": "", "actions": []}
    record.setdefault("steps", []).append(entry)
    return entry


def end_step(record: dict[str, t.Any], incident_started_at: t.Any, result: t.Mapping[str, t.Any],
             now: datetime.datetime) -> dict[str, t.Any]:
    """Close the running step with the step role's result; the deadline is met when it ended by its T+ deadline."""
    running = [entry for entry in record.get("steps", []) if entry.get("status") == "running"]
    if not running:
        raise ChainError("no step is running in this record")
    entry = running[-1]
    status = _choice("step status", result.get("status", "ok"), STEP_STATUSES)
    started = parse_iso(entry["started_at"])
    end_tplus = tplus(incident_started_at, now)
    entry.update({
        "ended_at": iso(now),
        "elapsed_seconds": round((now - started).total_seconds(), 1) if started else None,
        "tplus_end": end_tplus,
        "deadline_met": None if end_tplus is None else end_tplus <= max(int(entry["deadline_seconds"]), IMMEDIATE_GRACE_SECONDS),
        "status": status,
        "summary": str(result.get("summary") or ""),
        "actions": list(result.get("actions") or []),
    })
    if result.get("needs_approval"):
        entry["needs_approval"] = _choice("approval gate", result["needs_approval"], GATES)
    for escalation in result.get("escalations") or []:
        escalate(record, escalation.get("trigger"), escalation.get("reason", ""), now, entry["id"], end_tplus)
    if result.get("stop"):
        record["stopped"] = record.get("stopped") or f"{entry['id']}: {result['stop']}"
    if entry["deadline_met"] is False:
        escalate(record, "deadline_missed", f"step {entry['id']} ended at T+{end_tplus}s, past its T+{entry['deadline_seconds']}s deadline",
                 now, entry["id"], end_tplus)
    return entry


def escalate(record: dict[str, t.Any], trigger: t.Any, reason: str, now: datetime.datetime, step: str,
             elapsed: t.Optional[int]) -> None:
    """Record an escalation: what triggered it, the level of the runbook's ladder it reaches at this point of the
    T+ clock (_comms.escalation_level_for), why, from which step, when. The dispatcher sends it and records who
    was reached."""
    trigger = _choice("escalation trigger", trigger, tuple(_runbook.ESCALATION_TRIGGERS))
    record.setdefault("escalations", []).append(
        {"at": iso(now), "level": _comms.escalation_level_for(trigger, elapsed), "trigger": trigger, "reason": reason,
         "step": step})


def mark_reached(record: dict[str, t.Any], escalation: t.Mapping[str, t.Any], reached: list[str]) -> None:
    """Record who one escalation (found by its time, step and trigger) reached; [] when nobody could be."""
    key = (escalation.get("at"), escalation.get("step"), escalation.get("trigger"))
    for entry in record.get("escalations", []):
        if (entry.get("at"), entry.get("step"), entry.get("trigger")) == key:
            entry["reached"] = [str(name) for name in reached]
            return
    raise ChainError(f"no escalation at {key[0]} from step {key[1]} ({key[2]}) in this stack's record")


def outcome(record: t.Mapping[str, t.Any], severity: t.Any) -> str:
    """What the chain achieved on one stack: resolved, not_resolved, refused, recorded, healthy, dry_run or open."""
    steps = {entry["id"]: entry for entry in record.get("steps", [])}
    if record.get("refused"):
        return "refused"
    if record.get("healthy"):
        return "healthy"
    if record.get("check_mode"):
        # Nothing was changed, so nothing can be resolved: the run's value is the prediction in its steps.
        return "dry_run"
    if severity in ("P2", "P3"):
        return "recorded" if steps.get("record", {}).get("status") in ("ok", "changed") else "open"
    if any(entry.get("status") == "refused" and entry["id"] in ("alert", "respond", "fix") for entry in steps.values()):
        return "refused"
    verify = steps.get("verify")
    if verify is None or verify.get("status") == "running":
        return "open"
    if verify.get("status") in ("ok", "changed") and not record.get("stopped"):
        return "resolved"
    return "not_resolved"


def may_act(record: t.Mapping[str, t.Any], step_id: str) -> t.Optional[str]:
    """Why a destructive step must do nothing now (a failed fix or verify stopped the chain); None when it may act."""
    if step_id in DESTRUCTIVE_STEPS and record.get("stopped"):
        return f"destructive steps stopped after {record['stopped']}"
    return None


def _decision(record: t.Mapping[str, t.Any]) -> t.Optional[t.Mapping[str, t.Any]]:
    decision = record.get("decision") if isinstance(record, t.Mapping) else None
    return decision if isinstance(decision, t.Mapping) else None


NO_ASSESSMENT = "no assessment in this stack's record: the assess step has not run for this incident"


def _gated(gate: str, approve: t.Any, what: str) -> t.Optional[dict[str, t.Any]]:
    """The refusal of a step whose gate was not approved; None when it was."""
    if gate in (approve or []):
        return None
    return {"status": "refused", "needs_approval": gate,
            "summary": f"needs the '{gate}' approval: {what}; nothing was done",
            "escalations": [{"trigger": "approval_missing", "reason": f"approval '{gate}' needed: {what}"}]}


def contain_verdict(record: t.Any, actions: t.Any, approve: t.Any, check_mode: bool) -> dict[str, t.Any]:
    """The Contain step's result before it acts: changed (act), skipped, refused (no approval) or failed."""
    if actions is None or not isinstance(record, t.Mapping):
        return {"status": "failed", "summary": NO_ASSESSMENT}
    stop = may_act(record, "contain")
    if stop:
        return {"status": "skipped", "summary": stop}
    if not actions:
        return {"status": "skipped", "summary": "nothing to contain: no data at risk and the service is not down"}
    what = ", ".join(f"{a['action']} ({a['reason']})" for a in actions)
    refusal = _gated("contain", approve, what)
    if refusal:
        return refusal
    verb = "would" if check_mode else "did"
    return {"status": "changed", "summary": f"{verb}: {what}", "actions": [a["action"] for a in actions]}


# Fix options -> the role that carries them out. A and D run the scenario's own role (D: the database one, which
# raises max_connections); B and C the release roles.
SCENARIO_ROLES = {name: f"usdx.incident.{name}" for name in _runbook.SCENARIOS}
RELEASE_ROLES = {"B": "usdx.incident.release_rollback", "C": "usdx.incident.release_deploy"}


def fix_plan(record: t.Any, approve: t.Any) -> dict[str, t.Any]:
    """What the Fix step runs: {'status': 'go', 'role', 'scenario', 'option', 'allow_db_restart'} or a result."""
    decision = _decision(record)
    if decision is None:
        return {"status": "failed", "summary": NO_ASSESSMENT}
    stop = may_act(record, "fix")
    if stop:
        return {"status": "skipped", "summary": stop}
    chosen = decision.get("scenario") or {}
    scenario = chosen.get("scenario")
    if not scenario:
        return {"status": "escalated", "summary": f"no scenario role fits: {chosen.get('reason')}",
                "escalations": [{"trigger": chosen.get("escalate") or "no_scenario", "reason": str(chosen.get("reason"))}],
                "stop": "no automatic fix for this finding"}
    fix = decision.get("fix") or {}
    option = fix.get("option")
    if option == "B":
        refusal = _gated("rollback", approve, "roll back to the previous release")
        if refusal:
            return refusal
    role = RELEASE_ROLES.get(option) or SCENARIO_ROLES.get(scenario)
    if role is None:
        raise ChainError(f"no role carries out Fix option {option} for scenario {scenario}")
    return {"status": "go", "role": role, "scenario": scenario, "option": option, "title": fix.get("title"),
            "allow_db_restart": "db_restart" in (approve or [])}


def verify_verdict(findings: t.Any, smoke: t.Any) -> dict[str, t.Any]:
    """Verify passes when the fresh triage saw every check run and found no P0 or P1, and the smoke test passed.

    P2 and P3 findings left over are named in the summary as follow-up work; they do not fail the fix."""
    problems = []
    level = _level(findings) if isinstance(findings, t.Mapping) else None
    if not isinstance(findings, t.Mapping):
        problems.append("the verify triage did not run")
    elif _verdict(findings) is None:
        problems.append("the verify triage gave no severity verdict")
    elif level in BLOCKING_LEVELS:
        problems.append(f"the stack is still {level}: {(findings.get('severity') or {}).get('reason')}")
    ranked = findings.get("scenarios") if isinstance(findings, t.Mapping) else None
    if isinstance(ranked, list) and any(isinstance(s, t.Mapping) and s.get("scenario") == "triage_incomplete" for s in ranked):
        problems.append("some checks could not run, so health is not proven")
    if smoke is not None:
        if not isinstance(smoke, t.Mapping) or not smoke.get("passed"):
            failing = [name for name, path in ((smoke or {}).get("paths") or {}).items()
                       if isinstance(path, t.Mapping) and not path.get("passed")] if isinstance(smoke, t.Mapping) else []
            said = smoke.get("summary") if isinstance(smoke, t.Mapping) and isinstance(smoke.get("summary"), str) else ""
            problems.append("smoke test failed" + (f": {', '.join(failing)}" if failing else "") + (f" ({said})" if said else ""))
    if problems:
        return {"status": "failed", "summary": "; ".join(problems), "stop": "verify failed",
                "escalations": [{"trigger": "verify_failed", "reason": "verify failed: " + "; ".join(problems)}]}
    summary = "every check ran and the stack is healthy" + ("; smoke test passed" if smoke else "")
    if level:
        # A minor finding left (a lock wait the fix rightly did not touch) is a follow-up, not a failed fix.
        summary = (f"every check ran, the service is back; left for follow-up ({level}): "
                   f"{(findings.get('severity') or {}).get('reason')}" + ("; smoke test passed" if smoke else ""))
    return {"status": "ok", "summary": summary}


def verify_log_window(record: t.Any, now: datetime.datetime) -> str:
    """The verify triage's log window (C(--since)): from the end of the fix step, so errors logged before the fix
    are not read as a fault that is still there. Without a fix step in the record, the last minute."""
    steps = record.get("steps", []) if isinstance(record, t.Mapping) else []
    ends = [parse_iso(step.get("ended_at")) for step in steps if step.get("id") == "fix"]
    end = ends[-1] if ends and ends[-1] else None
    seconds = 60 if end is None else max(1, int((now - end).total_seconds()) + 1)
    return f"{seconds}s"


def diagnosis(record: t.Any) -> dict[str, t.Any]:
    """The Diagnose step's result: root cause, evidence and fix strategy, from the assessment in the record."""
    decision = _decision(record)
    if decision is None:
        return {"status": "failed", "summary": NO_ASSESSMENT}
    chosen = decision.get("scenario") or {}
    fix = decision.get("fix")
    if not chosen.get("scenario"):
        return {"status": "escalated", "summary": f"no scenario role fits: {chosen.get('reason')}",
                "escalations": [{"trigger": chosen.get("escalate") or "no_scenario", "reason": str(chosen.get("reason"))}]}
    title = _runbook.SCENARIOS.get(chosen["scenario"]) or _runbook.OTHER_FINDINGS.get(chosen["scenario"], chosen["scenario"])
    return {"status": "ok",
            "summary": f"root cause: {title} ({chosen.get('reason')}); fix strategy: option {fix['option']} "
                       f"({fix['title']}, {fix['reason']})"}
