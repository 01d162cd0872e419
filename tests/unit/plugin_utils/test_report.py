# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Texts of a response (plugin_utils/_report.py): the run's summary and the P2/P3 bug report.

What hosts report (evidence, error messages) must reach these texts as data: a fence in it must not close the
report's fence, a reason must not start Markdown blocks of its own, and Jinja in it stays text. That Ansible does not
template the filters' output is tested in tests/unit/plugins/filter/test_report_filters.py.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import re
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.filter.risk import data_at_risk
from ansible_collections.usdx.incident.plugins.filter.scenarios import rank_scenarios
from ansible_collections.usdx.incident.plugins.filter.severity import severity
from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.plugin_utils import _chain, _report

RECORDED = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "findings"
START = datetime.datetime(2026, 11, 28, 3, 0, 0, tzinfo=datetime.timezone.utc)
INCIDENT = {"id": "INC-2026-11-28-01", "channel": "#incident-2026-11-28", "started_at": "2026-11-28T03:00:00Z"}
# A Markdown fence opener or closer: up to three spaces, then three or more backticks or tildes.
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HOSTILE = [
    "```",
    "log line ``` then text",
    "````markdown",
    "{{ lookup('ansible.builtin.pipe', 'id') }}",
    "{% raw %}{{ 7 * 7 }}{% endraw %}",
    "multi\n```\n# Heading injected",
]


def judged(state: str) -> dict[str, t.Any]:
    findings = json.loads((RECORDED / f"{state}.json").read_text(encoding="utf-8"))
    return dict(findings, severity=severity(findings), scenarios=rank_scenarios(findings), data_at_risk=data_at_risk(findings))


def at(seconds: float) -> datetime.datetime:
    return START + datetime.timedelta(seconds=seconds)


def chain_record(results: t.Mapping[str, dict[str, t.Any]], ends: t.Mapping[str, float] = None, level: str = "P0",
                 decided: t.Optional[dict[str, t.Any]] = None) -> dict[str, t.Any]:
    """A stack's record after its chain ran, each step with the result given (ok by default)."""
    record: dict[str, t.Any] = {"host": "sandbox", "severity": level, "steps": [], "escalations": [], "stopped": None}
    if decided:
        record["decision"] = decided
    for step in _chain.chain_steps(level):
        ended = (ends or {}).get(step["id"], min(step["deadline_seconds"], 30))
        _chain.start_step(record, step, at(ended))
        _chain.end_step(record, INCIDENT["started_at"], results.get(step["id"], {"status": "ok", "summary": "done"}), at(ended))
    record["outcome"] = _chain.outcome(record, level)
    return record


def fences(text: str) -> list[str]:
    return [line for line in text.splitlines() if FENCE.match(line)]


# --- response summary ---------------------------------------------------------------------------------------------------

def test_the_summary_gives_the_outcome_and_every_step_on_the_t_plus_clock():
    record = chain_record({"verify": {"status": "ok", "summary": "every check ran and the stack is healthy"}},
                          ends={"fix": 1900, "postmortem": 3 * 3600 + 65})
    lines = _report.response_summary(record, INCIDENT)
    # A late step escalates; the chain still resolved the incident.
    assert lines[0] == "INC-2026-11-28-01 sandbox: RESOLVED (severity P0, channel #incident-2026-11-28)"
    steps = {line.split()[0]: line for line in lines[1:9]}
    assert list(steps) == [s["id"] for s in _chain.chain_steps("P0")]
    assert re.fullmatch(r"fix +ok +T\+31m40s / T\+30m00s +LATE +done", steps["fix"]), steps["fix"]
    assert re.fullmatch(r"alert +ok +T\+0m00s / T\+0m00s +in time done", steps["alert"]), steps["alert"]
    assert re.fullmatch(r"postmortem +ok +T\+3h01m / T\+24h00m +in time done", steps["postmortem"]), steps["postmortem"]
    assert lines[9:] == ["escalated to L2 at 2026-11-28T03:31:40Z (fix): step fix ended at T+1900s, past its T+1800s deadline"]


def test_the_summary_of_a_resolved_chain():
    record = chain_record({"verify": {"status": "ok", "summary": "healthy"}})
    lines = _report.response_summary(record, INCIDENT)
    assert lines[0] == "INC-2026-11-28-01 sandbox: RESOLVED (severity P0, channel #incident-2026-11-28)"
    assert len(lines) == 1 + len(_chain.chain_steps("P0")), "no escalation and no stop to report"


def test_the_summary_names_a_stop_and_a_refusal():
    record = chain_record({"fix": {"status": "failed", "summary": "restart timed out", "stop": "fix failed"}})
    lines = _report.response_summary(record, INCIDENT)
    assert lines[0].startswith("INC-2026-11-28-01 sandbox: NOT_RESOLVED ")
    assert any(re.match(r"fix +FAILED ", line) for line in lines)
    assert lines[-1] == "destructive steps stopped: fix: fix failed"
    refused = _report.response_summary({"host": "sandbox", "outcome": "refused", "severity": None,
                                        "refused": "incident INC-2026-11-28-02 is in progress on this stack"}, INCIDENT)
    assert refused == ["INC-2026-11-28-01 sandbox: REFUSED (severity none, channel #incident-2026-11-28)",
                       "refused: incident INC-2026-11-28-02 is in progress on this stack"]


def test_a_step_still_running_has_no_clock_and_no_verdict():
    record: dict[str, t.Any] = {"host": "sandbox", "steps": []}
    _chain.start_step(record, _chain.chain_steps("P1")[0], at(5))
    lines = _report.response_summary(record, INCIDENT)
    assert lines[0] == "INC-2026-11-28-01 sandbox: OPEN (severity none, channel #incident-2026-11-28)"
    assert re.fullmatch(r"respond +running +- / T\+0m00s +", lines[1]), lines[1]


# --- bug report -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("state", "title"), [
    ("healthy", "Degraded service"),
    ("indexer-lag", "Blockchain Indexer Lagging"),
    ("disk-full", "Out of Disk Space"),
    ("rpc-down", "External service failure (RPC, oracle)"),
    ("db-connections", "Database Connection Exhausted"),
])
@pytest.mark.parametrize("level", ["P2", "P3"])
def test_a_bug_report_from_recorded_findings(state, title, level):
    findings = judged(state)
    report = _report.bug_report(findings, level, "INC-2026-11-28-03", "sandbox")
    lines = report.splitlines()
    assert lines[0] == f"# [{level}] {title} on sandbox"
    assert f"- **Severity**: {level} - {_runbook.TITLES[level]} ({_runbook.ACTIONS[level]})" in lines
    assert "- **Incident**: INC-2026-11-28-03" in lines
    assert f"- **Collected**: {findings['collected_at']}" in lines
    assert fences(report) == ["```text", "```"]
    evidence = lines[lines.index("```text") + 1:lines.index("```", lines.index("```text") + 1)]
    expected = [f"{s['scenario']}: {e}" for s in findings["scenarios"] for e in s["evidence"]] or ["no scenario evidence"]
    assert evidence == [line.replace("```", "'''") for entry in expected for line in entry.splitlines()]


@pytest.mark.parametrize("level", [None, "auto", "high", "p2"])
def test_a_bug_report_of_an_unknown_level_is_logged_as_p3(level):
    assert _report.bug_report(judged("indexer-lag"), level, "INC-2026-11-28-03", "sandbox").startswith("# [P3] ")


@pytest.mark.parametrize("hostile", HOSTILE)
def test_evidence_from_hosts_stays_inside_the_reports_fence(hostile):
    findings = {"collected_at": "2026-11-28T03:00:00Z", "severity": {"level": "P2", "reason": "disk use over the threshold"},
                "scenarios": [{"scenario": "disk_full", "evidence": [hostile, "after"]}]}
    report = _report.bug_report(findings, "P2", "INC-2026-11-28-03", "sandbox")
    assert fences(report) == ["```text", "```"], report
    fenced = report.split("```text\n", 1)[1].split("\n```\n", 1)[0]
    assert fenced.splitlines() == f"disk_full: {hostile}".replace("```", "'''").splitlines() + ["disk_full: after"]
    assert "## Suggested fix" in report.split("\n```\n", 1)[1]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_reason_from_hosts_cannot_start_blocks_of_its_own(hostile):
    findings = {"severity": {"level": "P2", "reason": f"API health returned 503 (db: {hostile})"},
                "scenarios": [{"scenario": "api_unavailable", "evidence": ["e"]}]}
    report = _report.bug_report(findings, "P2", "INC-2026-11-28-03", "sandbox")
    assert fences(report) == ["```text", "```"], report
    why = [line for line in report.splitlines() if line.startswith("- **Why this severity**: ")]
    assert len(why) == 1 and why[0].endswith(")"), report
    assert [line for line in report.splitlines() if line.startswith("#")] == ["# [P2] API Unavailable on sandbox", "## Evidence", "## Suggested fix"]


def test_jinja_in_findings_is_text_in_the_report():
    findings = {"severity": {"level": "P3", "reason": "{{ 7 * 7 }}"},
                "scenarios": [{"scenario": "indexer_lag", "evidence": ["{{ lookup('ansible.builtin.env', 'HOME') }}"]}]}
    report = _report.bug_report(findings, "P3", "INC-2026-11-28-03", "sandbox")
    assert "- **Why this severity**: {{ 7 * 7 }}" in report
    assert "indexer_lag: {{ lookup('ansible.builtin.env', 'HOME') }}" in report


def test_a_bug_report_without_scenarios_or_reason_says_so():
    report = _report.bug_report({}, "P3", "INC-2026-11-28-03", "sandbox")
    assert report.splitlines()[0] == "# [P3] Degraded service on sandbox"
    assert "- **Why this severity**: no reason recorded" in report
    assert "```text\nno scenario evidence\n```" in report
    assert "Investigate the evidence below; no scenario of the runbook matches." in report
