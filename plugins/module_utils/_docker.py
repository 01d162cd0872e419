# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The docker CLI, called with argument lists (never through a shell)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _docker_engine, _proc
from ansible_collections.usdx.incident.plugins.module_utils._errors import DeadlineExceeded

COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
# Seconds the Engine API may take for the stats of all containers before the CLI is tried instead.
ENGINE_TIMEOUT = 5.0
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_ONEOFF_LABEL = "com.docker.compose.oneoff"

# Docker prints the zero time for "never" (FinishedAt of a running container).
_ZERO_TIME_PREFIX = "0001-01-01"
_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")
# Binary (IEC) and decimal (SI) units as docker stats prints them.
_SIZE_UNITS = {
    "b": 1,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4, "pib": 1024**5,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, "pb": 1000**5,
}
_SIZE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*$")


def docker_argument_spec() -> dict[str, t.Any]:
    """Options of the C(usdx.incident.connection) doc fragment."""
    return {
        "project_name": {"type": "str", "default": "usdx-wexel"},
        "docker_cli": {"type": "path", "default": "docker"},
    }


class DockerError(Exception):
    """A docker CLI call failed; the message carries the command and its stderr."""


class DockerTimeout(DockerError, DeadlineExceeded):
    """A docker CLI call was killed at its deadline."""


def parse_docker_time(value: str | None) -> _dt.datetime | None:
    """A docker RFC 3339 time (nanoseconds allowed) as an aware datetime; None for unset/zero times."""
    if not value or value.startswith(_ZERO_TIME_PREFIX):
        return None
    match = _TIME_RE.match(value.strip())
    if not match:
        return None
    base, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz = _dt.timezone.utc if zone == "Z" else _dt.datetime.strptime(zone.replace(":", ""), "%z").tzinfo
    return _dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(microsecond=micro, tzinfo=tz)


def docker_time_or_none(value: str | None) -> str | None:
    """The docker time string itself, or None for the zero time docker uses for "never"."""
    return value if parse_docker_time(value) else None


def seconds_since(value: str | None, now: _dt.datetime) -> float | None:
    when = parse_docker_time(value)
    return None if when is None else round((now - when).total_seconds(), 3)


def parse_size(text: str | None) -> int | None:
    """C(12.5MiB) -> 13107200 bytes; None for C(--) and anything unparsable."""
    match = _SIZE_RE.match(text or "")
    if not match:
        return None
    factor = _SIZE_UNITS.get(match.group(2).lower() or "b")
    return None if factor is None else int(round(float(match.group(1)) * factor))


def parse_percent(text: str | None) -> float | None:
    """C(1.25%) -> 1.25; None for C(--) and anything unparsable."""
    try:
        return float((text or "").strip().rstrip("%"))
    except ValueError:
        return None


def parse_stats_line(stats: dict[str, t.Any]) -> dict[str, t.Any]:
    """One C(docker stats --format '{{json .}}') document as numbers."""
    usage, _sep, limit = str(stats.get("MemUsage") or "").partition("/")
    pids = str(stats.get("PIDs") or "").strip()
    return {
        "memory_usage_bytes": parse_size(usage),
        "memory_limit_bytes": parse_size(limit),
        "memory_percent": parse_percent(stats.get("MemPerc")),
        "cpu_percent": parse_percent(stats.get("CPUPerc")),
        "pids": int(pids) if pids.isdigit() else None,
    }


def _only_missing(stderr: str) -> bool:
    """Whether every error line of docker inspect says a container no longer exists."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return bool(lines) and all("no such container" in line.lower() or "no such object" in line.lower() for line in lines)


def primary_container(containers: list[dict[str, t.Any]]) -> dict[str, t.Any] | None:
    """The container that stands for a service: not a one-off, running first, then the latest started."""
    def key(container: dict[str, t.Any]) -> tuple[bool, bool, str]:
        labels = container.get("Config", {}).get("Labels") or {}
        state = container.get("State") or {}
        return (
            str(labels.get(COMPOSE_ONEOFF_LABEL, "False")).lower() != "true",
            bool(state.get("Running")),
            str(state.get("StartedAt") or ""),
        )
    return max(containers, key=key) if containers else None


class DockerCli:
    """Runs C(docker) for one compose project, each call bounded by the deadline of the module or check.

    O(module) may carry C(deadline), an absolute time.monotonic() time (triage_info's CheckModule does);
    without one each call gets L(_proc.DEFAULT_TIMEOUT).
    """

    def __init__(self, module: t.Any, docker_cli: str = "docker", project_name: str | None = None) -> None:
        self.module = module
        self.project_name = project_name
        self.docker = module.get_bin_path(docker_cli, required=False) or docker_cli
        self.deadline: float | None = getattr(module, "deadline", None)
        # Containers listed by the last inspect() that were gone when it ran.
        self.vanished: list[str] = []

    def run(self, args: list[str], check: bool = True, data: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        # Arguments are passed verbatim (no shell, no ~ or $VAR expansion of SQL, names or filters);
        # host output (logs above all) may hold any bytes: _proc decodes leniently.
        command = f"docker {' '.join(args[:3])}"
        try:
            done = _proc.run([self.docker, *args], deadline=self.deadline, data=data, env=env)
        except OSError as exc:
            raise DockerError(f"{command} could not be started ({self.docker}): {exc.strerror or exc}") from exc
        if done.timed_out:
            raise DockerTimeout(f"{command} did not finish by its deadline and was killed")
        if check and done.rc != 0:
            raise DockerError(f"{command} failed (rc={done.rc}): {done.err.strip() or done.out.strip()}")
        return done.rc, done.out, done.err

    def project_container_ids(self) -> list[str]:
        """All containers of the project, running or not."""
        _rc, out, _err = self.run(["ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={COMPOSE_PROJECT_LABEL}={self.project_name}"])
        return out.split()

    def inspect(self, ids: list[str]) -> list[dict[str, t.Any]]:
        """Inspect data of the containers; one removed since it was listed is left out (see L(vanished)).

        docker prints what it found and fails for the rest: only an answer without a usable document is an error.
        """
        self.vanished = []
        if not ids:
            return []
        rc, out, err = self.run(["container", "inspect", *ids], check=False)
        try:
            docs = json.loads(out) if out.strip() else []
        except ValueError as exc:
            raise DockerError(f"docker container inspect printed no JSON (rc={rc}): {err.strip() or out.strip()[:200]}") from exc
        found = [d for d in docs if isinstance(d, dict) and d.get("Id")] if isinstance(docs, list) else []
        if rc != 0 and not _only_missing(err):
            raise DockerError(f"docker container inspect failed (rc={rc}): {err.strip() or out.strip()[:200]}")
        seen = {d["Id"] for d in found}
        self.vanished = [i for i in ids if i not in seen]
        return found

    def service_containers(self) -> dict[str, list[dict[str, t.Any]]]:
        """Inspect data of the project's containers, keyed by compose service name.

        An empty listing, or containers gone between listing and inspecting, are read once more before they are
        believed: compose swapping a container, or a daemon answer caught mid-change, must not report a running
        stack as gone.
        """
        containers = self.inspect(self.project_container_ids())
        if not containers or self.vanished:
            containers = self.inspect(self.project_container_ids())
        services: dict[str, list[dict[str, t.Any]]] = {}
        for container in containers:
            labels = (container.get("Config") or {}).get("Labels") or {}
            name = labels.get(COMPOSE_SERVICE_LABEL) or str(container.get("Name") or container["Id"]).lstrip("/")
            services.setdefault(str(name), []).append(container)
        return services

    def service_container_id(self, service: str, running: bool = True) -> str | None:
        """The container of one service (the running one when asked), or None."""
        for container in self.service_containers().get(service, []):
            if not running or container.get("State", {}).get("Running"):
                return container["Id"]
        return None

    def exec(self, container: str, argv: list[str], user: str | None = None, data: str | None = None,
             env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """C(docker exec); values of O(env) travel in the client's environment, never on a command line."""
        args = ["exec"]
        if data is not None:
            args.append("--interactive")
        if user:
            args += ["--user", user]
        for name in sorted(env or {}):
            args += ["--env", name]
        return self.run([*args, container, *argv], check=False, data=data, env=env)

    def stats(self, ids: list[str], pids: dict[str, int] | None = None) -> dict[str, dict[str, t.Any]]:
        """Memory, CPU and pids of each container, keyed by full container id; containers gone meanwhile are missing.

        Read from the Engine API over its unix socket (one-shot readings, at most a second) and CPU from the cgroups
        of the containers' main processes C(pids); where the CLI talks to something else or the socket cannot be
        used, one C(docker stats --no-stream) sample instead, and for the containers the engine did not answer for
        by ENGINE_TIMEOUT (an engine busy with several stacks on one host).
        """
        if not ids:
            return {}
        socket_path = _docker_engine.engine_socket(os.environ)
        if not socket_path:
            return self.cli_stats(ids)
        try:
            # The engine answers in a fraction of a second: one that does not leaves the CLI time to try.
            deadline = min(self.deadline or _proc.deadline_in(_proc.DEFAULT_TIMEOUT), _proc.deadline_in(ENGINE_TIMEOUT))
            found = _docker_engine.one_shot_stats(socket_path, ids, deadline, pids)
        except _docker_engine.EngineError:
            found = {}  # the CLI may still get there (its own context, sudo-less group access through a helper)
        missing = [cid for cid in ids if cid not in found]
        return {**self.cli_stats(missing), **found} if missing else found

    def cli_stats(self, ids: list[str]) -> dict[str, dict[str, t.Any]]:
        """One C(docker stats --no-stream) sample per container, parsed, keyed by full container id."""
        _rc, out, _err = self.run(["stats", "--no-stream", "--no-trunc", "--format", "{{json .}}", *ids], check=False)
        result: dict[str, dict[str, t.Any]] = {}
        for line in out.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("ID"):
                result[str(doc["ID"])] = parse_stats_line(doc)
        return result

    def image_inspect(self, ids: list[str]) -> dict[str, dict[str, t.Any]]:
        """Inspect data of images keyed by image id; images removed meanwhile are missing, not an error."""
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return {}
        _rc, out, _err = self.run(["image", "inspect", *wanted], check=False)
        try:
            docs = json.loads(out) if out.strip() else []
        except ValueError:
            docs = []
        return {doc["Id"]: doc for doc in docs if isinstance(doc, dict) and doc.get("Id")}

    def logs(self, container: str, tail: int, since: str | None = None) -> tuple[str, str]:
        """C(docker logs --timestamps): the container's stdout and stderr, each line prefixed by its time."""
        args = ["logs", "--timestamps", "--tail", str(int(tail))]
        if since:
            args += ["--since", since]
        _rc, out, err = self.run([*args, container])
        return out, err
