# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input: exit 2, one line naming the bad value and the accepted ones, nothing run, no incident folder."""

from __future__ import annotations

import pathlib
import typing as t

import pytest

from usdx_incident_cli import validate

# argv after `respond` (with {inv} for the test inventory) -> words the one line must contain.
BAD_RESPOND = {
    "unknown severity": (["--severity", "P5"], ["'P5'", "P0, P1, P2, P3"]),
    "severity in lower case": (["--severity", "p0"], ["'p0'", "P0, P1, P2, P3, auto"]),
    "severity missing": ([], ["--severity"]),
    "unknown scenario": (["--severity", "P0", "--scenario", "db_down"], ["'db_down'", "api_unavailable", "auto"]),
    "scenario with a command separator": (["--severity", "P0", "--scenario", "api_unavailable; touch /tmp/pwned"],
                                          ["'api_unavailable; touch /tmp/pwned'", "disk_full"]),
    "scenario with a command substitution": (["--severity", "P0", "--scenario", "$(id)"], ["'$(id)'", "indexer_lag"]),
    "scenario with a newline": (["--severity", "P0", "--scenario", "disk_full\nrm -rf /"], ["'disk_full\\nrm -rf /'"]),
    "unknown fix option": (["--severity", "P0", "--fix-option", "E"], ["'E'", "A, B, C, D, auto"]),
    "unknown approval gate": (["--severity", "P0", "--approve", "contain", "--approve", "fix"],
                              ["'fix'", "contain, rollback, db_restart"]),
    "fix option C without a ref": (["--severity", "P0", "--fix-option", "C"], ["--fix-option C", "--deploy-ref"]),
    "fix option D for another scenario": (["--severity", "P0", "--fix-option", "D", "--scenario", "disk_full"],
                                          ["'disk_full'", "db_connections_exhausted"]),
    "deploy ref with shell": (["--severity", "P0", "--fix-option", "C", "--deploy-ref", "v1;reboot"], ["'v1;reboot'"]),
    "inventory that does not exist": (["--severity", "P2", "-i", "/nonexistent/inventory"],
                                      ["'/nonexistent/inventory'", "inventory file or directory"]),
    "limit matching no host": (["--severity", "P2", "-i", "{inv}", "--limit", "stack-z*"], ["'stack-z*'", "stack-a, stack-b"]),
    "limit matching a host outside usdx_stacks": (["--severity", "P2", "-i", "{inv}", "--limit", "bystander"],
                                                  ["'bystander'", "stack-a, stack-b"]),
    "extra var without a value": (["--severity", "P2", "-e", "db_connections_exhausted_idle_threshold"],
                                  ["'db_connections_exhausted_idle_threshold'", "KEY=VALUE"]),
    "extra var with a templated name": (["--severity", "P2", "-e", "{{ lookup('pipe', 'id') }}=1"], ["KEY=VALUE"]),
    "extra var of the chain itself": (["--severity", "P2", "-e", "respond_approve=contain"],
                                      ["'respond_approve'", "own options"]),
    "extra var of the connection": (["--severity", "P2", "-e", "ansible_connection=ssh"], ["'ansible_connection'"]),
    "limit file that does not exist": (["--severity", "P2", "-i", "{inv}", "--limit", "@/nonexistent/retry"],
                                       ["'@/nonexistent/retry'"]),
}


@pytest.mark.parametrize("argv, words", BAD_RESPOND.values(), ids=BAD_RESPOND.keys())
def test_bad_respond_input_is_one_line_and_runs_nothing(argv: list[str], words: list[str], run_cli: t.Any,
                                                        inventory: pathlib.Path, tmp_path: pathlib.Path,
                                                        no_runner: None) -> None:
    incidents = tmp_path / "incidents"
    result = run_cli("respond", *[a.replace("{inv}", str(inventory)) for a in argv], "--incidents-dir", str(incidents))
    assert result.code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("usdx-incident respond: ")
    for word in words:
        assert word in lines[0]
    assert result.stdout == ""
    assert not incidents.exists(), "an incident folder was created for bad input"


def test_every_accepted_value_comes_from_the_collection(run_cli: t.Any, lib: t.Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli("respond", "--help")
    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for value in (*lib.runbook.LEVELS, *lib.chain.RESPONSE_SCENARIOS, *lib.chain.GATES, *lib.chain.FIX_OPTION_TITLES):
        assert value in text
    for level in lib.runbook.LEVELS:  # the chains as the runbook source has them, in order
        assert f"{level}: {' -> '.join(step['id'] for step in lib.chain.chain_steps(level))}" in text
    for code in (0, 1, 2, 3, 4, 130):
        assert f" {code} " in text


@pytest.mark.parametrize("command", ["triage", "respond", "show", "list"])
def test_help_of_every_command(command: str, run_cli: t.Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run_cli(command, "--help")
    assert exited.value.code == 0
    assert f"usage: usdx-incident {command}" in capsys.readouterr().out


def test_triage_refuses_a_limit_matching_nothing(run_cli: t.Any, inventory: pathlib.Path, no_runner: None) -> None:
    result = run_cli("triage", "-i", str(inventory), "--limit", "nothing-here")
    assert result.code == 2
    assert result.stderr == "usdx-incident triage: --limit 'nothing-here' matches no host of usdx_stacks (accepted: stack-a, stack-b)\n"


def test_an_inventory_without_the_group_is_refused(run_cli: t.Any, tmp_path: pathlib.Path, no_runner: None) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[web]\nweb1\n")
    result = run_cli("respond", "--severity", "P2", "-i", str(inventory), "--incidents-dir", str(tmp_path / "incidents"))
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"usdx-incident respond: inventory {inventory} has no host in usdx_stacks "
        "(accepted: an inventory whose group usdx_stacks has hosts)"]


@pytest.mark.parametrize("incident_id, words", [
    ("INC-1", ["'INC-1'", "INC-YYYY-MM-DD-NN"]),
    ("../../etc", ["'../../etc'", "INC-YYYY-MM-DD-NN"]),
    ("INC-2026-01-01-07", ["'INC-2026-01-01-07'", "INC-2026-01-02-01"]),
], ids=["malformed", "path", "unknown"])
def test_show_names_the_bad_id_and_the_incidents_there_are(incident_id: str, words: list[str], run_cli: t.Any,
                                                           tmp_path: pathlib.Path) -> None:
    (tmp_path / "INC-2026-01-02-01").mkdir()
    result = run_cli("show", incident_id, "--incidents-dir", str(tmp_path))
    assert result.code == 2
    assert len(result.stderr.splitlines()) == 1
    for word in words:
        assert word in result.stderr


def test_show_value_is_clipped_and_on_one_line() -> None:
    shown = validate.show("x" * 500 + "\n\x1b[31m")
    assert "\n" not in shown and "\x1b" not in shown
    assert len(shown) <= validate.MAX_SHOWN


def test_good_input_reaches_the_runner(run_cli: t.Any, inventory: pathlib.Path, tmp_path: pathlib.Path,
                                       fake_runner: t.Any) -> None:
    """The counterpart of the refusals: the same command with good values runs, limited as asked."""
    result = run_cli("respond", "--severity", "P2", "-i", str(inventory), "--limit", "stack-b", "--scenario", "disk_full",
                     "--incidents-dir", str(tmp_path / "incidents"))
    assert result.code == 0, result.stderr
    assert [call["limit"] for call in fake_runner.calls] == ["stack-b"]
    assert fake_runner.calls[0]["extravars"]["respond_scenario"] == "disk_full"
