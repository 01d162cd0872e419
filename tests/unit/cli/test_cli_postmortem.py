# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`usdx-incident postmortem INC-ID` for real: playbooks/postmortem.yml through ansible-runner on a recorded incident
folder (a killed run's), with a local inventory. No stack is contacted; the inventory only names the templates."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import typing as t

import pytest

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "incidents"
INCIDENT = "INC-2026-11-29-01"


@pytest.fixture
def incidents(tmp_path: pathlib.Path) -> pathlib.Path:
    directory = tmp_path / "incidents"
    directory.mkdir(mode=0o750)
    shutil.copytree(FIXTURES / "api-down-killed", directory / INCIDENT)
    return directory


def with_template(inventory: pathlib.Path, tmp_path: pathlib.Path, text: str) -> pathlib.Path:
    """The inventory with its stacks pointing step_postmortem_template_markdown at a template of their own."""
    template = tmp_path / "team-postmortem.md.j2"
    template.write_text(text)
    inventory.write_text(inventory.read_text().replace(
        "usdx_stacks:\n", f"usdx_stacks:\n  vars:\n    step_postmortem_template_markdown: {template}\n", 1))
    return template


def test_writes_the_post_mortem_and_prints_both_paths(run_cli: t.Any, inventory: pathlib.Path,
                                                      incidents: pathlib.Path) -> None:
    result = run_cli("postmortem", INCIDENT, "-i", str(inventory), "--incidents-dir", str(incidents))
    folder = incidents / INCIDENT
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [str(folder / "postmortem.md"), str(folder / "postmortem.html")]
    assert (folder / "postmortem.md").read_text().startswith(f"# Post-Mortem: {INCIDENT} — API Unavailable")
    assert '<svg id="metric-chart"' in (folder / "postmortem.html").read_text()
    # The folder is the run's private data dir: its artifacts are kept there, one ident per run.
    assert (folder / "artifacts" / "postmortem-1" / "stdout").is_file()
    again = run_cli("postmortem", INCIDENT, "-i", str(inventory), "--incidents-dir", str(incidents), "--json")
    document = json.loads(again.stdout)
    assert again.code == 0 and document["exit_code"] == 0 and document["error"] is None
    assert document["markdown"] == str(folder / "postmortem.md") and document["html"] == str(folder / "postmortem.html")
    assert document["runner"]["ident"] == "postmortem-2" and document["runner"]["status"] == "successful"


def test_the_inventory_names_the_template(run_cli: t.Any, inventory: pathlib.Path, incidents: pathlib.Path,
                                          tmp_path: pathlib.Path) -> None:
    with_template(inventory, tmp_path, "{{ incident.id }} {{ steps | selectattr('late') | map(attribute='id') | list }}\n")
    result = run_cli("postmortem", INCIDENT, "-i", str(inventory), "--incidents-dir", str(incidents))
    assert result.code == 0, result.stderr
    assert (incidents / INCIDENT / "postmortem.md").read_text() == f"{INCIDENT} ['contain']\n"


def test_a_broken_template_fails_in_one_line_and_writes_nothing(run_cli: t.Any, inventory: pathlib.Path,
                                                                incidents: pathlib.Path, tmp_path: pathlib.Path) -> None:
    template = with_template(inventory, tmp_path, "{{ incident.id }} {{ incident_owner }}\n")
    result = run_cli("postmortem", INCIDENT, "-i", str(inventory), "--incidents-dir", str(incidents))
    assert result.code == 4
    assert result.stderr == (f"usdx-incident postmortem: {INCIDENT}: template_markdown={str(template)!r}: cannot be "
                             "rendered: 'incident_owner' is undefined\n")
    assert not (incidents / INCIDENT / "postmortem.md").exists()


@pytest.mark.parametrize(("incident", "message"), [
    ("INC-2026-11-29", "usdx-incident postmortem: incident id 'INC-2026-11-29' is not INC-YYYY-MM-DD-NN"),
    ("INC-2026-11-29-02", f"usdx-incident postmortem: no incident 'INC-2026-11-29-02' in INCIDENTS (accepted: {INCIDENT}, ...)"),
], ids=["bad-id", "unknown-incident"])
def test_a_bad_incident_is_a_usage_error_before_anything_runs(run_cli: t.Any, no_runner: None, inventory: pathlib.Path,
                                                              incidents: pathlib.Path, incident: str, message: str) -> None:
    result = run_cli("postmortem", incident, "-i", str(inventory), "--incidents-dir", str(incidents))
    assert result.code == 2
    assert result.stderr.startswith(message.replace("INCIDENTS", str(incidents)))
    assert sorted(os.listdir(incidents / INCIDENT)) == sorted(os.listdir(FIXTURES / "api-down-killed"))
