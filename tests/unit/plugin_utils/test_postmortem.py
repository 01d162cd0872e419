# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The post-mortem over recorded incident folders (tests/unit/fixtures/incidents/):

- db-connections-p0: the P0 chain on the sandbox's db-connections fault, resolved, as recorded (record, assess and
  verify findings, the timeline callback's timeline.jsonl);
- api-down-killed: the recorded api-down assessment with a hostile line in the indexer's log, contain refused and
  then approved after its deadline (late, escalated), the run killed during fix, its timeline's last line cut.

Every field of the runbook's template is there, what people must write is marked, host text is verbatim in the
Markdown and escaped (never evaluated) in the HTML, an inventory's template is used, a broken one is named in one
line, and both SVG charts are well-formed.
"""

from __future__ import annotations

import datetime
import html.parser
import json
import pathlib
import re
import shutil
import typing as t
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.usdx.incident.plugins.plugin_utils import _postmortem, _render

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "incidents"
NOW = datetime.datetime(2026, 11, 30, 9, 0, 0, tzinfo=datetime.timezone.utc)
NAMES = {"markdown": "template_markdown", "html": "template_html"}
TODO = "To be written by the team at the post-mortem meeting."
HOSTILE = '{{ 7*7 }} {% if true %}evaluated{% endif %} <script>alert("pm")</script>'
FIELDS = ("Incident ID", "Date", "Duration", "Severity", "Impact", "Summary", "Timeline", "Root Cause", "Resolution",
          "Action Items", "Lessons Learned", "Prevention")
MILESTONES = ("Incident detected", "Team alerted", "Root cause identified", "Fix applied", "Services restored",
              "Incident closed")


def folder_of(name: str, tmp_path: pathlib.Path) -> pathlib.Path:
    """A copy of a recorded incident folder, as INC-2026-11-29-01 in an incidents directory of its own."""
    incidents = tmp_path / "incidents"
    incidents.mkdir(mode=0o750, exist_ok=True)
    folder = incidents / "INC-2026-11-29-01"
    shutil.copytree(FIXTURES / name, folder)
    return folder


def rendered(folder: pathlib.Path, templates: t.Optional[dict[str, str]] = None) -> dict[str, str]:
    return _postmortem.render(_postmortem.context(str(folder), NOW), templates or {}, NAMES)


class Text(html.parser.HTMLParser):
    """The text a reader sees (and the SVG's titles), without tags and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(document: str) -> str:
    parser = Text()
    parser.feed(document)
    return "".join(parser.parts)


def not_evaluated(document: str) -> bool:
    """Where the host's request body is, no 49 (what {{ 7*7 }} evaluates to) and no if-block output without its
    tags: the body is there as logged. (The recorded times around it may hold a 49 of their own, as 03:49.)"""
    bodies = [line.split("bad request body: ", 1)[1] for line in document.splitlines() if "bad request body: " in line]
    return bool(bodies) and all("49" not in body and body.startswith(HOSTILE) for body in bodies)


def svg(document: str, chart_id: str) -> ET.Element:
    found = re.search(rf'<svg id="{chart_id}".*?</svg>', document, re.S)
    assert found, f"no <svg id={chart_id}>"
    return ET.fromstring(found.group(0))


@pytest.mark.parametrize("name", ["db-connections-p0", "api-down-killed"])
def test_markdown_has_every_field_of_the_runbook_template(name: str, tmp_path: pathlib.Path) -> None:
    markdown = rendered(folder_of(name, tmp_path))["markdown"]
    positions = [markdown.index(f"**{field}**") for field in FIELDS]
    assert positions == sorted(positions), "the fields are not in the template's order"
    assert "**Incident ID**: INC-2026-11-29-01  \n**Date**: 2026-11-29  \n" in markdown
    assert "**Severity**: P0 - Critical (Production Down)" in markdown
    assert "**Timeline** (all times UTC):" in markdown
    for milestone in MILESTONES:
        assert re.search(rf"^- (\d\d:\d\d|--:--) - {milestone}", markdown, re.M), milestone
    for part in ("- What went well: _", "- What could be improved: _", "- What we learned: _"):
        assert part + TODO in markdown
    assert markdown.rstrip().count(TODO) >= 5
    assert f"**Prevention**:\n_{TODO}_" in markdown
    assert "- [ ] _" + TODO + "_ - Owner: _to be assigned_ - Due: _to be set_" in markdown


@pytest.mark.parametrize("name", ["db-connections-p0", "api-down-killed"])
def test_html_has_every_field_and_both_charts(name: str, tmp_path: pathlib.Path) -> None:
    document = rendered(folder_of(name, tmp_path))["html"]
    for field in FIELDS[:5]:
        assert f"<dt>{field}</dt>" in document
    for field in FIELDS[5:]:
        assert re.search(rf"<h2>{field}[ <(]", document), field
    assert document.count('<svg id="timeline-chart"') == 1 and document.count('<svg id="metric-chart"') == 1
    assert not re.search(r"""(src|href)\s*=|url\(|@import|<script|<link""", document, re.I), "something is loaded"
    assert document.count(f'<span class="todo">{TODO}</span>') >= 4


def test_what_the_run_knows_is_filled_in(tmp_path: pathlib.Path) -> None:
    folder = folder_of("db-connections-p0", tmp_path)
    values = _postmortem.context(str(folder), NOW)
    markdown = _postmortem.render(values, {}, NAMES)["markdown"]
    assert values["incident"]["outcomes"] == {"sandbox": "resolved"}
    assert "**Duration**: 00:00 (from the alert at 03:49:13 UTC to the last recorded event at 03:49:33 UTC" in markdown
    assert "**Impact**: 1 users affected (clients with failed requests" in markdown
    assert "- 03:49 - Services restored (T+17s)" in markdown
    assert "**Root Cause**:\nDatabase Connection Exhausted." in markdown
    assert "sandbox db_connections_exhausted: no connection slots left: 15/20 connections (75%)" in markdown
    assert "terminate 10 idle session(s) [usdx.incident.db_connections_exhausted]" in markdown
    assert "maintenance_on (undone after verify)" in markdown
    assert "Follow up what verify left on sandbox (P2): database lock waits: 1" in markdown
    assert "From the run: 8 of 8 steps ended within their T+ deadline" in markdown
    # The key metric of the scenario, from the assess and verify findings.
    metric = values["metric"]
    assert metric["label"] == "Connections in use"
    assert [(p["source"], p["value"]) for p in metric["points"]] == [("assess", 15.0), ("verify", 5.0)]
    assert {"label": "max_connections", "value": 20.0, "value_text": "20"} in metric["references"]
    # The timeline's changed tasks, in T+ order between the steps that ran them.
    events = [e["text"] for e in values["timeline"]]
    maintenance = next(i for i, text in enumerate(events) if text.startswith("changed: Route users to the maintenance page"))
    assert events[maintenance + 1].startswith("Contain changed:")
    assert [e["tplus"] for e in values["timeline"]] == sorted(e["tplus"] for e in values["timeline"])


def test_late_step_is_marked_everywhere(tmp_path: pathlib.Path) -> None:
    documents = rendered(folder_of("api-down-killed", tmp_path))
    markdown, document = documents["markdown"], documents["html"]
    assert "| Contain | sandbox | REFUSED | T+5s | T+6s | T+10m | yes |" in markdown
    assert "| Contain | sandbox | LATE | T+11m | T+11m05s | T+10m | **LATE** |" in markdown
    assert "(!) Contain LATE: did: maintenance_on" in markdown
    assert "Find out why Contain on sandbox ended at T+11m05s, past its T+10m deadline" in markdown
    assert re.search(r'<tr class="late"><td>Contain</td>.*?<td>LATE</td>', document)
    chart = svg(document, "timeline-chart")
    late = [group for group in chart.iter("{http://www.w3.org/2000/svg}g") if group.get("class") == "step late"]
    assert len(late) == 1
    assert "LATE" in "".join(late[0].itertext())


def test_killed_run_leaves_out_the_cut_line_and_says_what_did_not_happen(tmp_path: pathlib.Path) -> None:
    folder = folder_of("api-down-killed", tmp_path)
    lines = (folder / "timeline.jsonl").read_bytes().split(b"\n")
    complete = [json.loads(line) for line in lines[:-1]]
    timeline = _postmortem.read_timeline(str(folder))
    assert timeline["events"] == complete and timeline["incomplete_last_line"] is True
    values = _postmortem.context(str(folder), NOW)
    markdown = _postmortem.render(values, {}, NAMES)["markdown"]
    assert values["incident"]["outcomes"] == {"sandbox": "open"}
    assert "its last line was cut short (the run was stopped while writing it) and is left out" in markdown
    assert "| Fix | sandbox | no end recorded | T+11m07s | no end recorded | T+30m | - |" in markdown
    for milestone in MILESTONES[3:]:
        assert f"- --:-- - {milestone} (_not reached on sandbox_)" in markdown
    assert "Undo what contain left in place on sandbox once the service is verified: maintenance_on" in markdown
    assert "escalated to L3 (CTO / Founders) from contain" in markdown and "reached: Dana (CTO)" in markdown
    assert "Repair the pagerduty notifier: escalation was not delivered on sandbox (HTTP Error 500" in markdown
    # The last event before the kill ends the incident's duration.
    assert values["duration"]["text"] == "11m 09s"


def test_without_a_timeline_the_post_mortem_says_so(tmp_path: pathlib.Path) -> None:
    folder = folder_of("db-connections-p0", tmp_path)
    (folder / "timeline.jsonl").unlink()
    documents = rendered(folder)
    for document in documents.values():
        assert "The timeline (timeline.jsonl) was not recorded for this incident" in document
    assert "Fix changed: Fix option A (Restart services)" in documents["markdown"]
    assert "changed: Route users to the maintenance page" not in documents["markdown"]


def test_a_broken_line_inside_the_timeline_is_counted_not_fatal(tmp_path: pathlib.Path) -> None:
    folder = folder_of("db-connections-p0", tmp_path)
    lines = (folder / "timeline.jsonl").read_text().splitlines()
    (folder / "timeline.jsonl").write_text("\n".join(lines[:3] + ['{"at": "2026-11-29T03:3', "[1, 2]"] + lines[3:]) + "\n")
    timeline = _postmortem.read_timeline(str(folder))
    assert timeline["unreadable_lines"] == 2 and timeline["incomplete_last_line"] is False
    assert len(timeline["events"]) == len(lines)
    assert "2 unreadable line(s) left out" in rendered(folder)["markdown"]


def test_host_text_is_verbatim_in_markdown_and_escaped_in_html(tmp_path: pathlib.Path) -> None:
    documents = rendered(folder_of("api-down-killed", tmp_path))
    markdown, document = documents["markdown"], documents["html"]
    # In the root cause's evidence (a fenced block), the diagnosis and the failed task of the timeline.
    assert markdown.count(HOSTILE) == 4
    assert not_evaluated(markdown)
    assert "<script" not in document
    # The HTML has the diagnosis once more: in the steps table's summary column.
    escaped = '{{ 7*7 }} {% if true %}evaluated{% endif %} &lt;script&gt;alert(&#34;pm&#34;)&lt;/script&gt;'
    assert document.count(escaped) == 5
    text = visible_text(document)
    assert text.count(HOSTILE) == 5
    assert not_evaluated(text)


def test_credentials_in_urls_are_masked(tmp_path: pathlib.Path) -> None:
    documents = rendered(folder_of("api-down-killed", tmp_path))
    for document in documents.values():
        assert "hunter2" not in document
        assert "https://********@status.example.com/incidents/new" in document


def test_an_inventory_template_is_used(tmp_path: pathlib.Path) -> None:
    folder = folder_of("api-down-killed", tmp_path)
    own = tmp_path / "team.md.j2"
    own.write_text("# {{ incident.id }} ({{ incident.severity }})\n{% for line in root_cause.evidence %}{{ line }}\n{% endfor %}")
    documents = rendered(folder, {"markdown": str(own)})
    assert documents["markdown"].startswith("# INC-2026-11-29-01 (P0)\nsandbox severity: API unavailable")
    assert HOSTILE in documents["markdown"]
    assert documents["html"].startswith("<!DOCTYPE html>"), "the HTML template is still the role's"


@pytest.mark.parametrize(("source", "reason"), [
    ("{{ incident.id }} {{ owner_of_the_incident }}", "'owner_of_the_incident' is undefined"),
    ("{% for step in steps %}{{ step.title }}\n", "Unexpected end of template"),
    ("{{ incident.__class__.__mro__ }}", "unsafe"),
], ids=["undefined-name", "syntax", "sandbox"])
def test_a_broken_template_is_one_line_naming_the_variable(tmp_path: pathlib.Path, source: str, reason: str) -> None:
    folder = folder_of("db-connections-p0", tmp_path)
    broken = tmp_path / "broken.html.j2"
    broken.write_text(source)
    with pytest.raises(_render.TemplateProblem) as caught:
        rendered(folder, {"html": str(broken)})
    message = str(caught.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"template_html={str(broken)!r}: cannot be rendered"), message
    assert reason in message


def test_an_unreadable_template_names_the_variable(tmp_path: pathlib.Path) -> None:
    folder = folder_of("db-connections-p0", tmp_path)
    with pytest.raises(_render.TemplateProblem, match=r"^template_markdown: cannot read template '/nonexistent/pm.md.j2'"):
        rendered(folder, {"markdown": "/nonexistent/pm.md.j2"})


@pytest.mark.parametrize("name", ["db-connections-p0", "api-down-killed"])
def test_both_charts_are_well_formed_svg_that_scales(name: str, tmp_path: pathlib.Path) -> None:
    values = _postmortem.context(str(folder_of(name, tmp_path)), NOW)
    document = _postmortem.render(values, {}, NAMES)["html"]
    namespace = "{http://www.w3.org/2000/svg}"
    timeline, metric = svg(document, "timeline-chart"), svg(document, "metric-chart")
    for chart in (timeline, metric):
        assert chart.get("viewBox") and chart.get("width") is None and chart.get("height") is None
    rows = [group for group in timeline.iter(f"{namespace}g") if (group.get("class") or "").startswith("step")]
    assert ["".join(row.find(f"{namespace}text").itertext()) for row in rows] == [s["title"] for s in values["steps"]]
    assert len(list(metric.iter(f"{namespace}circle"))) == len(values["metric"]["points"])
    assert values["metric"]["label"] + " over the incident" in "".join(metric.itertext())


def test_no_folder_is_an_error_naming_it(tmp_path: pathlib.Path) -> None:
    with pytest.raises(_postmortem.Unsafe, match="no incident.json; not an incident folder"):
        _postmortem.context(str(tmp_path))
