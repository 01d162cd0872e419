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
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._prometheus import (
    PrometheusParseError,
    metric_value,
    parse_text,
)

LAST_INDEXED = "usdx_indexer_last_indexed_block"
METRICS = {
    "chain_head_block": "usdx_indexer_chain_head_block",
    "lag_blocks": "usdx_indexer_lag_blocks",
    "lag_seconds": "usdx_indexer_lag_seconds",
    "paused": "usdx_indexer_paused",
    "maintenance": "usdx_maintenance_mode",
}
STATUSES = ("ok", "lagging", "stalled", "rpc_unreachable", "indexer_unreachable")


class EndpointError(Exception):
    """An endpoint did not give a usable answer; the message says why."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def to_int(value: t.Any) -> int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return int(value)


def rate(first: tuple[float, int] | None, last: tuple[float, int] | None) -> float | None:
    """Blocks per second between two (monotonic time, block) readings."""
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
    are results, not exceptions; the module is only used for warnings.
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.rpc_id = 0

    def _request(self, url: str, data: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if data is not None else {"Accept": "text/plain"}
        try:
            response = open_url(url, data=data, headers=headers, method="POST" if data is not None else "GET",
                                timeout=self.params["timeout"], validate_certs=self.params["validate_certs"],
                                follow_redirects="safe")
            return response.getcode(), response.read()
        except HTTPError as exc:
            raise EndpointError(_error_text(exc), exc.code) from exc
        except (URLError, HTTPException, OSError, ValueError) as exc:
            raise EndpointError(_error_text(exc)) from exc

    def rpc_call(self, method: str, params: list[t.Any]) -> t.Any:
        self.rpc_id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.rpc_id, "method": method, "params": params}).encode()
        _status, raw = self._request(self.params["rpc_url"], body)
        try:
            answer = json.loads(raw)
        except ValueError as exc:
            raise EndpointError(f"{method}: the answer is not JSON: {raw[:100]!r}") from exc
        if not isinstance(answer, dict):
            raise EndpointError(f"{method}: unexpected answer {raw[:100]!r}")
        if answer.get("error"):
            error = answer["error"]
            raise EndpointError(f"{method}: {error.get('message', error) if isinstance(error, dict) else error}")
        return answer.get("result")

    def chain_head(self) -> tuple[int, float]:
        """(head block, latency in ms)."""
        started = time.monotonic()
        result = self.rpc_call("eth_blockNumber", [])
        latency = round((time.monotonic() - started) * 1000.0, 1)
        try:
            return int(str(result), 16), latency
        except ValueError as exc:
            raise EndpointError(f"eth_blockNumber: not a block number: {result!r}") from exc

    def block_timestamp(self, number: int) -> int | None:
        block = self.rpc_call("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict) or "timestamp" not in block:
            return None
        return int(str(block["timestamp"]), 16)

    def metrics(self) -> tuple[int, dict[str, t.Any]]:
        """(HTTP status, values); raises EndpointError when the last indexed block is missing."""
        status, raw = self._request(self.params["metrics_url"])
        try:
            samples = parse_text(raw.decode("utf-8", errors="replace"))["samples"]
        except PrometheusParseError as exc:
            raise EndpointError(f"cannot parse the metrics: {exc}", status) from exc
        indexed = metric_value(samples, LAST_INDEXED)
        if indexed is None or not math.isfinite(indexed):
            raise EndpointError(f"{LAST_INDEXED} is missing from the metrics", status)
        values: dict[str, t.Any] = {"last_indexed_block": int(indexed)}
        for key, name in METRICS.items():
            value = metric_value(samples, name)
            if key in ("paused", "maintenance"):
                values[key] = None if value is None else value == 1
            elif key == "lag_seconds":
                values[key] = None if value is None or not math.isfinite(value) else round(value, 3)
            else:
                values[key] = to_int(value)
        return status, values

    def read(self, rpc: dict[str, t.Any], indexer: dict[str, t.Any]) -> tuple[tuple[float, int] | None, tuple[float, int] | None]:
        """One reading of both endpoints, updating O(rpc) and O(indexer); returns the timed block numbers."""
        head_reading = indexed_reading = None
        try:
            head, latency = self.chain_head()
            head_reading = (time.monotonic(), head)
            rpc.update(reachable=True, latency_ms=latency, error=None, head_block=head)
        except EndpointError as exc:
            rpc.update(reachable=False, latency_ms=None, error=str(exc), head_block=None)
        try:
            status, values = self.metrics()
            indexed_reading = (time.monotonic(), values["last_indexed_block"])
            indexer.update(values, reachable=True, status_code=status, error=None)
        except EndpointError as exc:
            indexer.update({key: None for key in ("last_indexed_block", *METRICS)},
                           reachable=False, status_code=exc.status_code, error=str(exc))
        return head_reading, indexed_reading

    def run(self) -> dict[str, t.Any]:
        params = self.params
        rpc: dict[str, t.Any] = {"url": params["rpc_url"], "head_timestamp": None}
        indexer: dict[str, t.Any] = {"metrics_url": params["metrics_url"]}
        head0, indexed0 = self.read(rpc, indexer)
        head1, indexed1 = head0, indexed0
        if params["sample_seconds"] > 0:
            time.sleep(params["sample_seconds"])
            head1, indexed1 = self.read(rpc, indexer)
            sampled = True
        else:
            sampled = False
        indexed_rate = rate(indexed0, indexed1) if sampled else None
        chain_rate = rate(head0, head1) if sampled else None
        sample_time = round(indexed1[0] - indexed0[0], 3) if sampled and indexed0 and indexed1 else 0.0

        head = rpc.pop("head_block")
        indexed = indexer["last_indexed_block"]
        lag_blocks: int | None = None
        lag_seconds: float | None = None
        lag_source: str | None = None
        if head is not None and indexed is not None:
            lag_blocks = max(0, head - indexed)
            lag_source = "rpc"
            try:
                rpc["head_timestamp"] = self.block_timestamp(head)
                indexed_ts = self.block_timestamp(indexed) if indexed != head else rpc["head_timestamp"]
                if rpc["head_timestamp"] is not None and indexed_ts is not None:
                    lag_seconds = float(max(0, rpc["head_timestamp"] - indexed_ts))
            except EndpointError as exc:
                self.module.warn(f"cannot read block timestamps, using {METRICS['lag_seconds']}: {exc}")
        elif indexed is not None and indexer["lag_blocks"] is not None:
            lag_blocks = max(0, indexer["lag_blocks"])
            lag_source = "metric"
        if lag_seconds is None and indexer.get("lag_seconds") is not None:
            lag_seconds = float(indexer["lag_seconds"])

        catch_up = round(indexed_rate - chain_rate, 3) if indexed_rate is not None and chain_rate is not None else None
        return {
            "changed": False,
            "status": classify(rpc["reachable"], indexed, lag_blocks, params["max_lag_blocks"], indexed_rate, indexer.get("paused")),
            "lag_blocks": lag_blocks,
            "lag_seconds": lag_seconds,
            "lag_source": lag_source,
            "chain_head_block": head,
            "last_indexed_block": indexed,
            "catch_up_blocks_per_second": catch_up,
            "eta_seconds": eta(lag_blocks, catch_up, params["max_lag_blocks"]),
            "sample": {"seconds": sample_time, "indexed_blocks_per_second": indexed_rate, "chain_blocks_per_second": chain_rate},
            "rpc": rpc,
            "indexer": indexer,
        }


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    for name in ("rpc_url", "metrics_url"):
        if not str(params[name]).startswith(("http://", "https://")):
            raise OptionError(f"{name}={params[name]!r} is not supported: accepted values are http:// or https:// URLs", option=name)
    if params["sample_seconds"] < 0 or params["sample_seconds"] > 300:
        raise OptionError(f"sample_seconds={params['sample_seconds']!r} is out of range: accepted values are 0 to 300", option="sample_seconds")
    if params["timeout"] <= 0:
        raise OptionError(f"timeout={params['timeout']!r} is out of range: accepted values are > 0", option="timeout")
    if params["max_lag_blocks"] < 0:
        raise OptionError(f"max_lag_blocks={params['max_lag_blocks']!r} is negative: accepted values are integers >= 0", option="max_lag_blocks")
