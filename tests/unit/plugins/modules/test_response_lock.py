# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""usdx.incident.response_lock, run in-process on a temporary state directory (and in parallel processes)."""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import pathlib
import stat
import time
import typing as t

import pytest

from core_compat import patch_module_args
from ansible_collections.usdx.incident.plugins.module_utils import _response_state as state
from ansible_collections.usdx.incident.plugins.modules import response_lock

MINE = "INC-2026-11-28-01"
OTHER = "INC-2026-11-28-02"


@pytest.fixture
def lock_module(run_module: t.Callable[..., dict[str, t.Any]], tmp_path: pathlib.Path) -> t.Callable[..., dict[str, t.Any]]:
    """response_lock with the state directory tmp_path/state unless given."""
    def run(incident: str = MINE, **args: t.Any) -> dict[str, t.Any]:
        return run_module(response_lock.main, {"incident": incident, "state_dir": str(tmp_path / "state"), **args})
    return run


def stored(tmp_path: pathlib.Path) -> t.Optional[dict[str, t.Any]]:
    path = tmp_path / "state" / state.LOCK_FILE
    return json.loads(path.read_text()) if path.exists() else None


def plant(tmp_path: pathlib.Path, incident: str, expires_in: float) -> dict[str, t.Any]:
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700, exist_ok=True)
    now = time.time()
    held = {"incident": incident, "acquired_at": now - 100, "refreshed_at": now - 100, "expires_at": now + expires_in, "ttl": 900}
    (directory / state.LOCK_FILE).write_text(json.dumps(held))
    return held


def test_takes_the_lock_in_a_new_private_state_directory(lock_module, tmp_path):
    before = time.time()
    result = lock_module(ttl=120)
    assert (result["changed"], result["refused"], result["holder"], result["expired"]) == (True, False, None, False)
    assert result["lock"] == stored(tmp_path)
    assert result["lock"]["incident"] == MINE and before + 120 <= result["lock"]["expires_at"] <= time.time() + 120
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700


def test_the_holder_refreshes_without_a_change(lock_module, tmp_path):
    first = lock_module()["lock"]
    again = lock_module()
    assert (again["changed"], again["refused"]) == (False, False)
    assert again["lock"]["acquired_at"] == first["acquired_at"] and again["lock"]["expires_at"] >= first["expires_at"]
    assert stored(tmp_path) == again["lock"]


def test_a_second_incident_is_refused_with_the_holder_and_changes_nothing(lock_module, tmp_path):
    held = lock_module()["lock"]
    refused = lock_module(OTHER)
    assert (refused["changed"], refused["refused"], refused["expired"]) == (False, True, False)
    assert refused["holder"] == held and refused["lock"] == held
    assert "failed" not in refused, "a refusal is reported, not failed, so the chain can record it"
    assert stored(tmp_path) == held


def test_an_expired_lock_is_taken_over(lock_module, tmp_path):
    old = plant(tmp_path, OTHER, -1)
    result = lock_module()
    assert (result["changed"], result["refused"], result["expired"]) == (True, False, True)
    assert result["holder"] == old and stored(tmp_path)["incident"] == MINE


def test_the_holder_releases_its_lock(lock_module, tmp_path):
    lock_module()
    released = lock_module(state="released")
    assert (released["changed"], released["refused"], released["lock"]) == (True, False, None)
    assert stored(tmp_path) is None


def test_another_incidents_live_lock_is_never_released(lock_module, tmp_path):
    held = plant(tmp_path, OTHER, 600)
    result = lock_module(state="released")
    assert (result["changed"], result["refused"], result["holder"]) == (False, True, held)
    assert stored(tmp_path) == held


def test_releasing_when_nothing_is_held_is_no_change(lock_module, tmp_path):
    result = lock_module(state="released")
    assert (result["changed"], result["refused"], result["lock"]) == (False, False, None)


@pytest.mark.parametrize(("args", "planted"), [({}, None), ({}, OTHER), ({"state": "released"}, MINE)],
                         ids=["take", "take-over", "release"])
def test_check_mode_predicts_and_writes_nothing(lock_module, tmp_path, args, planted):
    if planted:
        plant(tmp_path, planted, 600 if planted == MINE else -1)
    before = sorted(os.listdir(tmp_path / "state")) if planted else None
    content = stored(tmp_path)
    result = lock_module(_ansible_check_mode=True, **args)
    assert result["changed"] is True and result["refused"] is False
    if planted:
        assert sorted(os.listdir(tmp_path / "state")) == before, "check mode created or removed a file"
        assert stored(tmp_path) == content
    else:
        assert not (tmp_path / "state").exists(), "check mode created the state directory"


def test_check_mode_reports_a_refusal_too(lock_module, tmp_path):
    held = plant(tmp_path, OTHER, 600)
    result = lock_module(_ansible_check_mode=True)
    assert (result["changed"], result["refused"], result["holder"]) == (False, True, held)


def test_a_symlinked_state_directory_is_refused_and_nothing_is_written(lock_module, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "state").symlink_to(real)
    result = lock_module()
    assert result["failed"] is True
    assert result["msg"] == f"state directory {tmp_path / 'state'}: is a symlink or not a directory"
    assert os.listdir(real) == []


def test_a_world_writable_state_directory_is_refused(lock_module, tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state").chmod(0o777)
    result = lock_module()
    assert result["failed"] is True and "group- or world-writable (mode 0777)" in result["msg"]
    assert os.listdir(tmp_path / "state") == []


def test_a_broken_lock_file_fails_and_is_left_for_a_person(lock_module, tmp_path):
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / state.LOCK_FILE).write_text("{half")
    result = lock_module()
    assert result["failed"] is True and result["msg"].startswith(f"state file {tmp_path / 'state' / state.LOCK_FILE}: not JSON")
    assert (tmp_path / "state" / state.LOCK_FILE).read_text() == "{half"


@pytest.mark.parametrize(("args", "message"), [
    ({"incident": "INC-2026-11-28"}, "incident='INC-2026-11-28' is not an incident id INC-YYYY-MM-DD-NN"),
    ({"ttl": 59}, "ttl=59 is out of range (accepted: 60 to 86400 seconds)"),
    ({"ttl": 86401}, "ttl=86401 is out of range (accepted: 60 to 86400 seconds)"),
    ({"state": "held"}, "value of state must be one of: acquired, released, got: held"),
])
def test_bad_arguments_fail_with_one_line_and_change_nothing(lock_module, tmp_path, args, message):
    result = lock_module(**args)
    assert result["failed"] is True and result["msg"] == message
    assert not (tmp_path / "state").exists()


def acquire_in_a_process(incident: str, state_dir: str, start: t.Any, results: t.Any) -> None:
    """response_lock's main() in its own process, released together with the others by the barrier."""
    out = io.StringIO()
    start.wait(timeout=30)
    with patch_module_args({"incident": incident, "state_dir": state_dir}), contextlib.redirect_stdout(out):
        with contextlib.suppress(SystemExit):
            response_lock.main()
    results.put(json.loads(out.getvalue()))


@pytest.mark.parametrize("processes", [2, 6])
def test_of_responses_acquiring_at_once_exactly_one_wins(tmp_path, processes):
    incidents = [f"INC-2026-11-28-{number:02d}" for number in range(1, processes + 1)]
    processes_context = multiprocessing.get_context("fork")
    start = processes_context.Barrier(processes)
    results = processes_context.Queue()
    workers = [processes_context.Process(target=acquire_in_a_process, args=(incident, str(tmp_path / "state"), start, results))
               for incident in incidents]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=60) for _worker in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert not any(answer.get("failed") for answer in answers), answers
    winners = [answer for answer in answers if not answer["refused"]]
    assert len(winners) == 1, answers
    winner = winners[0]["lock"]["incident"]
    assert stored(tmp_path)["incident"] == winner
    assert all(answer["holder"]["incident"] == winner for answer in answers if answer["refused"])
