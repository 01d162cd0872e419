# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress and summaries: plain lines off a terminal, colour only on one and never with NO_COLOR."""

from __future__ import annotations

import io
import json
import pathlib
import threading
import time
import typing as t

import pytest

from usdx_incident_cli.progress import Progress
from usdx_incident_cli.render import Painter, clock, incident_summary, use_colour

ESCAPES = ("\x1b", "\r")
EVENTS = [
    {"event": "playbook_on_task_start", "event_data": {"task": "Stop processing", "role": "step_contain"}},
    {"event": "runner_on_ok", "event_data": {"host": "sandbox", "task": "Stop processing", "role": "step_contain",
                                             "res": {"changed": True}}},
    {"event": "runner_on_ok", "event_data": {"host": "sandbox", "task": "Read the lock", "res": {"changed": False}}},
    {"event": "runner_on_failed", "event_data": {"host": "sandbox", "task": "Ignored probe", "ignore_errors": True}},
    {"event": "runner_on_failed", "event_data": {"host": "other", "task": "Route users to the maintenance page"}},
    {"event": "runner_on_unreachable", "event_data": {"host": "far", "task": "Any"}},
]


def play(progress: Progress, seconds: float = 0.0) -> None:
    progress.begin("[3/8] contain (Contain)", 600, lambda: 42.0)
    for event in EVENTS:
        progress.event(event)
    time.sleep(seconds)
    progress.end()


@pytest.mark.parametrize("seconds, expected", [
    (0, "0:00"), (59.9, "0:59"), (61, "1:01"), (600, "10:00"), (3600, "1:00:00"), (86400, "24:00:00"), (-5, "-0:05"),
    (None, "-"), (True, "-"),
])
def test_tplus_clock(seconds: t.Any, expected: str) -> None:
    assert clock(seconds) == expected


def test_off_a_terminal_only_plain_lines(lib: t.Any) -> None:
    out = io.StringIO()
    progress = Progress(out, live=False, paint=Painter(use_colour(out, {"TERM": "xterm"})))
    play(progress, seconds=0.3)
    text = out.getvalue()
    assert not any(code in text for code in ESCAPES)
    assert text.splitlines() == [
        "[3/8] contain (Contain) (deadline T+10:00, now T+0:42)",
        "    changed: sandbox: step_contain : Stop processing",
        "    failed: other: Route users to the maintenance page",
        "    unreachable: far",
    ]
    assert not [thread for thread in threading.enumerate() if thread.name == "usdx-incident-progress"]


def test_check_mode_says_would_change() -> None:
    out = io.StringIO()
    play(Progress(out, live=False, paint=Painter(False), check=True))
    assert "    would change: sandbox: step_contain : Stop processing" in out.getvalue().splitlines()


def test_on_a_terminal_a_status_line_spins_and_is_cleared(tty_stream: t.Any) -> None:
    out = tty_stream()
    play(Progress(out, live=True, paint=Painter(use_colour(out, {"TERM": "xterm"}))), seconds=0.35)
    text = out.getvalue()
    assert "\r\x1b[K| [3/8] contain (Contain)  T+0:42 / T+10:00  step_contain : Stop processing" in text \
        or "\r\x1b[K/ [3/8] contain (Contain)  T+0:42 / T+10:00  step_contain : Stop processing" in text
    assert "\x1b[33mchanged\x1b[0m" in text
    assert text.endswith("\r\x1b[K"), "the status line is left on the screen"
    assert not [thread for thread in threading.enumerate() if thread.name == "usdx-incident-progress"]


@pytest.mark.parametrize("environ, coloured", [
    ({"TERM": "xterm", "NO_COLOR": "1"}, False),
    ({"TERM": "xterm", "NO_COLOR": ""}, True),  # no-color.org: an empty NO_COLOR does not count
    ({"TERM": "dumb"}, False),
    ({"TERM": "xterm"}, True),
], ids=["NO_COLOR", "NO_COLOR empty", "dumb terminal", "terminal"])
def test_colour_only_when_wanted(environ: dict[str, str], coloured: bool, tty_stream: t.Any) -> None:
    out = tty_stream()
    play(Progress(out, live=True, paint=Painter(use_colour(out, environ))))
    assert ("\x1b[33m" in out.getvalue() and "\x1b[1m" in out.getvalue()) is coloured


def test_quiet_writes_nothing(tty_stream: t.Any) -> None:
    out = tty_stream()
    play(Progress(out, live=True, paint=Painter(True), quiet=True), seconds=0.2)
    assert out.getvalue() == ""


def test_summary_names_each_steps_deadline_verdict_without_escapes(lib: t.Any) -> None:
    document = {
        "incident": {"id": "INC-2026-11-28-01", "channel": "#incident-2026-11-28", "severity": "P0",
                     "started_at": "2026-11-28T03:00:00Z", "check_mode": True, "scenario": "auto", "fix_option": "auto"},
        "hosts": {"sandbox": {
            "steps": [
                {"id": "assess", "status": "ok", "tplus_end": 12, "deadline_seconds": 300, "deadline_met": True,
                 "summary": "P0: API unavailable"},
                {"id": "contain", "status": "refused", "tplus_end": 700, "deadline_seconds": 600, "deadline_met": False,
                 "summary": "contain needs an approval", "needs_approval": "contain"},
            ],
            "escalations": [{"at": "2026-11-28T03:11:40Z", "level": "L2", "reason": "contain not approved"}],
            "stopped": None, "outcome": "open", "scenario": {"scenario": "api_unavailable", "reason": "top-ranked"},
        }},
    }
    lines = incident_summary(document, Painter(False))
    text = "\n".join(lines)
    assert not any(code in text for code in ESCAPES)
    assert lines[0] == "INC-2026-11-28-01  P0  #incident-2026-11-28  started 2026-11-28T03:00:00Z  check mode"
    assert any(line.split()[:6] == ["sandbox", "assess", "ok", "T+0:12", "T+5:00", "met"] for line in lines)
    assert any(line.split()[:6] == ["sandbox", "contain", "refused", "T+11:40", "T+10:00", "missed"] for line in lines)
    assert "(needs approval: contain)" in text
    assert "  escalated to L2 at 2026-11-28T03:11:40Z: contain not approved" in lines
    assert lines[-1] == "  sandbox: outcome open, scenario api_unavailable"


def test_list_and_show_without_a_terminal(run_cli: t.Any, lib: t.Any, tmp_path: pathlib.Path, fake_runner: t.Any,
                                          inventory: pathlib.Path) -> None:
    incidents = str(tmp_path / "incidents")
    first = json.loads(run_cli("respond", "--severity", "P3", "-i", str(inventory), "--incidents-dir", incidents, "--json").stdout)
    second = json.loads(run_cli("respond", "--severity", "P2", "-i", str(inventory), "--incidents-dir", incidents,
                                "--check", "--json").stdout)
    listed = run_cli("list", "--incidents-dir", incidents)
    assert listed.code == 0
    rows = listed.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["incident", second["incident_id"], first["incident_id"]]
    assert rows[1].split()[2:] == ["P2", "check", "stack-a", "dry_run,", "stack-b", "dry_run"]
    assert rows[2].split()[2:] == ["P3", "live", "stack-a", "recorded,", "stack-b", "recorded"]
    shown = run_cli("show", first["incident_id"], "--incidents-dir", incidents)
    assert shown.code == 0 and not any(code in shown.stdout for code in ESCAPES)
    assert f"folder: {first['folder']}" in shown.stdout
    as_json = json.loads(run_cli("show", first["incident_id"], "--incidents-dir", incidents, "--json").stdout)
    assert as_json["hosts"]["stack-a"]["outcome"] == "recorded"
    assert [row["id"] for row in json.loads(run_cli("list", "--incidents-dir", incidents, "--json").stdout)] == [
        second["incident_id"], first["incident_id"]]
