# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""smoke_test_info: the critical paths judged over answers recorded on the sandbox (tests/tools/record_smoke.py),
and over answers made up to be broken in the ways a recording cannot catch."""

from __future__ import annotations

import json
import math
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _http, _smoke
from ansible_collections.usdx.incident.plugins.module_utils._prometheus import parse_text
from ansible_collections.usdx.incident.plugins.modules import smoke_test_info

ADDRESS = "0x5af3107a4000a11ce5af3107a4000a11ce5af310"


def recorded(fixture_text: t.Callable[[str], str], state: str) -> dict[str, t.Any]:
    return json.loads(fixture_text(f"smoke/{state}.json"))


class Replay:
    """Answers the worker's requests from a recording, in order, and checks each request is the one recorded.
    Its clock advances by each answer's recorded time and by every sleep, so deadlines behave as they did."""

    def __init__(self, exchanges: list[dict[str, t.Any]]) -> None:
        self.exchanges = list(exchanges)
        self.now = 1000.0
        self.sent: list[tuple[str, str, t.Any]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def fetch(self, url: str, timeout: float, **kwargs: t.Any) -> _http.HttpResult:
        assert timeout > 0, "a request was made with no time left"
        payload = json.loads(kwargs["data"]) if kwargs.get("data") else None
        self.sent.append((kwargs.get("method", "GET"), url, payload))
        assert self.exchanges, f"a request that was not recorded: {url}"
        ex = self.exchanges.pop(0)
        assert (kwargs.get("method", "GET"), url, payload) == (ex["method"], ex["url"], ex["payload"])
        self.now += ex["elapsed"]
        return _http.HttpResult(url=url, status=ex["status"], headers={"Content-Type": ex["content_type"]} if ex["content_type"] else {},
                                body=ex["body"].encode(), truncated=ex["truncated"], error=ex["error"], elapsed=ex["elapsed"],
                                timed_out=ex["timed_out"])


def replay(doc: dict[str, t.Any], check_mode: bool = False, **params: t.Any) -> tuple[dict[str, t.Any], Replay]:
    answers = Replay(doc["exchanges"])
    result = _smoke.SmokeTest({**doc["params"], **params}, check_mode, fetch=answers.fetch, clock=answers.clock,
                              sleep=answers.sleep).run()
    return result, answers


# --- recorded on the sandbox -----------------------------------------------------------------------------------
def test_healthy_stack_passes_every_path_with_evidence(fixture_text):
    doc = recorded(fixture_text, "healthy")
    result, answers = replay(doc)
    assert not answers.exchanges, "every recorded request was made"
    assert result["passed"] is True and result["failures"] == [] and result["not_run"] == []
    assert result["changed"] is True, "a deposit was submitted: the chain changed"
    assert {name: path["status"] for name, path in result["paths"].items()} == {"wallet": "passed", "deposit": "passed", "marketplace": "passed"}
    wallet = result["paths"]["wallet"]["evidence"]
    assert wallet[0].startswith("GET / 200") and wallet[1] == "JSON-RPC eth_chainId: 31337"
    assert wallet[2].startswith("GET /api/wallet/0x5af3107a...f310 200: balance ")
    deposit = result["paths"]["deposit"]
    assert deposit["evidence"][-1].startswith(f"GET /api/deposits/{_smoke.short(result['deposit']['tx_hash'])} 200 after ")
    assert [r["status"] for r in deposit["requests"]][-1] == 200 and set(r["status"] for r in deposit["requests"][1:-1]) <= {404}
    assert result["deposit"]["amount"] == 1000000 and result["deposit"]["from"] == ADDRESS
    metrics = result["metrics"]
    assert metrics["status"] == "passed" and metrics["errors"] == 0 and metrics["requests"] >= 3
    assert metrics["error_rate"] == 0.0 and metrics["p95_response_ms"] <= 1000
    assert result["summary"].startswith("PASSED: wallet, deposit, marketplace; API error rate 0.0% (0/")
    # The replay judges exactly as the live run did.
    assert {k: result[k] for k in ("passed", "failures", "not_run", "summary")} == {k: doc["result"][k] for k in ("passed", "failures", "not_run", "summary")}


def test_bad_deploy_fails_on_the_marketplace_and_on_the_error_rate(fixture_text):
    result, _answers = replay(recorded(fixture_text, "bad-deploy"))
    assert result["passed"] is False
    assert result["failures"] == ["marketplace", "metrics"]
    assert result["paths"]["wallet"]["passed"] and result["paths"]["deposit"]["passed"], "the other critical paths still work"
    error = result["paths"]["marketplace"]["error"]
    assert error.startswith('GET /api/marketplace/listings?limit=5 answered 500: relation "listings" does not exist')
    metrics = result["metrics"]
    assert metrics["routes"]["/api/marketplace/listings"]["errors"] == 1 and metrics["errors"] == 1
    assert metrics["error"].startswith("API error rate ") and "/api/marketplace/listings 1/1" in metrics["error"]
    assert result["summary"].startswith('FAILED: marketplace (GET /api/marketplace/listings?limit=5 answered 500: relation "listings"')


def test_stopped_indexer_fails_every_path_and_the_metrics_do_not_run(fixture_text):
    result, _answers = replay(recorded(fixture_text, "api-down"))
    assert result["passed"] is False
    assert result["failures"] == ["wallet", "deposit", "marketplace"] and result["not_run"] == ["metrics"]
    assert "answered 502" in result["paths"]["wallet"]["error"]
    assert "answered 502" in result["paths"]["marketplace"]["error"]
    assert result["metrics"]["error"].startswith("metrics not read: ")
    assert result["metrics"]["requests"] is None
    assert "NOT RUN: metrics (metrics not read: " in result["summary"]


def test_check_mode_submits_no_deposit_and_never_claims_a_pass(fixture_text):
    doc = recorded(fixture_text, "healthy")
    # Without the deposit's requests the rest of the recording still answers in order.
    exchanges = [ex for ex in doc["exchanges"] if not (ex["payload"] or {}).get("method") == "usdx_sandboxDeposit"
                 and "/api/deposits/" not in ex["url"]]
    answers = Replay(exchanges)
    result = _smoke.SmokeTest(doc["params"], True, fetch=answers.fetch, clock=answers.clock, sleep=answers.sleep).run()
    assert all(payload is None or payload["method"] != "usdx_sandboxDeposit" for _m, _u, payload in answers.sent)
    assert result["changed"] is False and result["deposit"] is None
    assert result["paths"]["deposit"]["status"] == "not_run" and result["paths"]["deposit"]["requests"] == []
    assert result["paths"]["wallet"]["passed"] and result["paths"]["marketplace"]["passed"]
    assert result["passed"] is False and result["not_run"] == ["deposit"]
    assert "NOT RUN: deposit (check mode: a deposit is a write to the chain" in result["summary"]


def test_only_the_requested_paths_run(fixture_text):
    doc = recorded(fixture_text, "healthy")
    exchanges = [ex for ex in doc["exchanges"] if "/api/marketplace" in ex["url"] or ex["url"].endswith("/metrics")]
    answers = Replay(exchanges)
    result = _smoke.SmokeTest({**doc["params"], "paths": ["marketplace"]}, False, fetch=answers.fetch, clock=answers.clock,
                              sleep=answers.sleep).run()
    assert list(result["paths"]) == ["marketplace"] and result["changed"] is False
    assert [url for _m, url, _p in answers.sent] == [exchanges[0]["url"], exchanges[1]["url"], exchanges[2]["url"]]


# --- broken in ways made up here ----------------------------------------------------------------------------------
class Scripted:
    """Answers by URL (and JSON-RPC method) from a table; its clock moves by each answer's time and by sleeps."""

    def __init__(self, answers: dict[str, t.Any]) -> None:
        self.answers = answers
        self.now = 0.0
        self.calls: list[str] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def fetch(self, url: str, timeout: float, **kwargs: t.Any) -> _http.HttpResult:
        key = url.split("3000", 1)[-1].split("3001", 1)[-1]
        if kwargs.get("data"):
            key = "rpc:" + json.loads(kwargs["data"])["method"]
        self.calls.append(key)
        answer = self.answers[key]
        answer = answer(self) if callable(answer) else answer
        status, body, elapsed = answer[0], answer[1], answer[2] if len(answer) > 2 else 0.01
        elapsed = min(elapsed, timeout)
        self.now += elapsed
        timed_out = status == "timeout"
        return _http.HttpResult(url=url, status=None if status in (None, "timeout") else status,
                                headers={"Content-Type": "text/html" if key == "/" else "application/json"},
                                body=body.encode() if isinstance(body, str) else json.dumps(body).encode(), truncated=False,
                                error=("no complete answer within %g s" % timeout) if timed_out else (body if status is None else None),
                                elapsed=elapsed, timed_out=timed_out)


TX = "0x" + "ab" * 32
METRICS_BEFORE = 'usdx_http_requests_total{route="/api/wallet/{address}",code="200"} 4\n' \
                 'usdx_http_request_duration_seconds_bucket{route="/api/wallet/{address}",le="0.05"} 4\n' \
                 'usdx_http_request_duration_seconds_bucket{route="/api/wallet/{address}",le="+Inf"} 4\n' \
                 'usdx_http_request_duration_seconds_sum{route="/api/wallet/{address}"} 0.04\n' \
                 'usdx_http_request_duration_seconds_count{route="/api/wallet/{address}"} 4\n'
METRICS_AFTER = METRICS_BEFORE.replace("} 4\n", "} 6\n").replace("} 0.04\n", "} 0.06\n")


def healthy_table() -> dict[str, t.Any]:
    return {
        "/metrics": (200, METRICS_BEFORE),
        "/": (200, "<html>app</html>"),
        "rpc:eth_chainId": (200, {"jsonrpc": "2.0", "id": 1, "result": "0x7a69"}),
        f"/api/wallet/{ADDRESS}": (200, {"address": ADDRESS, "chain_id": 31337, "block": 9, "balance_wei": "5", "nonce": 3,
                                         "deposits": {"count": 0, "total": "0"}}),
        "rpc:usdx_sandboxDeposit": (200, {"jsonrpc": "2.0", "id": 1, "result": {"transactionHash": TX, "blockNumber": "0xa"}}),
        f"/api/deposits/{TX}": (200, {"tx_hash": TX, "block_number": 10, "from": ADDRESS, "amount": "1000000"}),
        "/api/marketplace/listings?limit=5": (200, {"listings": [{"position_id": "wexel-3", "ask_price": "7"}], "count": 1}),
    }


def run_scripted(table: dict[str, t.Any], check_mode: bool = False, **params: t.Any) -> tuple[dict[str, t.Any], Scripted]:
    scripted = Scripted(table)
    metrics = iter([table["/metrics"], (200, METRICS_AFTER)])
    if not callable(table["/metrics"]):
        table["/metrics"] = lambda _s: next(metrics)
    base = {**smoke_defaults(), "wallet_address": ADDRESS, **params}
    return _smoke.SmokeTest(base, check_mode, fetch=scripted.fetch, clock=scripted.clock, sleep=scripted.sleep).run(), scripted


def smoke_defaults() -> dict[str, t.Any]:
    return {"paths": list(_smoke.PATHS), "webapp_url": "http://127.0.0.1:3000", "api_url": None, "check_page": True,
            "rpc_url": "http://127.0.0.1:8545", "metrics_url": "http://127.0.0.1:3001/metrics", "wallet_address": None,
            "chain_id": None, "deposit_amount": 1000000, "deposit_rpc_method": "usdx_sandboxDeposit", "timeout": 15.0,
            "poll_interval": 0.25, "max_error_rate": 0.01, "max_response_ms": 1000.0, "validate_certs": True}


def test_scripted_healthy_passes():
    result, _scripted = run_scripted(healthy_table())
    assert result["passed"] is True, result["summary"]
    assert result["metrics"]["requests"] == 2 and result["metrics"]["p95_response_ms"] == 50


def test_a_deposit_never_indexed_fails_at_the_path_deadline_without_overrunning_it():
    table = healthy_table()
    table[f"/api/deposits/{TX}"] = (404, {"error": "deposit not indexed", "last_indexed_block": 8}, 0.05)
    result, scripted = run_scripted(table, timeout=3.0)
    deposit = result["paths"]["deposit"]
    assert deposit["status"] == "failed" and deposit["elapsed_ms"] <= 3000
    assert deposit["error"].startswith(f"deposit {_smoke.short(TX)} not served by GET /api/deposits within the 3 s deadline (")
    assert deposit["error"].endswith("last answer 404, last indexed block 8)")
    assert scripted.calls.count(f"/api/deposits/{TX}") > 5, "it polled"
    assert result["passed"] is False and result["changed"] is True, "the deposit was submitted all the same"


def test_a_hanging_api_is_a_failed_path_within_the_deadline():
    table = healthy_table()
    table["/api/marketplace/listings?limit=5"] = ("timeout", "", 99)
    result, _scripted = run_scripted(table, timeout=2.0)
    market = result["paths"]["marketplace"]
    assert market["status"] == "failed" and market["elapsed_ms"] <= 2000
    assert market["error"] == "GET /api/marketplace/listings?limit=5: no answer: no complete answer within 2 s"


@pytest.mark.parametrize(("key", "answer", "path", "message"), [
    ("/", (503, "<html>maintenance</html>"), "wallet", "GET / of the web app answered 503 (text/html), not the app's page"),
    ("rpc:eth_chainId", (200, {"jsonrpc": "2.0", "id": 1, "result": "0x1"}), "wallet", "the RPC serves chain 1, not the expected 31337"),
    (f"/api/wallet/{ADDRESS}", (200, {"address": ADDRESS, "chain_id": 1, "balance_wei": "5", "nonce": 3}), "wallet",
     "the API reads chain 1, the client's RPC chain 31337"),
    (f"/api/wallet/{ADDRESS}", (200, "<html>not json</html>"), "wallet",
     "GET /api/wallet/" + ADDRESS + " answered 200 with something that is not JSON: b'<html>not json</html>'"),
    ("rpc:usdx_sandboxDeposit", (200, {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": "the method usdx_sandboxDeposit does not exist"}}),
     "deposit", "JSON-RPC usdx_sandboxDeposit failed: the method usdx_sandboxDeposit does not exist"),
    (f"/api/deposits/{TX}", (200, {"tx_hash": TX, "from": ADDRESS, "amount": "5"}), "deposit", "GET /api/deposits/0xabababab...abab serves another deposit"),
    ("rpc:eth_chainId", (None, "Request failed: [Errno 111] Connection refused"), "wallet",
     "JSON-RPC eth_chainId: no answer: Request failed: [Errno 111] Connection refused"),
    ("/api/marketplace/listings?limit=5", (502, {"error": "bad gateway", "detail": "Connection refused"}), "marketplace",
     "GET /api/marketplace/listings?limit=5 answered 502: Connection refused"),
    ("/api/marketplace/listings?limit=5", (200, {"items": []}), "marketplace", "GET /api/marketplace/listings gave no listings"),
])
def test_what_a_client_cannot_use_fails_its_path(key, answer, path, message):
    table = healthy_table()
    table[key] = answer
    result, _scripted = run_scripted(table, chain_id=31337)
    assert result["paths"][path]["status"] == "failed"
    assert result["paths"][path]["error"].startswith(message)
    assert result["passed"] is False and path in result["failures"]
    others = [name for name in _smoke.PATHS if name != path]
    assert all(result["paths"][name]["passed"] for name in others), "one broken path does not fail the others"


def test_metrics_without_request_counters_do_not_run_and_fail_closed():
    table = healthy_table()
    table["/metrics"] = lambda _s: (200, "usdx_indexer_lag_blocks 0\n")
    result, _scripted = run_scripted(table)
    assert all(p["passed"] for p in result["paths"].values())
    assert result["metrics"]["status"] == "not_run" and result["passed"] is False
    assert result["metrics"]["error"] == "the metrics have no usdx_http_requests_total: the API's request counts are not exported"


def test_slow_api_fails_the_metrics():
    slow = METRICS_BEFORE.replace('le="0.05"} 4', 'le="0.05"} 0')
    slower = slow.replace("} 4\n", "} 6\n").replace('le="0.05"} 0', 'le="0.05"} 0').replace("} 0.04\n", "} 9.0\n")
    table = healthy_table()
    readings = iter([(200, slow), (200, slower)])
    table["/metrics"] = lambda _s: next(readings)
    result, _scripted = run_scripted(table)
    assert result["metrics"]["status"] == "failed" and result["metrics"]["p95_beyond_last_bucket"] is True
    assert result["metrics"]["error"] == "API response time p95 beyond the histogram's last bucket, above 1000 ms"


# --- the metrics arithmetic -------------------------------------------------------------------------------------
def key(route: str, code: str) -> tuple[str, str, str]:
    return (_smoke.REQUESTS_METRIC, route, code)


def test_increase_counts_a_reset_counter_from_zero():
    before = {key("/api/a", "200"): 10.0, key("/api/a", "500"): 3.0}
    after = {key("/api/a", "200"): 2.0, key("/api/a", "500"): 5.0, key("/api/b", "200"): 1.0}
    assert _smoke.increase(before, after) == {key("/api/a", "200"): 2.0, key("/api/a", "500"): 2.0, key("/api/b", "200"): 1.0}


@pytest.mark.parametrize(("grown", "rate", "errors"), [
    ({key("/api/a", "200"): 99.0, key("/api/a", "500"): 1.0}, 0.01, 1),
    ({key("/api/a", "404"): 3.0, key("/api/a", "200"): 1.0}, 0.0, 0),
    ({key("/api/a", "502"): 1.0, key("/api/a", "503"): 1.0}, 1.0, 2),
    ({}, None, 0),
])
def test_error_rate_counts_5xx_only(grown, rate, errors):
    figures = _smoke.window_figures(grown)
    assert figures["error_rate"] == rate and figures["errors"] == errors


@pytest.mark.parametrize(("rate", "limit", "passed"), [(0.0, 0.0, True), (0.01, 0.01, True), (0.02, 0.01, False)])
def test_error_rate_limit_is_inclusive(rate, limit, passed):
    figures = {"requests": 100, "errors": int(rate * 100), "error_rate": rate, "p95_response_ms": 25.0,
               "p95_beyond_last_bucket": False, "routes": {"/api/a": {"requests": 100, "errors": int(rate * 100)}}}
    assert _smoke.judge_metrics(figures, limit, 1000)[0] is passed


def test_no_request_in_the_window_is_not_a_pass():
    passed, problems = _smoke.judge_metrics(_smoke.window_figures({}), 0.01, 1000)
    assert passed is False and problems == ["no client request reached the API during the smoke test: its error rate cannot be measured"]


def test_p95_is_the_bucket_holding_the_95th_percentile():
    grown = {("bucket", "/api/a", "0.01"): 90.0, ("bucket", "/api/a", "0.1"): 96.0, ("bucket", "/api/a", "+Inf"): 100.0,
             ("count", "/api/a", ""): 100.0, ("sum", "/api/a", ""): 3.0, key("/api/a", "200"): 100.0}
    figures = _smoke.window_figures(grown)
    assert figures["p95_response_ms"] == 100 and figures["mean_response_ms"] == 30.0
    assert not math.isinf(figures["p95_response_ms"])


def test_health_and_metrics_routes_are_not_client_traffic(fixture_text):
    text = [ex for ex in recorded(fixture_text, "healthy")["exchanges"] if ex["url"].endswith("/metrics")][-1]["body"]
    assert 'route="/health"' in text and 'route="/metrics"' in text
    routes = {route for (_m, route, _c) in _smoke.client_series(parse_text(text)["samples"])}
    assert routes == {"/api/wallet/{address}", "/api/deposits/{tx_hash}", "/api/marketplace/listings"}


# --- options ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    ({"paths": []}, "paths is empty: name at least one of wallet, deposit, marketplace"),
    ({"wallet_address": None}, "wallet_address is required by the path(s) wallet, deposit"),
    ({"wallet_address": "0x12;id"}, "wallet_address='0x12;id' is not an address: accepted values are 0x and 40 hex digits"),
    ({"timeout": 0}, "timeout=0.0 is out of range: accepted values are > 0"),
    ({"max_error_rate": 1.5}, "max_error_rate=1.5 is out of range: accepted values are 0 to 1"),
    ({"deposit_amount": 0}, "deposit_amount=0 is out of range: accepted values are integers >= 1"),
    ({"deposit_rpc_method": "eth_call; rm"}, "deposit_rpc_method='eth_call; rm' is not a JSON-RPC method name"),
])
def test_bad_options_fail_with_one_line_and_request_nothing(run_module, monkeypatch, args, message):
    called = []
    monkeypatch.setattr(_http, "fetch", lambda *a, **k: called.append(a))
    base = {"wallet_address": ADDRESS}
    result = run_module(smoke_test_info.main, {**base, **args})
    assert result["failed"] is True and result["msg"].startswith(message) and "\n" not in result["msg"]
    assert called == []


def test_unknown_path_is_refused_naming_the_choices(run_module):
    result = run_module(smoke_test_info.main, {"paths": ["wallet", "login"], "wallet_address": ADDRESS})
    assert result["failed"] is True
    assert "login" in result["msg"] and "wallet, deposit, marketplace" in result["msg"]


def test_credentials_in_urls_are_masked(run_module, monkeypatch):
    def refuse(url, timeout, **kwargs):
        return _http.HttpResult(url=url, status=None, headers={}, body=b"", truncated=False,
                                error=f"Request failed: cannot reach {url}", elapsed=0.01, timed_out=False)
    monkeypatch.setattr(_http, "fetch", refuse)
    args = {"wallet_address": ADDRESS, "rpc_url": "https://user:hunter2secret@rpc.example/v3/abcdef0123456789abcdef0123",
            "paths": ["wallet"], "check_page": False}
    result = run_module(smoke_test_info.main, args)
    text = json.dumps(result)
    assert "hunter2secret" not in text and "abcdef0123456789abcdef0123" not in text
    assert result["passed"] is False


def test_recordings_hold_no_secret(fixture_text):
    for state in ("healthy", "bad-deploy", "api-down"):
        text = fixture_text(f"smoke/{state}.json")
        assert "sandbox-usdx-pw" not in text and "sandbox-superuser-pw" not in text
        assert json.loads(text)["params"]["wallet_address"] == ADDRESS
