#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: indexer_lag_info
short_description: Measure how far the blockchain indexer is behind the chain, and why
version_added: 0.1.0
description:
  - Automates the diagnosis of the runbook scenario I(Blockchain Indexer Lagging) without changing anything.
  - Reads the chain head from the JSON-RPC endpoint O(rpc_url) (C(eth_blockNumber)) and the indexer's last indexed
    block from its Prometheus endpoint O(metrics_url) (C(usdx_indexer_last_indexed_block)).
  - Reports the lag in blocks and in seconds (from the timestamps of both blocks, C(eth_getBlockByNumber), or else from
    the indexer's C(usdx_indexer_lag_seconds)), and, over a sample of O(sample_seconds), the catch-up rate and an ETA.
  - Reachability of the RPC and of the indexer are reported separately, and RV(status) tells an indexer that is
    stuck (V(stalled)) from one that cannot see the chain (V(rpc_unreachable)) or cannot be reached (V(indexer_unreachable)).
  - Unreachable endpoints are reported, the module does not fail on them.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs unchanged in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  rpc_url:
    description:
      - URL of the chain's JSON-RPC endpoint (the one the indexer uses, or one that sees the same chain).
    type: str
    default: http://127.0.0.1:8545
  metrics_url:
    description:
      - URL of the indexer's Prometheus C(/metrics) endpoint.
    type: str
    default: http://127.0.0.1:3001/metrics
  sample_seconds:
    description:
      - Seconds between two readings used to measure the indexing and chain rates.
      - V(0) takes one reading only; RV(catch_up_blocks_per_second) and RV(eta_seconds) are then V(null) and
        RV(status) cannot be V(stalled) unless the indexer says it is paused.
    type: float
    default: 2
  timeout:
    description:
      - Seconds to wait for each HTTP request.
    type: float
    default: 5
  max_lag_blocks:
    description:
      - The indexer is V(ok) while it is at most this many blocks behind the chain head.
    type: int
    default: 10
  validate_certs:
    description:
      - Whether to validate TLS certificates of HTTPS URLs.
    type: bool
    default: true
seealso:
  - module: usdx.incident.disk_usage_info
"""

EXAMPLES = r"""
- name: Measure the indexer lag
  usdx.incident.indexer_lag_info:
    rpc_url: http://127.0.0.1:8545
    metrics_url: http://127.0.0.1:3001/metrics
  register: lag

- name: Tell a stuck indexer from a broken RPC
  ansible.builtin.debug:
    msg: >-
      {{ lag.status }}: {{ lag.lag_blocks }} blocks
      ({{ lag.lag_seconds | default(0, true) | usdx.incident.human_duration }}) behind;
      RPC {{ 'up, ' ~ lag.rpc.latency_ms ~ ' ms' if lag.rpc.reachable else 'down: ' ~ lag.rpc.error }}

- name: Fail when the indexer is stuck
  ansible.builtin.assert:
    that:
      - lag.status != 'stalled'
      - not lag.changed
"""

RETURN = r"""
status:
  description:
    - V(ok) when the lag is at most O(max_lag_blocks).
    - V(lagging) when it is larger and the indexer made progress during the sample (see RV(catch_up_blocks_per_second)).
    - V(stalled) when it is larger and the indexer made no progress during the sample, or says it is paused.
    - V(rpc_unreachable) when the chain head could not be read (checked first).
    - V(indexer_unreachable) when the last indexed block could not be read.
  returned: always
  type: str
  sample: lagging
lag_blocks:
  description:
    - Chain head minus last indexed block (never negative), from the last reading.
    - When the RPC is unreachable, the indexer's own C(usdx_indexer_lag_blocks), which stops growing when it cannot see
      the chain; V(null) when neither is known. RV(lag_source) says which.
  returned: always
  type: int
  sample: 42
lag_seconds:
  description:
    - Time between the last indexed block and the chain head, from their block timestamps, or else the indexer's
      C(usdx_indexer_lag_seconds); V(null) when neither is known.
  returned: always
  type: float
  sample: 42.0
lag_source:
  description: V(rpc) when the lag comes from the RPC's chain head, V(metric) from the indexer's metrics, V(null) when unknown.
  returned: always
  type: str
  sample: rpc
chain_head_block:
  description: Chain head from the RPC (last reading), V(null) when unreachable.
  returned: always
  type: int
  sample: 12400
last_indexed_block:
  description: Last indexed block from the indexer's metrics (last reading), V(null) when unreachable.
  returned: always
  type: int
  sample: 12358
catch_up_blocks_per_second:
  description:
    - Indexed blocks per second minus chain blocks per second over the sample; positive when the lag shrinks.
    - V(null) without a sample or when either rate is unknown.
  returned: always
  type: float
  sample: -1.0
eta_seconds:
  description:
    - Estimated seconds until the indexer reaches the chain head at the measured catch-up rate.
    - V(0) when the lag is at most O(max_lag_blocks), V(null) when it is larger and the indexer is not catching up
      or the rate is unknown.
  returned: always
  type: int
  sample: null
sample:
  description: The rates measured over the sample.
  returned: always
  type: dict
  contains:
    seconds:
      description: Time actually elapsed between the two readings of the indexer (0 without a sample).
      type: float
      sample: 2.01
    indexed_blocks_per_second:
      description: Rate at which the last indexed block advanced, V(null) when unknown.
      type: float
      sample: 0.0
    chain_blocks_per_second:
      description: Rate at which the chain head advanced, V(null) when unknown.
      type: float
      sample: 1.0
rpc:
  description: The JSON-RPC endpoint as seen from the target.
  returned: always
  type: dict
  contains:
    url:
      description: O(rpc_url).
      type: str
      sample: http://127.0.0.1:8545
    reachable:
      description: Whether C(eth_blockNumber) answered with a block number.
      type: bool
      sample: true
    latency_ms:
      description: Round trip of the last C(eth_blockNumber) call in milliseconds, V(null) when it failed.
      type: float
      sample: 3.2
    error:
      description: Why the RPC is unreachable, V(null) when it is reachable.
      type: str
      sample: null
    head_timestamp:
      description: Timestamp (Unix seconds) of the head block, V(null) when unknown.
      type: int
      sample: 1795849200
indexer:
  description: The indexer as its metrics describe it.
  returned: always
  type: dict
  contains:
    metrics_url:
      description: O(metrics_url).
      type: str
      sample: http://127.0.0.1:3001/metrics
    reachable:
      description: Whether the metrics were read and held C(usdx_indexer_last_indexed_block).
      type: bool
      sample: true
    status_code:
      description: HTTP status of the last metrics request, V(null) when no HTTP answer came.
      type: int
      sample: 200
    error:
      description: Why the metrics could not be used, V(null) when they could.
      type: str
      sample: null
    last_indexed_block:
      description: C(usdx_indexer_last_indexed_block).
      type: int
      sample: 12358
    chain_head_block:
      description: C(usdx_indexer_chain_head_block), the chain head as the indexer last saw it.
      type: int
      sample: 12400
    lag_blocks:
      description: C(usdx_indexer_lag_blocks).
      type: int
      sample: 42
    lag_seconds:
      description: C(usdx_indexer_lag_seconds).
      type: float
      sample: 42.0
    paused:
      description: C(usdx_indexer_paused) is 1 (V(null) when not exported).
      type: bool
      sample: false
    maintenance:
      description: C(usdx_maintenance_mode) is 1 (V(null) when not exported).
      type: bool
      sample: false
"""

import json
import math
import time
import traceback
import typing as t
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

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
    """Reads the RPC and the indexer's metrics; never changes anything."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
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


def validate(module: AnsibleModule) -> None:
    params = module.params
    for name in ("rpc_url", "metrics_url"):
        if not str(params[name]).startswith(("http://", "https://")):
            module.fail_json(msg=f"{name}={params[name]!r} is not supported: accepted values are http:// or https:// URLs")
    if params["sample_seconds"] < 0 or params["sample_seconds"] > 300:
        module.fail_json(msg=f"sample_seconds={params['sample_seconds']!r} is out of range: accepted values are 0 to 300")
    if params["timeout"] <= 0:
        module.fail_json(msg=f"timeout={params['timeout']!r} is out of range: accepted values are > 0")
    if params["max_lag_blocks"] < 0:
        module.fail_json(msg=f"max_lag_blocks={params['max_lag_blocks']!r} is negative: accepted values are integers >= 0")


def main() -> None:
    argument_spec = {
        "rpc_url": {"type": "str", "default": "http://127.0.0.1:8545"},
        "metrics_url": {"type": "str", "default": "http://127.0.0.1:3001/metrics"},
        "sample_seconds": {"type": "float", "default": 2},
        "timeout": {"type": "float", "default": 5},
        "max_lag_blocks": {"type": "int", "default": 10},
        "validate_certs": {"type": "bool", "default": True},
    }
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    validate(module)
    try:
        result = LagProbe(module).run()
    except EndpointError as exc:
        module.fail_json(msg=str(exc), exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
