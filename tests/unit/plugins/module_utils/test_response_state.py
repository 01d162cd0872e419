# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The response state on the stack host (module_utils/_response_state.py): the lock and breaker decisions, the
state directory's rules, the guard and the state files, on real files.

The modules around them are tested in tests/unit/plugins/modules/test_response_lock.py and test_remediation_breaker.py.
"""

from __future__ import annotations

import fcntl
import json
import os
import pathlib
import stat
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _response_state as state

NOW = 1_795_900_000.0
TTL = 900
MINE = "INC-2026-11-28-01"
OTHER = "INC-2026-11-28-02"
IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="giving a directory to another user needs root")


def lock(incident: str, acquired: float, expires: float) -> dict[str, t.Any]:
    return {"incident": incident, "acquired_at": acquired, "refreshed_at": acquired, "expires_at": expires, "ttl": TTL}


# --- the lock ---------------------------------------------------------------------------------------------------------

def test_a_free_stack_is_locked_for_the_incident():
    decision = state.lock_decision({}, MINE, "acquired", NOW, TTL)
    assert decision == {"action": "write", "refused": False, "holder": None, "expired": False,
                        "document": {"incident": MINE, "acquired_at": NOW, "refreshed_at": NOW, "expires_at": NOW + TTL, "ttl": TTL}}


def test_the_holder_refreshes_its_lock_and_keeps_its_start():
    held = lock(MINE, NOW - 600, NOW + 300)
    decision = state.lock_decision(held, MINE, "acquired", NOW, TTL)
    assert (decision["action"], decision["refused"], decision["expired"]) == ("write", False, False)
    assert decision["document"] == {"incident": MINE, "acquired_at": NOW - 600, "refreshed_at": NOW, "expires_at": NOW + TTL, "ttl": TTL}


@pytest.mark.parametrize("want", ["acquired", "released"])
def test_another_incidents_live_lock_is_neither_taken_nor_released(want):
    held = lock(OTHER, NOW - 60, NOW + 1)
    decision = state.lock_decision(held, MINE, want, NOW, TTL)
    assert decision == {"action": "none", "refused": True, "holder": held, "expired": False, "document": None}


@pytest.mark.parametrize("expires", [NOW, NOW - 1, NOW - 86400, None, "soon"], ids=["just-now", "a-second-ago", "a-day-ago", "none", "text"])
def test_an_expired_lock_is_taken_over(expires):
    held = dict(lock(OTHER, NOW - 1000, 0), expires_at=expires)
    decision = state.lock_decision(held, MINE, "acquired", NOW, TTL)
    assert (decision["action"], decision["refused"], decision["expired"], decision["holder"]) == ("write", False, True, held)
    assert decision["document"]["incident"] == MINE and decision["document"]["acquired_at"] == NOW


def test_a_lock_of_ones_own_that_expired_starts_again():
    decision = state.lock_decision(lock(MINE, NOW - 5000, NOW - 10), MINE, "acquired", NOW, TTL)
    assert decision["expired"] is True and decision["document"]["acquired_at"] == NOW


@pytest.mark.parametrize(("held", "expired"), [(lock(MINE, NOW - 60, NOW + 800), False), (lock(OTHER, NOW - 5000, NOW - 1), True)],
                         ids=["own", "expired-other"])
def test_the_own_or_an_expired_lock_is_released(held, expired):
    decision = state.lock_decision(held, MINE, "released", NOW, TTL)
    assert decision == {"action": "remove", "refused": False, "holder": held, "expired": expired, "document": None}


def test_releasing_without_a_lock_does_nothing():
    assert state.lock_decision({}, MINE, "released", NOW, TTL) == {
        "action": "none", "refused": False, "holder": None, "expired": False, "document": None}


# --- the breaker ------------------------------------------------------------------------------------------------------

def runs(*ages: float, incident: str = OTHER) -> list[dict[str, t.Any]]:
    return [{"at": NOW - age, "incident": incident} for age in ages]


@pytest.mark.parametrize("maximum", [1, 3, 5])
def test_n_remediations_are_allowed_and_the_next_one_trips(maximum):
    history: dict[str, t.Any] = {}
    for count in range(maximum):
        decision = state.breaker_decision(history, "disk_full", NOW + count, 3600, maximum, True, MINE)
        assert (decision["count"], decision["tripped"], decision["write"]) == (count, False, True)
        history = decision["document"]
    tripped = state.breaker_decision(history, "disk_full", NOW + maximum, 3600, maximum, True, MINE)
    assert (tripped["count"], tripped["tripped"], tripped["write"]) == (maximum, True, False)
    assert len(tripped["document"]["disk_full"]) == maximum, "a tripped breaker does not count the refused remediation"


def test_only_runs_within_the_window_count_and_older_ones_are_dropped():
    history = {"disk_full": runs(3600, 3599, 10)}
    decision = state.breaker_decision(history, "disk_full", NOW, 3600, 3, True, MINE)
    assert decision["count"] == 2 and decision["recent"] == runs(3599, 10)
    assert decision["document"]["disk_full"] == runs(3599, 10) + [{"at": NOW, "incident": MINE}]


def test_scenarios_and_their_histories_are_counted_apart():
    history = {"api_unavailable": runs(1, 2, 3), "indexer_lag": runs(99999)}
    decision = state.breaker_decision(history, "disk_full", NOW, 3600, 3, True, MINE)
    assert (decision["count"], decision["tripped"]) == (0, False)
    assert decision["document"] == {"api_unavailable": runs(1, 2, 3), "indexer_lag": runs(99999),
                                    "disk_full": [{"at": NOW, "incident": MINE}]}


@pytest.mark.parametrize("history", [{"disk_full": runs(1, 2)}, {"disk_full": runs(1, 2, 3)}], ids=["open", "tripped"])
def test_without_record_nothing_is_written(history):
    decision = state.breaker_decision(history, "disk_full", NOW, 3600, 3, False, MINE)
    assert decision["write"] is False
    assert decision["document"]["disk_full"] == history["disk_full"]


def test_entries_that_are_not_runs_are_ignored():
    history = {"disk_full": [{"at": "yesterday"}, "x", None, {"incident": MINE}, *runs(5)], "notes": "kept out"}
    decision = state.breaker_decision(history, "disk_full", NOW, 3600, 3, False, MINE)
    assert decision["count"] == 1 and "notes" not in decision["document"]


# --- the state directory ----------------------------------------------------------------------------------------------

def test_a_missing_directory_is_created_private_only_when_asked(tmp_path: pathlib.Path):
    state.check_directory(str(tmp_path / "a" / "state"), create=False)
    assert not (tmp_path / "a").exists()
    state.check_directory(str(tmp_path / "a" / "state"), create=True)
    assert stat.S_IMODE((tmp_path / "a" / "state").stat().st_mode) == 0o700


def test_a_symlinked_directory_is_refused(tmp_path: pathlib.Path):
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "state").symlink_to(tmp_path / "real")
    with pytest.raises(state.StateError) as refused:
        state.check_directory(str(tmp_path / "state"), create=True)
    assert str(refused.value) == f"state directory {tmp_path / 'state'}: is a symlink or not a directory"


def test_a_file_is_not_a_state_directory(tmp_path: pathlib.Path):
    (tmp_path / "state").write_text("")
    with pytest.raises(state.StateError, match="is a symlink or not a directory"):
        state.check_directory(str(tmp_path / "state"), create=True)


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777, 0o1777])
def test_a_directory_others_can_write_is_refused(tmp_path: pathlib.Path, mode: int):
    directory = tmp_path / "state"
    directory.mkdir()
    directory.chmod(mode)
    with pytest.raises(state.StateError) as refused:
        state.check_directory(str(directory), create=True)
    assert str(refused.value) == f"state directory {directory}: group- or world-writable (mode {mode:04o})"


@needs_root
def test_a_directory_of_another_user_is_refused(tmp_path: pathlib.Path):
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    with pytest.raises(state.StateError, match="owned by uid 65534, not by the running user"):
        state.check_directory(str(directory), create=True)


# --- the guard and the state files ------------------------------------------------------------------------------------

def test_the_guard_waits_for_its_holder_and_then_gives_up(tmp_path: pathlib.Path):
    with state.guarded(str(tmp_path)):
        with pytest.raises(state.StateError, match="another response held its guard"):
            with state.guarded(str(tmp_path), timeout=0.2):
                pytest.fail("the guard was taken twice")
    with state.guarded(str(tmp_path), timeout=0.2):
        pass  # released when the holder left


def test_the_guard_is_released_when_the_holder_fails(tmp_path: pathlib.Path):
    with pytest.raises(RuntimeError):
        with state.guarded(str(tmp_path)):
            raise RuntimeError("decision failed")
    fd = os.open(tmp_path / state.GUARD_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_a_symlinked_guard_is_not_followed(tmp_path: pathlib.Path):
    target = tmp_path / "elsewhere"
    (tmp_path / state.GUARD_FILE).symlink_to(target)
    with pytest.raises(OSError):
        with state.guarded(str(tmp_path)):
            pytest.fail("the guard was taken through a symlink")
    assert not target.exists()


def test_state_documents_are_written_privately_and_read_back(tmp_path: pathlib.Path):
    assert state.read(str(tmp_path), state.LOCK_FILE) == {}
    state.write(str(tmp_path), state.LOCK_FILE, lock(MINE, NOW, NOW + TTL))
    state.write(str(tmp_path), state.LOCK_FILE, lock(OTHER, NOW, NOW + TTL))
    assert state.read(str(tmp_path), state.LOCK_FILE) == lock(OTHER, NOW, NOW + TTL)
    assert os.listdir(tmp_path) == [state.LOCK_FILE], "a temporary file was left behind"
    assert stat.S_IMODE((tmp_path / state.LOCK_FILE).stat().st_mode) == 0o600
    state.remove(str(tmp_path), state.LOCK_FILE)
    state.remove(str(tmp_path), state.LOCK_FILE)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("content", "reason"), [(b"{\"incident\": ", "not JSON"), (b"\xff", "not JSON"), (b"[]", "not a JSON object")])
def test_a_broken_state_file_is_an_error_never_an_empty_state(tmp_path: pathlib.Path, content: bytes, reason: str):
    (tmp_path / state.BREAKER_FILE).write_bytes(content)
    with pytest.raises(state.StateError, match=reason) as refused:
        state.read(str(tmp_path), state.BREAKER_FILE)
    assert str(refused.value).startswith(f"state file {tmp_path / state.BREAKER_FILE}: ")
    assert len(str(refused.value).splitlines()) == 1


def test_a_symlinked_state_file_is_neither_read_nor_written_through(tmp_path: pathlib.Path):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(lock(OTHER, NOW, NOW + TTL)))
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    (directory / state.LOCK_FILE).symlink_to(elsewhere)
    with pytest.raises(state.StateError, match=f"state file {directory / state.LOCK_FILE}: "):
        state.read(str(directory), state.LOCK_FILE)
    state.write(str(directory), state.LOCK_FILE, lock(MINE, NOW, NOW + TTL))
    assert json.loads(elsewhere.read_text())["incident"] == OTHER, "the write went through the symlink"
    assert not (directory / state.LOCK_FILE).is_symlink()


@pytest.mark.parametrize("incident", ["INC-2026-11-28-01", "INC-2026-11-28-1234"])
def test_incident_ids_are_the_collections(incident: str):
    assert state.INCIDENT_ID.match(incident)


@pytest.mark.parametrize("incident", ["INC-2026-11-28-1", "INC-2026-11-28-01\n", "inc-2026-11-28-01", "INC-2026-11-28-01 x"])
def test_other_strings_are_not_incident_ids(incident: str):
    assert not state.INCIDENT_ID.match(incident)
