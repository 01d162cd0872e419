# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx.incident.incident_record action: the incident folder as the dispatcher role writes it, step by step.

The action runs in-process with a stand-in task and connection (it never uses the connection) and a clock the test
sets; the decisions it calls are tested in tests/unit/plugin_utils/test_chain.py.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.usdx.incident.plugins.action import incident_record
from ansible_collections.usdx.incident.plugins.action.incident_record import ActionModule
from ansible_collections.usdx.incident.plugins.plugin_utils import _chain, _incident

START = datetime.datetime(2026, 11, 28, 3, 0, 0, tzinfo=datetime.timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now

    def at(self, seconds: float) -> None:
        self.now = START + datetime.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_incident, "utc_now", fake)
    return fake


@pytest.fixture
def incidents(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "incidents"


def run_action(args: dict[str, t.Any], host: str = "stack-a", check_mode: bool = False) -> dict[str, t.Any]:
    task = mock.MagicMock(args=args, check_mode=check_mode, async_val=0, action="usdx.incident.incident_record")
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, play_context=mock.MagicMock(check_mode=check_mode), loader=None, templar=None,
                          shared_loader_obj=None)
    action._load_name = "usdx.incident.incident_record"  # set by the plugin loader, which this test does not use
    return action.run(task_vars={"inventory_hostname": host})


def op(name: str, incidents: pathlib.Path, incident_id: str, host: str = "stack-a", **args: t.Any) -> dict[str, t.Any]:
    return run_action({"op": name, "incidents_dir": str(incidents), "incident_id": incident_id, **args}, host)


def open_incident(incidents: pathlib.Path, check_mode: bool = False, **args: t.Any) -> dict[str, t.Any]:
    result = run_action({"op": "open", "incidents_dir": str(incidents), "severity": "P0", "scenario": "auto",
                         "fix_option": "auto", **args}, check_mode=check_mode)
    assert not result.get("failed"), result
    return result


def host_record(incidents: pathlib.Path, incident_id: str, host: str) -> dict[str, t.Any]:
    return json.loads((incidents / incident_id / "hosts" / f"{host}.json").read_text())


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check-mode"])
def test_open_allocates_the_id_and_writes_the_incident_also_in_check_mode(clock, incidents, check_mode):
    result = open_incident(incidents, check_mode)
    incident = {"id": "INC-2026-11-28-01", "channel": "#incident-2026-11-28", "started_at": "2026-11-28T03:00:00Z",
                "severity": "P0", "scenario": "auto", "fix_option": "auto", "check_mode": check_mode}
    assert result == {"changed": False, "incident_id": "INC-2026-11-28-01", "folder": str(incidents / "INC-2026-11-28-01"),
                      "incident": incident}
    assert json.loads((incidents / "INC-2026-11-28-01" / "incident.json").read_text()) == incident
    assert open_incident(incidents)["incident_id"] == "INC-2026-11-28-02"


def test_open_with_an_id_keeps_an_existing_incident(clock, incidents):
    first = open_incident(incidents)["incident"]
    clock.at(600)
    again = open_incident(incidents, incident_id=first["id"], severity="P3")
    assert again["incident"] == first, "a later step's open must not restart the T+ clock or change the severity"


def test_open_with_a_given_id_creates_its_folder(clock, incidents):
    result = open_incident(incidents, incident_id="INC-2026-11-27-05")
    assert result["incident"]["channel"] == "#incident-2026-11-27"
    assert (incidents / "INC-2026-11-27-05" / "incident.json").exists()


@pytest.mark.parametrize("incident_id", ["INC-2026-11-28-1", "../INC-2026-11-28-01", "latest"])
def test_a_malformed_id_fails_with_one_line_and_writes_nothing(clock, incidents, incident_id):
    result = run_action({"op": "open", "incidents_dir": str(incidents), "incident_id": incident_id})
    assert result == {"failed": True, "changed": False,
                      "msg": f"incident id {incident_id!r} is not INC-YYYY-MM-DD-NN (for example INC-2026-11-28-01)"}
    assert not incidents.exists()


def test_a_record_op_on_an_incident_never_opened_fails(clock, incidents):
    incidents.mkdir(mode=0o750)
    result = op("host", incidents, "INC-2026-11-28-09")
    assert result["failed"] is True
    assert result["msg"] == f"incident INC-2026-11-28-09: no incident.json in {incidents / 'INC-2026-11-28-09'}; open it first"


def test_a_world_writable_incidents_dir_fails_and_nothing_is_written(clock, incidents):
    incidents.mkdir()
    incidents.chmod(0o777)
    result = run_action({"op": "open", "incidents_dir": str(incidents)})
    assert result["failed"] is True and "group- or world-writable" in result["msg"]
    assert os.listdir(incidents) == []


@pytest.mark.parametrize(("args", "message"), [
    ({"op": "close", "incidents_dir": "/x"}, "value of op must be one of"),
    ({"op": "open"}, "missing required arguments: incidents_dir"),
    ({"op": "open", "incidents_dir": "/x", "outcome": "resolved"}, "Unsupported parameters"),
])
def test_bad_arguments_are_refused(args, message):
    with pytest.raises(AnsibleActionFail, match=message):
        run_action(args)


def test_steps_are_recorded_per_host_on_the_t_plus_clock(clock, incidents):
    incident_id = open_incident(incidents)["incident_id"]
    steps = _chain.chain_steps("P0")
    for host, ended in (("stack-a", 40), ("stack-b", 75)):
        clock.at(1)
        started = op("step_start", incidents, incident_id, host, step=steps[0])
        assert started["record"]["steps"][-1]["status"] == "running"
        clock.at(ended)
        result = op("step_end", incidents, incident_id, host, result={"status": "ok", "summary": "paged the on-call"})
        assert result["changed"] is False and result["record"] == host_record(incidents, incident_id, host)
    on_time, late = host_record(incidents, incident_id, "stack-a"), host_record(incidents, incident_id, "stack-b")
    assert on_time["steps"][0]["deadline_met"] is True and on_time["escalations"] == []
    assert late["steps"][0]["deadline_met"] is False
    assert late["escalations"] == [{"at": "2026-11-28T03:01:15Z", "level": "L2", "trigger": "deadline_missed", "step": "alert",
                                    "reason": "step alert ended at T+75s, past its T+0s deadline"}]
    assert on_time["severity"] == "P0" and on_time["check_mode"] is False and on_time["host"] == "stack-a"


def test_set_and_finish_give_the_outcome(clock, incidents):
    incident_id = open_incident(incidents, severity="P1")["incident_id"]
    for step in _chain.chain_steps("P1"):
        op("step_start", incidents, incident_id, step=step)
        op("step_end", incidents, incident_id, result={"status": "ok"})
    op("set", incidents, incident_id, fields={"scenario": "disk_full", "fix_option": "A"})
    result = op("finish", incidents, incident_id)
    assert result["record"]["outcome"] == "resolved"
    assert host_record(incidents, incident_id, "stack-a")["scenario"] == "disk_full"


def test_a_refused_stack_finishes_refused(clock, incidents):
    incident_id = open_incident(incidents)["incident_id"]
    op("set", incidents, incident_id, fields={"refused": "incident INC-2026-11-28-07 is in progress on this stack"})
    assert op("finish", incidents, incident_id)["record"]["outcome"] == "refused"


def test_fields_a_step_may_not_set_are_refused_and_nothing_is_written(clock, incidents):
    incident_id = open_incident(incidents)["incident_id"]
    result = op("set", incidents, incident_id, fields={"outcome": "resolved", "steps": [], "stopped": None})
    assert result["failed"] is True
    assert result["msg"] == f"fields outcome, steps cannot be set (accepted: {', '.join(incident_record.SETTABLE)})"
    assert not (incidents / incident_id / "hosts").exists()


def test_a_step_result_outside_the_vocabulary_fails_and_the_record_is_unchanged(clock, incidents):
    incident_id = open_incident(incidents)["incident_id"]
    op("step_start", incidents, incident_id, step=_chain.chain_steps("P0")[0])
    before = host_record(incidents, incident_id, "stack-a")
    result = op("step_end", incidents, incident_id, result={"status": "done"})
    assert result["failed"] is True and result["msg"].endswith("'done' is not one of: ok, changed, skipped, failed, refused, escalated")
    assert host_record(incidents, incident_id, "stack-a") == before


@pytest.mark.parametrize("host", ["../stack", "a/b", ".."])
def test_a_host_name_that_cannot_name_a_file_fails(clock, incidents, host):
    incident_id = open_incident(incidents)["incident_id"]
    result = op("host", incidents, incident_id, host)
    assert result["failed"] is True and "cannot name a file in the incident folder" in result["msg"]
    assert not (incidents / incident_id / "hosts").exists()


def test_text_from_hosts_is_stored_as_it_is(clock, incidents):
    incident_id = open_incident(incidents)["incident_id"]
    op("step_start", incidents, incident_id, step=_chain.chain_steps("P0")[1])
    summary = "P0: {{ lookup('ansible.builtin.pipe', 'id') }} ``` </script>"
    op("step_end", incidents, incident_id, result={"status": "ok", "summary": summary})
    assert host_record(incidents, incident_id, "stack-a")["steps"][0]["summary"] == summary
