# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""One reading of an expensive engine-wide fact for every module that asks for it at the same time.

Several stacks triaged side by side on one Docker engine (a fleet) each ask the engine for its disk use, which it
computes one request at a time, a second or so each: eight stacks queue eight readings. Here the callers on one host
take turns under a lock: the first reads and keeps its reading with the moment it started; a caller whose turn comes
later uses the kept reading if that started after the caller asked, so it is never older than the question, and
reads again otherwise. The kept readings live in a directory of the caller's own (mode 0700, owned by it); when
that cannot be had, or the lock is not free by the deadline, each caller reads for itself.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
import tempfile
import time
import typing as t

LOCK_POLL = 0.05


def now() -> float:
    """A system-wide clock every process of the host reads alike (not wall time, which may step)."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def default_directory() -> str:
    return os.path.join(tempfile.gettempdir(), f"usdx-incident-{os.geteuid()}")


def _own_directory(path: str) -> bool:
    """Whether path is (or now is) a real directory of this user that nobody else can write to."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    info = os.lstat(path)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def _lock(handle: t.IO[str], deadline: float) -> bool:
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() + LOCK_POLL >= deadline:
                return False
            time.sleep(LOCK_POLL)


def _kept(path: str, asked: float) -> str | None:
    """The kept reading if it started at or after `asked`."""
    try:
        with open(path, encoding="utf-8") as handle:
            kept = json.load(handle)
    except (OSError, ValueError):
        return None
    if isinstance(kept, dict) and isinstance(kept.get("started"), float) and isinstance(kept.get("reading"), str):
        return kept["reading"] if kept["started"] >= asked else None
    return None


def _keep(path: str, started: float, reading: str) -> None:
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".reading-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"started": started, "reading": reading}, handle)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


def shared_reading(key: str, read: t.Callable[[], str], deadline: float, directory: str | None = None) -> tuple[str, bool]:
    """(reading, whether it was another caller's) of read(), shared among the callers that ask for `key` together.

    `deadline` (time.monotonic()) bounds the wait for the lock; read() keeps its own. An exception of read() reaches
    the caller and keeps nothing.
    """
    asked = now()
    directory = directory or default_directory()
    if not _own_directory(directory):
        return read(), False
    name = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    try:
        handle = open(os.path.join(directory, name + ".lock"), "a", encoding="utf-8")
    except OSError:
        return read(), False
    with handle:
        if not _lock(handle, deadline):
            return read(), False
        path = os.path.join(directory, name + ".json")
        kept = _kept(path, asked)
        if kept is not None:
            return kept, True
        started = now()
        reading = read()
        _keep(path, started, reading)
        return reading, False
