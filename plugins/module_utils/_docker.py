# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The docker CLI, called with argument lists (never through a shell)."""

from __future__ import annotations

import datetime as _dt
import json
import re
import typing as t

COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
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
    """Runs C(docker) for one compose project through AnsibleModule.run_command."""

    def __init__(self, module: t.Any, docker_cli: str = "docker", project_name: str | None = None) -> None:
        self.module = module
        self.project_name = project_name
        self.docker = module.get_bin_path(docker_cli, required=False) or docker_cli

    def run(self, args: list[str], check: bool = True, data: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        # Host output (logs above all) may hold any bytes: decode leniently, never fail on it.
        # Arguments are passed verbatim: no ~ or $VAR expansion of SQL, names or filters.
        rc, out, err = self.module.run_command(
            [self.docker, *args], data=data, binary_data=True, encoding="utf-8", errors="replace",
            environ_update=env, expand_user_and_vars=False,
        )
        if check and rc != 0:
            raise DockerError(f"docker {' '.join(args[:3])} failed (rc={rc}): {err.strip() or out.strip()}")
        return rc, out, err

    def project_container_ids(self) -> list[str]:
        """All containers of the project, running or not."""
        _rc, out, _err = self.run(["ps", "--all", "--quiet", "--no-trunc", "--filter", f"label={COMPOSE_PROJECT_LABEL}={self.project_name}"])
        return out.split()

    def inspect(self, ids: list[str]) -> list[dict[str, t.Any]]:
        if not ids:
            return []
        _rc, out, _err = self.run(["container", "inspect", *ids])
        return json.loads(out)

    def service_containers(self) -> dict[str, list[dict[str, t.Any]]]:
        """Inspect data of the project's containers, keyed by compose service name."""
        services: dict[str, list[dict[str, t.Any]]] = {}
        for container in self.inspect(self.project_container_ids()):
            labels = container.get("Config", {}).get("Labels") or {}
            services.setdefault(labels.get(COMPOSE_SERVICE_LABEL, container["Name"].lstrip("/")), []).append(container)
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

    def stats(self, ids: list[str]) -> dict[str, dict[str, t.Any]]:
        """One C(docker stats --no-stream) sample per container, parsed, keyed by full container id.

        Containers that stop in between are simply missing from the answer.
        """
        if not ids:
            return {}
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
