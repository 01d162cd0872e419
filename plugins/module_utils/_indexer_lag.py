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

from ansible_collections.usdx.incident.plugins.module_utils import _http, _proc
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerCli, DockerError, DockerTimeout
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._parallel import CheckModule
from ansible_collections.usdx.incident.plugins.module_utils._postgres import PostgresError, PostgresQuery
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
# Seconds between two readings while waiting for the lag to come within the threshold (O(wait_seconds)).
WAIT_STEP = 0.25
# Characters of rpc:ping's output kept (its answer is the last line).
MAX_PING_OUTPUT = 4000
# The indexed blocks as one JSON document: rows, distinct numbers and hashes (a difference is a duplicate), the range,
# and the gaps as [first missing, last missing] (the first 20). Over the whole table, in one snapshot.
BLOCKS_SQL = """
SELECT json_build_object(
  'count', count(*), 'distinct_numbers', count(DISTINCT number), 'distinct_hashes', count(DISTINCT hash),
  'min', min(number), 'max', max(number),
  'gaps', (SELECT coalesce(json_agg(g.gap ORDER BY g.first), '[]'::json) FROM (
             SELECT number + 1 AS first, json_build_array(number + 1, next - 1) AS gap
             FROM (SELECT number, lead(number) OVER (ORDER BY number) AS next FROM blocks) s
             WHERE next > number + 1 ORDER BY number LIMIT 20) g))::text
FROM blocks
"""


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

    def within(self, head: tuple[float, int] | None, indexed: tuple[float, int] | None) -> bool:
        """Whether a reading of both endpoints puts the lag within O(max_lag_blocks)."""
        return head is not None and indexed is not None and head[1] - indexed[1] <= self.params["max_lag_blocks"]

    def wait(self, rpc: dict[str, t.Any], indexer: dict[str, t.Any], head: tuple[float, int] | None,
             indexed: tuple[float, int] | None) -> tuple[tuple[t.Any, t.Any], tuple[t.Any, t.Any]]:
        """Read again every L(WAIT_STEP) seconds until the lag is within O(max_lag_blocks) or O(wait_seconds) have
        passed (and always a request's time before the deadline).

        Returns the first complete reading (both endpoints answered; the base of a rate over the wait, else the first
        reading) and the last reading.
        """
        until = min(time.monotonic() + self.params["wait_seconds"], self.deadline - self.params["timeout"])
        first = (head, indexed)
        while not self.within(head, indexed) and time.monotonic() + WAIT_STEP <= until:
            time.sleep(WAIT_STEP)
            head, indexed = self.read(rpc, indexer)
            if first[0] is None or first[1] is None:
                first = (head, indexed)
        return first, (head, indexed)

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
        waited = False
        if params.get("wait_seconds"):
            (head0, indexed0), (head1, indexed1) = self.wait(rpc, indexer, head0, indexed0)
            waited = indexed0 is not None and indexed1 is not None and indexed1[0] > indexed0[0]
        indexed_rate = indexer.get("indexed_blocks_per_second")
        # The rate only decides between lagging and stalled: no sample without both readings, or within the normal lag.
        sampled = (indexed_rate is None and params["sample_seconds"] > 0 and head1 is not None and indexed1 is not None
                   and head1[1] - indexed1[1] > params["max_lag_blocks"])
        if sampled and not waited:
            time.sleep(min(params["sample_seconds"], max(0.0, self.deadline - time.monotonic() - params["timeout"])))
            head1, indexed1 = self.read(rpc, indexer)
        if sampled:
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
    """The whole probe's deadline: two rounds of requests (readings, then timestamps), the wait and the sample."""
    return 2 * params["timeout"] + params["sample_seconds"] + params.get("wait_seconds", 0)


def indexed_blocks(module: t.Any, params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The indexer's C(blocks) table as L(BLOCKS_SQL) sums it up, read as O(params) say (TCP or through the db
    container, read only, under O(statement_timeout)); a table that could not be read is C({error, timed_out})."""
    try:
        doc = PostgresQuery(module, params).query_json(BLOCKS_SQL)
    except (PostgresError, DockerError) as exc:
        return {"error": str(exc), "timed_out": bool(getattr(exc, "timed_out", False)) or isinstance(exc, DockerTimeout)}
    if not isinstance(doc, dict):
        return {"error": f"the blocks query answered no JSON object: {redact_text(repr(doc)[:100])}", "timed_out": False}
    return doc


class RpcPing:
    """The runbook's C(npm run rpc:ping) (O(ping_command)) in the one running container of the compose service
    O(ping_service), finished with the container lookup within O(ping_timeout) seconds.

    What it printed is the result, whatever its exit code; a ping that could not run (no running container, or more
    than one, a docker failure, the deadline) is a result with C(rc=null) and C(error), not an exception. The
    output is read as data, with credentials inside URLs masked.
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.params = params
        # Run from a thread beside the lag readings: the worker's view of the module, with its own deadline.
        self.module = CheckModule(module, "rpc_ping", params, _proc.deadline_in(params["ping_timeout"]))

    def run(self) -> dict[str, t.Any]:
        service, project = self.params["ping_service"], self.params["project_name"]
        result: dict[str, t.Any] = {"service": service, "container": None, "command": list(self.params["ping_command"]),
                                    "rc": None, "stdout": "", "stderr": "", "error": None, "timed_out": False}
        docker = DockerCli(self.module, self.params["docker_cli"], project)
        try:
            running = [c["Id"] for c in docker.service_containers().get(service, [])
                       if (c.get("State") or {}).get("Running")]
            if len(running) != 1:
                result["error"] = (f"{len(running)} running containers of service {service!r} in compose project "
                                   f"{project!r}: rpc:ping runs in exactly one")
                return result
            result["container"] = running[0]
            rc, out, err = docker.exec(running[0], list(self.params["ping_command"]))
        except DockerError as exc:
            result.update(error=redact_text(str(exc)), timed_out=isinstance(exc, DockerTimeout))
            return result
        result.update(rc=rc, stdout=redact_text(out[-MAX_PING_OUTPUT:]), stderr=redact_text(err[-MAX_PING_OUTPUT:]))
        return result


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
    if not 0 <= params.get("wait_seconds", 0) <= 3600:
        raise OptionError(f"wait_seconds={params['wait_seconds']!r} is out of range: accepted values are 0 to 3600", option="wait_seconds")
    if params.get("ping_service") is not None:
        if not params["ping_service"]:
            raise OptionError("ping_service='' is not a service name: accepted values are a compose service or null", option="ping_service")
        if not params["ping_command"]:
            raise OptionError("ping_command=[] is empty: accepted values are a command as a list of arguments", option="ping_command")
        if params["ping_timeout"] <= 0:
            raise OptionError(f"ping_timeout={params['ping_timeout']!r} is out of range: accepted values are > 0", option="ping_timeout")
    if params.get("check_blocks") and not 1 <= params["statement_timeout"] <= 600:
        raise OptionError(f"statement_timeout={params['statement_timeout']!r} is out of range: accepted values are 1 to 600",
                          option="statement_timeout")
