# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""State a response keeps on the stack host: the response lock and the circuit breaker's history.

Both live in one directory on the target (the stack host), so ansible-playbook, AWX and the usdx-incident command
all see them, whatever controller they run from. Each is one JSON file, read and replaced under an exclusive
flock() of a guard file, so two responses deciding at the same moment are serialised. The directory must not be a
symlink, must belong to the running user and must not be writable by others; files are replaced atomically.
Pure decisions (lock_decision, breaker_decision) take the stored document and the time, and are unit-tested.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import time
import typing as t

LOCK_FILE = "response.lock.json"
BREAKER_FILE = "breaker.json"
GUARD_FILE = ".guard"
# The guard is taken for milliseconds; a holder that long is a hung process, and the module reports it.
GUARD_TIMEOUT = 10.0
INCIDENT_ID = re.compile(r"^INC-\d{4}-\d{2}-\d{2}-\d{2,4}\Z")


class StateError(Exception):
    """The state directory or a state file cannot be used; str() is one line naming the path and why."""


def check_directory(path: str, create: bool) -> None:
    """Refuse a state directory another user could redirect; create it 0700 when asked and missing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return
        os.makedirs(path, 0o700, exist_ok=True)
        st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise StateError(f"state directory {path}: is a symlink or not a directory")
    if st.st_uid != os.geteuid():
        raise StateError(f"state directory {path}: owned by uid {st.st_uid}, not by the running user ({os.geteuid()})")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StateError(f"state directory {path}: group- or world-writable (mode {stat.S_IMODE(st.st_mode):04o})")


@contextlib.contextmanager
def guarded(directory: str, timeout: float = GUARD_TIMEOUT) -> t.Iterator[None]:
    """Hold the directory's exclusive guard (flock) for a read-decide-write; give up after timeout seconds."""
    fd = os.open(os.path.join(directory, GUARD_FILE), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StateError(f"state directory {directory}: another response held its guard for {timeout:.0f}s")
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def read(directory: str, name: str) -> t.Dict[str, t.Any]:
    """A state document; {} when it does not exist. A symlink or a broken file is an error, never an empty state."""
    path = os.path.join(directory, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StateError(f"state file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        raw = handle.read(1024 * 1024)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"state file {path}: not JSON ({exc}); remove it after checking no response runs") from exc
    if not isinstance(data, dict):
        raise StateError(f"state file {path}: not a JSON object")
    return data


def write(directory: str, name: str, document: t.Mapping[str, t.Any]) -> None:
    """Replace a state document atomically (temporary file, fsync, rename)."""
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write((json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, os.path.join(directory, name))


def remove(directory: str, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(directory, name))


def lock_decision(held: t.Mapping[str, t.Any], incident: str, want: str, now: float, ttl: int) -> t.Dict[str, t.Any]:
    """What to do with the lock: acquire (or refresh), refuse, release or leave it.

    held: the stored lock ({} when none). A lock whose expires_at has passed belongs to nobody any more (its owner
    died or stopped refreshing). Returns {'action': write|remove|none, 'refused': bool, 'holder': ..., 'expired': ...,
    'document': what to write}.
    """
    holder = held.get("incident") if held else None
    expires = held.get("expires_at") if held else None
    expired = bool(held) and (not isinstance(expires, (int, float)) or expires <= now)
    live_other = bool(holder) and holder != incident and not expired
    if want == "acquired":
        if live_other:
            return {"action": "none", "refused": True, "holder": dict(held), "expired": False, "document": None}
        taken = held.get("acquired_at") if holder == incident and not expired else now
        document = {"incident": incident, "acquired_at": taken, "refreshed_at": now, "expires_at": now + ttl, "ttl": ttl}
        return {"action": "write", "refused": False, "holder": dict(held) if held else None, "expired": expired,
                "document": document}
    if not held:
        return {"action": "none", "refused": False, "holder": None, "expired": False, "document": None}
    if live_other:
        # Releasing someone else's live lock would let a second response in: never.
        return {"action": "none", "refused": True, "holder": dict(held), "expired": False, "document": None}
    return {"action": "remove", "refused": False, "holder": dict(held), "expired": expired, "document": None}


def breaker_decision(history: t.Mapping[str, t.Any], scenario: str, now: float, window: int, maximum: int,
                     record: bool, incident: str) -> t.Dict[str, t.Any]:
    """Count the automatic remediations of scenario within window; tripped when more than maximum already ran.

    'More than N within the window stops automatic action': the (N+1)th remediation is refused. With record the
    new remediation is added (only when not tripped). Old entries are pruned.
    """
    runs = [r for r in history.get(scenario, []) if isinstance(r, dict) and isinstance(r.get("at"), (int, float))]
    recent = [r for r in runs if now - r["at"] < window]
    tripped = len(recent) >= maximum
    document = {name: list(entries) for name, entries in history.items() if isinstance(entries, list)}
    document[scenario] = recent + ([{"at": now, "incident": incident}] if record and not tripped else [])
    return {"count": len(recent), "tripped": tripped, "recent": recent,
            "write": record and not tripped, "document": document}
