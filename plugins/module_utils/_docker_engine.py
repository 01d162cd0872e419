# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Container resource use read from the Docker Engine API and the containers' cgroups, without C(docker stats).

C(docker stats --no-stream) waits for two samples of dockerd's collector, one second apart: it was the whole
critical path of the triage. C(GET /containers/{id}/stats?stream=false&one-shot=true) answers with memory and pids
after at most one collector tick, all containers read side by side. CPU percent is a rate, so it needs two
readings: the container's own cgroup CPU counter is read twice, L(CPU_SAMPLE_SECONDS) apart, while the Engine
answers (this needs the module to run on the Docker host with read access to C(/proc) and C(/sys/fs/cgroup),
as root does; otherwise CPU percent is V(null), or comes from the Engine when its answer holds a previous reading).
"""

from __future__ import annotations

import json
import os
import threading
import time
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._http import fetch

DEFAULT_SOCKET = "/var/run/docker.sock"
CPU_SAMPLE_SECONDS = 0.25
MAX_BODY = 1024 * 1024


class EngineError(Exception):
    """The Engine API could not be used (no socket, no permission, an answer that is not the API's)."""


def engine_socket(environ: t.Mapping[str, str]) -> str | None:
    """The unix socket the docker CLI would talk to, or None when it talks to something else (tcp, ssh, a context)."""
    if environ.get("DOCKER_CONTEXT"):
        return None
    host = environ.get("DOCKER_HOST") or ""
    if not host:
        return DEFAULT_SOCKET
    return host[len("unix://"):] if host.startswith("unix://") else None


def get_json(socket_path: str, path: str, deadline: float, max_bytes: int = MAX_BODY) -> tuple[int, t.Any]:
    """(status, JSON body) of C(GET path) over the engine's unix socket, finished by C(deadline)."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise EngineError(f"GET {path} did not finish by the deadline")
    answer = fetch("http://localhost" + path, left, headers={"Accept": "application/json"}, max_bytes=max_bytes,
                   unix_socket=socket_path, follow_redirects="none", use_proxy=False)
    if answer.status is None or answer.timed_out:
        raise EngineError(f"GET {path} over {socket_path} failed: {answer.error}")
    if answer.truncated:
        raise EngineError(f"GET {path}: answer larger than {max_bytes} bytes")
    try:
        return answer.status, json.loads(answer.body.decode("utf-8", "replace")) if answer.body.strip() else None
    except ValueError as exc:
        raise EngineError(f"GET {path}: the answer is not JSON") from exc


def _number(value: t.Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def memory_used(memory: t.Mapping[str, t.Any]) -> int | None:
    """Memory use as C(docker stats) shows it: usage without the inactive page cache (cgroup v1 or v2)."""
    usage = _number(memory.get("usage"))
    if usage is None:
        return None
    detail = memory.get("stats") if isinstance(memory.get("stats"), dict) else {}
    for key in ("total_inactive_file", "inactive_file"):
        cache = _number(detail.get(key))
        if cache is not None and cache < usage:
            return usage - cache
    return usage


def cpu_percent(first: t.Mapping[str, t.Any], second: t.Mapping[str, t.Any]) -> float | None:
    """CPU use between two readings, as a percentage of one CPU (C(docker stats)' formula); None if unknowable."""
    def usage(doc: t.Mapping[str, t.Any]) -> tuple[int | None, int | None, int | None]:
        cpu = doc.get("cpu_stats") if isinstance(doc.get("cpu_stats"), dict) else {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage") if isinstance(cpu.get("cpu_usage"), dict) else None
        percpu = (cpu.get("cpu_usage") or {}).get("percpu_usage") if isinstance(cpu.get("cpu_usage"), dict) else None
        online = _number(cpu.get("online_cpus")) or (len(percpu) if isinstance(percpu, list) else None)
        return _number(total), _number(cpu.get("system_cpu_usage")), online
    total1, system1, _online = usage(first)
    total2, system2, online = usage(second)
    if None in (total1, total2, system1, system2) or not online:
        return None
    system_delta = t.cast(int, system2) - t.cast(int, system1)
    cpu_delta = t.cast(int, total2) - t.cast(int, total1)
    if system_delta <= 0 or cpu_delta < 0:
        return None
    return round(cpu_delta / system_delta * online * 100.0, 2)


def parse_engine_stats(doc: t.Mapping[str, t.Any], cpu: float | None = None) -> dict[str, t.Any]:
    """One one-shot reading of a container -> the keys of L(_docker.parse_stats_line).

    C(cpu) is the CPU percent measured elsewhere (the cgroup); without it, the reading's own previous sample
    (C(precpu_stats)) is used when it has one.
    """
    memory = doc.get("memory_stats") if isinstance(doc.get("memory_stats"), dict) else {}
    used = memory_used(memory)
    limit = _number(memory.get("limit"))
    pids = doc.get("pids_stats") if isinstance(doc.get("pids_stats"), dict) else {}
    previous = {"cpu_stats": doc.get("precpu_stats")}
    return {
        "memory_usage_bytes": used,
        "memory_limit_bytes": limit,
        "memory_percent": round(used / limit * 100.0, 2) if used is not None and limit else None,
        "cpu_percent": cpu if cpu is not None else cpu_percent(previous, doc),
        "pids": _number(pids.get("current")),
    }


def cgroup_cpu_counter(pid: int, proc: str = "/proc") -> tuple[str, str] | None:
    """(file, kind) of the CPU time counter of the cgroup process C(pid) is in: C(cpuacct.usage) in nanoseconds
    (cgroup v1) or C(cpu.stat) with C(usage_usec) (v2); None when it cannot be found or read."""
    try:
        with open(f"{proc}/{int(pid)}/cgroup", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
        with open(f"{proc}/self/mounts", encoding="utf-8") as handle:
            mounts = [line.split() for line in handle.read().splitlines()]
    except (OSError, ValueError):
        return None
    groups = {}
    for line in lines:
        _id, _sep, rest = line.partition(":")
        controllers, _sep, path = rest.partition(":")
        groups[controllers] = path
    for fields in mounts:
        if len(fields) < 4:
            continue
        mount_point, fstype, options = fields[1], fields[2], fields[3].split(",")
        if fstype == "cgroup" and "cpuacct" in options:
            path = next((p for c, p in groups.items() if "cpuacct" in c.split(",")), None)
            candidate = (f"{mount_point}{path}/cpuacct.usage", "v1") if path is not None else None
        elif fstype == "cgroup2" and "" in groups:
            candidate = (f"{mount_point}{groups['']}/cpu.stat", "v2")
        else:
            continue
        if candidate and os.access(candidate[0], os.R_OK):
            return candidate
    return None


def read_cpu_ns(counter: tuple[str, str]) -> int | None:
    """CPU time used so far by the cgroup, in nanoseconds."""
    path, kind = counter
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    if kind == "v1":
        return int(text.strip()) if text.strip().isdigit() else None
    for line in text.splitlines():
        name, _sep, value = line.partition(" ")
        if name == "usage_usec" and value.strip().isdigit():
            return int(value) * 1000
    return None


def cgroup_cpu_percent(pids: t.Mapping[str, int], seconds: float, proc: str = "/proc") -> dict[str, float]:
    """CPU use of each container (keyed as C(pids), by its main process) over C(seconds), in percent of one CPU."""
    counters = {cid: cgroup_cpu_counter(pid, proc) for cid, pid in pids.items() if pid}
    counters = {cid: counter for cid, counter in counters.items() if counter}
    first = {cid: (read_cpu_ns(counter), time.monotonic()) for cid, counter in counters.items()}
    time.sleep(seconds)
    result = {}
    for cid, counter in counters.items():
        used, when = read_cpu_ns(counter), time.monotonic()
        before, then = first[cid]
        if used is not None and before is not None and used >= before and when > then:
            result[cid] = round((used - before) / ((when - then) * 1e9) * 100.0, 2)
    return result


def one_shot_stats(socket_path: str, ids: list[str], deadline: float, pids: t.Mapping[str, int] | None = None,
                   sample_seconds: float = CPU_SAMPLE_SECONDS) -> dict[str, dict[str, t.Any]]:
    """Stats of each container keyed by id, all read at once; containers gone meanwhile are missing.

    C(pids) maps container ids to their main process, for the CPU reading of their cgroup.
    Raises EngineError when the socket cannot be used at all (so the caller can fall back to the CLI).
    """
    if not os.path.exists(socket_path):
        raise EngineError(f"no Docker socket at {socket_path}")
    docs: dict[str, dict[str, t.Any]] = {}
    errors: list[EngineError] = []

    def read(container_id: str) -> None:
        path = f"/containers/{container_id}/stats?stream=false&one-shot=true"
        try:
            status, doc = get_json(socket_path, path, deadline)
        except EngineError as exc:
            errors.append(exc)
            return
        if status == 200 and isinstance(doc, dict):
            docs[container_id] = doc
        elif status != 404:
            errors.append(EngineError(f"GET {path}: HTTP {status}"))

    threads = [threading.Thread(target=read, args=(cid,), daemon=True, name="usdx-stats") for cid in ids]
    for thread in threads:
        thread.start()
    cpu = cgroup_cpu_percent(pids or {}, max(0.0, min(sample_seconds, deadline - time.monotonic())))
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if not docs and (errors or any(thread.is_alive() for thread in threads)):
        raise errors[0] if errors else EngineError(f"no stats from {socket_path} by the deadline")
    return {cid: parse_engine_stats(doc, cpu.get(cid)) for cid, doc in list(docs.items())}
