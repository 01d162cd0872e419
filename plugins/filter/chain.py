# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The chain filters (chain_steps.yml, response_plan.yml, response_decision.yml): what a severity chain runs and decides."""

from __future__ import annotations

import datetime
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.plugin_utils import _chain


def chain_steps(severity: t.Any, only: t.Any = None, assessed: t.Any = False) -> list[dict[str, t.Any]]:
    """The runbook's steps of a severity, in order, limited to the ids in only; without assess when assessed."""
    try:
        return _chain.selected_steps(severity, only, bool(assessed))
    except _chain.ChainError as exc:
        raise AnsibleFilterError(f"chain_steps: {exc}") from None


def response_plan(severity: t.Any, record: t.Any, only: t.Any = None) -> dict[str, t.Any]:
    """Whether to assess first, the severity and the steps the dispatcher runs on one stack."""
    try:
        return _chain.response_plan(severity, record, only)
    except _chain.ChainError as exc:
        raise AnsibleFilterError(f"response_plan: {exc}") from None


def assessed_healthy(record: t.Any) -> bool:
    """Whether the stack's assessment found no severity."""
    return _chain.assessed_healthy(record)


def response_decision(findings: t.Any, severity: t.Any = "auto", scenario: t.Any = "auto", fix_option: t.Any = "auto",
                      deploy_ref: t.Any = "") -> dict[str, t.Any]:
    """Severity, scenario, Fix option and Contain actions for one stack's triage findings."""
    try:
        level = _chain.resolve_severity(severity, findings)
        chosen = _chain.resolve_scenario(scenario, findings)
        fix = _chain.fix_option(fix_option, chosen["scenario"], deploy_ref) if chosen["scenario"] else None
        contain = _chain.contain_actions(findings)
    except _chain.ChainError as exc:
        raise AnsibleFilterError(f"response_decision: {exc}") from None
    return {"severity": level, "scenario": chosen, "fix": fix, "contain": contain}


def contain_verdict(record: t.Any, actions: t.Any, approve: t.Any = None, check_mode: t.Any = False) -> dict[str, t.Any]:
    """The Contain step's result before it acts."""
    return _chain.contain_verdict(record, actions, approve, bool(check_mode))


def fix_plan(record: t.Any, approve: t.Any = None) -> dict[str, t.Any]:
    """What the Fix step runs, or its result when it must not run."""
    try:
        return _chain.fix_plan(record, approve)
    except _chain.ChainError as exc:
        raise AnsibleFilterError(f"fix_plan: {exc}") from None


def verify_verdict(findings: t.Any, smoke: t.Any = None) -> dict[str, t.Any]:
    """Whether the stack is proven healthy after the fix."""
    return _chain.verify_verdict(findings, smoke)


def diagnosis(record: t.Any) -> dict[str, t.Any]:
    """Root cause, evidence and fix strategy of a stack's record."""
    return _chain.diagnosis(record)


def verify_log_window(record: t.Any) -> str:
    """The verify triage's log window, from the end of the fix step (C(--since) form, for example V(12s))."""
    return _chain.verify_log_window(record, datetime.datetime.now(datetime.timezone.utc))


class FilterModule:
    """Severity chains."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"chain_steps": chain_steps, "response_plan": response_plan, "assessed_healthy": assessed_healthy,
                "response_decision": response_decision, "contain_verdict": contain_verdict, "fix_plan": fix_plan,
                "verify_verdict": verify_verdict, "diagnosis": diagnosis, "verify_log_window": verify_log_window}
