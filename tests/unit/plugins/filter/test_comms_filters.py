# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The communication filters (filter/comms.py) and the role that uses them, usdx.incident.step_communicate.

The messages themselves are tested in tests/unit/plugin_utils/test_comms.py. Here: the filters' errors, and a real
ansible-playbook run of the role over a recorded record whose evidence holds Jinja, sending through
usdx.incident.notify to a real HTTP receiver started by the test.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from core_compat import needs_claimed_roles
from ansible_collections.usdx.incident.plugins.filter import comms
from ansible_collections.usdx.incident.plugins.plugin_utils import _comms

REPO = pathlib.Path(__file__).resolve().parents[4]
BIN = pathlib.Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests" / "tools"))
from receivers import HttpReceiver, http_receiver  # noqa: E402,F401  pylint: disable=wrong-import-position,unused-import

RECORDED = REPO / "tests" / "unit" / "fixtures" / "records" / "api_down_resolved.json"
# Evidence a host could report: Jinja that would run a command if anything templated it, and a line break.
HOSTILE = "{{ lookup('ansible.builtin.pipe', 'touch PWNED') }} {% if true %}jinja ran{% endif %}\n# not a heading"
PLAYBOOK = """
- name: Communicate from a recorded record
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the record the way module results arrive
      ansible.builtin.slurp:
        src: "{{ out }}/recorded.json"
      register: read

    - name: Communicate
      ansible.builtin.include_role:
        name: usdx.incident.step_communicate
      vars:
        respond_incident: "{{ read.content | b64decode | from_json }}"

    - name: Keep the step's result
      ansible.builtin.copy:
        content: "{{ step_communicate_result | to_json }}"
        dest: "{{ out }}/result.json"
        mode: "0600"
"""


def test_the_filters_are_registered():
    assert set(comms.FilterModule().filters()) == {"status_message", "user_notice", "status_due", "page_acknowledge_due", "delivery_summary",
                                                   "escalation_ladder", "escalation_contacts", "escalation_reached"}


@pytest.mark.parametrize(("call", "message"), [
    (lambda: comms.status_message("text", {}, {}), r"^status_message: templates: expected a mapping of "),
    (lambda: comms.user_notice("{{ x }}", {"steps": []}, {"started_at": "2026-11-29T03:00:00Z"}),
     r"^user_notice: user_notice template: cannot be rendered: 'x' is undefined$"),
    (lambda: comms.status_due("yesterday"), r"^status_due: last_sent_at: expected a UTC time like "),
    (lambda: comms.delivery_summary({"name": "slack"}), r"^delivery_summary: results: expected notify_results"),
    (lambda: comms.escalation_ladder({"L5": {}}), r"^escalation_ladder: usdx_escalation_ladder: level 'L5' is not one of: L1, L2, L3, external$"),
    (lambda: comms.escalation_contacts({"L1": {}}, {"level": "L2"}, "my_ladder"),
     r"^escalation_contacts: my_ladder\.L1\.contacts: the On-Call Engineer level needs at least one contact "),
])
def test_bad_input_is_an_ansible_filter_error_of_one_line_naming_the_filter(call, message):
    with pytest.raises(AnsibleFilterError, match=message) as raised:
        call()
    assert "\n" not in str(raised.value)


def test_status_due_now():
    assert comms.status_due(None) is True
    assert comms.status_due("2000-01-01T00:00:00Z") is True
    assert comms.status_due("2999-01-01T00:00:00Z") is False


def play(tmp_path: pathlib.Path, receiver: HttpReceiver, **overrides: t.Any) -> tuple[dict[str, t.Any], pathlib.Path]:
    """Run the role over the recorded api-down record with HOSTILE evidence; returns its result and the folder."""
    data = json.loads(RECORDED.read_text(encoding="utf-8"))
    data["record"]["decision"]["scenario"]["reason"] = _comms.TRIAGE_REASON + HOSTILE
    folder = tmp_path / "incident"
    (tmp_path / "recorded.json").write_text(json.dumps({"incident_id": data["incident"]["id"], "folder": str(folder),
                                                        "incident": data["incident"], "record": data["record"]}))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    extra = {"out": str(tmp_path), "ansible_python_interpreter": sys.executable,
             "notify_backends": [{"type": "webhook", "name": "sandbox-webhook", "url": f"{receiver.url}/hook", "deadline": 3}],
             **overrides}
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}
    command = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", "-e", f"@{tmp_path / 'vars.json'}",
               str(tmp_path / "play.yml")]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads((tmp_path / "result.json").read_text()), folder


needs_link = pytest.mark.skipif(not (REPO / "build" / "collections" / "ansible_collections" / "usdx" / "incident").exists(),
                                reason="needs `make collection-link`")


@needs_link
@needs_claimed_roles
def test_the_role_sends_the_status_and_the_approved_notice_with_host_text_as_data(tmp_path, http_receiver):  # noqa: F811
    result, folder = play(tmp_path, http_receiver, step_communicate_send_user_notice=True)
    status_file = (folder / "status-localhost.txt").read_text()
    notice_file = (folder / "user-notice-localhost.md").read_text()
    sent = [r.json for r in http_receiver.received("/hook")]
    assert [(s["kind"], s["status"]) for s in sent] == [("status", "resolved"), ("user_notice", "resolved")]
    assert status_file == "Status page - Resolved\n\n" + sent[0]["text"]
    assert sent[0]["text"].startswith("The issue has been resolved at ")
    assert sent[1]["text"] == notice_file
    flat = " ".join(HOSTILE.split())
    assert f"- What happened: API Unavailable: {flat}\n" in notice_file
    assert not any(path.name == "PWNED" for path in tmp_path.rglob("*"))
    assert result["status"] == "ok"
    assert result["actions"] == [f"wrote {folder}/status-localhost.txt", "status resolved delivered to sandbox-webhook",
                                 f"wrote {folder}/user-notice-localhost.md", "user notice delivered to sandbox-webhook"]


@needs_link
@needs_claimed_roles
def test_the_notice_waits_for_approval_and_a_failing_receiver_does_not_fail_the_step(tmp_path, http_receiver):  # noqa: F811
    http_receiver.route("/hook", status=500)
    override = tmp_path / "resolved.j2"
    override.write_text("Fixed {{ description }} at {{ resolved_at }} UTC; incident {{ incident_id }}.\n")
    result, folder = play(tmp_path, http_receiver, step_communicate_status_resolved_template=str(override))
    sent = [r.json for r in http_receiver.received("/hook")]
    assert {s["kind"] for s in sent} == {"status"}, "the user notice went out without approval"
    status_text = (folder / "status-localhost.txt").read_text()
    assert status_text.startswith("Status page - Resolved\n\nFixed API Unavailable at ")
    assert status_text.endswith(f"; incident {json.loads(RECORDED.read_text())['incident']['id']}.\n")
    assert (folder / "user-notice-localhost.md").exists()
    assert result["status"] == "ok"
    assert result["actions"][1].startswith("status resolved NOT delivered to sandbox-webhook (")
    assert result["actions"][3] == "user notice written for approval (step_communicate_send_user_notice is false)"
