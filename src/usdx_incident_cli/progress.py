# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live progress from ansible-runner's events: the current step and task, T+ against the step's deadline, what
changed. On a terminal a status line is redrawn with a spinner while a task runs; elsewhere only plain lines are
written (no escape code, no carriage return); quiet (--json) writes nothing.
"""

from __future__ import annotations

import shutil
import threading
import typing as t

from usdx_incident_cli.render import Painter, clock

FRAMES = "|/-\\"
TICK = 0.1


class Progress:
    def __init__(self, stream: t.Any, *, live: bool, paint: Painter, quiet: bool = False, check: bool = False) -> None:
        self.stream = stream
        self.live = live and not quiet
        self.paint = paint
        self.quiet = quiet
        self.changed_word = "would change" if check else "changed"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._spinner: t.Optional[threading.Thread] = None
        self._label = ""
        self._deadline: t.Optional[int] = None
        self._tplus: t.Callable[[], t.Optional[float]] = lambda: None
        self._task = ""

    def line(self, text: str) -> None:
        """A line that stays (above the status line on a terminal)."""
        if self.quiet:
            return
        with self._lock:
            self.stream.write(("\r\x1b[K" if self.live else "") + text + "\n")
            if self._spinner is not None:
                self._draw(0)
            self.stream.flush()

    def begin(self, label: str, deadline: t.Optional[int], tplus: t.Callable[[], t.Optional[float]]) -> None:
        """A step starts: its label, its T+ deadline and how to read the incident's T+ clock."""
        self._label, self._deadline, self._tplus, self._task = label, deadline, tplus, ""
        deadline_text = "" if deadline is None else f"deadline T+{clock(deadline)}, "
        self.line(self.paint(f"{label} ({deadline_text}now T+{clock(tplus())})", "bold"))
        if self.live:
            self._stop.clear()
            self._spinner = threading.Thread(target=self._spin, name="usdx-incident-progress", daemon=True)
            self._spinner.start()

    def end(self) -> None:
        if self._spinner is not None:
            self._stop.set()
            self._spinner.join()
            self._spinner = None
            with self._lock:
                self.stream.write("\r\x1b[K")
                self.stream.flush()

    def event(self, event: t.Mapping[str, t.Any]) -> None:
        """An ansible-runner event: the task now running, and what was changed, failed or unreachable."""
        data = event.get("event_data") or {}
        task = str(data.get("task") or "")
        if data.get("role"):
            task = f"{data['role']} : {task}"
        kind = event.get("event")
        if kind == "playbook_on_task_start":
            self._task = task
        elif kind == "runner_on_ok" and isinstance(data.get("res"), dict) and data["res"].get("changed"):
            self.line(f"    {self.paint(self.changed_word, 'yellow')}: {data.get('host')}: {task}")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            self.line(f"    {self.paint('failed', 'red')}: {data.get('host')}: {task}")
        elif kind == "runner_on_unreachable":
            self.line(f"    {self.paint('unreachable', 'red')}: {data.get('host')}")

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(TICK):
            frame += 1
            with self._lock:
                self._draw(frame)
                self.stream.flush()

    def _draw(self, frame: int) -> None:
        now = self._tplus()
        deadline = "" if self._deadline is None else f" / T+{clock(self._deadline)}"
        text = f"{FRAMES[frame % len(FRAMES)]} {self._label}  T+{clock(now)}{deadline}  {self._task}"
        # Cut to the terminal's width: a wrapped status line could not be redrawn in place.
        text = text[: shutil.get_terminal_size((100, 24)).columns - 1]
        late = now is not None and self._deadline is not None and now > self._deadline
        self.stream.write("\r\x1b[K" + self.paint(text, "red" if late else None))
