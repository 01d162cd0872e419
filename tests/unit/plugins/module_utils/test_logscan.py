# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _logscan as L


@pytest.mark.parametrize(
    ("line", "level", "component", "message"),
    [
        ("2026-11-28T07:00:00.123Z ERROR [worker] message text", "ERROR", "worker", "message text"),
        ("2026-11-28T07:00:00.123Z WARN [api] slow", "WARN", "api", "slow"),
        ("2026-11-28T07:00:00.123Z FATAL [worker] worker crashed: KeyError: 'x'", "FATAL", "worker", "worker crashed: KeyError: 'x'"),
        ("2026-11-28T07:00:00.123Z INFO [worker] Error: looks bad but is INFO", "INFO", "worker", "Error: looks bad but is INFO"),
        ("2026-11-28 07:00:00,123 WARNING no component here", "WARN", None, "no component here"),
        ('{"level":"error","msg":"boom","time":"2026-11-28T07:00:00Z"}', "ERROR", None, "boom"),
        ('{"level":50,"msg":"pino error","err":{"message":"ECONNRESET"}}', "ERROR", None, "pino error: ECONNRESET"),
        ('{"level":60,"msg":"pino fatal"}', "FATAL", None, "pino fatal"),
        ('{"severity":"WARNING","message":"gcp style"}', "WARN", None, "gcp style"),
        ('{"levelname":"CRITICAL","message":"python json","name":"app.db"}', "FATAL", "app.db", "python json"),
        ('{"msg":"no level"}', "OTHER", None, "no level"),
        ('{"level": true, "msg": "bool level"}', "OTHER", None, "bool level"),
        ("[1, 2, 3]", "OTHER", None, "[1, 2, 3]"),
        ('time=2026-11-28T07:00:00Z level=error msg="db down" host=db', "ERROR", None, "db down"),
        ("ts=1 lvl=warn msg=retrying", "WARN", None, "retrying"),
        ("level=info msg=\"has ERROR inside\"", "INFO", None, "has ERROR inside"),
        ("2026-11-28 07:00:09.900 UTC [88] FATAL:  sorry, too many clients already", "FATAL", None,
         "2026-11-28 07:00:09.900 UTC [88] FATAL:  sorry, too many clients already"),
        ("2026-11-28 07:00:09.900 UTC [88] LOG:  checkpoint starting: time", "INFO", None,
         "2026-11-28 07:00:09.900 UTC [88] LOG:  checkpoint starting: time"),
        ("npm ERR! code ELIFECYCLE", "ERROR", None, "npm ERR! code ELIFECYCLE"),
        ("[error] 12#12: upstream timed out", "ERROR", None, "[error] 12#12: upstream timed out"),
        ("warning: deprecated flag", "WARN", None, "warning: deprecated flag"),
        ("panic: runtime error: invalid memory address", "FATAL", None, "panic: runtime error: invalid memory address"),
        ("Traceback (most recent call last):", "ERROR", None, "Traceback (most recent call last):"),
        ("psycopg2.OperationalError: could not connect to server", "ERROR", None, "psycopg2.OperationalError: could not connect to server"),
        ("MemoryError", "ERROR", None, "MemoryError"),
        ("Error: connect ECONNREFUSED 172.18.0.2:5432", "ERROR", None, "Error: connect ECONNREFUSED 172.18.0.2:5432"),
        ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", "FATAL", None,
         "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory"),
        ('  File "/app/worker.py", line 12, in run', "OTHER", None, 'File "/app/worker.py", line 12, in run'),
        ("    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) ERROR", "OTHER", None,
         "at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) ERROR"),
        ("Killed", "OTHER", None, "Killed"),
        ("an errors-free line mentioning error in lower case", "OTHER", None, "an errors-free line mentioning error in lower case"),
        ("ERRORS_TOTAL=0 INFORMATIONAL", "OTHER", None, "ERRORS_TOTAL=0 INFORMATIONAL"),
        ("", "OTHER", None, ""),
    ],
    ids=["sandbox-error", "sandbox-warn", "sandbox-fatal", "sandbox-info-wins-over-words", "python-logging-ts",
         "json-string-level", "json-pino-error", "json-pino-fatal", "json-severity", "json-levelname-critical",
         "json-no-level", "json-bool-level", "json-not-an-object", "logfmt-error", "logfmt-lvl",
         "logfmt-level-wins", "postgres-fatal", "postgres-log", "npm-err", "nginx-bracket", "cli-warning",
         "go-panic", "python-traceback", "python-exception", "bare-exception", "node-error", "node-heap",
         "python-stack-frame", "node-stack-frame", "bare-killed", "lowercase-error-word", "level-word-inside-identifier",
         "empty"],
)
def test_parse_line(line, level, component, message):
    record = L.parse_line(line)
    assert (record.level, record.component, record.message) == (level, component, message)


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        ("database error (attempt 12): connection to server at \"db\" (172.18.0.2), port 5432 failed",
         'database error (attempt <n>): connection to server at "<str>" (<ip>), port <n> failed'),
        ("request 550e8400-e29b-41d4-a716-446655440000 took 12.5ms", "request <uuid> took <n>ms"),
        ("tx 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef reverted at block 0x1f4",
         "tx <hex> reverted at block <hex>"),
        ("container 5f0c3b2e9a1d failed", "container <hash> failed"),
        ("commit deadbeef and 12345678 ok", "commit deadbeef and <n> ok"),
        ("peer [fe80::1%eth0]:8545 and 2001:db8:0:0:0:0:2:1 gone", "peer [<ip>%eth0]:<n> and <ip> gone"),
        ("std::bad_alloc at ::1", "std::bad_alloc at <ip>"),
        ("at 2026-11-28T07:00:00.123Z and 2026-11-28 07:00:00 UTC and 07:00:01", "at <ts> and <ts> and <ts>"),
        ("relation 'users' and `blocks` and \"events\" missing", "relation '<str>' and `<str>` and \"<str>\" missing"),
        ("can't connect, it's down", "can't connect, it's down"),
        ("duplicate key value violates unique constraint \"blocks_pkey\" DETAIL: Key (number)=(42) already exists.",
         'duplicate key value violates unique constraint "<str>" DETAIL: Key (number)=(<n>) already exists.'),
        ("eth_getLogs v2   failed\twith  -32000", "eth_getLogs v2 failed with <n>"),
        ("ansi \x1b[31mred\x1b[0m and NUL\x00", "ansi red and NUL"),
        ("x" * 500, "x" * L.MAX_SIGNATURE_LENGTH + "..."),
    ],
    ids=["sandbox-db-error", "uuid-and-float", "hex-hashes", "container-id", "hex-word-and-long-number", "ipv6",
         "cpp-scope-not-ipv6", "times", "quoted-values", "apostrophes-kept", "postgres-detail", "whitespace-and-negative",
         "control-characters", "bounded-length"],
)
def test_normalise(message, signature):
    assert L.normalise(message) == signature


def test_normalise_groups_variants_together():
    a = L.normalise("chain RPC error (attempt 1): <urlopen error [Errno 111] Connection refused>")
    b = L.normalise("chain RPC error (attempt 27): <urlopen error [Errno 111] Connection refused>")
    assert a == b


@pytest.mark.parametrize(
    ("text", "causes"),
    [
        ("database error (attempt 1): connection to server at \"db\" (172.18.0.2), port 5432 failed: FATAL:  sorry, too many clients already",
         ["db_connections_exhausted"]),
        ("FATAL:  too many connections for role \"usdx\"", ["db_connections_exhausted"]),
        ("FATAL:  remaining connection slots are reserved for non-replication superuser connections", ["db_connections_exhausted"]),
        ("timeout acquiring a connection: pool of 5 exhausted", ["db_connections_exhausted"]),
        ("database error (attempt 3): connection to server at \"db\" (172.18.0.2), port 5432 failed: Connection refused",
         ["db_unreachable"]),
        ("could not connect to server: Connection refused", ["db_unreachable"]),
        ("Error: connect ECONNREFUSED 172.18.0.2:5432", ["db_unreachable"]),
        ("could not translate host name \"db\" to address: Name or service not known", ["db_unreachable"]),
        ("FATAL:  the database system is starting up", ["db_unreachable"]),
        ("ERROR:  out of memory DETAIL:  Failed on request of size 8192.", ["out_of_memory"]),
        ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", ["out_of_memory"]),
        ("MemoryError", ["out_of_memory"]),
        ("Killed", ["out_of_memory"]),
        ("Out of memory: Killed process 1234 (node)", ["out_of_memory"]),
        ("container was OOM killed", ["out_of_memory"]),
        ("worker Killed by operator request", []),
        ("could not extend file \"base/16384/16385\": No space left on device", ["disk_full"]),
        ("Error: ENOSPC: no space left on device, write", ["disk_full"]),
        ("cannot write log file /var/log/usdx-wexel/indexer.log: [Errno 28] No space left on device", ["disk_full"]),
        ("chain RPC error (attempt 4): <urlopen error [Errno 111] Connection refused>", ["rpc_failure"]),
        ("chain RPC error (attempt 1): timed out", ["rpc_failure"]),
        ("eth_blockNumber: header not found", ["rpc_failure"]),
        ("oracle price feed stale for 600s", ["rpc_failure"]),
        ("connect ECONNREFUSED 172.18.0.5:8545", ["rpc_failure"]),
        ("indexer lag 12 blocks", []),
        ("duplicate data while indexing blocks 10..35: duplicate key", []),
        ("connection restored", []),
        ("", []),
    ],
    ids=["pg-too-many-clients", "pg-role-limit", "pg-reserved-slots", "pool-exhausted", "pg-refused-libpq",
         "pg-could-not-connect", "node-refused-5432", "db-name-unresolved", "pg-starting-up", "pg-out-of-memory",
         "node-heap", "python-memoryerror", "bare-killed", "kernel-oom-killer", "oom-word", "killed-not-oom",
         "pg-extend-file", "node-enospc", "python-errno-28", "rpc-refused", "rpc-timeout", "eth-method",
         "oracle-stale", "refused-8545", "lag-is-not-a-cause", "duplicate-is-not-a-cause", "recovery-is-not-a-cause",
         "empty"],
)
def test_detect_causes(text, causes):
    assert L.detect_causes(text) == causes


def test_merge_streams_orders_by_docker_time(fixture_text):
    lines = L.merge_streams(fixture_text("logs/ticker.stdout"), fixture_text("logs/ticker.stderr"))
    assert len(lines) == 6
    keys = [L.ts_sort_key(ts) for ts, _body in lines]
    assert keys == sorted(keys)
    # stdout and stderr alternate in the recording: tick N, boom N
    assert [body.split()[-2:] for body in (b for _t, b in lines) if "tick" in body][0][0] == "tick"
    assert [body for _ts, body in lines][1].startswith("boom")


def test_merge_streams_ties_and_fraction_lengths():
    out = "2026-11-28T07:00:00.5Z a\n2026-11-28T07:00:00.123456789Z b\n"
    err = "2026-11-28T07:00:00.5Z c\n2026-11-28T07:00:00Z d\nno timestamp\n"
    assert [body for _ts, body in L.merge_streams(out, err)] == ["no timestamp", "d", "b", "a", "c"]


def test_scan_mixed_formats(fixture_text):
    result = L.scan_docker_logs(fixture_text("logs/mixed_formats.stdout"), fixture_text("logs/mixed_formats.stderr"))
    data = result.as_dict()
    assert data["lines"] == 12
    assert data["by_level"] == {"DEBUG": 1, "INFO": 1, "WARN": 2, "ERROR": 5, "FATAL": 2, "OTHER": 1}
    assert data["error_count"] == 7
    assert sorted(data["causes"]) == ["db_connections_exhausted", "db_unreachable", "disk_full", "out_of_memory", "rpc_failure"]
    assert data["causes"]["db_connections_exhausted"]["count"] == 2
    assert data["causes"]["db_connections_exhausted"]["first_seen"] == "2026-11-28T07:00:02.300000001Z"
    assert data["causes"]["db_connections_exhausted"]["last_seen"] == "2026-11-28T07:00:03.3Z"
    assert "too many clients" in data["causes"]["db_connections_exhausted"]["sample"]
    # the WARN eth_getLogs retry and the ERROR JSON RPC line
    assert data["causes"]["rpc_failure"]["count"] == 2
    assert data["causes"]["out_of_memory"]["count"] == 2
    assert data["first_line_at"] == "2026-11-28T07:00:00.100000000Z"
    assert data["last_line_at"] == "2026-11-28T07:00:10Z"
    assert "crash_on_startup" not in data["causes"]


def test_signatures_group_count_and_bound():
    records = [L.parse_line(f"2026-11-28T07:00:00.000Z ERROR [worker] job {n} failed", n, f"2026-11-28T07:00:{n:02d}Z")
               for n in range(10)]
    records += [L.parse_line(f"2026-11-28T07:00:00.000Z FATAL [worker] unique failure kind {chr(97 + n)}", 10 + n) for n in range(5)]
    result = L.scan_records(records, max_signatures=3)
    assert [(s["signature"], s["count"]) for s in result.signatures][0] == ("job <n> failed", 10)
    assert result.signatures[0]["first_seen"] == "2026-11-28T07:00:00Z"
    assert result.signatures[0]["last_seen"] == "2026-11-28T07:00:09Z"
    assert result.signatures[0]["sample"] == "2026-11-28T07:00:00.000Z ERROR [worker] job 0 failed"
    assert len(result.signatures) == 3
    assert result.signatures_dropped == 3


def test_odd_bytes_and_long_lines(fixture_bytes):
    text = fixture_bytes("logs/odd_bytes.stdout").decode("utf-8", errors="replace")  # as DockerCli.run decodes host output
    result = L.scan_docker_logs(text, "").as_dict()
    assert result["lines"] == 3
    assert result["truncated_lines"] == 1
    assert result["by_level"]["ERROR"] == 3
    samples = [s["sample"] for s in result["signatures"]]
    assert all(len(s) <= L.MAX_SAMPLE_LENGTH for s in samples)
    assert all("\x1b" not in s and "\x00" not in s and "\r" not in s for s in samples)
    assert any(s.startswith("ERROR bad byte \ufffd\ufffd in payload") for s in samples)
    # the cause sits past the parsed length of the 20000-character line: bounded, not found
    assert "disk_full" not in result["causes"]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"running": False, "exit_code": 3, "run_seconds": 0.004, "started_at": "2026-11-28T07:03:10.742753895Z", "whole_log": True}, 2),
        ({"running": False, "exit_code": 3, "run_seconds": 3600.0, "started_at": "2026-11-28T07:03:10.742753895Z", "whole_log": True}, 2),
        ({"running": True, "exit_code": 0, "run_seconds": None, "started_at": "2026-11-28T07:03:10.742753895Z", "whole_log": True}, 0),
        ({"running": False, "exit_code": 0, "run_seconds": 0.004, "started_at": "2026-11-28T07:03:10.742753895Z", "whole_log": True}, 0),
        ({"running": False, "exit_code": 137, "run_seconds": 0.004, "started_at": None, "whole_log": False}, 2),
    ],
    ids=["short-run-failed", "traceback-then-exit", "still-running", "clean-exit", "killed-no-start-known"],
)
def test_crash_on_startup_recorded(fixture_text, context, expected):
    result = L.scan_docker_logs(fixture_text("logs/traceback_exit.stdout"), fixture_text("logs/traceback_exit.stderr"), **context)
    assert result.causes.get("crash_on_startup", {}).get("count", 0) == expected
    assert result.causes["out_of_memory"]["count"] == 1


def test_crash_on_startup_window_of_current_run():
    lines = [f"2026-11-28T07:00:{n:02d}Z 2026-11-28T07:00:{n:02d}.000Z INFO [api] request {n}" for n in range(40)]
    lines += ["2026-11-28T07:00:41Z 2026-11-28T07:00:41.000Z INFO [api] starting",
              "2026-11-28T07:00:42Z 2026-11-28T07:00:42.000Z ERROR [api] config invalid: PORT unset"]
    stdout = "\n".join(lines) + "\n"
    crashed = L.scan_docker_logs(stdout, "", running=False, exit_code=1, run_seconds=1.5,
                                 started_at="2026-11-28T07:00:41Z", whole_log=False)
    assert crashed.causes["crash_on_startup"]["count"] == 1
    assert "config invalid" in crashed.causes["crash_on_startup"]["sample"]
    # the same lines from a run that lasted an hour and ended without an exception: no start-up crash
    long_run = L.scan_docker_logs(stdout, "", running=False, exit_code=1, run_seconds=3600,
                                  started_at="2026-11-28T07:00:41Z", whole_log=False)
    assert "crash_on_startup" not in long_run.causes


def test_combine_causes():
    indexer = L.scan_docker_logs("2026-11-28T07:00:05Z ERROR chain RPC error: Connection refused\n"
                                 "2026-11-28T07:00:09Z ERROR chain RPC error: Connection refused\n", "")
    webapp = L.scan_docker_logs("2026-11-28T07:00:01Z ERROR rpc proxy: 502 bad gateway\n", "")
    db = L.scan_docker_logs("2026-11-28T07:00:00Z LOG: ok\n", "")
    combined = L.combine_causes({"webapp": webapp, "indexer": indexer, "db": db})
    assert combined == {"rpc_failure": {
        "count": 3, "services": ["indexer", "webapp"], "sample": "ERROR chain RPC error: Connection refused",
        "first_seen": "2026-11-28T07:00:01Z", "last_seen": "2026-11-28T07:00:09Z"}}


def test_info_lines_are_not_evidence():
    result = L.scan_docker_logs("2026-11-28T07:00:00Z 2026-11-28T07:00:00.000Z INFO [worker] eth_blockNumber ok, no space left on device check passed\n", "")
    assert result.causes == {}


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("plain", 300, "plain"), ("a\tb", 300, "a b"), ("\x1b[1;31mred\x1b[0m\x07", 300, "red"),
     ("y" * 400, 300, "y" * 297 + "..."), ("ok\x85", 300, "ok")],
    ids=["plain", "tab", "ansi-and-bell", "long", "c1-control"],
)
def test_clean(text, limit, expected):
    assert L.clean(text, limit) == expected


@pytest.mark.parametrize(
    ("recording", "lines", "by_level", "causes", "top"),
    [
        ("logs/sandbox_indexer", 47, {"DEBUG": 0, "INFO": 35, "WARN": 1, "ERROR": 11, "FATAL": 0, "OTHER": 0},
         {"db_connections_exhausted": 6, "rpc_failure": 5},
         ("api", 5, 'health check failed: db: connection to server at "<str>" (<ip>), port <n> failed: '
                    'FATAL: too many connections for role "<str>"')),
        ("logs/sandbox_db", 110, {"DEBUG": 0, "INFO": 10, "WARN": 0, "ERROR": 0, "FATAL": 100, "OTHER": 0},
         {"db_connections_exhausted": 90},
         (None, 85, '<ts> [<n>] usdx@usdx_wexel FATAL: too many connections for role "<str>"')),
    ],
    ids=["sandbox-indexer-db-connections-then-rpc-down", "sandbox-postgres-db-connections"],
)
def test_scan_recorded_sandbox_logs(fixture_text, recording, lines, by_level, causes, top):
    """Recorded from the sandbox after the db-connections and rpc-down faults (sandbox.sh fault ...)."""
    result = L.scan_docker_logs(fixture_text(recording + ".stdout"), fixture_text(recording + ".stderr")).as_dict()
    assert result["lines"] == lines
    assert result["by_level"] == by_level
    assert {name: evidence["count"] for name, evidence in result["causes"].items()} == causes
    first = result["signatures"][0]
    assert (first["component"], first["count"], first["signature"]) == top


# Lines a hostile or broken program can print: each repeats what a pattern keys on, many times over.
PATHOLOGICAL = {
    "db-without-refused": "db " * 400_000,
    "pool-without-exhausted": "pool " * 250_000,
    "rpc-without-failure": "rpc oracle " * 100_000,
    "open-quotes": '"\\' * 500_000 + "x",
    "dotted-exception-name": "A." * 500_000 + "Errorx",
    "hex-run": "a" * 1_000_000,
    "logfmt-keys": " level=" * 150_000,
    "control-bytes-and-invalid-utf8": ("\x00\x1b[31m\ufffd\x85" * 200_000),
}


def test_regexes_only_ever_see_a_capped_line(monkeypatch):
    seen = []
    for name in ("detect_causes", "normalise"):
        original = getattr(L, name)
        monkeypatch.setattr(L, name, lambda text, _f=original: seen.append(len(text)) or _f(text))
    line = "2026-11-28T07:00:00Z ERROR [api] too many connections " + "x" * 100_000
    result = L.scan_docker_logs(line + "\n", "", max_signatures=5)
    assert result.truncated_lines == 1 and result.causes["db_connections_exhausted"]["count"] == 1
    assert seen and max(seen) <= L.MAX_LINE_LENGTH
    record = L.parse_line("y" * 100_000)
    assert record.truncated is True and len(record.raw) == L.MAX_LINE_LENGTH


@pytest.mark.parametrize("line", list(PATHOLOGICAL.values()), ids=list(PATHOLOGICAL))
def test_pathological_lines_are_scanned(line):
    """Two hundred such lines are scanned (a guard against a pattern that backtracks over the whole line, which
    would take hours here; speed itself is measured in bench/, not here)."""
    text = "".join(f"2026-11-28T07:00:{i % 60:02d}.000000000Z {line[:8192]}\n" for i in range(200))
    result = L.scan_docker_logs(text, "ERROR " + line + "\n")
    assert result.lines == 201 and result.truncated_lines == 201
    assert all(len(s["sample"]) <= L.MAX_SAMPLE_LENGTH for s in result.signatures)
    assert all("\x00" not in s["sample"] and "\x1b" not in s["sample"] for s in result.signatures)
