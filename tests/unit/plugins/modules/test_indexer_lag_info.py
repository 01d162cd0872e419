# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import io
import json
import math
import types
from urllib.error import HTTPError, URLError

import pytest

from ansible_collections.usdx.incident.plugins.modules import indexer_lag_info
from ansible_collections.usdx.incident.plugins.module_utils import _http, _indexer_lag
from ansible_collections.usdx.incident.plugins.module_utils._indexer_lag import classify, eta, rate

RPC = "http://127.0.0.1:58545"
METRICS = "http://127.0.0.1:3001/metrics"
GENESIS = 1_795_000_000


class Answer:
    """What open_url returns: a status, headers and a body read like a socket file."""

    def __init__(self, url, status, body, content_type="application/json"):
        self.url, self.status, self.fp = url, status, io.BytesIO(body)
        self.headers = {"Content-Type": content_type}
        self.read1 = self.read = self.fp.read

    def getcode(self):
        return self.status

    def geturl(self):
        return self.url

    def close(self):
        self.fp.close()


class World:
    """A chain and an indexer on a fake clock; answers open_url like the sandbox does."""

    def __init__(self, head=1000, indexed=990, chain_rate=1.0, index_rate=1.0, rpc_down=False, metrics_down=False,
                 metrics_status=200, paused=0, rpc_error=None, metrics_text=None, block_missing=False, rpc_body=None,
                 rate_metric=None):
        self.clock = 100.0
        self.head0, self.indexed0 = head, indexed
        self.chain_rate, self.index_rate = chain_rate, index_rate
        self.rpc_down, self.metrics_down, self.metrics_status = rpc_down, metrics_down, metrics_status
        self.paused, self.rpc_error, self.metrics_text, self.block_missing = paused, rpc_error, metrics_text, block_missing
        self.rpc_body, self.rate_metric = rpc_body, rate_metric
        self.requests = []

    def head(self):
        return int(self.head0 + self.chain_rate * (self.clock - 100.0))

    def indexed(self):
        return min(self.head(), int(self.indexed0 + self.index_rate * (self.clock - 100.0)))

    def open_url(self, url, data=None, headers=None, method=None, timeout=None, validate_certs=True, follow_redirects=None):
        self.requests.append((url, method, json.loads(data) if data else None, timeout, validate_certs))
        self.clock += 0.001
        if url == RPC:
            if self.rpc_down:
                raise URLError(ConnectionRefusedError(111, "Connection refused"))
            call = json.loads(data)
            if self.rpc_body is not None:
                return Answer(url, 200, self.rpc_body(call) if callable(self.rpc_body) else self.rpc_body)
            if self.rpc_error:
                body = {"jsonrpc": "2.0", "id": call["id"], "error": {"code": -32000, "message": self.rpc_error}}
            elif call["method"] == "eth_blockNumber":
                body = {"jsonrpc": "2.0", "id": call["id"], "result": hex(self.head())}
            else:
                number = int(call["params"][0], 16)
                block = None if self.block_missing else {"number": hex(number), "timestamp": hex(GENESIS + number)}
                body = {"jsonrpc": "2.0", "id": call["id"], "result": block}
            return Answer(url, 200, json.dumps(body).encode())
        if url == METRICS:
            if self.metrics_down:
                raise URLError(ConnectionRefusedError(111, "Connection refused"))
            if self.metrics_status != 200:
                raise HTTPError(url, self.metrics_status, "Internal Server Error", {}, io.BytesIO(b""))
            text = self.metrics_text if self.metrics_text is not None else (
                f"# TYPE usdx_indexer_last_indexed_block gauge\n"
                f"usdx_indexer_last_indexed_block {self.indexed()}\n"
                f"usdx_indexer_chain_head_block {self.head()}\n"
                f"usdx_indexer_lag_blocks {self.head() - self.indexed()}\n"
                f"usdx_indexer_lag_seconds {float(self.head() - self.indexed()) + 0.5}\n"
                f"usdx_indexer_paused {self.paused}\nusdx_maintenance_mode 0\n")
            if self.rate_metric is not None:
                text += self.rate_metric
            return Answer(url, 200, text.encode(), "text/plain")
        raise AssertionError(url)


@pytest.fixture
def world(monkeypatch):
    def make(**kwargs):
        w = World(**kwargs)
        monkeypatch.setattr(_http, "open_url", w.open_url)

        def sleep(seconds):
            w.clock += seconds
        monkeypatch.setattr(_indexer_lag, "time", types.SimpleNamespace(monotonic=lambda: w.clock, sleep=sleep))
        return w
    return make


def _run(run_module, **args):
    return run_module(indexer_lag_info.main, {"rpc_url": RPC, "metrics_url": METRICS, **args})


def test_healthy_needs_no_sample(run_module, world):
    w = world(head=1000, indexed=998)
    result = _run(run_module)
    assert result["changed"] is False and result["timed_out"] is False and "partial" not in result
    assert result["status"] == "ok" and result["eta_seconds"] == 0
    assert (result["chain_head_block"], result["last_indexed_block"], result["lag_blocks"]) == (1000, 998, 2)
    assert result["lag_seconds"] == 2.0 and result["lag_source"] == "rpc"
    # Within the normal lag the rate decides nothing: no sample; the chain's rate comes from block timestamps.
    assert result["sample"] == {"seconds": 0.0, "indexed_blocks_per_second": None, "chain_blocks_per_second": 1.0,
                                "indexed_rate_source": None, "chain_rate_source": "block_timestamps"}
    assert w.clock < 101
    assert result["rpc"]["reachable"] is True and result["rpc"]["error"] is None and result["rpc"]["timed_out"] is False
    assert result["rpc"]["head_timestamp"] == GENESIS + 1000
    assert result["indexer"]["reachable"] is True and result["indexer"]["paused"] is False
    assert result["indexer"]["status_code"] == 200
    methods = [r[2]["method"] for r in w.requests if r[2]]
    assert methods == ["eth_blockNumber"] + ["eth_getBlockByNumber"] * 3
    assert sorted(int(r[2]["params"][0], 16) for r in w.requests if r[2] and r[2]["params"]) == [990, 998, 1000]
    assert all(r[3] == 5 for r in w.requests)


@pytest.mark.parametrize(
    ("metrics", "chain_source", "catch_up"),
    [
        ("usdx_indexer_indexed_blocks_per_second 0.0\n", "block_timestamps", -1.0),
        ("usdx_indexer_indexed_blocks_per_second 0\nusdx_indexer_chain_blocks_per_second 2.5\n", "metrics", -2.5),
        ("usdx_indexer_indexed_blocks_per_second 0\nusdx_indexer_chain_blocks_per_second NaN\n", "block_timestamps", -1.0),
    ],
    ids=["indexed-rate", "both-rates", "chain-rate-unknown"],
)
def test_rates_from_the_indexers_metrics_replace_the_sample(run_module, world, metrics, chain_source, catch_up):
    w = world(head=1000, indexed=900, index_rate=0.0, rate_metric=metrics)
    result = _run(run_module, sample_seconds=4)
    assert result["status"] == "stalled" and w.clock < 101
    assert result["sample"]["indexed_rate_source"] == "metrics" and result["sample"]["seconds"] == 0.0
    assert result["sample"]["chain_rate_source"] == chain_source
    assert result["catch_up_blocks_per_second"] == catch_up and result["indexer"]["indexed_blocks_per_second"] == 0.0


def test_a_nan_rate_metric_means_unknown_and_samples(run_module, world):
    w = world(head=1000, indexed=900, index_rate=0.0, rate_metric="usdx_indexer_indexed_blocks_per_second NaN\n")
    result = _run(run_module, sample_seconds=2)
    assert result["sample"]["indexed_rate_source"] == "sample" and w.clock >= 102 and result["status"] == "stalled"


def test_lag_samples_when_the_metrics_give_no_rate(run_module, world):
    w = world(head=1000, indexed=900, index_rate=3.0)
    result = _run(run_module, sample_seconds=2)
    assert result["status"] == "lagging" and w.clock >= 102
    assert result["sample"]["indexed_rate_source"] == "sample" and result["sample"]["chain_rate_source"] == "sample"
    assert result["catch_up_blocks_per_second"] == pytest.approx(2.0, abs=0.05)


def test_stalled_indexer(run_module, world):
    world(head=1000, indexed=950, index_rate=0.0)
    result = _run(run_module)
    assert result["status"] == "stalled"
    assert result["lag_blocks"] == 52 and result["lag_seconds"] == 52.0
    assert result["catch_up_blocks_per_second"] == pytest.approx(-1.0, abs=0.01)
    assert result["eta_seconds"] is None


def test_lagging_but_catching_up(run_module, world):
    world(head=1000, indexed=800, index_rate=11.0)
    result = _run(run_module, sample_seconds=4)
    assert result["status"] == "lagging"
    assert result["catch_up_blocks_per_second"] == pytest.approx(10.0, abs=0.05)
    assert result["lag_blocks"] == 1004 - 844
    assert result["eta_seconds"] == math.ceil(result["lag_blocks"] / result["catch_up_blocks_per_second"]) == 17
    assert result["sample"]["seconds"] == pytest.approx(4.0, abs=0.01)


def test_paused_indexer_is_stalled_without_a_sample(run_module, world):
    world(head=1000, indexed=900, paused=1)
    result = _run(run_module, sample_seconds=0)
    assert result["status"] == "stalled" and result["indexer"]["paused"] is True
    assert result["catch_up_blocks_per_second"] is None and result["sample"]["indexed_blocks_per_second"] is None


def test_no_sample_reports_lagging(run_module, world):
    world(head=1000, indexed=900, index_rate=0.0)
    result = _run(run_module, sample_seconds=0)
    assert result["status"] == "lagging" and result["sample"]["seconds"] == 0.0


def test_rpc_down(run_module, world):
    world(head=1000, indexed=980, rpc_down=True, index_rate=0.0)
    result = _run(run_module)
    assert result["status"] == "rpc_unreachable"
    assert result["rpc"] == {"url": RPC, "reachable": False, "latency_ms": None, "head_timestamp": None,
                             "error": "Request failed: [Errno 111] Connection refused", "timed_out": False}
    assert "partial" not in result
    assert result["indexer"]["reachable"] is True
    # Without the chain head the status is known at once: no sample is taken.
    assert (result["lag_blocks"], result["lag_source"], result["lag_seconds"]) == (20, "metric", 20.5)
    assert result["sample"]["seconds"] == 0.0
    assert result["chain_head_block"] is None and result["catch_up_blocks_per_second"] is None


def test_rpc_error_answer(run_module, world):
    world(rpc_error="header not found")
    result = _run(run_module, sample_seconds=0)
    assert result["status"] == "rpc_unreachable"
    assert result["rpc"]["error"] == "eth_blockNumber: the RPC answered an error: header not found"
    assert result["partial"] == ["the chain head could not be read from the answer: " + result["rpc"]["error"]]


def test_indexer_down(run_module, world):
    world(metrics_down=True)
    result = _run(run_module)
    assert result["status"] == "indexer_unreachable"
    assert result["indexer"]["reachable"] is False and result["indexer"]["status_code"] is None
    assert result["indexer"]["error"] == "Request failed: [Errno 111] Connection refused"
    assert result["rpc"]["reachable"] is True and result["rpc"]["latency_ms"] is not None
    assert result["lag_blocks"] is None and result["lag_source"] is None and result["eta_seconds"] is None


def test_metrics_http_error(run_module, world):
    world(metrics_status=500)
    result = _run(run_module, sample_seconds=0)
    assert result["status"] == "indexer_unreachable"
    assert (result["indexer"]["status_code"], result["indexer"]["error"]) == (500, "HTTP Error 500: Internal Server Error")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("usdx_other 1\n", "usdx_indexer_last_indexed_block is missing from the metrics"),
        ("usdx_indexer_last_indexed_block NaN\n", "usdx_indexer_last_indexed_block is missing from the metrics"),
        ("usdx_indexer_last_indexed_block{ 1\n", "cannot parse the metrics: line 1"),
    ],
    ids=["missing", "nan", "garbage"],
)
def test_unusable_metrics(run_module, world, text, error):
    world(metrics_text=text)
    result = _run(run_module, sample_seconds=0)
    assert result["status"] == "indexer_unreachable"
    assert result["indexer"]["error"].startswith(error)
    assert result["indexer"]["status_code"] == 200
    assert result["partial"] == ["the indexer's metrics could not be read from the answer: " + result["indexer"]["error"]]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"jsonrpc": "2.0", "id": 1, "result": null}', "eth_blockNumber's result is not a hex quantity: None"),
        (b'{"jsonrpc": "2.0", "id": 1, "result": 1002}', "eth_blockNumber's result is not a hex quantity: 1002"),
        (b'{"jsonrpc": "2.0", "id": 1, "result": "0xzz"}', "eth_blockNumber's result is not a hex quantity: '0xzz'"),
        (b'{"jsonrpc": "2.0", "id": 1, "result": {"a": [1]}}', "eth_blockNumber's result is not a hex quantity: {'a': [1]}"),
        (b'{"jsonrpc": "2.0", "id": 1, "error": "overloaded"}', "eth_blockNumber: the RPC answered an error: overloaded"),
        (b'{"jsonrpc": "2.0", "id": 1, "error": [1, 2]}', "eth_blockNumber: the RPC answered an error: [1, 2]"),
        (b'{"jsonrpc": "2.0", "id": 1}', "eth_blockNumber: the answer has no result"),
        (b"[1, 2, 3]", "eth_blockNumber: the answer is not a JSON-RPC object: b'[1, 2, 3]'"),
        (b"null", "eth_blockNumber: the answer is not a JSON-RPC object: b'null'"),
        (b"<html><body>502 Bad Gateway</body></html>", "eth_blockNumber: the answer is not JSON: b'<html>"),
        (b"\xff\xfe\x00garbage", "eth_blockNumber: the answer is not JSON: b'\\xff\\xfe"),
        (b"", "eth_blockNumber: the answer is not JSON: b''"),
    ],
    ids=["null-result", "number", "bad-hex", "object", "error-string", "error-list", "no-result", "list", "null", "html",
         "binary", "empty"],
)
def test_rpc_answers_of_any_shape_are_reported_not_crashed_on(run_module, world, body, error):
    world(rpc_body=body)
    result = _run(run_module)
    assert result["status"] == "rpc_unreachable" and "failed" not in result
    assert result["rpc"]["reachable"] is False and result["rpc"]["error"].startswith(error)
    assert result["partial"] == ["the chain head could not be read from the answer: " + result["rpc"]["error"]]
    assert result["indexer"]["reachable"] is True


@pytest.mark.parametrize(
    "block",
    [{"number": "0x1"}, {"timestamp": None}, {"timestamp": 12}, "0x10", [1]],
    ids=["no-timestamp", "null-timestamp", "number-timestamp", "string", "list"],
)
def test_odd_blocks_fall_back_to_the_metric_and_say_so(run_module, world, block):
    def answer(call):
        result = hex(1000) if call["method"] == "eth_blockNumber" else block
        return json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": result}).encode()
    world(head=1000, indexed=990, rpc_body=answer)
    result = _run(run_module, sample_seconds=0)
    assert result["status"] == "ok" and result["lag_seconds"] == 10.5
    assert result["rpc"]["head_timestamp"] is None and result["sample"]["chain_blocks_per_second"] is None
    assert len(result["partial"]) == 1 and result["partial"][0].startswith("block timestamps not read")


def test_credentials_in_urls_never_reach_the_result(run_module, world, monkeypatch):
    secret_url = "https://user:hunter2@rpc.example.com/v3/0123456789abcdef0123456789abcdef?apikey=s3cr3tkey"

    def refused(url, **_kwargs):
        raise URLError(f"cannot reach {url}")
    world()
    monkeypatch.setattr(_http, "open_url", refused)
    result = _run(run_module, rpc_url=secret_url, metrics_url=secret_url)
    text = json.dumps(result)
    for secret in ("hunter2", "0123456789abcdef0123456789abcdef", "s3cr3tkey"):
        assert secret not in text
    assert result["rpc"]["url"] == "https://********@rpc.example.com/v3/********?apikey=********"
    assert "rpc.example.com" in result["rpc"]["error"]


def test_the_probe_keeps_its_deadline(run_module, world, monkeypatch):
    w = world(head=1000, indexed=900)

    def slow(url, timeout=None, **_kwargs):
        w.clock += timeout
        raise URLError("timed out")
    monkeypatch.setattr(_http, "open_url", slow)
    result = _run(run_module, timeout=2, sample_seconds=3)
    assert result["timed_out"] is True and result["rpc"]["timed_out"] is True and result["indexer"]["timed_out"] is True
    assert result["status"] == "rpc_unreachable"
    assert w.clock - 100 <= _indexer_lag.deadline_seconds({"timeout": 2, "sample_seconds": 3}) + 0.1


def test_recorded_metrics(run_module, world, fixture_text):
    world(head=209, metrics_text=fixture_text("indexer/metrics_healthy.prom"), chain_rate=0.0)
    result = _run(run_module, sample_seconds=0)
    assert result["status"] == "ok" and result["last_indexed_block"] == 209 and result["lag_blocks"] == 0
    assert result["indexer"]["lag_seconds"] == 0.467 and result["eta_seconds"] == 0


def test_missing_block_timestamps_fall_back_to_the_metric(run_module, world):
    world(head=1000, indexed=990, block_missing=True)
    result = _run(run_module, sample_seconds=0)
    assert result["lag_seconds"] == 10.5 and result["lag_source"] == "rpc" and "partial" not in result


@pytest.mark.parametrize(
    ("rpc_ok", "indexed", "lag", "rate_", "paused", "status"),
    [
        (True, 100, 0, None, False, "ok"),
        (True, 100, 10, 0.0, False, "ok"),
        (True, 100, 11, 0.0, False, "stalled"),
        (True, 100, 11, 2.0, False, "lagging"),
        (True, 100, 11, None, False, "lagging"),
        (True, 100, 11, None, True, "stalled"),
        (True, None, None, None, None, "indexer_unreachable"),
        (False, 100, 11, 0.0, False, "rpc_unreachable"),
        (False, None, None, None, None, "rpc_unreachable"),
    ],
    ids=["no-lag", "at-threshold", "stalled", "lagging", "lagging-no-sample", "paused", "indexer-down", "rpc-down", "both-down"],
)
def test_classify(rpc_ok, indexed, lag, rate_, paused, status):
    assert classify(rpc_ok, indexed, lag, 10, rate_, paused) == status


@pytest.mark.parametrize(
    ("lag", "catch_up", "expected"),
    [(0, None, 0), (5, -1.0, 0), (10, None, 0), (100, 10.0, 10), (101, 10.0, 11), (100, 0.0, None), (100, -1.0, None),
     (100, None, None), (None, 5.0, None)],
    ids=["no-lag", "normal-lag-falling-behind", "at-threshold", "exact", "rounds-up", "not-catching-up", "falling-behind",
         "no-rate", "no-lag-known"],
)
def test_eta(lag, catch_up, expected):
    assert eta(lag, catch_up, 10) == expected


def test_rate():
    assert rate((0.0, 10), (2.0, 14)) == 2.0
    assert rate(None, (2.0, 14)) is None
    assert rate((2.0, 10), (2.0, 14)) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"rpc_url": "ftp://x"}, "rpc_url='ftp://x' is not supported: accepted values are http:// or https:// URLs"),
        ({"metrics_url": "localhost:3001"}, "metrics_url='localhost:3001' is not supported"),
        ({"sample_seconds": -1}, "sample_seconds=-1.0 is out of range: accepted values are 0 to 300"),
        ({"sample_seconds": 301}, "sample_seconds=301.0 is out of range"),
        ({"timeout": 0}, "timeout=0.0 is out of range: accepted values are > 0"),
        ({"max_lag_blocks": -1}, "max_lag_blocks=-1 is negative"),
        ({"wait_seconds": -1}, "wait_seconds=-1.0 is out of range: accepted values are 0 to 3600"),
        ({"wait_seconds": 3601}, "wait_seconds=3601.0 is out of range"),
        ({"ping_service": ""}, "ping_service='' is not a service name"),
        ({"ping_service": "indexer", "ping_command": []}, "ping_command=[] is empty"),
        ({"ping_service": "indexer", "ping_timeout": 0}, "ping_timeout=0.0 is out of range: accepted values are > 0"),
        ({"check_blocks": True, "statement_timeout": 0}, "statement_timeout=0 is out of range: accepted values are 1 to 600"),
    ],
    ids=["rpc-scheme", "metrics-no-scheme", "negative-sample", "long-sample", "zero-timeout", "negative-threshold",
         "negative-wait", "long-wait", "empty-ping-service", "empty-ping-command", "zero-ping-timeout",
         "zero-statement-timeout"],
)
def test_bad_options_fail_naming_the_value(run_module, world, args, message):
    world()
    result = _run(run_module, **args)
    assert result["failed"] is True and message in result["msg"]


def test_the_probe_ends_before_the_callers_deadline(world, monkeypatch):
    w = world(head=1000, indexed=900)

    def slow(url, timeout=None, **_kwargs):
        # Requests run side by side: each ends `timeout` after it started, they do not add up.
        w.clock = max(w.clock, started + timeout)
        raise URLError("timed out")
    started = w.clock
    monkeypatch.setattr(_http, "open_url", slow)
    module = types.SimpleNamespace(deadline=w.clock + 1.5, warn=lambda _msg: None)
    params = {"rpc_url": RPC, "metrics_url": METRICS, "sample_seconds": 2, "timeout": 5, "max_lag_blocks": 10,
              "validate_certs": True}
    result = _indexer_lag.LagProbe(module, params).run()
    assert result["timed_out"] is True and w.clock <= module.deadline


# ------------------------------------------------------------------ wait_seconds: one poll of a catch-up


def test_wait_ends_at_the_first_reading_within_the_threshold(run_module, world):
    """Catching up at 10 blocks/s from 20 behind: within 10 after about a second, not after the 5 s asked for."""
    w = world(head=1000, indexed=980, index_rate=11.0)
    result = _run(run_module, wait_seconds=5, sample_seconds=2)
    assert result["status"] == "ok" and result["lag_blocks"] <= 10
    assert 100.75 <= w.clock < 101.6, w.clock


def test_wait_within_the_threshold_at_once_reads_once(run_module, world):
    w = world(head=1000, indexed=998)
    result = _run(run_module, wait_seconds=5)
    assert result["status"] == "ok" and w.clock < 100.1
    assert sum(1 for r in w.requests if r[0] == METRICS) == 1


def test_a_wait_that_runs_out_reports_the_last_reading_with_the_wait_as_its_sample(run_module, world):
    """Catching up at 2 blocks/s from 100 behind: the 3 s wait ends lagging, its readings give the rate, and no
    sample_seconds pause is added after it."""
    w = world(head=1000, indexed=900, index_rate=3.0)
    result = _run(run_module, wait_seconds=3, sample_seconds=2)
    assert result["status"] == "lagging"
    assert 102.75 <= w.clock < 103.2, w.clock
    assert result["sample"]["indexed_rate_source"] == "sample"
    assert result["sample"]["seconds"] == pytest.approx(3.0, abs=0.3)
    assert result["catch_up_blocks_per_second"] == pytest.approx(2.0, abs=0.5)
    assert result["lag_blocks"] == w.head() - w.indexed()


def test_wait_goes_on_through_an_indexer_that_does_not_answer_yet(run_module, world, monkeypatch):
    """Right after a restart the metrics refuse connections for a while: a reading without them is not the end."""
    w = world(head=1000, indexed=995, metrics_down=True)

    def sleep(seconds):
        w.clock += seconds
        w.metrics_down = w.clock < 101.0
    monkeypatch.setattr(_indexer_lag.time, "sleep", sleep)
    result = _run(run_module, wait_seconds=5)
    assert result["status"] == "ok" and result["indexer"]["reachable"] is True
    assert 101.0 <= w.clock < 101.3, w.clock


def test_wait_is_within_the_deadline(run_module, world):
    w = world(head=1000, indexed=900, index_rate=0.0)
    result = _run(run_module, wait_seconds=4, sample_seconds=0, timeout=1)
    assert result["status"] == "lagging"
    assert w.clock - 100 <= _indexer_lag.deadline_seconds({"timeout": 1, "sample_seconds": 0, "wait_seconds": 4})


# ------------------------------------------------------------------ ping_service: the runbook's rpc:ping

INDEXER_ID = "a" * 64
PING_OK = '{"ok": true, "url": "http://chain:8545", "chain_id": 31337, "block_number": 935, "latency_ms": 3.7}\n'


def _inspect(*containers: tuple[str, bool]) -> str:
    return json.dumps([{"Id": cid, "Name": f"/usdx-wexel-indexer-{n}", "State": {"Running": running},
                        "Config": {"Labels": {"com.docker.compose.service": "indexer"}}}
                       for n, (cid, running) in enumerate(containers, 1)])


def _indexers(fake_docker, *containers, exec_answer=(0, PING_OK, "")):
    ids = "".join(cid + "\n" for cid, _running in containers)
    return fake_docker({("ps",): (0, ids, ""), ("container", "inspect"): (0, _inspect(*containers), ""),
                        ("exec",): exec_answer})


def test_rpc_ping_runs_in_the_running_indexer_beside_the_lag(run_module, world, fake_docker):
    world(head=1000, indexed=998)
    fake = _indexers(fake_docker, ("b" * 64, False), (INDEXER_ID, True))
    result = _run(run_module, ping_service="indexer", project_name="usdx-wexel")
    assert result["status"] == "ok"
    ping = result["rpc_ping"]
    assert ping == {"service": "indexer", "container": INDEXER_ID, "command": ["npm", "run", "--silent", "rpc:ping"],
                    "rc": 0, "stdout": PING_OK, "stderr": "", "error": None, "timed_out": False}
    assert fake.called("exec") == [["/usr/bin/docker", "exec", INDEXER_ID, "npm", "run", "--silent", "rpc:ping"]]
    assert "label=com.docker.compose.project=usdx-wexel" in fake.called("ps")[0]


def test_rpc_ping_that_reports_the_rpc_down_is_an_answer(run_module, world, fake_docker):
    world(rpc_down=True)
    down = '{"ok": false, "url": "http://user:hunter2@chain:8545", "error": "Connection refused"}\n'
    _indexers(fake_docker, (INDEXER_ID, True), exec_answer=(1, down, ""))
    result = _run(run_module, ping_service="indexer")
    assert result["status"] == "rpc_unreachable"
    assert result["rpc_ping"]["rc"] == 1 and result["rpc_ping"]["error"] is None
    assert "hunter2" not in json.dumps(result) and '"ok": false' in result["rpc_ping"]["stdout"]


@pytest.mark.parametrize(
    ("containers", "error"),
    [
        ((), "0 running containers of service 'indexer' in compose project 'usdx-wexel': rpc:ping runs in exactly one"),
        (((INDEXER_ID, False),), "0 running containers of service 'indexer'"),
        (((INDEXER_ID, True), ("b" * 64, True)), "2 running containers of service 'indexer'"),
    ],
    ids=["none", "stopped", "two"],
)
def test_rpc_ping_runs_nothing_without_exactly_one_running_container(run_module, world, fake_docker, containers, error):
    world(head=1000, indexed=998)
    fake = _indexers(fake_docker, *containers)
    result = _run(run_module, ping_service="indexer")
    assert result["status"] == "ok" and "failed" not in result
    assert result["rpc_ping"]["rc"] is None and result["rpc_ping"]["container"] is None
    assert result["rpc_ping"]["error"].startswith(error), result["rpc_ping"]["error"]
    assert fake.called("exec") == []


def test_rpc_ping_killed_at_its_deadline_is_reported(run_module, world, fake_docker):
    world(head=1000, indexed=998)
    _indexers(fake_docker, (INDEXER_ID, True), exec_answer=(-9, "", "", True))
    result = _run(run_module, ping_service="indexer", ping_timeout=1)
    ping = result["rpc_ping"]
    assert ping["rc"] is None and ping["timed_out"] is True and "did not finish by its deadline" in ping["error"]
    assert result["status"] == "ok"


def test_rpc_ping_a_docker_that_fails_is_reported(run_module, world, fake_docker):
    world(head=1000, indexed=998)
    fake_docker({("ps",): (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n")})
    result = _run(run_module, ping_service="indexer")
    assert result["rpc_ping"]["rc"] is None and "Cannot connect to the Docker daemon" in result["rpc_ping"]["error"]


def test_without_ping_service_no_docker_call(run_module, world, fake_docker):
    world(head=1000, indexed=998)
    fake = fake_docker({})
    result = _run(run_module)
    assert "rpc_ping" not in result and fake.calls == []


# ------------------------------------------------------------------ check_blocks: the indexed blocks, once caught up

SECRET = "sandbox-superuser-pw"
BLOCKS = {"count": 1000, "distinct_numbers": 1000, "distinct_hashes": 1000, "min": 1, "max": 1000, "gaps": []}
DB_INSPECT = json.dumps([{"Id": "dbcid", "Name": "/usdx-wexel-db-1", "State": {"Running": True},
                          "Config": {"Labels": {"com.docker.compose.service": "db"}}}])


def _db(fake_docker, psql_answer):
    return fake_docker({("ps",): (0, "dbcid\n", ""), ("container", "inspect"): (0, DB_INSPECT, ""), ("exec",): psql_answer})


def _blocks(run_module, **args):
    return _run(run_module, check_blocks=True, connect_via="container", login_password=SECRET, **args)


def test_blocks_read_once_the_lag_is_within_the_threshold(run_module, world, fake_docker):
    world(head=1000, indexed=998)
    fake = _db(fake_docker, (0, json.dumps(BLOCKS) + "\n", ""))
    result = _blocks(run_module, statement_timeout=30)
    assert result["status"] == "ok" and result["blocks"] == BLOCKS
    (argv, kwargs), = [(a, k) for a, k in fake.calls if a[1] == "exec"]
    assert "FROM blocks" in kwargs["data"] and "lead(number) OVER (ORDER BY number)" in kwargs["data"]
    assert kwargs["environ_update"]["PGOPTIONS"] == "-c statement_timeout=30000 -c default_transaction_read_only=on"
    assert SECRET not in json.dumps(result)


def test_blocks_not_read_while_the_indexer_is_behind(run_module, world, fake_docker):
    world(head=1000, indexed=900, index_rate=0.0)
    fake = _db(fake_docker, (0, json.dumps(BLOCKS), ""))
    result = _blocks(run_module, sample_seconds=0)
    assert result["status"] == "lagging" and result["blocks"] is None
    assert fake.calls == []


def test_blocks_read_after_a_wait_that_ends_within_the_threshold(run_module, world, fake_docker):
    w = world(head=1000, indexed=980, index_rate=11.0)
    fake = _db(fake_docker, (0, json.dumps(BLOCKS), ""))
    result = _blocks(run_module, wait_seconds=5)
    assert result["status"] == "ok" and result["blocks"] == BLOCKS and w.clock < 101.6
    assert len(fake.called("exec")) == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ((2, "", f'psql: error: connection to server on socket "/s" failed: FATAL:  password {SECRET} rejected\n'),
         "FATAL:  password ******** rejected"),
        ((3, "", 'psql:<stdin>:9: ERROR:  relation "blocks" does not exist\n'), 'relation "blocks" does not exist'),
        ((0, "[1, 2]", ""), "the blocks query answered no JSON object"),
    ],
    ids=["refused", "no-table", "not-an-object"],
)
def test_blocks_that_cannot_be_read_are_an_error_not_figures(run_module, world, fake_docker, answer, error):
    world(head=1000, indexed=998)
    _db(fake_docker, answer)
    result = _blocks(run_module)
    assert "failed" not in result and result["status"] == "ok"
    assert set(result["blocks"]) == {"error", "timed_out"} and error in result["blocks"]["error"], result["blocks"]
    assert SECRET not in json.dumps(result)


def test_without_check_blocks_no_database_call(run_module, world, fake_docker):
    world(head=1000, indexed=998)
    fake = fake_docker({})
    result = _run(run_module, connect_via="container")
    assert "blocks" not in result and fake.calls == []
