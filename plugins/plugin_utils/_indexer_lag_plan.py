# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""What the runbook scenario "Blockchain Indexer Lagging" does, decided from what the indexer and the RPC report.

L(plan) reads a M(usdx.incident.indexer_lag_info) result and the result of the runbook's C(npm run rpc:ping) in the
indexer container (the module's C(rpc_ping) with O(ping_service)), and decides one action:

- C(refuse): the lag diagnosis failed, timed out or is partial, or rpc:ping did not run or said nothing readable
  (fail closed: nothing is touched);
- C(escalate): the RPC is down (rpc:ping or the lag module says so). That is an external service failure: the
  indexer is not restarted (a restart cannot bring the chain back, and drops its state), the incident goes to
  the runbook's escalation level "External: Infrastructure Provider";
- C(nothing): the lag is at most O(max_lag_blocks);
- C(wait): the indexer is behind but already catching up (positive catch-up rate, not stalled): restarting it
  would only lose its progress;
- C(restart): the indexer is stalled, falls further behind, or its metrics do not answer while the RPC is fine.

Given the polls taken after the restart (C(polls)), L(progress) says whether the catch-up is done, progressing
(with the lag, the measured rate and an ETA), too slow to finish within O(catch_up_timeout) (ETA given, not waited
out), not shrinking over O(stall_window) seconds (a failure), or out of time. Given the blocks table as
M(usdx.incident.indexer_lag_info) read it (C(blocks)), L(integrity) says whether the indexed blocks have a gap or a
duplicate.

Host data (module results, command output, query rows) is read leniently and never raises; only the options raise
AnsibleFilterError naming the option.
"""

from __future__ import annotations

import json
import math
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.plugin_utils._values import as_mapping, as_number, clipped, show, whole_number

NAME = "indexer_lag_plan"
ESCALATION = "External: Infrastructure Provider"
ACTIONS = ("refuse", "escalate", "nothing", "wait", "restart")
# Progress states; the first two mean "poll again".
WAITING = ("waiting", "progressing")
PROGRESS_STATES = WAITING + ("caught_up", "too_slow", "not_shrinking", "timed_out", "rpc_down")

DEFAULTS: dict[str, t.Any] = {
    "max_lag_blocks": 10,
    "catch_up_timeout": 300,
    "stall_window": 30,
    "service": "indexer",
}
_BOUNDS = {"max_lag_blocks": (0, 10**9), "catch_up_timeout": (0, 86400), "stall_window": (1, 86400)}


# ------------------------------------------------------------------------------------ options (the user's input)


def read_options(options: t.Any) -> dict[str, t.Any]:
    """The options over DEFAULTS; raises AnsibleFilterError naming the bad option and what it accepts."""
    if not isinstance(options, Mapping):
        raise AnsibleFilterError(f"{NAME}: options must be a dict, got {show(options)}")
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise AnsibleFilterError(f"{NAME}: unknown option {show(unknown[0])}; accepted options are {', '.join(sorted(DEFAULTS))}")
    opts = {**DEFAULTS, **options}
    for key, (low, high) in _BOUNDS.items():
        number = as_number(opts[key])
        if number is None or number != int(number) or not low <= number <= high:
            raise AnsibleFilterError(f"{NAME}: {key} must be an integer from {low} to {high}, got {show(opts[key])}")
        opts[key] = int(number)
    if not isinstance(opts["service"], str) or not opts["service"]:
        raise AnsibleFilterError(f"{NAME}: service must be a non-empty string, got {show(opts['service'])}")
    return opts


# ------------------------------------------------------------------------------------ reading host data


def diagnosis_problem(lag: t.Any) -> str | None:
    """Why an indexer_lag_info result cannot be acted on, or None."""
    doc = as_mapping(lag)
    if not doc:
        return "no indexer_lag_info result: the lag diagnosis did not run"
    if doc.get("failed") or doc.get("timed_out"):
        reason = "timed out" if doc.get("timed_out") else "failed"
        return f"the lag diagnosis {reason}: {clipped(doc.get('msg')) or 'no message'}"
    if doc.get("partial"):
        reasons = doc["partial"] if isinstance(doc["partial"], list) else [doc["partial"]]
        return "the lag diagnosis is partial: " + "; ".join(clipped(r) for r in reasons)
    if doc.get("status") not in ("ok", "lagging", "stalled", "rpc_unreachable", "indexer_unreachable"):
        return f"the lag diagnosis has no known status: {clipped(doc.get('status'))!r}"
    return None


def read_ping(ping: t.Any) -> tuple[bool | None, str]:
    """(RPC reachable from the indexer, detail) from rpc:ping's result - M(usdx.incident.indexer_lag_info)'s
    C(rpc_ping), or a registered C(docker_container_exec) result; (None, why) when it did not run or its output says
    nothing readable."""
    doc = as_mapping(ping)
    if not doc or doc.get("skipped"):
        return None, "rpc:ping did not run"
    if doc.get("error") and doc.get("rc") is None:
        return None, f"rpc:ping did not run: {clipped(doc.get('error'))}"
    if doc.get("failed") and "rc" not in doc:
        return None, f"rpc:ping could not run: {clipped(doc.get('msg')) or 'no message'}"
    rc = whole_number(doc.get("rc"))
    lines = [line for line in clipped(doc.get("stdout"), 10000).splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    answer = as_mapping(answer)
    if rc == 0 and answer.get("ok") is True:
        return True, f"rpc:ping ok: {clipped(answer.get('url'))} at block {clipped(answer.get('block_number'))}"
    if rc not in (0, None) and answer.get("ok") is False:
        return False, f"rpc:ping from the indexer failed: {clipped(answer.get('url'))}: {clipped(answer.get('error'))}"
    return None, f"rpc:ping said nothing readable (rc {rc}): {clipped(doc.get('stdout'), 120)!r}"


# ------------------------------------------------------------------------------------ the decision


def _lag_view(lag: Mapping[str, t.Any]) -> dict[str, t.Any]:
    rpc, indexer = as_mapping(lag.get("rpc")), as_mapping(lag.get("indexer"))
    return {
        "status": clipped(lag.get("status")),
        "lag_blocks": whole_number(lag.get("lag_blocks")),
        "lag_seconds": as_number(lag.get("lag_seconds")),
        "chain_head_block": whole_number(lag.get("chain_head_block")),
        "last_indexed_block": whole_number(lag.get("last_indexed_block")),
        "catch_up_blocks_per_second": as_number(lag.get("catch_up_blocks_per_second")),
        "eta_seconds": whole_number(lag.get("eta_seconds")),
        "rpc_error": clipped(rpc.get("error")) or None,
        "indexer_error": clipped(indexer.get("error")) or None,
    }


def decide(view: Mapping[str, t.Any], rpc_ok: bool, opts: Mapping[str, t.Any]) -> tuple[str, str]:
    """(action, why) for a complete diagnosis."""
    lag, catch_up = view["lag_blocks"], view["catch_up_blocks_per_second"]
    if not rpc_ok or view["status"] == "rpc_unreachable":
        return "escalate", "the chain RPC is down: an external service failure, a restart of the indexer cannot fix it"
    if view["status"] == "indexer_unreachable" or lag is None:
        return "restart", f"the indexer's metrics do not answer ({view['indexer_error'] or 'no lag reported'}) while the RPC is up"
    if lag <= opts["max_lag_blocks"]:
        return "nothing", f"lag {lag} blocks is within {opts['max_lag_blocks']}"
    if view["status"] != "stalled" and catch_up is not None and catch_up > 0:
        return "wait", f"lag {lag} blocks, but the indexer is catching up at {catch_up} blocks/s: a restart would lose its progress"
    if view["status"] == "stalled":
        return "restart", f"lag {lag} blocks and the indexer is stalled (no block indexed)"
    return "restart", f"lag {lag} blocks and the indexer is not catching up ({_rate(catch_up)})"


def _rate(value: float | None) -> str:
    return "rate unknown" if value is None else f"{value} blocks/s"


def plan(lag: t.Any, options: t.Any, ping: t.Any = None, polls: t.Any = None, started: t.Any = None,
         blocks: t.Any = None) -> dict[str, t.Any]:
    opts = read_options(options)
    view = _lag_view(as_mapping(lag))
    refused: list[str] = []
    problem = diagnosis_problem(lag)
    if problem:
        refused.append(problem)
    rpc_ok, ping_detail = read_ping(ping)
    if rpc_ok is None:
        refused.append(ping_detail)
    if refused:
        action, why = "refuse", "; ".join(refused)
    else:
        action, why = decide(view, bool(rpc_ok), opts)
    escalate = None
    if action == "escalate":
        escalate = (f"ESCALATE to {ESCALATION}: the chain RPC is down ({ping_detail if rpc_ok is False else view['rpc_error']}). "
                    f"The {opts['service']} service was not restarted.")
    result: dict[str, t.Any] = {
        "action": action,
        "why": why,
        "refused": refused,
        "act": action in ("restart", "wait"),
        "restart": action == "restart",
        "healthy": action == "nothing",
        "escalate": escalate,
        "rpc": {"ok": rpc_ok, "detail": ping_detail},
        "lag": view,
        "max_lag_blocks": opts["max_lag_blocks"],
    }
    result["summary"] = summary(result, opts)
    result["report"] = report(result, opts)
    if polls is not None:
        result["progress"] = progress(polls, started, opts)
    if blocks is not None:
        result["integrity"] = integrity(blocks)
    return result


def summary(result: Mapping[str, t.Any], opts: Mapping[str, t.Any]) -> str:
    action = result["action"]
    if action == "refuse":
        return "REFUSED: " + result["why"]
    if action == "escalate":
        return result["escalate"]
    if action == "nothing":
        return f"HEALTHY: {result['why']}"
    if action == "wait":
        return f"PLAN: wait up to {opts['catch_up_timeout']} s for the catch-up, no restart ({result['why']})"
    return (f"PLAN: restart the {opts['service']} service only (docker compose restart {opts['service']}), then wait up to "
            f"{opts['catch_up_timeout']} s for the lag to fall within {opts['max_lag_blocks']} blocks ({result['why']})")


def report(result: Mapping[str, t.Any], opts: Mapping[str, t.Any]) -> list[str]:
    view = result["lag"]
    lines = [result["summary"], f"RPC: {result['rpc']['detail']}"]
    lines.append(f"lag: {view['status'] or 'unknown'}, {view['lag_blocks']} blocks (threshold {opts['max_lag_blocks']}), "
                 f"chain head {view['chain_head_block']}, last indexed {view['last_indexed_block']}, "
                 f"catch-up {_rate(view['catch_up_blocks_per_second'])}")
    if result["act"]:
        lines.append(f"a lag that does not shrink for {opts['stall_window']} s is a failure; an ETA beyond the "
                     f"{opts['catch_up_timeout']} s timeout is reported, not waited out")
    return lines


# ------------------------------------------------------------------------------------ catch-up progress


def _readings(polls: t.Any) -> tuple[list[tuple[float, int]], Mapping[str, t.Any], float | None]:
    """(time, lag) of every poll that measured the lag, the last poll's lag result, and the last poll's time."""
    readings: list[tuple[float, int]] = []
    last: Mapping[str, t.Any] = {}
    last_at = None
    for poll in polls if isinstance(polls, list) else []:
        poll = as_mapping(poll)
        at = as_number(poll.get("at"))
        lag = as_mapping(poll.get("lag"))
        if at is None:
            continue
        last, last_at = lag, at
        blocks = whole_number(lag.get("lag_blocks"))
        if diagnosis_problem(lag) is None and lag.get("status") in ("ok", "lagging", "stalled") and blocks is not None:
            readings.append((at, blocks))
    return readings, last, last_at


def progress(polls: t.Any, started: t.Any, opts: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """Where the catch-up stands after the polls (each C({at: unix time, lag: indexer_lag_info result})).

    The rate is measured over the polls of the last O(stall_window) seconds (the indexer's own catch-up rate before
    two polls exist); the ETA is until the lag is within O(max_lag_blocks).
    """
    readings, last, last_at = _readings(polls)
    start = as_number(started)
    out: dict[str, t.Any] = {"state": "waiting", "polls": len(polls) if isinstance(polls, list) else 0,
                             "lag_blocks": None, "rate": None, "eta_seconds": None, "elapsed": 0.0}
    if start is None or last_at is None:
        out["message"] = "no poll yet"
        return out
    elapsed = round(max(0.0, last_at - start), 1)
    remaining = opts["catch_up_timeout"] - elapsed
    out["elapsed"] = elapsed
    window, limit = opts["stall_window"], opts["max_lag_blocks"]
    clock = f"{elapsed:g} s of {opts['catch_up_timeout']} s"
    if last.get("status") == "rpc_unreachable":
        rpc_error = clipped(as_mapping(last.get('rpc')).get('error'))
        out.update(state="rpc_down", message=f"the chain RPC went down while waiting ({rpc_error}): ESCALATE to {ESCALATION}")
        return out
    if not readings or readings[-1][0] != last_at:
        why = diagnosis_problem(last) or clipped(as_mapping(last.get("indexer")).get("error")) or "no lag reported"
        quiet_since = readings[-1][0] if readings else start
        if last_at - quiet_since >= window:
            out.update(state="not_shrinking", message=f"the indexer has not reported its lag for {last_at - quiet_since:g} s "
                                                      f"(stall window {window} s): {why}")
        elif elapsed >= opts["catch_up_timeout"]:
            out.update(state="timed_out", message=f"no lag reading after {clock}: {why}")
        else:
            out["message"] = f"waiting for the indexer to report its lag ({clock}): {why}"
        return out
    at, lag = readings[-1]
    out["lag_blocks"] = lag
    if lag <= limit:
        out.update(state="caught_up", eta_seconds=0, message=f"caught up: lag {lag} blocks, within {limit}, after {elapsed:g} s")
        return out
    older = [r for r in readings if r[0] <= at - window]
    if older and lag >= older[-1][1]:
        out.update(state="not_shrinking", message=f"the lag is not shrinking: {older[-1][1]} blocks {at - older[-1][0]:g} s ago, "
                                                  f"{lag} blocks now (stall window {window} s)")
        return out
    # The rate over the stall window: from the newest reading at least a window old, else from the first.
    base = older[-1] if older else readings[0]
    rate = round((base[1] - lag) / (at - base[0]), 3) if at > base[0] else as_number(last.get("catch_up_blocks_per_second"))
    out["rate"] = rate
    eta = int(math.ceil((lag - limit) / rate)) if rate is not None and rate > 0 else None
    out["eta_seconds"] = eta
    pace = _rate(rate) if eta is None else f"catching up at {rate:g} blocks/s, ETA {eta} s to within {limit}"
    if elapsed >= opts["catch_up_timeout"]:
        out.update(state="timed_out", message=f"lag still {lag} blocks after {clock} ({pace})")
    elif eta is not None and eta > remaining:
        out.update(state="too_slow",
                   message=f"catch-up would take about {eta} s at {rate:g} blocks/s, past the "
                           f"{opts['catch_up_timeout']} s timeout ({clock}, lag {lag} blocks): not waited out")
    elif eta is not None:
        out.update(state="progressing", message=f"lag {lag} blocks, {pace} ({clock})")
    else:
        out["message"] = f"lag {lag} blocks, not catching up yet ({pace}, {clock})"
    return out


# ------------------------------------------------------------------------------------ verify: the blocks table


def integrity(blocks: t.Any) -> dict[str, t.Any]:
    """Gaps and duplicates in the indexed blocks, from M(usdx.incident.indexer_lag_info)'s C(blocks) (C(count),
    C(distinct_numbers), C(distinct_hashes), C(min), C(max), C(gaps) as a list of C([first missing, last missing]));
    a table that could not be read (C(error)), or nothing read, is not ok."""
    doc = as_mapping(blocks)
    if doc.get("error"):
        return {"ok": False, "message": f"the blocks table could not be read: {clipped(doc.get('error'))}"}
    count, numbers, hashes = whole_number(doc.get("count")), whole_number(doc.get("distinct_numbers")), whole_number(doc.get("distinct_hashes"))
    low, high = whole_number(doc.get("min")), whole_number(doc.get("max"))
    gaps = doc.get("gaps") if isinstance(doc.get("gaps"), list) else None
    if None in (count, numbers, hashes, low, high) or gaps is None or not count:
        return {"ok": False, "message": f"the blocks table could not be judged (no rows, or an unreadable answer): {show(dict(doc))}"}
    problems = []
    if numbers != count:
        problems.append(f"{count - numbers} duplicate block number(s)")
    if hashes != count:
        problems.append(f"{count - hashes} duplicate block hash(es)")
    missing = (high - low + 1) - numbers
    if missing or gaps:
        shown = ", ".join(f"{clipped(g[0])}-{clipped(g[1])}" if isinstance(g, list) and len(g) == 2 else clipped(g) for g in gaps[:5])
        problems.append(f"{missing} block(s) missing between {low} and {high} ({shown})")
    span = f"blocks {low}..{high}, {count} rows"
    return {"ok": not problems, "count": count, "min": low, "max": high, "missing": missing,
            "message": f"{span}: " + ("; ".join(problems) if problems else "no gap, no duplicate")}
