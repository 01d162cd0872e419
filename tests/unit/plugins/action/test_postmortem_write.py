# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx.incident.postmortem_write action over a recorded incident folder: what it writes, check mode, and its
one-line failures. What the post-mortem says is tested in tests/unit/plugin_utils/test_postmortem.py."""

from __future__ import annotations

import os
import pathlib
import shutil
import stat
import typing as t
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.usdx.incident.plugins.action.postmortem_write import ActionModule

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "incidents"
INCIDENT = "INC-2026-11-29-01"


def run_action(args: t.Dict[str, t.Any], check_mode: bool = False) -> t.Dict[str, t.Any]:
    task = mock.MagicMock(args=args, check_mode=check_mode, async_val=0, action="usdx.incident.postmortem_write")
    connection = mock.MagicMock()
    connection._shell.tmpdir = None
    action = ActionModule(task, connection, play_context=mock.MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    action._load_name = "usdx.incident.postmortem_write"  # set by the plugin loader, which this test does not use
    return action.run(task_vars={})


@pytest.fixture
def incidents(tmp_path: pathlib.Path) -> pathlib.Path:
    directory = tmp_path / "incidents"
    directory.mkdir(mode=0o750)
    shutil.copytree(FIXTURES / "api-down-killed", directory / INCIDENT)
    return directory


def test_writes_both_documents_into_the_incident_folder(incidents: pathlib.Path) -> None:
    result = run_action({"incidents_dir": str(incidents), "incident_id": INCIDENT})
    folder = incidents / INCIDENT
    assert result["changed"] is False and result["written"] is True, result
    assert result["markdown_path"] == str(folder / "postmortem.md") and result["html_path"] == str(folder / "postmortem.html")
    assert (folder / "postmortem.md").read_text().startswith(f"# Post-Mortem: {INCIDENT} — API Unavailable\n")
    assert "<svg id=\"timeline-chart\"" in (folder / "postmortem.html").read_text()
    for name in ("postmortem.md", "postmortem.html"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o640
    assert result["summary"] == (f"wrote the post-mortem of {INCIDENT} (P0, API Unavailable): 6 step(s), 1 late "
                                 "(sandbox:contain), 2 escalation(s), timeline recorded")


def test_check_mode_renders_and_writes_nothing(incidents: pathlib.Path) -> None:
    before = sorted(os.listdir(incidents / INCIDENT))
    result = run_action({"incidents_dir": str(incidents), "incident_id": INCIDENT}, check_mode=True)
    assert result["written"] is False and result["summary"].startswith("would write the post-mortem"), result
    assert result["markdown_path"] == str(incidents / INCIDENT / "postmortem.md")
    assert sorted(os.listdir(incidents / INCIDENT)) == before


def test_check_mode_still_fails_on_a_broken_template(incidents: pathlib.Path, tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.md.j2"
    broken.write_text("{{ incident.id }\n")
    result = run_action({"incidents_dir": str(incidents), "incident_id": INCIDENT, "template_markdown": str(broken)},
                        check_mode=True)
    assert result["failed"] is True and result["msg"].startswith(f"template_markdown={str(broken)!r}: cannot be rendered")
    assert len(result["msg"].splitlines()) == 1


def test_the_team_template_is_used(incidents: pathlib.Path, tmp_path: pathlib.Path) -> None:
    own = tmp_path / "ours.html.j2"
    own.write_text("<p>{{ incident.id }}: {{ root_cause.evidence | last }}</p>\n")
    result = run_action({"incidents_dir": str(incidents), "incident_id": INCIDENT, "template_html": str(own)})
    assert (incidents / INCIDENT / "postmortem.html").read_text() == (
        f"<p>{INCIDENT}: sandbox api_unavailable: indexer metrics unreachable</p>\n"), result


@pytest.mark.parametrize(("args", "message"), [
    ({"incidents_dir": "INCIDENTS", "incident_id": "INC-2026-11-29"},
     "incident id 'INC-2026-11-29' is not INC-YYYY-MM-DD-NN (for example INC-2026-11-28-01)"),
    ({"incidents_dir": "INCIDENTS", "incident_id": "INC-2026-11-29-07"},
     "incident_id='INC-2026-11-29-07': no incident folder INCIDENTS/INC-2026-11-29-07 (incidents_dir='INCIDENTS')"),
    ({"incidents_dir": "INCIDENTS", "incident_id": INCIDENT, "template_html": "/nonexistent/pm.html.j2"},
     "template_html: cannot read template '/nonexistent/pm.html.j2': [Errno 2] No such file or directory: "
     "'/nonexistent/pm.html.j2'"),
], ids=["bad-id", "no-folder", "no-template"])
def test_bad_input_is_one_line_naming_the_value(incidents: pathlib.Path, args: t.Dict[str, t.Any], message: str) -> None:
    args = {key: value.replace("INCIDENTS", str(incidents)) for key, value in args.items()}
    result = run_action(args)
    assert result == {"failed": True, "changed": False, "msg": message.replace("INCIDENTS", str(incidents))}
    assert not (incidents / INCIDENT / "postmortem.md").exists()


def test_missing_arguments_are_refused() -> None:
    with pytest.raises(AnsibleActionFail, match="missing required arguments: incident_id"):
        run_action({"incidents_dir": "/tmp"})
