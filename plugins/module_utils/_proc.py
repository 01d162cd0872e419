# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Run a command (an argument list, never a shell) with a deadline, leaving no process behind.

Each command runs in a session (and so a process group) of its own. At its deadline the whole group is killed
with SIGKILL and reaped: a child the command started (a pager, a credential helper, a hung docker plugin) goes
with it. Groups still running are kept in a registry, so a caller that gives up on a worker thread can kill what
that thread started (L(kill_all)) before the module exits.

Output is read up to a cap per stream (the rest is read and dropped, so the command never blocks on a full
pipe) and decoded leniently: host output may hold any bytes.
"""

from __future__ import annotations

import os
import select
import selectors
import signal
import subprocess
import threading
import time
import typing as t

# A command without a deadline from its caller may run this long.
DEFAULT_TIMEOUT = 120.0
MAX_STDOUT = 64 * 1024 * 1024
MAX_STDERR = 1024 * 1024
_CHUNK = 64 * 1024
# How often a command that closed its output is polled for its exit.
_EXIT_POLL = 0.005

_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_LOCK = threading.Lock()


class Completed(t.NamedTuple):
    """What a command did: C(rc) is -9 when it was killed at its deadline (C(timed_out))."""
    rc: int
    out: str
    err: str
    timed_out: bool = False
    truncated: bool = False


def deadline_in(seconds: float) -> float:
    """The absolute time.monotonic() deadline C(seconds) from now."""
    return time.monotonic() + seconds


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all() -> int:
    """Kill the process group of every command still running (from any thread); returns how many there were."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        _kill_group(proc)
    return len(procs)


def live_count() -> int:
    with _LIVE_LOCK:
        return len(_LIVE)


def _exited_unreaped(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the command has exited, without reaping it: its zombie keeps the group id from being reused."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None
    except ChildProcessError:
        return True


def _pump(proc: subprocess.Popen[bytes], data: bytes | None, deadline: float, caps: tuple[int, int]) -> tuple[list[bytes], bool, bool]:
    """Feed stdin and read both streams until they close, the command exits, or the deadline passes.

    Returns (stdout bytes, stderr bytes), whether the deadline passed and whether output was cut.
    """
    buffers: list[bytearray] = [bytearray(), bytearray()]
    truncated = False
    with selectors.DefaultSelector() as selector:
        for index, stream in enumerate((proc.stdout, proc.stderr)):
            selector.register(stream, selectors.EVENT_READ, index)
        if proc.stdin is not None:
            if data:
                selector.register(proc.stdin, selectors.EVENT_WRITE, -1)
            else:
                proc.stdin.close()
        view = memoryview(data or b"")
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return [bytes(b) for b in buffers], True, truncated
            events = selector.select(min(remaining, _EXIT_POLL * 10))
            if not events and _exited_unreaped(proc):
                # The command is gone. What it printed between the wait above and its exit is still in the pipes
                # (a loaded machine may deschedule this reader for that moment): read it without waiting. Nothing
                # there: something it started keeps the pipes open, and what it printed is all there is.
                events = selector.select(0)
                if not events:
                    break
            for key, _events in events:
                if key.data == -1:
                    try:
                        written = os.write(key.fd, view[:select.PIPE_BUF])
                    except BrokenPipeError:
                        written = len(view)
                    view = view[written:]
                    if not view:
                        selector.unregister(key.fileobj)
                        key.fileobj.close()
                    continue
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                room = caps[key.data] - len(buffers[key.data])
                if len(chunk) > room:
                    truncated = True
                buffers[key.data] += chunk[:max(room, 0)]
    return [bytes(b) for b in buffers], False, truncated


def run(argv: t.Sequence[str], deadline: float | None = None, data: str | bytes | None = None,
        env: t.Mapping[str, str] | None = None, cwd: str | None = None,
        caps: tuple[int, int] = (MAX_STDOUT, MAX_STDERR), drop_env: t.Callable[[str], bool] | None = None) -> Completed:
    """Run C(argv) until it ends or the absolute monotonic C(deadline) (default L(DEFAULT_TIMEOUT) from now).

    C(env) is added to this process's environment, less the variables whose name C(drop_env) returns true for.
    Raises OSError when the command cannot be started (not found, not executable).
    """
    if isinstance(argv, (str, bytes)):
        raise TypeError("run() takes an argument list, never a command line")
    deadline = deadline_in(DEFAULT_TIMEOUT) if deadline is None else deadline
    payload = data.encode("utf-8") if isinstance(data, str) else data
    environ = {name: value for name, value in os.environ.items() if drop_env is None or not drop_env(name)}
    environ.update(env or {})
    proc = subprocess.Popen(  # pylint: disable=consider-using-with  # reaped below, whatever happens
        list(argv), stdin=subprocess.PIPE if payload is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, cwd=cwd, close_fds=True, start_new_session=True,
    )
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    timed_out = False
    try:
        (out, err), timed_out, truncated = _pump(proc, payload, deadline, caps)
        while not timed_out and not _exited_unreaped(proc):
            if time.monotonic() >= deadline:
                timed_out = True
            else:
                time.sleep(_EXIT_POLL)
    finally:
        # The group goes whether the command ended or not: a child it left running in the background is ours too.
        _kill_group(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
        rc = proc.wait()
        with _LIVE_LOCK:
            _LIVE.pop(proc.pid, None)
    return Completed(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), timed_out, truncated)
