# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.indexer_lag_info (and of triage_info's C(lag) check)."""

from __future__ import annotations

import json
import math
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.usdx.incident.plugins.module_utils import _http
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._prometheus import (
    PrometheusParseError,
    metric_value,
    parse_text,
)
from ansible_collections.usdx.incident.plugins.module_utils._redact import redact_text, redact_url
from ansible_collections.usdx.incident.plugins.module_utils._runbook import LAG_STATUSES

LAST_INDEXED = "usdx_indexer_last_indexed_block"
# The indexer's own rates over its recent window; when it exports them, no sample is needed.
INDEXED_RATE = "usdx_indexer_indexed_blocks_per_second"
CHAIN_RATE = "usdx_indexer_chain_blocks_per_second"
METRICS = {
    "chain_head_block": "usdx_indexer_chain_head_block",
    "lag_blocks": "usdx_indexer_lag_blocks",
    "lag_seconds": "usdx_indexer_lag_seconds",
    "indexed_blocks_per_second": INDEXED_RATE,
    "chain_blocks_per_second": CHAIN_RATE,
    "paused": "usdx_indexer_paused",
    "maintenance": "usdx_maintenance_mode",
}
STATUSES = LAG_STATUSES
# Blocks back from the head whose timestamps give the chain's block rate without a sample.
CHAIN_RATE_SPAN = 10
# Bytes read of an RPC answer or of the metrics.
MAX_ANSWER_BYTES = 1024 * 1024


class EndpointError(Exception):
    """An endpoint did not give a usable answer; the message says why (credentials in URLs masked)."""

    def __init__(self, message: str, status_code: int | None = None, timed_out: bool = False, answered: bool = False) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.timed_out = timed_out
        # The endpoint answered, but with something that could not be used (not JSON, wrong types, an error object).
        self.answered = answered


def _snippet(raw: bytes) -> str:
    return redact_text(repr(raw[:100]))


def to_int(value: t.Any) -> int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return int(value)


def hex_quantity(value: t.Any, what: str) -> int:
    """A JSON-RPC quantity (C("0x3e8")); anything else raises EndpointError naming it."""
    if isinstance(value, str) and value[:2].lower() == "0x" and len(value) <= 66:
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise EndpointError(f"{what} is not a hex quantity: {redact_text(repr(value)[:100])}", answered=True)


def rate(first: tuple[float, int] | None, last: tuple[float, int] | None) -> float | None:
    """Blocks per second between two (time, block) readings."""
    if first is None or last is None or last[0] <= first[0]:
        return None
    return round((last[1] - first[1]) / (last[0] - first[0]), 3)


def classify(rpc_reachable: bool, indexed: int | None, lag_blocks: int | None, max_lag_blocks: int,
             indexed_rate: float | None, paused: bool | None) -> str:
    """The RV(status) of the module."""
    if not rpc_reachable:
        return "rpc_unreachable"
    if indexed is None or lag_blocks is None:
        return "indexer_unreachable"
    if lag_blocks <= max_lag_blocks:
        return "ok"
    if paused or (indexed_rate is not None and indexed_rate <= 0):
        return "stalled"
    return "lagging"


def eta(lag_blocks: int | None, catch_up: float | None, max_lag_blocks: int = 0) -> int | None:
    """Seconds to catch up; 0 within the normal lag, None when not catching up."""
    if lag_blocks is not None and lag_blocks <= max_lag_blocks:
        return 0
    if lag_blocks is None or catch_up is None or catch_up <= 0:
        return None
    return int(math.ceil(lag_blocks / catch_up))


class LagProbe:
    """Reads the RPC and the indexer's metrics; never changes anything.

    O(params) holds the options of usdx.incident.indexer_lag_info (checked by validate()). Unreachable endpoints
    and unusable answers are results, not exceptions; the module is only used for warnings. The RPC and the metrics
    are read side by side; every request ends within C(timeout), and the whole probe within L(deadline_seconds).
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.rpc_id = 0
        self.deadline = time.monotonic() + deadline_seconds(params)
        caller = getattr(module, "deadline", None)
        if caller is not None:
            # triage_info's check deadline: finish with a result rather than be given up.
            self.deadline = min(self.deadline, caller - 0.2)
        self.timed_out = False
        self.partial: list[str] = []

    def _request(self, url: str, data: bytes | None = None) -> tuple[int, bytes]:
        remaining = min(self.params["timeout"], self.deadline - time.monotonic())
        if remaining <= 0:
            self.timed_out = True
            raise EndpointError("not asked: the check's deadline had passed", timed_out=True)
        headers = {"Content-Type": "application/json"} if data is not None else {"Accept": "text/plain"}
        answer = _http.fetch(url, remaining, method="POST" if data is not None else "GET", data=data, headers=headers,
                             max_bytes=MAX_ANSWER_BYTES, validate_certs=self.params["validate_certs"])
        if answer.timed_out:
            self.timed_out = True
            raise EndpointError(answer.error or "timed out", answer.status, timed_out=True)
        if answer.error or answer.status is None:
            raise EndpointError(answer.error or "no answer", answer.status)
        if answer.truncated:
            raise EndpointError(f"the answer is larger than {MAX_ANSWER_BYTES} bytes", answer.status)
        return answer.status, answer.body

    def rpc_call(self, method: str, params: list[t.Any]) -> t.Any:
        """The C(result) of one JSON-RPC call; an answer of any other shape raises EndpointError naming it."""
        self.rpc_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.rpc_id, "method": method, "params": params}).encode()
        _status, raw = self._request(self.params["rpc_url"], body)
        try:
            answer = json.loads(raw.decode("utf-8", errors="replace"))
        except ValueError as exc:
            raise EndpointError(f"{method}: the answer is not JSON: {_snippet(raw)}", answered=True) from exc
        if not isinstance(answer, dict):
            raise EndpointError(f"{method}: the answer is not a JSON-RPC object: {_snippet(raw)}", answered=True)
        error = answer.get("error")
        if error is not None:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise EndpointError(f"{method}: the RPC answered an error: {redact_text(str(message)[:200])}", answered=True)
        if "result" not in answer:
            raise EndpointError(f"{method}: the answer has no result: {_snippet(raw)}", answered=True)
        return answer["result"]

    def chain_head(self) -> tuple[int, float]:
        """(head block, latency in ms)."""
        started = time.monotonic()
        result = self.rpc_call("eth_blockNumber", [])
        latency = round((time.monotonic() - started) * 1000.0, 1)
        return hex_quantity(result, "eth_blockNumber's result"), latency

    def block_timestamp(self, number: int) -> int | None:
        """The block's timestamp; None when the RPC does not know the block (C(result) null)."""
        block = self.rpc_call("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            return None
        if not isinstance(block, dict):
            raise EndpointError(f"eth_getBlockByNumber({number}): the result is not a block: {redact_text(repr(block)[:100])}", answered=True)
        return hex_quantity(block.get("timestamp"), f"the timestamp of block {number}")

    def metrics(self) -> tuple[int, dict[str, t.Any]]:
        """(HTTP status, values); raises EndpointError when the last indexed block is missing."""
        status, raw = self._request(self.params["metrics_url"])
        try:
            samples = parse_text(raw.decode("utf-8", errors="replace"))["samples"]
        except PrometheusParseError as exc:
            raise EndpointError(f"cannot parse the metrics: {redact_text(str(exc)[:300])}", status, answered=True) from exc
        indexed = metric_value(samples, LAST_INDEXED)
        if indexed is None or not math.isfinite(indexed):
            raise EndpointError(f"{LAST_INDEXED} is missing from the metrics", status, answered=True)
        values: dict[str, t.Any] = {"last_indexed_block": int(indexed)}
        for key, name in METRICS.items():
            value = metric_value(samples, name)
            finite = value is not None and math.isfinite(value)
            if key in ("paused", "maintenance"):
                values[key] = value == 1 if finite else None
            elif key in ("lag_seconds", "indexed_blocks_per_second", "chain_blocks_per_second"):
                values[key] = round(value, 3) if finite else None
            else:
                values[key] = to_int(value)
        return status, values

    def _unusable(self, what: str, exc: EndpointError) -> None:
        """An answer that came but could not be used is not an unreachable endpoint only: the check is partial."""
        reason = f"{what} could not be read from the answer: {exc}"
        if exc.answered and reason not in self.partial:
            self.partial.append(reason)

    def _read_rpc(self, rpc: dict[str, t.Any]) -> tuple[float, int] | None:
        try:
            head, latency = self.chain_head()
        except EndpointError as exc:
            rpc.update(reachable=False, latency_ms=None, error=str(exc), head_block=None, timed_out=exc.timed_out)
            self._unusable("the chain head", exc)
            return None
        rpc.update(reachable=True, latency_ms=latency, error=None, head_block=head, timed_out=False)
        return time.monotonic(), head

    def _read_indexer(self, indexer: dict[str, t.Any]) -> tuple[float, int] | None:
        try:
            status, values = self.metrics()
        except EndpointError as exc:
            indexer.update({key: None for key in ("last_indexed_block", *METRICS)},
                           reachable=False, status_code=exc.status_code, error=str(exc), timed_out=exc.timed_out)
            self._unusable("the indexer's metrics", exc)
            return None
        indexer.update(values, reachable=True, status_code=status, error=None, timed_out=False)
        return time.monotonic(), values["last_indexed_block"]

    def read(self, rpc: dict[str, t.Any], indexer: dict[str, t.Any]) -> tuple[tuple[float, int] | None, tuple[float, int] | None]:
        """One reading of both endpoints side by side, updating O(rpc) and O(indexer); returns the timed block numbers."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="usdx-lag") as pool:
            head = pool.submit(self._read_rpc, rpc)
            indexed = pool.submit(self._read_indexer, indexer)
            return head.result(), indexed.result()

    def timestamps(self, numbers: list[int]) -> dict[int, int | None]:
        """Block number -> timestamp, asked side by side; a failure is a C(partial) reason and leaves it out."""
        with ThreadPoolExecutor(max_workers=len(numbers), thread_name_prefix="usdx-lag") as pool:
            futures = {number: pool.submit(self.block_timestamp, number) for number in dict.fromkeys(numbers)}
        found: dict[int, int | None] = {}
        for number, future in futures.items():
            try:
                found[number] = future.result()
            except EndpointError as exc:
                self.partial.append(f"block timestamps not read, the lag in seconds is the indexer's own: {exc}")
                return {}
        return found

    def run(self) -> dict[str, t.Any]:
        params = self.params
        rpc: dict[str, t.Any] = {"url": redact_url(params["rpc_url"]), "head_timestamp": None}
        indexer: dict[str, t.Any] = {"metrics_url": redact_url(params["metrics_url"])}
        head0, indexed0 = self.read(rpc, indexer)
        head1, indexed1 = head0, indexed0
        indexed_rate = indexer.get("indexed_blocks_per_second")
        # The rate only decides between lagging and stalled: no sample without both readings, or within the normal lag.
        sampled = (indexed_rate is None and params["sample_seconds"] > 0 and head0 is not None and indexed0 is not None
                   and head0[1] - indexed0[1] > params["max_lag_blocks"])
        if sampled:
            time.sleep(min(params["sample_seconds"], max(0.0, self.deadline - time.monotonic() - params["timeout"])))
            head1, indexed1 = self.read(rpc, indexer)
            indexed_rate = rate(indexed0, indexed1)
        chain_rate = rate(head0, head1) if sampled else None
        chain_rate_source = "sample" if sampled else None
        if chain_rate is None and indexer.get("chain_blocks_per_second") is not None:
            chain_rate, chain_rate_source = indexer["chain_blocks_per_second"], "metrics"
        sample_time = round(indexed1[0] - indexed0[0], 3) if sampled and indexed0 and indexed1 else 0.0

        head = rpc.pop("head_block")
        indexed = indexer["last_indexed_block"]
        lag_blocks: int | None = None
        lag_seconds: float | None = None
        lag_source: str | None = None
        if head is not None and indexed is not None:
            lag_blocks = max(0, head - indexed)
            lag_source = "rpc"
            early = max(0, head - CHAIN_RATE_SPAN)
            stamps = self.timestamps([head, indexed] + ([early] if chain_rate is None and early < head else []))
            rpc["head_timestamp"] = stamps.get(head)
            if rpc["head_timestamp"] is not None and stamps.get(indexed) is not None:
                lag_seconds = float(max(0, rpc["head_timestamp"] - stamps[indexed]))
            if chain_rate is None and rpc["head_timestamp"] is not None and stamps.get(early) is not None:
                chain_rate = rate((float(stamps[early]), early), (float(rpc["head_timestamp"]), head))
                chain_rate_source = None if chain_rate is None else "block_timestamps"
        elif indexed is not None and indexer["lag_blocks"] is not None:
            lag_blocks = max(0, indexer["lag_blocks"])
            lag_source = "metric"
        if lag_seconds is None and indexer.get("lag_seconds") is not None:
            lag_seconds = float(indexer["lag_seconds"])
        catch_up = round(indexed_rate - chain_rate, 3) if indexed_rate is not None and chain_rate is not None else None
        result = {
            "changed": False,
            "status": classify(rpc["reachable"], indexed, lag_blocks, params["max_lag_blocks"], indexed_rate, indexer.get("paused")),
            "lag_blocks": lag_blocks,
            "lag_seconds": lag_seconds,
            "lag_source": lag_source,
            "chain_head_block": head,
            "last_indexed_block": indexed,
            "catch_up_blocks_per_second": catch_up,
            "eta_seconds": eta(lag_blocks, catch_up, params["max_lag_blocks"]),
            "sample": {
                "seconds": sample_time,
                "indexed_blocks_per_second": indexed_rate,
                "chain_blocks_per_second": chain_rate,
                "indexed_rate_source": None if indexed_rate is None else ("sample" if sampled else "metrics"),
                "chain_rate_source": chain_rate_source,
            },
            "rpc": rpc,
            "indexer": indexer,
            "timed_out": self.timed_out,
        }
        if self.partial:
            result["partial"] = self.partial
        return result


def deadline_seconds(params: t.Mapping[str, t.Any]) -> float:
    """The whole probe's deadline: two rounds of requests (readings, then timestamps) and the sample between."""
    return 2 * params["timeout"] + params["sample_seconds"]


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    for name in ("rpc_url", "metrics_url"):
        if not str(params[name]).startswith(("http://", "https://")):
            raise OptionError(f"{name}={redact_url(str(params[name]))!r} is not supported: accepted values are http:// or https:// URLs", option=name)
    if params["sample_seconds"] < 0 or params["sample_seconds"] > 300:
        raise OptionError(f"sample_seconds={params['sample_seconds']!r} is out of range: accepted values are 0 to 300", option="sample_seconds")
    if params["timeout"] <= 0:
        raise OptionError(f"timeout={params['timeout']!r} is out of range: accepted values are > 0", option="timeout")
    if params["max_lag_blocks"] < 0:
        raise OptionError(f"max_lag_blocks={params['max_lag_blocks']!r} is negative: accepted values are integers >= 0", option="max_lag_blocks")
