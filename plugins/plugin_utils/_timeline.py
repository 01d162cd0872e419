# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The incident's timeline.jsonl: the file, and the events read out of task results (docs/timeline.md).

The callback usdx.incident.incident_timeline writes it; the post-mortem reads it. One JSON object per line,
appended with one write(2) per event on an O_APPEND descriptor: nothing waits in a buffer of the process, so a
killed run keeps every complete line up to the kill, and runs appending to the same file never interleave lines.
"""

from __future__ import annotations

import datetime
import json
import os
import stat
import typing as t
import uuid

from ansible_collections.usdx.incident.plugins.module_utils._redact import redact_text
from ansible_collections.usdx.incident.plugins.plugin_utils._incident import parse_iso, utc_now

TIMELINE_FILE = "timeline.jsonl"
TEXT_LIMIT = 500
# Events kept in memory until the run's first usdx.incident.incident_record result names the incident folder.
BUFFER_LIMIT = 1000
NOTIFICATION_KINDS = ("alert", "page", "acknowledge", "resolve", "status", "user_notice", "escalation", "test")
# Kind of a community.general.mail result whose task does not say which message it sent.
UNNAMED_KIND = "message"


def stamp(moment: datetime.datetime) -> str:
    """UTC time with milliseconds, 2026-11-29T03:40:01.123Z."""
    utc = moment.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def tplus(started_at: t.Any, moment: datetime.datetime) -> t.Optional[float]:
    """Seconds from the incident's started_at to moment, one decimal; None without a start."""
    start = parse_iso(started_at)
    return None if start is None else round((moment - start).total_seconds(), 1)


def text(value: t.Any) -> t.Optional[str]:
    """A message of a result as written: credentials in URLs masked, at most TEXT_LIMIT characters; None stays None.

    Redacted before it is cut, so a cut cannot leave a token the masking would no longer recognise."""
    if value is None:
        return None
    return redact_text(value if isinstance(value, str) else str(value))[:TEXT_LIMIT]


def hidden(result: t.Mapping[str, t.Any]) -> bool:
    """A result censored by no_log: it tells its status and nothing else."""
    return result.get("_ansible_no_log") is True or "censored" in result


def parts(result: t.Mapping[str, t.Any]) -> list[t.Mapping[str, t.Any]]:
    """The results a task produced: each item of a loop, or the result itself."""
    items = result.get("results")
    if isinstance(items, list):
        return [item for item in items if isinstance(item, t.Mapping)]
    return [result]


def notification(sent: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The notification event's fields from one entry (one backend) of a usdx.incident.notification_send result's
    C(notifications)."""
    attempts = sent.get("attempts")
    return {"backend": sent.get("backend"), "kind": sent.get("kind"), "delivered": sent.get("delivered") is True,
            "attempts": attempts if isinstance(attempts, int) else 1, "error": text(sent.get("error")) or None}


def mail(result: t.Mapping[str, t.Any], failed: bool, kind: t.Any) -> dict[str, t.Any]:
    """The notification event's fields from one community.general.mail result.

    kind is the C(notify_kind) variable as written in the playbook (on the task, or the include or block it is in);
    a template is not rendered here: it, and any word that is not a kind, count as UNNAMED_KIND."""
    attempts = result.get("attempts")
    return {"backend": "email", "kind": kind if kind in NOTIFICATION_KINDS else UNNAMED_KIND, "delivered": not failed,
            "attempts": attempts if isinstance(attempts, int) else 1,
            "error": text(result.get("msg")) if failed else None}


def escalation(entry: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The escalation event's fields from an entry of a record's C(escalations)."""
    reached = entry.get("reached")
    return {"level": entry.get("level"), "reason": text(entry.get("reason")), "step": entry.get("step"),
            "reached": [str(name) for name in reached] if isinstance(reached, list) else []}


def _escalation_key(entry: t.Mapping[str, t.Any]) -> tuple[t.Any, ...]:
    return (entry.get("at"), entry.get("level"), entry.get("step"), entry.get("reason"))


class Escalations:
    """Which escalations of each host's record this run has recorded.

    The record keeps every escalation of the incident, and usdx-incident runs one step per run: the escalations a
    host's record holds when this run first sees it were recorded by the runs before, except those the step_end
    that is this first sight added itself (same step, same time as the step's end)."""

    def __init__(self) -> None:
        self._seen: dict[str, set[tuple[t.Any, ...]]] = {}

    def new(self, host: str, record: t.Mapping[str, t.Any], op: t.Any) -> list[t.Mapping[str, t.Any]]:
        entries = [entry for entry in record.get("escalations") or [] if isinstance(entry, t.Mapping)]
        seen = self._seen.get(host)
        if seen is None:
            steps = record.get("steps") or [{}]
            ended = steps[-1] if op == "step_end" and isinstance(steps[-1], t.Mapping) else {}
            seen = self._seen[host] = {
                _escalation_key(entry) for entry in entries
                if not (ended and entry.get("step") == ended.get("id") and entry.get("at") == ended.get("ended_at"))}
        fresh = [entry for entry in entries if _escalation_key(entry) not in seen]
        seen.update(_escalation_key(entry) for entry in fresh)
        return fresh


class Timeline:
    """The timeline of one run: events held until the incident folder is known, then appended line by line.

    A write that fails is reported once through warn and ends the recording: the run goes on without it."""

    def __init__(self, warn: t.Callable[[str], None]) -> None:
        self.run_id = uuid.uuid4().hex
        self.folder: t.Optional[str] = None
        self._warn = warn
        self._started_at: t.Any = None
        self._fd: t.Optional[int] = None
        self._pending: list[dict[str, t.Any]] = []
        self._dropped = 0
        self._stopped = False

    def add(self, event: str, **fields: t.Any) -> None:
        if self._stopped:
            return
        now = utc_now()
        line = {"at": stamp(now), "tplus": tplus(self._started_at, now) if self.folder else None, "event": event,
                "run": self.run_id, **fields}
        if self.folder is not None:
            self._write(line)
        elif len(self._pending) < BUFFER_LIMIT:
            self._pending.append(line)
        else:
            self._dropped += 1

    def open(self, folder: str, started_at: t.Any) -> None:
        """Start writing to folder/timeline.jsonl (the first incident of the run; later ones are ignored)."""
        if self.folder is not None or self._stopped:
            return
        self.folder, self._started_at = folder, started_at
        path = os.path.join(folder, TIMELINE_FILE)
        try:
            self._fd = _open_append(path)
        except OSError as exc:
            self._stop(f"cannot open {path}: {exc}")
            return
        pending, self._pending = self._pending, []
        for line in pending:
            self._write(line)
        if self._dropped:
            self._warn(f"usdx.incident.incident_timeline: {self._dropped} events before the incident was known "
                       f"were not kept in {path} (at most {BUFFER_LIMIT} are held)")

    def close(self) -> None:
        """End of the run: close the file; events of a run that never knew its incident are dropped unwritten."""
        self._pending = []
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._stopped = True

    def _write(self, line: t.Mapping[str, t.Any]) -> None:
        if self._fd is None:
            return
        data = (json.dumps(line, separators=(",", ":"), default=str) + "\n").encode("ascii")
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(f"only {written} of {len(data)} bytes written")
        except OSError as exc:
            self._stop(f"cannot append to {os.path.join(self.folder or '', TIMELINE_FILE)}: {exc}")

    def _stop(self, why: str) -> None:
        self._warn(f"usdx.incident.incident_timeline: {why}; this run's timeline stops here")
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._pending = []
        self._stopped = True


def _open_append(path: str) -> int:
    """An O_APPEND descriptor on path, created 0640 if missing; a symlink or anything but a regular file is refused."""
    # O_NONBLOCK: a FIFO planted at the path must not hang the run in open(); it is refused below.
    flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    created = True
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o640)
    except FileExistsError:
        fd, created = os.open(path, flags), False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        if created:
            os.fchmod(fd, 0o640)  # exactly 0640, whatever the umask
    except OSError:
        os.close(fd)
        raise
    return fd
