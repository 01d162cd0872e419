# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_shared_reading: callers asking together share one reading, and nobody gets a reading older than its question.

Threads stand in for the modules of a fleet: each opens the lock file itself, so their flock()s exclude each other
as separate processes' do.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _shared_reading
from ansible_collections.usdx.incident.plugins.module_utils._shared_reading import shared_reading

KEY = "docker system df\0docker\0\0"


class Reader:
    """read() for shared_reading: counts its calls; the first can be held until released."""

    def __init__(self, hold_first: bool = False) -> None:
        self.calls = 0
        self.inside_first = threading.Event()
        self.release_first = threading.Event()
        if not hold_first:
            self.release_first.set()

    def __call__(self) -> str:
        self.calls += 1
        number = self.calls
        if number == 1:
            self.inside_first.set()
            assert self.release_first.wait(10), "the first reading was never released"
        return f"reading {number}"


def soon(seconds: float = 10) -> float:
    return time.monotonic() + seconds


def test_a_caller_after_a_reading_gets_a_new_one(tmp_path):
    reader = Reader()
    first = shared_reading(KEY, reader, soon(), str(tmp_path / "shared"))
    second = shared_reading(KEY, reader, soon(), str(tmp_path / "shared"))
    assert (first, second, reader.calls) == (("reading 1", False), ("reading 2", False), 2)


def test_callers_that_ask_during_a_reading_share_the_next_one(tmp_path, monkeypatch):
    """A reads; B and C ask meanwhile, so A's reading is older than their question: one of them reads again after
    A, and the other takes that reading, which started after it asked."""
    reader = Reader(hold_first=True)
    waiting = threading.Semaphore(0)
    lock = _shared_reading._lock

    def counted_lock(handle, deadline):
        waiting.release()
        return lock(handle, deadline)

    monkeypatch.setattr(_shared_reading, "_lock", counted_lock)
    results: dict[str, tuple[str, bool]] = {}

    def caller(name: str) -> None:
        results[name] = shared_reading(KEY, reader, soon(), str(tmp_path / "shared"))

    first = threading.Thread(target=caller, args=("A",))
    first.start()
    assert reader.inside_first.wait(10)
    others = [threading.Thread(target=caller, args=(name,)) for name in ("B", "C")]
    for thread in others:
        thread.start()
    for _turn in range(3):  # A's turn, then B and C waiting for theirs
        assert waiting.acquire(timeout=10)
    reader.release_first.set()
    for thread in (first, *others):
        thread.join(10)
    assert results["A"] == ("reading 1", False)
    assert sorted((results["B"], results["C"])) == [("reading 2", False), ("reading 2", True)]
    assert reader.calls == 2


def test_a_lock_held_past_the_deadline_means_reading_alone(tmp_path):
    directory = tmp_path / "shared"
    shared_reading(KEY, Reader(), soon(), str(directory))
    (lock_file,) = directory.glob("*.lock")
    with open(lock_file, "a", encoding="utf-8") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        reader = Reader()
        started = time.monotonic()
        result = shared_reading(KEY, reader, soon(0.3), str(directory))
        waited = time.monotonic() - started
    assert (result, reader.calls) == (("reading 1", False), 1)
    assert 0.2 <= waited < 5


def test_a_failed_reading_is_not_kept(tmp_path):
    def failing() -> str:
        raise RuntimeError("docker system df failed (rc=1)")

    with pytest.raises(RuntimeError, match="rc=1"):
        shared_reading(KEY, failing, soon(), str(tmp_path / "shared"))
    assert list((tmp_path / "shared").glob("*.json")) == []
    assert shared_reading(KEY, Reader(), soon(), str(tmp_path / "shared")) == ("reading 1", False)


@pytest.mark.parametrize("kept", ["not json", '{"started": "later", "reading": "x"}', '["reading"]',
                                  '{"started": 1e30, "reading": 7}'])
def test_a_kept_reading_of_the_wrong_shape_is_read_again(tmp_path, kept):
    directory = tmp_path / "shared"
    shared_reading(KEY, Reader(), soon(), str(directory))
    (kept_file,) = directory.glob("*.json")
    kept_file.write_text(kept)
    reader = Reader()
    assert (shared_reading(KEY, reader, soon(), str(directory)), reader.calls) == (("reading 1", False), 1)


def test_a_directory_others_can_write_to_is_not_used(tmp_path):
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o777)
    os.chmod(directory, 0o777)
    assert shared_reading(KEY, Reader(), soon(), str(directory)) == ("reading 1", False)
    assert list(directory.iterdir()) == []


def test_a_link_in_place_of_the_directory_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "shared").symlink_to(target)
    assert shared_reading(KEY, Reader(), soon(), str(tmp_path / "shared")) == ("reading 1", False)
    assert list(target.iterdir()) == []


def test_the_directory_is_made_private(tmp_path):
    shared_reading(KEY, Reader(), soon(), str(tmp_path / "shared"))
    assert (tmp_path / "shared").stat().st_mode & 0o777 == 0o700
