# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Log parsing, error signatures and known-cause detection: pure functions, no I/O.

Log text is untrusted data. It is only matched against fixed regular expressions, cut to bounded
sizes, stripped of control characters and returned as plain strings: never evaluated, never templated.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass, field

LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OTHER")
ERROR_LEVELS = frozenset({"ERROR", "FATAL"})
# Levels whose lines are searched for known causes (OTHER: lines of unknown level, such as a bare "Killed").
CAUSE_LEVELS = frozenset({"WARN", "ERROR", "FATAL", "OTHER"})

MAX_LINE_LENGTH = 4096      # characters of a line that are parsed; the rest is cut off
MAX_SAMPLE_LENGTH = 300     # characters of a sample line returned
MAX_SIGNATURE_LENGTH = 200  # characters of a normalised signature
DEFAULT_MAX_SIGNATURES = 50
STARTUP_WINDOW_LINES = 25   # lines after a (re)start in which an error counts as a crash on start-up
STARTUP_WINDOW_SECONDS = 60  # a run shorter than this that ended in failure crashed on start-up
EXIT_WINDOW_LINES = 10      # a traceback among the last lines of a container that died

_LEVEL_WORDS = {
    "trace": "DEBUG", "debug": "DEBUG", "dbg": "DEBUG",
    "info": "INFO", "information": "INFO", "notice": "INFO", "log": "INFO",
    "warn": "WARN", "warning": "WARN",
    "error": "ERROR", "err": "ERROR", "severe": "ERROR",
    "fatal": "FATAL", "critical": "FATAL", "crit": "FATAL", "panic": "FATAL", "emerg": "FATAL", "alert": "FATAL",
}
# pino / bunyan numeric levels
_NUMERIC_LEVELS = ((60, "FATAL"), (50, "ERROR"), (40, "WARN"), (30, "INFO"), (0, "DEBUG"))

_DOCKER_TS_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ?")
# The sandbox (and many apps): 2026-11-28T07:00:00.123Z ERROR [worker] message text
_APP_RE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+"
    r"\[?(?P<level>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|PANIC)\]?:?\s+"
    r"(?:\[(?P<component>[^\]\s]{1,64})\]\s*)?(?P<message>.*)$",
    re.IGNORECASE,
)
_LOGFMT_LEVEL_RE = re.compile(r"(?:^|\s)(?:level|lvl|severity)=\"?([A-Za-z]+)\"?(?=\s|$)")
_LOGFMT_MSG_RE = re.compile(r"(?:^|\s)(?:msg|message)=(?:\"((?:[^\"\\]|\\.)*)\"|(\S+))")
_LOGFMT_TS_RE = re.compile(r"(?:^|\s)(?:time|ts|timestamp)=\"?([^\s\"]+)\"?")
# A level word standing alone: ERROR, [error], WARNING:, npm ERR!, FATAL:  (PostgreSQL)...
_TOKEN_RE = re.compile(
    r"(?<![\w-])(TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|SEVERE|CRITICAL|CRIT|FATAL|PANIC)(?![\w-])"
    r"|\[(trace|debug|info|notice|warn|warning|error|err|crit|critical|fatal|panic|emerg|alert)\]"
    r"|^(?:\W{0,3})(error|warning|warn|fatal|panic)(?=:)"
    r"|(?<![\w-])(LOG)(?=:\s)",
)
_TRACEBACK_RE = re.compile(r"Traceback \(most recent call last\)")
_EXCEPTION_RE = re.compile(
    r"^\s*(?:Uncaught\s+)?(?:[A-Za-z_][\w.]*\.)?(?:[A-Z]\w*)?(?:Error|Exception)(?::\s|:$|$)"
    r"|^\s*panic: |^\s*goroutine \d+ \[running\]|Uncaught (?:Exception|Error|TypeError)|unhandledRejection"
    r"|FATAL ERROR:"
)
_FATAL_EXCEPTION_RE = re.compile(r"^\s*(?:panic: |FATAL ERROR:|goroutine \d+ \[running\])")
_STACK_RE = re.compile(r"^\s+(?:at\s|File\s\"|\^|\.\.\.\s)|^\s{4,}\S")
_CONTROL_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _ipv6(match: re.Match[str]) -> str:
    text = match.group(0)
    return "<ip>" if ("::" in text and text != "::") or text.count(":") >= 5 else text


# Normalisation: the variable parts of a message, most specific first.
_NORMALISE = [
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d|\s?[A-Z]{2,5}\b)?"), "<ts>"),
    (re.compile(r"\b\d\d:\d\d:\d\d(?:[.,]\d+)?\b"), "<ts>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"(?<![\w\\])\"(?:[^\"\\\n]|\\.){0,512}\"(?!\w)"), '"<str>"'),
    (re.compile(r"(?<![\w\\])'(?:[^'\\\n]|\\.){0,512}'(?!\w)"), "'<str>'"),
    (re.compile(r"(?<![\w\\])`[^`\n]{0,512}`(?!\w)"), "`<str>`"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>"),
    (re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"), _ipv6),
    (re.compile(r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hash>"),
    (re.compile(r"(?<![A-Za-z_<])[-+]?\d+(?:\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def _both(a: str, b: str, flags: int = re.IGNORECASE) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Two words on the same line, in either order: two searches, each linear in the line.

    (One pattern C(a.*?b|b.*?a) would scan the rest of the line from every place C(a) occurs: quadratic in a
    line that repeats C(a).)
    """
    return re.compile(a, flags), re.compile(b, flags)


_REFUSED = (r"connection refused|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|no route to host|unreachable"
            r"|could not translate host name|Name or service not known|Temporary failure in name resolution|Errno 111\b")
_TIMEOUT = r"time(?:d)?[ -]?out|ETIMEDOUT"

# cause -> matchers; a line counts once per cause when any matcher matches. A matcher is a pattern, or a pair of
# patterns that must both match the line (see _both). No pattern backtracks over the line more than once.
Matcher = t.Union["re.Pattern[str]", t.Tuple["re.Pattern[str]", "re.Pattern[str]"]]
CAUSES: dict[str, list[Matcher]] = {
    "db_connections_exhausted": [
        re.compile(r"too many (?:connections|clients)|remaining connection slots are reserved"
                   r"|connection pool (?:is )?(?:exhausted|full)|timeout (?:exceeded )?(?:when|while) (?:acquiring|obtaining) (?:a )?(?:client|connection)"
                   r"|could not obtain connection from pool", re.IGNORECASE),
        _both(r"\bpool\b", r"\bexhausted\b"),
    ],
    "db_unreachable": [
        re.compile(r"could not connect to (?:the )?(?:database )?server|the database system is (?:starting up|shutting down|in recovery mode)"
                   r"|Connection terminated unexpectedly|server closed the connection unexpectedly", re.IGNORECASE),
        _both(r":5432\b|port 5432\b|postgres(?:ql)?\b|\bdb\b|database|\bpg\b", _REFUSED),
    ],
    "out_of_memory": [
        re.compile(r"out of memory|OOMKilled|oom[-_ ]kill|MemoryError|JavaScript heap out of memory|Cannot allocate memory"
                   r"|\bENOMEM\b|std::bad_alloc|Reached heap limit|memory limit exceeded", re.IGNORECASE),
        re.compile(r"\bOOM\b|(?:^|[\s:])Killed(?:\s+process\b|\s*$)"),
    ],
    "disk_full": [
        re.compile(r"No space left on device|\bENOSPC\b|could not extend file|disk (?:is )?full|Disk quota exceeded|\bEDQUOT\b"
                   r"|could not write to file", re.IGNORECASE),
    ],
    "rpc_failure": [
        re.compile(r"\beth_[A-Za-z]+"),
        _both(r"\b(?:json[- ]?)?rpc\b|\boracle\b",
              _REFUSED + "|" + _TIMEOUT + r"|stale|fail|error|unavailable|ECONNRESET|socket hang up|bad gateway|\b50[234]\b"),
        _both(r":8545\b|port 8545\b|\bchain\b|\bblockchain\b|\bprovider\b|\bnode\b", _REFUSED + "|" + _TIMEOUT),
    ],
}
CAUSE_NAMES = (*CAUSES, "crash_on_startup")


@dataclass
class LogRecord:
    """One log line, parsed."""
    line_no: int
    docker_ts: str | None
    level: str
    message: str
    raw: str
    component: str | None = None
    app_ts: str | None = None
    truncated: bool = False
    exception: bool = False

    @property
    def seen(self) -> str | None:
        return self.docker_ts or self.app_ts


@dataclass
class ScanResult:
    lines: int = 0
    truncated_lines: int = 0
    by_level: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0))
    signatures: list[dict[str, t.Any]] = field(default_factory=list)
    signatures_dropped: int = 0
    causes: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    first_line_at: str | None = None
    last_line_at: str | None = None

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "lines": self.lines,
            "truncated_lines": self.truncated_lines,
            "by_level": self.by_level,
            "error_count": self.by_level["ERROR"] + self.by_level["FATAL"],
            "signatures": self.signatures,
            "signatures_dropped": self.signatures_dropped,
            "causes": self.causes,
            "first_line_at": self.first_line_at,
            "last_line_at": self.last_line_at,
        }


def clean(text: str, limit: int = MAX_SAMPLE_LENGTH) -> str:
    """Text safe to show: control characters and ANSI escapes removed, cut to C(limit) characters."""
    text = _CONTROL_RE.sub("", text.replace("\t", " "))
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def ts_sort_key(ts: str | None) -> str:
    """A sort key for docker's RFC 3339 UTC times, whose fraction has a varying number of digits."""
    if not ts:
        return ""
    base, _dot, rest = ts.partition(".")
    if not _dot:
        return base.rstrip("Z") + "." + "0" * 9
    digits = "".join(ch for ch in rest if ch.isdigit())
    return base + "." + digits[:9].ljust(9, "0")


def split_docker_line(line: str) -> tuple[str | None, str]:
    """C(docker logs --timestamps) line -> (docker time, text)."""
    match = _DOCKER_TS_RE.match(line)
    if not match:
        return None, line
    return match.group(1), line[match.end():]


def merge_streams(stdout: str, stderr: str) -> list[tuple[str | None, str]]:
    """Lines of both streams of C(docker logs --timestamps), in time order (stable: stdout first on ties)."""
    entries: list[tuple[str, int, int, str | None, str]] = []
    for stream_no, text in enumerate((stdout or "", stderr or "")):
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for index, line in enumerate(lines):
            ts, body = split_docker_line(line.rstrip("\r"))
            entries.append((ts_sort_key(ts), stream_no, index, ts, body))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    return [(ts, body) for _key, _stream, _index, ts, body in entries]


def _level_word(word: t.Any) -> str | None:
    if isinstance(word, bool):
        return None
    if isinstance(word, (int, float)):
        for threshold, level in _NUMERIC_LEVELS:
            if word >= threshold:
                return level
        return None
    if isinstance(word, str):
        word = word.strip().lower()
        if word.isdigit():
            return _level_word(int(word))
        return _LEVEL_WORDS.get(word)
    return None


def _parse_json(text: str) -> tuple[str | None, str, str | None, str | None] | None:
    """(level, message, time, component) of a JSON log line, or None if it is not one."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    level = None
    for key in ("level", "lvl", "severity", "levelname", "log.level", "loglevel"):
        if key in doc:
            level = _level_word(doc[key])
            break
    parts = []
    for key in ("msg", "message", "error", "err", "exception"):
        value = doc.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("msg") or value.get("type")
        if isinstance(value, (str, int, float)) and str(value) not in parts:
            parts.append(str(value))
    message = ": ".join(parts) if parts else text
    when = next((str(doc[k]) for k in ("time", "ts", "timestamp", "@timestamp") if k in doc), None)
    component = next((str(doc[k])[:64] for k in ("component", "name", "logger", "module") if isinstance(doc.get(k), str)), None)
    return level, message, when, component


def parse_line(text: str, line_no: int = 0, docker_ts: str | None = None) -> LogRecord:
    """Level, component and message of one log line in any of the formats the module knows.

    Structured formats (the sandbox's, JSON, logfmt) say their level; other lines get it from an
    exception or traceback at their start, else from a level word in them, else C(OTHER).
    """
    truncated = len(text) > MAX_LINE_LENGTH
    if truncated:
        text = text[:MAX_LINE_LENGTH]
    stripped = _CONTROL_RE.sub("", text).strip()
    record = LogRecord(line_no=line_no, docker_ts=docker_ts, level="OTHER", message=stripped, raw=text, truncated=truncated)
    record.exception = bool(_TRACEBACK_RE.search(stripped) or _EXCEPTION_RE.search(stripped))

    match = _APP_RE.match(stripped)
    if match:
        record.level = _LEVEL_WORDS[match.group("level").lower()]
        record.component = match.group("component")
        record.app_ts = match.group("ts")
        record.message = match.group("message").strip()
        record.exception = record.exception or bool(_EXCEPTION_RE.search(record.message))
        return record
    if stripped.startswith("{"):
        parsed = _parse_json(stripped)
        if parsed is not None:
            level, record.message, record.app_ts, record.component = parsed
            record.level = level or "OTHER"
            record.exception = bool(_TRACEBACK_RE.search(record.message) or _EXCEPTION_RE.search(record.message))
            return record
    logfmt = _LOGFMT_LEVEL_RE.search(stripped)
    level = _level_word(logfmt.group(1)) if logfmt else None
    if level:
        record.level = level
        msg = _LOGFMT_MSG_RE.search(stripped)
        if msg:
            record.message = msg.group(1) if msg.group(1) is not None else msg.group(2)
        ts = _LOGFMT_TS_RE.search(stripped)
        record.app_ts = ts.group(1) if ts else None
        return record
    if _STACK_RE.match(text):
        # A stack frame or a continuation line: part of the entry above it, not an entry of its own.
        record.exception = False
        return record
    if record.exception:
        record.level = "FATAL" if _FATAL_EXCEPTION_RE.match(stripped) else "ERROR"
        return record
    token = _TOKEN_RE.search(stripped)
    if token:
        record.level = _LEVEL_WORDS[next(g for g in token.groups() if g).lower()]
    return record


def normalise(message: str) -> str:
    """The signature of a message: numbers, ids, hashes, addresses, times and quoted values replaced."""
    text = _CONTROL_RE.sub("", message)
    for pattern, replacement in _NORMALISE:
        text = pattern.sub(replacement, text)
    text = text.strip()
    return text if len(text) <= MAX_SIGNATURE_LENGTH else text[:MAX_SIGNATURE_LENGTH] + "..."


def detect_causes(text: str) -> list[str]:
    """Known causes (keys of L(CAUSES)) whose patterns match the text."""
    return [name for name, matchers in CAUSES.items() if any(_matches(m, text) for m in matchers)]


def _matches(matcher: Matcher, text: str) -> bool:
    if isinstance(matcher, tuple):
        return all(pattern.search(text) for pattern in matcher)
    return bool(matcher.search(text))


def _add_evidence(causes: dict[str, dict[str, t.Any]], name: str, record: LogRecord) -> None:
    evidence = causes.setdefault(name, {"count": 0, "first_seen": record.seen, "last_seen": record.seen, "sample": clean(record.raw)})
    evidence["count"] += 1
    evidence["last_seen"] = record.seen or evidence["last_seen"]
    evidence["first_seen"] = evidence["first_seen"] or record.seen


def _startup_indexes(records: list[LogRecord], started_at: str | None, whole_log: bool) -> list[int]:
    """Indexes of the first line of each run the lines show."""
    starts = [0] if whole_log and records else []
    if started_at:
        key = ts_sort_key(started_at)
        for index, record in enumerate(records):
            if record.docker_ts and ts_sort_key(record.docker_ts) >= key:
                if index not in starts:
                    starts.append(index)
                break
    return starts


def scan_records(
    records: list[LogRecord],
    max_signatures: int = DEFAULT_MAX_SIGNATURES,
    started_at: str | None = None,
    running: bool = True,
    exit_code: int | None = None,
    run_seconds: float | None = None,
    whole_log: bool = False,
) -> ScanResult:
    """Counts, signatures and causes of parsed lines.

    The container context decides C(crash_on_startup): errors or exceptions within the first lines of
    the current run when that run ended in failure after less than a minute, or an exception among the
    last lines of a container that exited with a non-zero code.
    """
    result = ScanResult(lines=len(records))
    groups: dict[tuple[str, str | None, str], dict[str, t.Any]] = {}
    for record in records:
        result.by_level[record.level] += 1
        result.truncated_lines += int(record.truncated)
        if record.level in CAUSE_LEVELS:
            for name in detect_causes(record.message if record.message else record.raw):
                _add_evidence(result.causes, name, record)
        if record.level not in ERROR_LEVELS:
            continue
        signature = normalise(record.message or record.raw)
        key = (record.level, record.component, signature)
        group = groups.get(key)
        if group is None:
            if len(groups) >= max_signatures:
                result.signatures_dropped += 1
                continue
            group = groups[key] = {
                "signature": signature,
                "level": record.level,
                "component": record.component,
                "count": 0,
                "first_seen": record.seen,
                "last_seen": record.seen,
                "sample": clean(record.raw),
            }
        group["count"] += 1
        group["last_seen"] = record.seen or group["last_seen"]
    result.signatures = sorted(groups.values(), key=lambda g: (-g["count"], ts_sort_key(g["first_seen"]), g["signature"]))

    failed = not running and exit_code not in (None, 0)
    if failed and records:
        evidence: list[LogRecord] = []
        if run_seconds is not None and run_seconds < STARTUP_WINDOW_SECONDS:
            for start in _startup_indexes(records, started_at, whole_log):
                evidence += [r for r in records[start:start + STARTUP_WINDOW_LINES] if r.level in ERROR_LEVELS or r.exception]
        if not evidence:
            evidence = [r for r in records[-EXIT_WINDOW_LINES:] if r.exception]
        for record in evidence:
            _add_evidence(result.causes, "crash_on_startup", record)
    if records:
        result.first_line_at = records[0].seen
        result.last_line_at = records[-1].seen
    return result


def scan_docker_logs(stdout: str, stderr: str, **context: t.Any) -> ScanResult:
    """Parse and scan both streams of C(docker logs --timestamps); see L(scan_records) for the context."""
    records = [parse_line(body, line_no, ts) for line_no, (ts, body) in enumerate(merge_streams(stdout, stderr), start=1)]
    return scan_records(records, **context)


def combine_causes(per_service: dict[str, ScanResult]) -> dict[str, dict[str, t.Any]]:
    """cause -> {count, services, sample, first_seen, last_seen} over all services."""
    combined: dict[str, dict[str, t.Any]] = {}
    for service in sorted(per_service):
        for name, evidence in per_service[service].causes.items():
            entry = combined.setdefault(name, {"count": 0, "services": [], "sample": evidence["sample"],
                                               "first_seen": evidence["first_seen"], "last_seen": evidence["last_seen"]})
            entry["count"] += evidence["count"]
            entry["services"].append(service)
            if ts_sort_key(evidence["first_seen"]) < ts_sort_key(entry["first_seen"]) or not entry["first_seen"]:
                entry["first_seen"] = evidence["first_seen"]
            if ts_sort_key(evidence["last_seen"]) > ts_sort_key(entry["last_seen"]):
                entry["last_seen"] = evidence["last_seen"]
    return combined
