# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.access_log_info (and of triage_info's C(users) check): who got errors.

Access logs are JSON lines (docs/sandbox-contract.md, "Access logs"): one object per request with C(time),
C(client), C(method), C(path), C(status). Everything in them is client-controlled data: it is parsed as JSON (linear
in the input), never evaluated, and lines longer than L(MAX_LINE) are skipped without being parsed.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import os
import stat
import time
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._redact import redact_text, redact_url

MAX_LINE = 16384  # bytes; a longer line is counted malformed and skipped unparsed
CHUNK = 1 << 20  # bytes read at a time, so the deadline is looked at between reads
DEFAULT_WINDOW = 300  # seconds, without window_seconds or since
SHOWN = 256  # characters of a client or path shown in the result
FAILED_STATUS = 500  # 5xx, and the proxy's 502/504 when the upstream gave no answer
LIMITS = {
    "window_seconds": (1, 7 * 86400),
    "max_bytes": (4096, 1 << 30),
    "top": (0, 1000),
    "timeout": (0.1, 3600),
}


class AccessLogError(Exception):
    """No access log could be read: the check could not run."""


class Entry(t.NamedTuple):
    time: float
    client: str
    path: str
    status: int


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    if not params["paths"]:
        raise OptionError("paths=[] is empty: accepted values are one or more access log files", option="paths")
    for name, (low, high) in LIMITS.items():
        value = params.get(name)
        if value is not None and not low <= value <= high:
            raise OptionError(f"{name}={value!r} is out of range: accepted values are {low} to {high}", option=name)
    since = params.get("since")
    if since is not None and params.get("window_seconds") is not None:
        raise OptionError("since and window_seconds are both set: accepted is one of them", option="since")
    if since is not None:
        try:
            when = parse_time(since)
        except (ValueError, TypeError):
            raise OptionError(f"since={since!r} is not a time: accepted values are ISO 8601 times such as "
                              "2026-11-28T07:00:00Z", option="since") from None
        if when > time.time():
            raise OptionError(f"since={since!r} is in the future: accepted values are past times", option="since")


def parse_time(text: str) -> float:
    """Seconds since the epoch of an ISO 8601 time; C(Z) or an offset, UTC when it has neither."""
    if len(text) > 40:
        raise ValueError("time too long")
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    dot = text.find(".")
    if dot >= 0:  # Python < 3.11 takes 3 or 6 fraction digits only: make them 6
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = text[:dot + 1] + text[dot + 1:end][:6].ljust(6, "0") + text[end:]
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()


def parse_line(raw: bytes) -> Entry | None:
    """One access log line, or None when it is not one (malformed)."""
    try:
        doc = json.loads(raw)
        when = parse_time(doc["time"])
        client, path, status = doc["client"], doc.get("path", "-"), doc["status"]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError):
        return None
    if isinstance(status, str) and status.isdigit() and len(status) == 3:
        status = int(status)
    if not (isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599):
        return None
    if not (isinstance(client, str) and client.strip() and isinstance(path, str)):
        return None
    return Entry(when, client.strip(), path, status)


def split_lines(chunks: t.Iterable[bytes], max_line: int = MAX_LINE) -> t.Iterator[bytes | None]:
    """The newline-terminated lines of a stream of chunks; a line over C(max_line) bytes comes out as None
    without being kept. A last line without its newline (still being written) is not yielded."""
    carry = b""
    skipping = False
    for chunk in chunks:
        pieces = chunk.split(b"\n")
        for piece in pieces[:-1]:
            if skipping or len(carry) + len(piece) > max_line:
                yield None
            else:
                yield (carry + piece).rstrip(b"\r")
            carry, skipping = b"", False
        tail = pieces[-1]
        if skipping or len(carry) + len(tail) > max_line:
            carry, skipping = b"", True
        else:
            carry += tail


def shown(text: str) -> str:
    """A client or path as the result shows it: credentials and key-like path segments masked, cut to SHOWN."""
    text = redact_text(text)
    if text.startswith("/"):
        text = redact_url("http://h" + text)[len("http://h"):]
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."


def iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.timezone.utc).isoformat(timespec="seconds")


class Tally:
    """Requests and clients in the window, over every file."""

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.clients: set[str] = set()
        self.failed_by_client: t.Counter[str] = collections.Counter()
        self.clients_by_path: dict[str, set[str]] = collections.defaultdict(set)
        self.statuses: t.Counter[int] = collections.Counter()

    def add(self, entry: Entry) -> bool:
        """Count one request of the window; True when it failed."""
        self.requests += 1
        self.clients.add(entry.client)
        if entry.status < FAILED_STATUS:
            return False
        self.failed += 1
        self.failed_by_client[entry.client] += 1
        self.clients_by_path[entry.path].add(entry.client)
        self.statuses[entry.status] += 1
        return True

    def result(self, top: int) -> dict[str, t.Any]:
        # Merged by what is shown: two key-bearing paths that mask alike are one path of the result.
        by_path: dict[str, set[str]] = collections.defaultdict(set)
        for path, who in self.clients_by_path.items():
            by_path[shown(path)] |= who
        by_client: t.Counter[str] = collections.Counter()
        for client, count in self.failed_by_client.items():
            by_client[shown(client)] += count
        paths = sorted(by_path.items(), key=lambda item: (-len(item[1]), item[0]))
        clients = sorted(by_client.items(), key=lambda item: (-item[1], item[0]))
        return {
            "clients_total": len(self.clients),
            "clients_failed": len(self.failed_by_client),
            "requests_total": self.requests,
            "requests_failed": self.failed,
            "failed_paths": {path: len(who) for path, who in paths[:top]},
            "failed_paths_total": len(paths),
            "failed_statuses": {str(code): n for code, n in sorted(self.statuses.items())},
            "top_failed_clients": [{"client": client, "requests_failed": n} for client, n in clients[:top]],
        }


class AccessLog:
    """Counts the distinct clients of the last O(window_seconds) and those that got a 5xx (or no answer).

    O(params) holds the options of usdx.incident.access_log_info (checked by validate()). A file that cannot be
    read is a C(partial) reason; run() raises AccessLogError when no file could be read at all.
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.now = time.time()
        if params.get("since") is not None:
            self.since = parse_time(params["since"])
            self.window = int(math.ceil(self.now - self.since))
        else:
            self.window = params.get("window_seconds") or DEFAULT_WINDOW
            self.since = self.now - self.window
        self.deadline = time.monotonic() + params["timeout"]
        self.tally = Tally()
        self.partial: list[str] = []
        self.timed_out = False

    def chunks(self, fd: int, size: int, record: dict[str, t.Any]) -> t.Iterator[bytes]:
        """The file's bytes up to C(size), in chunks, until the deadline."""
        left = size
        while left > 0:
            if time.monotonic() > self.deadline:
                self.timed_out = True
                self.partial.append(f"{record['path']}: stopped after {record['read_bytes']} of {size} bytes at the "
                                    f"{self.params['timeout']} s deadline")
                return
            data = os.read(fd, min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            record["read_bytes"] += len(data)
            yield data

    def read_file(self, path: str) -> dict[str, t.Any]:
        record: dict[str, t.Any] = {"path": path, "read_bytes": 0, "lines": 0, "malformed": 0, "requests": 0,
                                    "requests_failed": 0, "covers_window": False, "error": None}
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            record["error"] = exc.strerror or str(exc)
            return record
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                record["error"] = "not a regular file"
                return record
            # From one byte before the tail: the piece up to the first newline is the end of a line cut in two.
            start = max(0, info.st_size - self.params["max_bytes"] - 1)
            os.lseek(fd, start, os.SEEK_SET)
            first = self.now
            lines = split_lines(self.chunks(fd, info.st_size - start, record))
            if start > 0:
                next(lines, None)
            for raw in lines:
                record["lines"] += 1
                entry = parse_line(raw) if raw is not None else None
                if entry is None:
                    record["malformed"] += 1
                    continue
                first = min(first, entry.time)
                if entry.time >= self.since:
                    record["requests"] += 1
                    record["requests_failed"] += self.tally.add(entry)
        except OSError as exc:
            record["error"] = exc.strerror or str(exc)
            return record
        finally:
            os.close(fd)
        record["covers_window"] = start == 0 or first <= self.since
        if not record["covers_window"]:
            self.partial.append(f"{path}: the last {self.params['max_bytes']} bytes reach back to {iso(first)} only, "
                                f"not to the window's start {iso(self.since)} (raise max_bytes)")
        return record

    def run(self) -> dict[str, t.Any]:
        files = []
        for path in self.params["paths"]:
            if time.monotonic() > self.deadline:
                self.timed_out = True
                files.append({"path": path, "read_bytes": 0, "lines": 0, "malformed": 0, "requests": 0,
                              "requests_failed": 0, "covers_window": False, "error": "not read: deadline reached"})
            else:
                files.append(self.read_file(path))
        errors = [f"{f['path']}: {f['error']}" for f in files if f["error"]]
        if len(errors) == len(files):
            raise AccessLogError("no access log could be read: " + "; ".join(errors))
        result: dict[str, t.Any] = {
            "changed": False,
            "window_seconds": self.window,
            "since": iso(self.since),
            "until": iso(self.now),
        }
        result.update(self.tally.result(self.params["top"]))
        result["malformed_lines"] = sum(f["malformed"] for f in files)
        result["files"] = files
        partial = [f"{e} (not counted)" for e in errors] + self.partial
        if partial:
            result["partial"] = partial
        if self.timed_out:
            result["timed_out"] = True
        return result
