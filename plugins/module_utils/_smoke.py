# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.smoke_test_info: the runbook's Verify smoke test of the critical paths.

Each path makes the requests a client makes (the web app and its C(/api), the chain's JSON-RPC), within one total
deadline per path; the indexer's request metrics are read before and after the paths, and the error rate and
response time of the API over that window are judged. A path that could not run is never a pass.
"""

from __future__ import annotations

import json
import re
import time
import typing as t
from urllib.parse import quote

from ansible_collections.usdx.incident.plugins.module_utils import _http
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._prometheus import PrometheusParseError, Sample, parse_text
from ansible_collections.usdx.incident.plugins.module_utils._redact import redact_text

PATHS = ("wallet", "deposit", "marketplace")
STATUSES = ("passed", "failed", "not_run")
REQUESTS_METRIC = "usdx_http_requests_total"
DURATION_METRIC = "usdx_http_request_duration_seconds"
# The routes clients call; the healthchecks' /health and the scrapes' /metrics are not client traffic.
CLIENT_ROUTE_PREFIX = "/api/"
PERCENTILE = 0.95
MAX_ANSWER_BYTES = 1024 * 1024
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
TX_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
LISTINGS_LIMIT = 5


class PathFailed(Exception):
    """A step of a path did not give what a client needs; the message says what it got."""


def short(value: str) -> str:
    """0x5af3107a...f310: an address or a hash, readable in a sentence."""
    return f"{value[:10]}...{value[-4:]}" if isinstance(value, str) and len(value) > 20 else str(value)


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    paths = params["paths"]
    if not paths:
        raise OptionError(f"paths is empty: name at least one of {', '.join(PATHS)}", option="paths")
    needs_wallet = [p for p in paths if p in ("wallet", "deposit")]
    address = params.get("wallet_address")
    if needs_wallet and not address:
        raise OptionError(f"wallet_address is required by the path(s) {', '.join(needs_wallet)}", option="wallet_address")
    if address and not ADDRESS_RE.match(address):
        raise OptionError(f"wallet_address={address!r} is not an address: accepted values are 0x and 40 hex digits",
                          option="wallet_address")
    for name in ("timeout", "max_response_ms", "poll_interval"):
        if params[name] <= 0:
            raise OptionError(f"{name}={params[name]!r} is out of range: accepted values are > 0", option=name)
    if not 0 <= params["max_error_rate"] <= 1:
        raise OptionError(f"max_error_rate={params['max_error_rate']!r} is out of range: accepted values are 0 to 1",
                          option="max_error_rate")
    if params["deposit_amount"] < 1:
        raise OptionError(f"deposit_amount={params['deposit_amount']!r} is out of range: accepted values are integers >= 1",
                          option="deposit_amount")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$", params["deposit_rpc_method"]):
        raise OptionError(f"deposit_rpc_method={params['deposit_rpc_method']!r} is not a JSON-RPC method name: accepted "
                          "values are letters, digits and underscores", option="deposit_rpc_method")


# --- metrics -------------------------------------------------------------------------------------------------------
def client_series(samples: t.Iterable[Sample]) -> dict[tuple[str, str, str], float]:
    """(metric, route, code or le) -> value for the client routes' request counters and latency histogram."""
    series: dict[tuple[str, str, str], float] = {}
    for sample in samples:
        route = sample.labels.get("route", "")
        if not route.startswith(CLIENT_ROUTE_PREFIX):
            continue
        if sample.name == REQUESTS_METRIC:
            series[(REQUESTS_METRIC, route, sample.labels.get("code", ""))] = sample.value
        elif sample.name == f"{DURATION_METRIC}_bucket":
            series[("bucket", route, sample.labels.get("le", ""))] = sample.value
        elif sample.name == f"{DURATION_METRIC}_sum":
            series[("sum", route, "")] = sample.value
        elif sample.name == f"{DURATION_METRIC}_count":
            series[("count", route, "")] = sample.value
    return series


def increase(before: t.Mapping[tuple[str, str, str], float], after: t.Mapping[tuple[str, str, str], float]) -> dict[tuple[str, str, str], float]:
    """Per series, how much a counter grew between two readings; a counter that went down was reset (the API
    restarted) and grew by its whole new value, as Prometheus' increase() counts it."""
    grown = {}
    for key, value in after.items():
        old = before.get(key, 0.0)
        grown[key] = value - old if value >= old else value
    return grown


def _le(text: str) -> float:
    return float("inf") if text in ("+Inf", "Inf", "inf") else float(text)


def window_figures(grown: t.Mapping[tuple[str, str, str], float]) -> dict[str, t.Any]:
    """Requests, server errors (5xx), the error rate and the response times of the client routes over the window."""
    routes: dict[str, dict[str, int]] = {}
    for (metric, route, code), value in grown.items():
        if metric != REQUESTS_METRIC or value <= 0:
            continue
        entry = routes.setdefault(route, {"requests": 0, "errors": 0})
        entry["requests"] += int(value)
        if code[:1] == "5":
            entry["errors"] += int(value)
    requests = sum(r["requests"] for r in routes.values())
    errors = sum(r["errors"] for r in routes.values())
    buckets: dict[float, float] = {}
    for (metric, _route, le), value in grown.items():
        if metric == "bucket":
            buckets[_le(le)] = buckets.get(_le(le), 0.0) + value
    count = sum(v for (metric, _r, _c), v in grown.items() if metric == "count")
    total = sum(v for (metric, _r, _c), v in grown.items() if metric == "sum")
    p95 = None
    if count > 0 and buckets:
        p95 = next((bound for bound in sorted(buckets) if buckets[bound] >= PERCENTILE * count), None)
    beyond = p95 == float("inf")
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / requests, 4) if requests else None,
        "mean_response_ms": round(total / count * 1000, 1) if count > 0 else None,
        # The upper bound of the histogram bucket holding the 95th percentile.
        "p95_response_ms": None if p95 is None or beyond else round(p95 * 1000, 3),
        "p95_beyond_last_bucket": beyond,
        "routes": dict(sorted(routes.items())),
    }


def judge_metrics(figures: t.Mapping[str, t.Any], max_error_rate: float, max_response_ms: float) -> tuple[bool, list[str]]:
    """Whether the window's error rate and response time are normal, and why not."""
    problems = []
    if not figures["requests"]:
        return False, ["no client request reached the API during the smoke test: its error rate cannot be measured"]
    if figures["error_rate"] > max_error_rate:
        failing = ", ".join(f"{route} {r['errors']}/{r['requests']}" for route, r in figures["routes"].items() if r["errors"])
        problems.append(f"API error rate {figures['error_rate']:.1%} above {max_error_rate:.1%} ({failing})")
    p95 = figures["p95_response_ms"]
    if figures["p95_beyond_last_bucket"]:
        problems.append(f"API response time p95 beyond the histogram's last bucket, above {max_response_ms:g} ms")
    elif p95 is None:
        problems.append(f"no response time in the metrics ({DURATION_METRIC})")
    elif p95 > max_response_ms:
        problems.append(f"API response time p95 <= {p95:g} ms (its histogram bucket), above {max_response_ms:g} ms")
    return not problems, problems


# --- the smoke test ---------------------------------------------------------------------------------------------
class SmokeTest:
    """Runs the requested paths in order, then judges the metrics of the window around them.

    O(params) holds the options of usdx.incident.smoke_test_info (checked by validate()). C(fetch) is
    L(_http.fetch) (replaced by recorded answers in the unit tests). Endpoints that fail are results, not exceptions.
    """

    def __init__(self, params: t.Mapping[str, t.Any], check_mode: bool, fetch: t.Callable[..., _http.HttpResult] | None = None,
                 clock: t.Callable[[], float] = time.monotonic, sleep: t.Callable[[float], None] = time.sleep) -> None:
        self.params = params
        self.check_mode = check_mode
        self._fetch = fetch or _http.fetch
        self.clock = clock
        self.sleep = sleep
        self.webapp = params["webapp_url"].rstrip("/")
        self.api_base = (params.get("api_url") or params["webapp_url"]).rstrip("/")
        self.address = (params.get("wallet_address") or "").lower()
        self.secrets = [secret for url in (params["webapp_url"], params.get("api_url"), params["rpc_url"], params["metrics_url"])
                        if url for secret in _http.url_secrets(url)]
        self.submitted: dict[str, t.Any] | None = None

    # --- requests ---------------------------------------------------------------------------------------------
    def request(self, log: list[dict[str, t.Any]], deadline: float, what: str, url: str, method: str = "GET",
                payload: t.Any = None) -> _http.HttpResult:
        """One request within what is left of the path's deadline; recorded in C(log) under the name C(what)."""
        left = deadline - self.clock()
        if left <= 0:
            raise PathFailed(f"{what}: no time left of the path's {self.params['timeout']:g} s deadline")
        data = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {"Accept": "application/json, text/html"}
        answer = self._fetch(url, left, method=method, data=data, headers=headers, max_bytes=MAX_ANSWER_BYTES,
                             secrets=self.secrets, validate_certs=self.params["validate_certs"])
        log.append({"request": what, "status": answer.status, "elapsed_ms": round(answer.elapsed * 1000, 1),
                    "error": answer.error if answer.status is None or answer.timed_out else None})
        return answer

    def json_of(self, answer: _http.HttpResult, what: str) -> t.Any:
        if answer.status is None or answer.timed_out:
            raise PathFailed(f"{what}: no answer: {answer.error}")
        try:
            return json.loads(answer.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise PathFailed(f"{what} answered {answer.status} with something that is not JSON: "
                             f"{redact_text(repr(answer.body[:100]), self.secrets)}") from None

    def api(self, log: list[dict[str, t.Any]], deadline: float, path: str, expect: tuple[int, ...] = (200,)) -> tuple[int, t.Any]:
        what = f"GET {path}"
        answer = self.request(log, deadline, what, self.api_base + path)
        body = self.json_of(answer, what)
        if answer.status not in expect:
            detail = body.get("detail") or body.get("error") if isinstance(body, dict) else None
            raise PathFailed(f"{what} answered {answer.status}" + (f": {redact_text(str(detail)[:200], self.secrets)}" if detail else ""))
        return t.cast(int, answer.status), body

    def rpc(self, log: list[dict[str, t.Any]], deadline: float, method: str, params: list[t.Any]) -> t.Any:
        what = f"JSON-RPC {method}"
        answer = self.request(log, deadline, what, self.params["rpc_url"], method="POST",
                              payload={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        body = self.json_of(answer, what)
        if not isinstance(body, dict) or "error" in body or "result" not in body:
            error = body.get("error") if isinstance(body, dict) else body
            message = error.get("message") if isinstance(error, dict) else error
            raise PathFailed(f"{what} failed: {redact_text(str(message)[:200], self.secrets)}")
        return body["result"]

    # --- the paths --------------------------------------------------------------------------------------------
    def wallet(self, log: list[dict[str, t.Any]], evidence: list[str], deadline: float) -> None:
        """What a wallet connection does: load the app, ask the chain who it is, read the address's page."""
        if self.params["check_page"]:
            answer = self.request(log, deadline, "GET /", self.webapp + "/")
            if answer.status != 200 or "html" not in answer.content_type.lower():
                got = f"answered {answer.status} ({answer.content_type or 'no content type'})" if answer.status else f"failed: {answer.error}"
                raise PathFailed(f"GET / of the web app {got}, not the app's page")
            evidence.append(f"GET / {answer.status}: the app's page ({len(answer.body)} bytes)")
        chain_id = self.rpc(log, deadline, "eth_chainId", [])
        if not isinstance(chain_id, str) or not re.match(r"^0x[0-9a-fA-F]{1,16}$", chain_id):
            raise PathFailed(f"JSON-RPC eth_chainId answered {redact_text(repr(chain_id)[:60])}, not a chain id")
        rpc_chain = int(chain_id, 16)
        expected = self.params.get("chain_id")
        if expected is not None and rpc_chain != expected:
            raise PathFailed(f"the RPC serves chain {rpc_chain}, not the expected {expected}")
        evidence.append(f"JSON-RPC eth_chainId: {rpc_chain}")
        _status, body = self.api(log, deadline, f"/api/wallet/{quote(self.address)}")
        if not isinstance(body, dict) or body.get("address") != self.address:
            got = short(str(body.get("address"))) if isinstance(body, dict) else redact_text(repr(body)[:60])
            raise PathFailed(f"GET /api/wallet answered for {got}, not {short(self.address)}")
        nonce, balance, api_chain = body.get("nonce"), body.get("balance_wei"), body.get("chain_id")
        if not isinstance(nonce, int) or not isinstance(balance, str) or not balance.isdigit():
            raise PathFailed(f"GET /api/wallet gave no balance and nonce: {redact_text(json.dumps(body)[:200])}")
        if api_chain != rpc_chain:
            raise PathFailed(f"the API reads chain {api_chain}, the client's RPC chain {rpc_chain}")
        deposits = body.get("deposits") if isinstance(body.get("deposits"), dict) else {}
        evidence.append(f"GET /api/wallet/{short(self.address)} 200: balance {int(balance)} wei, nonce {nonce}, "
                        f"{deposits.get('count', '?')} deposit(s)")

    def deposit(self, log: list[dict[str, t.Any]], evidence: list[str], deadline: float) -> None:
        """A deposit submitted to the chain, followed until the API serves it (polled until the deadline)."""
        amount = self.params["deposit_amount"]
        method = self.params["deposit_rpc_method"]
        result = self.rpc(log, deadline, method, [{"from": self.address, "amount": hex(amount)}])
        tx_hash = result.get("transactionHash") if isinstance(result, dict) else None
        if not isinstance(tx_hash, str) or not TX_HASH_RE.match(tx_hash):
            raise PathFailed(f"JSON-RPC {method} answered no transaction hash: {redact_text(repr(result)[:200])}")
        block = result.get("blockNumber")
        self.submitted = {"tx_hash": tx_hash, "block_number": int(block, 16) if isinstance(block, str) and block.startswith("0x") else None,
                          "amount": amount, "from": self.address}
        submitted_at = self.clock()
        evidence.append(f"submitted deposit {short(tx_hash)} ({amount} from {short(self.address)}) for block {self.submitted['block_number']}")
        polls, last = 0, ""
        while True:
            polls += 1
            status, body = self.api(log, deadline, f"/api/deposits/{tx_hash}", expect=(200, 404))
            if status == 200:
                break
            last = f"404, last indexed block {body.get('last_indexed_block')}" if isinstance(body, dict) else "404"
            if self.clock() + self.params["poll_interval"] >= deadline:
                raise PathFailed(f"deposit {short(tx_hash)} not served by GET /api/deposits within the "
                                 f"{self.params['timeout']:g} s deadline ({polls} polls; last answer {last})")
            self.sleep(self.params["poll_interval"])
        if not isinstance(body, dict) or body.get("amount") != str(amount) or str(body.get("from", "")).lower() != self.address:
            raise PathFailed(f"GET /api/deposits/{short(tx_hash)} serves another deposit: {redact_text(json.dumps(body)[:200])}")
        evidence.append(f"GET /api/deposits/{short(tx_hash)} 200 after {self.clock() - submitted_at:.1f} s ({polls} polls): "
                        f"block {body.get('block_number')}, amount {body.get('amount')}")

    def marketplace(self, log: list[dict[str, t.Any]], evidence: list[str], deadline: float) -> None:
        _status, body = self.api(log, deadline, f"/api/marketplace/listings?limit={LISTINGS_LIMIT}")
        listings = body.get("listings") if isinstance(body, dict) else None
        if not isinstance(listings, list) or not all(isinstance(item, dict) and "ask_price" in item for item in listings):
            raise PathFailed(f"GET /api/marketplace/listings gave no listings: {redact_text(json.dumps(body)[:200])}")
        evidence.append(f"GET /api/marketplace/listings 200: {len(listings)} listing(s)"
                        + (f", first {listings[0].get('position_id')} at {listings[0].get('ask_price')}" if listings else ""))

    def run_path(self, name: str) -> dict[str, t.Any]:
        log: list[dict[str, t.Any]] = []
        evidence: list[str] = []
        if name == "deposit" and self.check_mode:
            return {"status": "not_run", "passed": False, "elapsed_ms": 0.0, "evidence": [], "requests": [],
                    "error": "check mode: a deposit is a write to the chain, so it is not submitted"}
        started = self.clock()
        error = None
        try:
            getattr(self, name)(log, evidence, started + self.params["timeout"])
        except PathFailed as exc:
            error = str(exc)
        return {"status": "failed" if error else "passed", "passed": error is None,
                "elapsed_ms": round((self.clock() - started) * 1000, 1), "evidence": evidence, "requests": log, "error": error}

    # --- metrics -----------------------------------------------------------------------------------------------
    def scrape(self) -> tuple[dict[tuple[str, str, str], float] | None, str | None]:
        answer = self._fetch(self.params["metrics_url"], self.params["timeout"], headers={"Accept": "text/plain"},
                             max_bytes=MAX_ANSWER_BYTES, secrets=self.secrets, validate_certs=self.params["validate_certs"])
        if answer.status != 200 or answer.timed_out or answer.truncated:
            why = answer.error or (f"HTTP {answer.status}" if answer.status else "no answer")
            return None, f"metrics not read: {why}" + (" (truncated)" if answer.truncated else "")
        try:
            parsed = parse_text(answer.body.decode("utf-8", "replace"))
        except PrometheusParseError as exc:
            return None, f"metrics not readable: {redact_text(str(exc), self.secrets)}"
        if not any(sample.name == REQUESTS_METRIC for sample in parsed["samples"]):
            return None, f"the metrics have no {REQUESTS_METRIC}: the API's request counts are not exported"
        return client_series(parsed["samples"]), None

    def metrics(self, before: dict[tuple[str, str, str], float] | None, error: str | None, started: float) -> dict[str, t.Any]:
        result: dict[str, t.Any] = {"status": "not_run", "passed": False, "window_seconds": round(self.clock() - started, 3),
                                    "max_error_rate": self.params["max_error_rate"],
                                    "max_response_ms": self.params["max_response_ms"], "requests": None, "errors": None,
                                    "error_rate": None, "mean_response_ms": None, "p95_response_ms": None,
                                    "p95_beyond_last_bucket": False, "routes": {},
                                    "error": error}
        if before is None:
            return result
        after, error = self.scrape()
        result["window_seconds"] = round(self.clock() - started, 3)
        if after is None:
            result["error"] = error
            return result
        result.update(window_figures(increase(before, after)))
        passed, problems = judge_metrics(result, self.params["max_error_rate"], self.params["max_response_ms"])
        result.update(status="passed" if passed else "failed", passed=passed, error="; ".join(problems) or None)
        return result

    def run(self) -> dict[str, t.Any]:
        started = self.clock()
        before, scrape_error = self.scrape()
        paths = {name: self.run_path(name) for name in PATHS if name in self.params["paths"]}
        metrics = self.metrics(before, scrape_error, started)
        failed = [name for name, path in paths.items() if path["status"] == "failed"] + (["metrics"] if metrics["status"] == "failed" else [])
        not_run = [name for name, path in paths.items() if path["status"] == "not_run"] + (["metrics"] if metrics["status"] == "not_run" else [])
        passed = not failed and not not_run
        return {
            "changed": self.submitted is not None,
            "passed": passed,
            "summary": summary(paths, metrics, passed),
            "failures": failed,
            "not_run": not_run,
            "paths": paths,
            "metrics": metrics,
            "deposit": self.submitted,
            "elapsed_ms": round((self.clock() - started) * 1000, 1),
        }


def summary(paths: t.Mapping[str, t.Mapping[str, t.Any]], metrics: t.Mapping[str, t.Any], passed: bool) -> str:
    """One line: PASSED with the figures, or FAILED / NOT RUN naming each path and why."""
    parts = []
    failed = {name: p["error"] for name, p in paths.items() if p["status"] == "failed"}
    not_run = {name: p["error"] for name, p in paths.items() if p["status"] == "not_run"}
    if metrics["status"] == "failed":
        failed["metrics"] = metrics["error"]
    elif metrics["status"] == "not_run":
        not_run["metrics"] = metrics["error"]
    if failed:
        parts.append("FAILED: " + "; ".join(f"{name} ({why})" for name, why in failed.items()))
    if not_run:
        parts.append("NOT RUN: " + "; ".join(f"{name} ({why})" for name, why in not_run.items()))
    ok = [name for name, p in paths.items() if p["status"] == "passed"]
    figures = ""
    if metrics["requests"]:
        p95 = metrics["p95_response_ms"]
        shown = "beyond the last bucket" if metrics["p95_beyond_last_bucket"] else f"<= {p95:g} ms" if p95 is not None else "unknown"
        figures = f"API error rate {metrics['error_rate']:.1%} ({metrics['errors']}/{metrics['requests']} requests), p95 {shown}"
    if passed:
        return f"PASSED: {', '.join(ok)}; {figures}"
    return "; ".join(parts + ([f"passed: {', '.join(ok)}"] if ok else []) + ([figures] if figures else []))
