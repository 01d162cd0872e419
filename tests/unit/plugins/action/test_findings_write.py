# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx.incident.findings_write action: its arguments, what it writes, and its one-line failures.

The action runs in-process with a stand-in task and connection (it never uses the connection); the path rules
themselves are tested in tests/unit/plugin_utils/test_findings_file.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import stat
import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.usdx.incident.plugins.action.findings_write import ActionModule, serialise


def run_action(args: t.Dict[str, t.Any], check_mode: bool = False) -> t.Dict[str, t.Any]:
    task = mock.MagicMock(args=args, check_mode=check_mode, async_val=0, action="usdx.incident.findings_write")
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, play_context=mock.MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    action._load_name = "usdx.incident.findings_write"  # set by the plugin loader, which this test does not use
    return action.run(task_vars={})


@pytest.mark.parametrize(("args", "message"), [
    ({"name": "sandbox.json", "content": {}}, "missing required arguments: dir"),
    ({"dir": "TMP/findings", "content": {}}, "missing required arguments: name"),
    ({"dir": "TMP/findings", "name": "sandbox.json"}, "missing required arguments: content"),
    ({"dir": "TMP/findings", "name": "sandbox.json", "content": {}, "mode": "0644"}, "Unsupported parameters"),
], ids=["no-dir", "no-name", "no-content", "unknown-option"])
def test_refuses_bad_arguments_before_writing(tmp_path: pathlib.Path, args: t.Dict[str, t.Any], message: str) -> None:
    args = {key: value.replace("TMP", str(tmp_path)) if key == "dir" else value for key, value in args.items()}
    with pytest.raises(AnsibleActionFail, match=message):
        run_action(args)
    assert os.listdir(tmp_path) == [], "something was written"


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check-mode"])
def test_writes_json_in_the_order_given_also_in_check_mode(tmp_path: pathlib.Path, check_mode: bool) -> None:
    findings = {"host": "sandbox", "checks": ["api"], "api": {"status": 200}, "severity": None}
    result = run_action({"dir": str(tmp_path / "findings"), "name": "sandbox.json", "content": findings}, check_mode)
    document = tmp_path / "findings" / "sandbox.json"
    assert result == {"changed": False, "path": str(document)}
    text = document.read_text()
    assert text == json.dumps(findings, indent=2) + "\n"
    assert list(json.loads(text)) == ["host", "checks", "api", "severity"]
    assert stat.S_IMODE(document.stat().st_mode) == 0o640


def test_writes_a_string_as_it_is_and_expands_the_user_in_dir(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    result = run_action({"dir": "~/findings", "name": "notes.txt", "content": "P0: not JSON\n"})
    assert result["path"] == str(tmp_path / "findings" / "notes.txt")
    assert (tmp_path / "findings" / "notes.txt").read_text() == "P0: not JSON\n"


def test_an_unsafe_path_fails_with_the_one_line_reason(tmp_path: pathlib.Path) -> None:
    findings_dir = tmp_path / "findings"
    findings_dir.mkdir()
    findings_dir.chmod(0o777)
    result = run_action({"dir": str(findings_dir), "name": "sandbox.json", "content": {}})
    assert result == {"failed": True, "changed": False,
                      "msg": f"findings directory {findings_dir}: is group- or world-writable (mode 0777)"}
    assert os.listdir(findings_dir) == []


def test_content_that_is_not_json_fails_with_a_reason_and_writes_nothing(tmp_path: pathlib.Path) -> None:
    result = run_action({"dir": str(tmp_path / "findings"), "name": "sandbox.json", "content": {"when": object()}})
    assert result["failed"] is True and "content cannot be written as a findings document" in result["msg"], result
    assert len(result["msg"].splitlines()) == 1
    assert not (tmp_path / "findings").exists()


def test_serialise_escapes_what_is_not_ascii() -> None:
    # File names from hosts may be undecodable (surrogate escapes): JSON's escapes keep the document writable.
    assert serialise({"path": "/data/caf\udce9"}) == b'{\n  "path": "/data/caf\\udce9"\n}\n'
