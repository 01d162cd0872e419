# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""access_log_info over access-log lines recorded on the sandbox (tests/unit/fixtures/access_log/).

api_down_*: four clients use the web app (which proxies /api/* to the indexer), the indexer is killed
(sandbox.sh fault api-down), then three clients get the proxy's 502 on /api/status and /api/events.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
import time
import types

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _access_log as A
from ansible_collections.usdx.incident.plugins.modules import access_log_info

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "access_log")
WEBAPP = os.path.join(FIXTURES, "api_down_webapp-access.log")
INDEXER = os.path.join(FIXTURES, "api_down_indexer-access.log")
# Stored as base64: CR LF endings, invalid UTF-8 and NUL bytes are the point of the file.
HOSTILE_B64 = os.path.join(FIXTURES, "hostile.log.b64")
TEMPLATE_CLIENT = "{{ lookup('env'"  # a client id cut at the comma of its X-Forwarded-For, kept as data


def at(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


AFTER_ALL = at("2026-11-28T20:41:44Z")


@pytest.fixture
def clock(monkeypatch):
    """Freeze the module's wall clock (the end of the window) at a given time."""
    def freeze(now, monotonic=time.monotonic):
        monkeypatch.setattr(A, "time", types.SimpleNamespace(time=lambda: now, monotonic=monotonic))
    return freeze


def run(run_module, **args):
    return run_module(access_log_info.main, args)


@pytest.mark.parametrize("paths, window, expected", [
    pytest.param([WEBAPP, INDEXER], 300, {
        "clients_total": 6, "clients_failed": 3, "requests_total": 34, "requests_failed": 6,
        "failed_paths": {"/api/events": 3, "/api/status": 3}, "failed_statuses": {"502": 6},
    }, id="both-logs-whole-incident"),
    pytest.param([WEBAPP], 300, {
        "clients_total": 6, "clients_failed": 3, "requests_total": 21, "requests_failed": 6,
        "failed_paths": {"/api/events": 3, "/api/status": 3}, "failed_statuses": {"502": 6},
    }, id="webapp-only"),
    pytest.param([INDEXER], 300, {
        "clients_total": 4, "clients_failed": 0, "requests_total": 13, "requests_failed": 0,
        "failed_paths": {}, "failed_statuses": {},
    }, id="indexer-only-sees-no-failure-it-could-not-answer"),
    pytest.param([WEBAPP, INDEXER], 6, {
        "clients_total": 4, "clients_failed": 3, "requests_total": 12, "requests_failed": 6,
        "failed_paths": {"/api/events": 3, "/api/status": 3}, "failed_statuses": {"502": 6},
    }, id="window-from-the-outage"),
    pytest.param([WEBAPP, INDEXER], 1, {
        "clients_total": 1, "clients_failed": 0, "requests_total": 2, "requests_failed": 0,
        "failed_paths": {}, "failed_statuses": {},
    }, id="window-after-the-outage"),
])
def test_counts_recorded_incident(run_module, clock, paths, window, expected):
    clock(AFTER_ALL)
    result = run(run_module, paths=paths, window_seconds=window)
    assert {key: result[key] for key in expected} == expected
    assert result["changed"] is False
    assert "partial" not in result and "failed" not in result
    assert result["malformed_lines"] == 0
    assert result["window_seconds"] == window
    assert result["until"] == "2026-11-28T20:41:44+00:00"
    assert all(f["covers_window"] and f["error"] is None for f in result["files"])
    assert sum(f["requests"] for f in result["files"]) == expected["requests_total"]


def test_failing_clients_are_listed_as_data(run_module, clock):
    clock(AFTER_ALL)
    result = run(run_module, paths=[WEBAPP, INDEXER])
    assert result["top_failed_clients"] == [
        {"client": "198.51.100.10", "requests_failed": 2},
        {"client": "203.0.113.5", "requests_failed": 2},
        {"client": TEMPLATE_CLIENT, "requests_failed": 2},
    ]
    assert result["failed_paths_total"] == 2


@pytest.mark.parametrize("top, paths, clients", [
    (0, {}, []),
    (1, {"/api/events": 3}, ["198.51.100.10"]),
])
def test_top_bounds_the_lists_not_the_counts(run_module, clock, top, paths, clients):
    clock(AFTER_ALL)
    result = run(run_module, paths=[WEBAPP], top=top)
    assert result["failed_paths"] == paths
    assert [c["client"] for c in result["top_failed_clients"]] == clients
    assert (result["clients_failed"], result["failed_paths_total"]) == (3, 2)


def test_hostile_lines_are_counted_and_skipped(run_module, clock, tmp_path):
    clock(AFTER_ALL)
    hostile = tmp_path / "hostile.log"
    with open(HOSTILE_B64, "rb") as encoded:
        hostile.write_bytes(base64.b64decode(encoded.read()))
    result = run(run_module, paths=[str(hostile)])
    assert result["files"][0]["lines"] == 16  # the half-written last line is not a line yet
    assert result["malformed_lines"] == 10
    assert (result["requests_total"], result["requests_failed"]) == (4, 3)
    assert (result["clients_total"], result["clients_failed"]) == (3, 2)
    assert result["failed_paths"] == {"/api/status": 1, "/x\u0000y": 1}
    assert result["failed_statuses"] == {"502": 1, "503": 1, "504": 1}
    assert {c["client"] for c in result["top_failed_clients"]} == {"198.51.100.20", '198.51.100.24\n{"time": 1}'}


@pytest.mark.parametrize("raw, expected", [
    (b'{"time": "2026-11-28T07:00:00.123Z", "client": "a", "path": "/p", "status": 502}',
     A.Entry(at("2026-11-28T07:00:00.123Z"), "a", "/p", 502)),
    (b'{"time": "2026-11-28T08:00:00+01:00", "client": " b ", "status": "200"}', A.Entry(at("2026-11-28T07:00:00Z"), "b", "-", 200)),
    (b'{"time": "2026-11-28T07:00:00", "client": "c", "path": "/", "status": 599}', A.Entry(at("2026-11-28T07:00:00Z"), "c", "/", 599)),
    (b'{"time": "2026-11-28T07:00:00.5Z", "client": "c", "status": 500}', A.Entry(at("2026-11-28T07:00:00.500Z"), "c", "-", 500)),
    (b'{"time": "2026-11-28T07:00:00.1234567+00:00", "client": "c", "status": 500}',
     A.Entry(at("2026-11-28T07:00:00.123456Z"), "c", "-", 500)),
    (b'{"time": "2026-11-28T07:00:00.Z", "client": "c", "status": 500}', A.Entry(at("2026-11-28T07:00:00Z"), "c", "-", 500)),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "user@example.com", "path": "/", "status": 100}',
     A.Entry(at("2026-11-28T07:00:00Z"), "user@example.com", "/", 100)),
    (b"", None),
    (b"-", None),
    (b"[]", None),
    (b"{}", None),
    (b"[" * 5000, None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "a", "status": 99}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "a", "status": 600}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "a", "status": 502.0}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "a", "status": "5xx"}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "a", "status": false}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "", "status": 500}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": 7, "status": 500}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "a", "path": null, "status": 500}', None),
    (b'{"time": 1764313200, "client": "a", "status": 500}', None),
    (b'{"time": "yesterday", "client": "a", "status": 500}', None),
    (b'{"time": "' + b"9" * 100 + b'", "client": "a", "status": 500}', None),
    (b'{"time": "0001-01-01T00:00:00+01:00", "client": "a", "status": 500}', A.Entry(-62135600400.0, "a", "-", 500)),
    (b'{"client": "a", "status": 500}', None),
    (b'{"time": "2026-11-28T07:00:00Z", "client": "\xc3\x28", "status": 500}', None),
])
def test_parse_line(raw, expected):
    assert A.parse_line(raw) == expected


@pytest.mark.parametrize("status, failed", [
    (200, False), (304, False), (404, False), (429, False), (499, False),
    (500, True), (501, True), (502, True), (503, True), (504, True), (599, True),
])
def test_which_statuses_count_as_failed(status, failed):
    tally = A.Tally()
    assert tally.add(A.Entry(0.0, "c", "/p", status)) is failed
    assert (tally.requests, tally.failed, len(tally.failed_by_client)) == (1, int(failed), int(failed))


@pytest.mark.parametrize("chunks, expected", [
    ([b"a\nb\n"], [b"a", b"b"]),
    ([b"a", b"b\n", b"c\r\n"], [b"ab", b"c"]),
    ([b"a\nhalf"], [b"a"]),
    ([b"\n\n"], [b"", b""]),
    ([b"x" * 6 + b"\nok\n"], [None, b"ok"]),
    ([b"x" * 3, b"x" * 3, b"x" * 3, b"\nok\n"], [None, b"ok"]),
    ([b"xxx", b"xx\n"], [b"xxxxx"]),
    ([b"xxx", b"xxx\n"], [None]),
])
def test_split_lines(chunks, expected):
    assert list(A.split_lines(chunks, max_line=5)) == expected


def test_a_huge_line_is_skipped_without_being_kept(tmp_path, run_module, clock):
    clock(AFTER_ALL)
    log = tmp_path / "access.log"
    with open(WEBAPP, "rb") as src:
        recorded = src.read()
    log.write_bytes(b'{"time": "2026-11-28T20:41:38Z", "client": "' + b"a" * (8 << 20) + b'", "status": 500}\n' + recorded)
    result = run(run_module, paths=[str(log)], max_bytes=16 << 20)
    assert result["malformed_lines"] == 1
    assert (result["clients_total"], result["clients_failed"], result["requests_total"]) == (6, 3, 21)


@pytest.mark.parametrize("max_bytes, covers, requests", [
    (1 << 20, True, 21),
    (4096, False, None),
])
def test_max_bytes_reads_the_tail_and_says_when_the_window_is_not_covered(tmp_path, run_module, clock, max_bytes, covers, requests):
    clock(AFTER_ALL)
    log = tmp_path / "access.log"
    with open(WEBAPP, "rb") as src:
        recorded = src.read()
    log.write_bytes(recorded * 20)  # the same incident 20 times: the window's first lines are far from the end
    result = run(run_module, paths=[str(log)], max_bytes=max_bytes)
    assert result["files"][0]["covers_window"] is covers
    assert result["files"][0]["read_bytes"] <= max_bytes + 1
    assert result["malformed_lines"] == 0  # the line cut by the tail's start is dropped, not counted
    if covers:
        assert result["requests_total"] == requests * 20
        assert "partial" not in result
    else:
        assert result["partial"] == [f"{log}: the last 4096 bytes reach back to 2026-11-28T20:41:37+00:00 only, not to the "
                                     "window's start 2026-11-28T20:36:44+00:00 (raise max_bytes)"]
        assert 0 < result["requests_total"] < 21 * 20


def test_tail_starting_on_a_line_boundary_keeps_that_line(tmp_path, run_module, clock):
    clock(AFTER_ALL)
    log = tmp_path / "access.log"
    line = b'{"time": "2026-11-28T20:41:40Z", "client": "c", "path": "/", "status": 500}\n'
    log.write_bytes(b"x" * 5000 + b"\n" + line * (8192 // len(line)) + line)
    size = len(line) * (8192 // len(line) + 1)
    result = run(run_module, paths=[str(log)], max_bytes=size)
    assert result["requests_total"] == 8192 // len(line) + 1
    assert result["malformed_lines"] == 0


def test_unreadable_files_are_partial_not_a_crash(tmp_path, run_module, clock):
    clock(AFTER_ALL)
    missing = tmp_path / "gone.log"
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)  # opening it for reading must not wait for a writer
    result = run(run_module, paths=[str(missing), WEBAPP, str(tmp_path), str(fifo)])
    assert "failed" not in result
    assert result["clients_failed"] == 3
    assert [f["error"] for f in result["files"]] == ["No such file or directory", None, "not a regular file", "not a regular file"]
    assert result["partial"] == [
        f"{missing}: No such file or directory (not counted)",
        f"{tmp_path}: not a regular file (not counted)",
        f"{fifo}: not a regular file (not counted)",
    ]


def test_no_readable_file_fails_the_module(tmp_path, run_module, clock):
    clock(AFTER_ALL)
    result = run(run_module, paths=[str(tmp_path / "a.log"), str(tmp_path / "b.log")])
    assert result["failed"] is True
    assert result["msg"] == (f"access_log_info: no access log could be read: {tmp_path / 'a.log'}: No such file or directory; "
                             f"{tmp_path / 'b.log'}: No such file or directory")


def test_deadline_stops_reading_and_says_so(tmp_path, run_module, clock):
    ticks = iter(range(0, 1000, 3))  # every look at the clock is 3 s later: the second file is past the 7 s
    clock(AFTER_ALL, monotonic=lambda: float(next(ticks)))
    second = tmp_path / "second.log"
    shutil.copy(INDEXER, second)
    result = run(run_module, paths=[WEBAPP, str(second)], timeout=7)
    assert result["timed_out"] is True
    assert result["files"][1]["error"] == "not read: deadline reached"
    assert result["partial"] == [f"{second}: not read: deadline reached (not counted)"]
    assert result["requests_total"] == 21


def test_deadline_before_any_read_fails_the_module(run_module, clock):
    ticks = iter(range(0, 1000, 50))
    clock(AFTER_ALL, monotonic=lambda: float(next(ticks)))
    result = run(run_module, paths=[WEBAPP], timeout=7)
    assert result["failed"] is True
    assert result["msg"] == f"access_log_info: no access log could be read: {WEBAPP}: not read: deadline reached"


@pytest.mark.parametrize("path, expected", [
    ("/api/status", "/api/status"),
    ("/api/v3/abcdef0123456789abcdef0123", "/api/v3/********"),
    ("http://user:hunter2@host/x", "http://********@host/x"),
    ("/" + "p" * 300, "/" + "p" * 255 + "..."),
])
def test_paths_and_clients_are_shown_masked_and_cut(path, expected):
    assert A.shown(path) == expected


def test_key_bearing_paths_merge_into_one_masked_path(tmp_path, run_module, clock):
    clock(AFTER_ALL)
    log = tmp_path / "access.log"
    log.write_text("".join(
        '{"time": "2026-11-28T20:41:40Z", "client": "c%d", "path": "/rpc/%s", "status": 502}\n' % (i, key)
        for i, key in enumerate(["Key0123456789abcdefghij", "Key9876543210abcdefghij"])))
    result = run(run_module, paths=[str(log)])
    assert result["failed_paths"] == {"/rpc/********": 2}
    assert "Key0123456789abcdefghij" not in str(result)


@pytest.mark.parametrize("args, message", [
    ({"paths": []}, "paths=[] is empty: accepted values are one or more access log files"),
    ({"window_seconds": 0}, "window_seconds=0 is out of range: accepted values are 1 to 604800"),
    ({"window_seconds": 604801}, "window_seconds=604801 is out of range: accepted values are 1 to 604800"),
    ({"max_bytes": 100}, "max_bytes=100 is out of range: accepted values are 4096 to 1073741824"),
    ({"top": -1}, "top=-1 is out of range: accepted values are 0 to 1000"),
    ({"timeout": 0.0}, "timeout=0.0 is out of range: accepted values are 0.1 to 3600"),
])
def test_bad_options_fail_with_one_line(run_module, args, message):
    result = run(run_module, **{"paths": [WEBAPP], **args})
    assert result["failed"] is True
    assert result["msg"] == message


@pytest.mark.parametrize("since, window, clients, failed", [
    ("2026-11-28T20:41:38.5Z", 6, 3, 3),
    ("2026-11-28T21:41:38.533+01:00", 6, 2, 2),
    ("2026-11-28T20:41:38.539", 6, 1, 1),
    ("2026-11-28T20:30:00Z", 704, 6, 3),
])
def test_since_starts_the_window_at_a_time(run_module, clock, since, window, clients, failed):
    clock(AFTER_ALL)
    result = run(run_module, paths=[WEBAPP], since=since)
    assert (result["window_seconds"], result["clients_total"], result["clients_failed"]) == (window, clients, failed)


@pytest.mark.parametrize("args, message", [
    ({"since": "soon"}, "since='soon' is not a time: accepted values are ISO 8601 times such as 2026-11-28T07:00:00Z"),
    ({"since": "2999-01-01T00:00:00Z"}, "since='2999-01-01T00:00:00Z' is in the future: accepted values are past times"),
    ({"since": "2026-11-28T07:00:00Z", "window_seconds": 60}, "since and window_seconds are both set: accepted is one of them"),
])
def test_bad_since_fails_with_one_line(run_module, args, message):
    result = run(run_module, paths=[WEBAPP], **args)
    assert (result["failed"], result["msg"]) == (True, message)


def test_default_window_is_five_minutes(run_module, clock):
    clock(at("2026-11-28T20:46:38.531Z"))  # 300 s after 20:41:38.531: the first client's 502s are just before
    result = run(run_module, paths=[WEBAPP])
    assert (result["window_seconds"], result["since"]) == (300, "2026-11-28T20:41:38+00:00")
    assert (result["requests_failed"], result["clients_failed"], result["clients_total"]) == (4, 2, 3)


def test_check_mode_reads_the_same(run_module, clock):
    clock(AFTER_ALL)
    result = run(run_module, paths=[WEBAPP], _ansible_check_mode=True)
    assert (result["changed"], result["clients_failed"]) == (False, 3)
