# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report filters (filter/report.py): their errors, tplus_time, and that Ansible writes their text as data.

The texts themselves are tested in tests/unit/plugin_utils/test_report.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter import report
from ansible_collections.usdx.incident.plugins.plugin_utils import _report

REPO = pathlib.Path(__file__).resolve().parents[4]
BIN = pathlib.Path(sys.executable).parent
INCIDENT = {"id": "INC-2026-11-28-01", "channel": "#incident-2026-11-28", "started_at": "2026-11-28T03:00:00Z"}
# What a host could put into its evidence and error messages: Jinja that would run commands, and a Markdown fence.
HOSTILE = "{{ lookup('ansible.builtin.pipe', 'touch PWNED') }} {% if true %}jinja ran{% endif %} ```\n# not a heading"
PLAYBOOK = """
- name: Reports from host-controlled text
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the findings and the record the way module results arrive
      ansible.builtin.slurp:
        src: "{{ item }}"
      loop: ["{{ out }}/findings.json", "{{ out }}/record.json"]
      register: read
    - name: Write the bug report
      usdx.incident.findings_write:
        dir: "{{ out }}/written"
        name: bug-report.md
        content: "{{ read.results[0].content | b64decode | from_json | usdx.incident.bug_report('P2', 'INC-2026-11-28-01', 'sandbox') }}"
    - name: Write the timeline
      usdx.incident.findings_write:
        dir: "{{ out }}/written"
        name: timeline.txt
        content: "{{ read.results[1].content | b64decode | from_json | usdx.incident.response_summary(incident) | join('\\n') }}"
      vars:
        incident: {id: INC-2026-11-28-01, channel: "#incident-2026-11-28"}
"""


def test_the_filters_the_roles_call_are_registered():
    assert set(report.FilterModule().filters()) == {"response_summary", "bug_report", "tplus_time"}


@pytest.mark.parametrize(("call", "name"), [
    (lambda: report.response_summary(["steps"], INCIDENT), "response_summary"),
    (lambda: report.response_summary({}, "INC-2026-11-28-01"), "response_summary incident"),
    (lambda: report.bug_report("findings", "P2", "INC-2026-11-28-01", "sandbox"), "bug_report"),
])
def test_a_value_that_is_not_a_mapping_is_refused_naming_the_filter(call, name):
    with pytest.raises(AnsibleFilterError) as raised:
        call()
    assert str(raised.value).startswith(f"{name}: expected a mapping, got ")


@pytest.mark.parametrize(("seconds", "moment"), [(0, "2026-11-28T03:00:00Z"), (45 * 60, "2026-11-28T03:45:00Z"),
                                                 (24 * 3600, "2026-11-29T03:00:00Z")])
def test_tplus_time_is_the_utc_moment_of_a_deadline(seconds, moment):
    assert report.tplus_time("2026-11-28T03:00:00Z", seconds) == moment


@pytest.mark.parametrize(("started_at", "seconds"), [("2026-11-28 03:00", 60), (None, 60), ("2026-11-28T03:00:00Z", "60"),
                                                     ("2026-11-28T03:00:00Z", True), ("2026-11-28T03:00:00Z", 1.5)])
def test_tplus_time_refuses_what_is_not_a_start_and_whole_seconds(started_at, seconds):
    with pytest.raises(AnsibleFilterError, match="^tplus_time: expected a start like 2026-11-28T03:00:00Z and whole seconds, got "):
        report.tplus_time(started_at, seconds)


@pytest.mark.skipif(not (REPO / "build" / "collections" / "ansible_collections" / "usdx" / "incident").exists(),
                    reason="needs `make collection-link`")
def test_ansible_writes_host_text_into_the_reports_as_data_never_as_a_template(tmp_path: pathlib.Path):
    findings = {"collected_at": "2026-11-28T03:00:00Z", "severity": {"level": "P2", "reason": HOSTILE},
                "scenarios": [{"scenario": "disk_full", "evidence": [HOSTILE, "after"]}]}
    record = {"host": "sandbox", "outcome": "open", "severity": "P2",
              "steps": [{"id": "record", "status": "ok", "tplus_end": 30, "deadline_seconds": 3600, "deadline_met": True,
                         "summary": HOSTILE}]}
    (tmp_path / "findings.json").write_text(json.dumps(findings))
    (tmp_path / "record.json").write_text(json.dumps(record))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    command = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", f"out={tmp_path}",
               "-e", f"ansible_python_interpreter={sys.executable}", str(tmp_path / "play.yml")]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = tmp_path / "written"
    assert (written / "bug-report.md").read_text() == _report.bug_report(findings, "P2", "INC-2026-11-28-01", "sandbox")
    assert (written / "timeline.txt").read_text() == "\n".join(_report.response_summary(record, INCIDENT))
    assert HOSTILE.splitlines()[0].replace("```", "'''") in (written / "bug-report.md").read_text()
    assert not (tmp_path / "PWNED").exists() and not any(path.name == "PWNED" for path in tmp_path.rglob("*"))
