# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ending a test's ansible-playbook run for good. Its workers run in sessions of their own (setsid), out of its
process group, and outlive a kill of the group: a worker killed in the middle of a fix step would go on acting on
the sandbox while later tests run."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time


def _stat_fields(pid: int) -> list[str]:
    # The command name, in parentheses, may hold spaces and parentheses: the fields after its last ")" are fixed.
    return pathlib.Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace").rsplit(")", 1)[1].split()


def descendants(root: int) -> list[int]:
    """Every process descended from root, as /proc shows them now (one gone while read is left out)."""
    children: dict[int, list[int]] = {}
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat_fields(int(entry.name))[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _running(pid: int) -> bool:
    try:
        return _stat_fields(pid)[0] != "Z"
    except (OSError, IndexError):
        return False


def _signal_each(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill_run(proc: subprocess.Popen, timeout: float = 30) -> list[int]:
    """SIGKILL to a run started with start_new_session=True and to every process descended from it; the pids still
    running after timeout seconds (none, normally). The family is stopped first, until no new member appears, so that
    none forks another between the listing and the kill."""
    os.killpg(proc.pid, signal.SIGSTOP)
    family: list[int] = []
    while new := [pid for pid in descendants(proc.pid) if pid not in family]:
        family += new
        _signal_each(new, signal.SIGSTOP)
    os.killpg(proc.pid, signal.SIGKILL)
    _signal_each(family, signal.SIGKILL)
    proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while (alive := [pid for pid in family if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive
