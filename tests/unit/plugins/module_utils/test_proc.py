# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_proc runs real processes here: deadlines, process groups and output caps are about the operating system."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _proc

# Bound before any fixture patches _proc.run for module tests.
run = _proc.run


def _sleeper(marker: str) -> str:
    """A shell word list that sleeps a minute with C(marker) on its command line."""
    return f"{sys.executable} -c 'import time; time.sleep(60)' {marker}"


def _running(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True, check=False)
    return found.stdout.split()


def _still_running(marker: str, seconds: float = 3.0) -> list[str]:
    """The processes of marker still there after up to seconds: a killed process takes a moment to go on a busy
    machine (make matrix runs the sanity tests beside these)."""
    deadline = time.monotonic() + seconds
    left = _running(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _running(marker)
    return left


@pytest.fixture
def marker():
    mark = f"usdx-proc-test-{uuid.uuid4().hex}"
    yield mark
    subprocess.run(["pkill", "-KILL", "-f", mark], check=False)


def test_output_exit_code_and_stdin():
    done = run([sys.executable, "-c", "import sys; d = sys.stdin.read(); print(len(d)); sys.exit(3)"], data="x" * 300_000)
    assert (done.rc, done.out, done.timed_out, done.truncated) == (3, "300000\n", False, False)


def test_environment_is_added_and_can_be_filtered(monkeypatch):
    monkeypatch.setenv("USDX_PROC_DROPPED", "1")
    monkeypatch.setenv("USDX_PROC_KEPT", "1")
    code = "import os; print(sorted(k for k in os.environ if k.startswith('USDX_PROC')))"
    done = run([sys.executable, "-c", code], env={"USDX_PROC_ADDED": "1"}, drop_env=lambda name: name.endswith("DROPPED"))
    assert done.out.strip() == "['USDX_PROC_ADDED', 'USDX_PROC_KEPT']"


def test_a_command_line_string_is_refused():
    with pytest.raises(TypeError):
        run("echo hi")


def test_a_missing_program_raises_oserror():
    with pytest.raises(FileNotFoundError):
        run(["/nonexistent/usdx-docker"])


def test_the_deadline_kills_the_whole_group(marker):
    started = time.monotonic()
    # A child in the background and one in the foreground: both must go.
    done = run(["sh", "-c", f"{_sleeper(marker + '-bg')} & {_sleeper(marker + '-fg')}"], deadline=_proc.deadline_in(1))
    assert time.monotonic() - started < 3
    assert done.timed_out is True and done.rc == -9
    assert _still_running(marker) == []
    assert _proc.live_count() == 0


def test_a_background_child_left_by_a_finished_command_is_killed(marker):
    started = time.monotonic()
    done = run(["sh", "-c", f"{_sleeper(marker)} & echo started"])
    assert (done.rc, done.out, done.timed_out) == (0, "started\n", False)
    assert time.monotonic() - started < 3
    assert _still_running(marker) == []


def test_output_written_just_before_the_exit_is_kept(monkeypatch):
    """A wait for output that ends empty just before the command prints and exits (a loaded machine descheduling the
    reader for that moment) must still read what the command printed: docker ps answered "no container" so."""
    exited = _proc._exited_unreaped

    def descheduled_until_exit(proc):
        # The command prints and exits meanwhile; polled, so a command that never exits fails the test, not hangs it.
        deadline = time.monotonic() + 10
        while not exited(proc) and time.monotonic() < deadline:
            time.sleep(0.01)
        return exited(proc)

    monkeypatch.setattr(_proc, "_exited_unreaped", descheduled_until_exit)
    done = run(["sh", "-c", "sleep 0.3; echo container-id"])
    assert (done.rc, done.out, done.timed_out) == (0, "container-id\n", False)


def test_kill_all_ends_commands_of_other_threads(marker):
    results = []
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)", marker]
    worker = threading.Thread(target=lambda: results.append(run(sleeper, deadline=_proc.deadline_in(60))))
    worker.start()
    deadline = time.monotonic() + 5
    # Registered, not only started: pgrep sees the command before run() has recorded it for kill_all.
    while _proc.live_count() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _proc.kill_all() == 1
    worker.join(5)
    assert not worker.is_alive() and results[0].rc == -9
    assert _still_running(marker) == []


def test_output_is_capped_and_drained():
    # 4 MB of output with a 1000-byte cap: the command still ends (the pipe never fills) and the cap holds.
    done = run([sys.executable, "-c", "import sys; sys.stdout.write('y' * 4_000_000)"], caps=(1000, 1000))
    assert (done.rc, len(done.out), done.truncated) == (0, 1000, True)


def test_any_bytes_are_decoded_leniently():
    done = run([sys.executable, "-c", r"import sys; sys.stdout.buffer.write(b'ok \xff\xfe \x00 \x1b[31m end')"])
    assert done.out == "ok \ufffd\ufffd \x00 \x1b[31m end"


def test_no_file_descriptor_leaks():
    before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for _round in range(20):
        run(["true"])
    if before is not None:
        assert len(os.listdir("/proc/self/fd")) <= before
