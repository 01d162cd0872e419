# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.compose_service_info (and of triage_info's C(services) check)."""

from __future__ import annotations

import datetime as dt
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._docker import (
    COMPOSE_SERVICE_LABEL,
    DockerCli,
    DockerError,
    DockerTimeout,
    docker_time_or_none,
    primary_container,
    seconds_since,
)
from ansible_collections.usdx.incident.plugins.module_utils._logscan import clean

NOT_SAMPLED = {"memory_usage_bytes": None, "memory_limit_bytes": None, "memory_percent": None, "cpu_percent": None, "pids": None}


def parse_ports(container: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    """Published ports of a container: the live bindings, else (stopped) the configured ones."""
    live = (container.get("NetworkSettings") or {}).get("Ports") or {}
    configured = (container.get("HostConfig") or {}).get("PortBindings") or {}
    ports = []
    for spec, bindings in sorted((live or configured).items()):
        port, _sep, protocol = spec.partition("/")
        for binding in bindings or [{}]:
            host_port = str(binding.get("HostPort") or "")
            ports.append({
                "container_port": int(port) if port.isdigit() else port,
                "protocol": protocol or "tcp",
                "host_ip": binding.get("HostIp") or None,
                "host_port": int(host_port) if host_port.isdigit() else None,
            })
    return ports


def is_running(container: dict[str, t.Any]) -> bool:
    state = container.get("State") or {}
    return bool(state.get("Running")) and not state.get("Restarting")


def container_info(container: dict[str, t.Any], image: dict[str, t.Any] | None, stats: dict[str, t.Any] | None,
                   now: dt.datetime) -> dict[str, t.Any]:
    """The module's view of one container from inspect data, its image's inspect data and a stats sample."""
    state = container.get("State") or {}
    config = container.get("Config") or {}
    labels = config.get("Labels") or {}
    health = state.get("Health")
    health_log = (health or {}).get("Log") or []
    running = is_running(container)
    image_created = (image or {}).get("Created")
    info = {
        "service": labels.get(COMPOSE_SERVICE_LABEL, str(container.get("Name", "")).lstrip("/")),
        "container": str(container.get("Name", "")).lstrip("/"),
        "container_id": container.get("Id"),
        "state": state.get("Status"),
        "running": running,
        "restarting": bool(state.get("Restarting")),
        "health": health.get("Status") if health else None,
        "health_failing_streak": health.get("FailingStreak") if health else None,
        "health_last_output": clean(str(health_log[-1].get("Output") or "").strip()) if health_log else None,
        "exit_code": state.get("ExitCode"),
        "oom_killed": bool(state.get("OOMKilled")),
        "error": state.get("Error") or "",
        "restart_count": int(container.get("RestartCount") or 0),
        "created_at": docker_time_or_none(container.get("Created")),
        "started_at": docker_time_or_none(state.get("StartedAt")),
        "finished_at": docker_time_or_none(state.get("FinishedAt")),
        "uptime_seconds": seconds_since(state.get("StartedAt"), now) if running else None,
        "image": config.get("Image"),
        "image_id": container.get("Image"),
        "image_created": docker_time_or_none(image_created),
        "image_age_seconds": seconds_since(image_created, now),
        "memory_limit_set": bool((container.get("HostConfig") or {}).get("Memory")),
        "ports": parse_ports(container),
    }
    info.update(stats if (stats and running) else NOT_SAMPLED)
    return info


class ComposeServiceInfo:
    """State, health and resources of a compose project's services; raises DockerError when docker fails.

    O(params) holds C(project_name), C(docker_cli), C(services) and C(stats).
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.docker = DockerCli(module, params["docker_cli"], params["project_name"])

    def run(self) -> dict[str, t.Any]:
        found = self.docker.service_containers()
        wanted = list(dict.fromkeys(self.params["services"] or sorted(found)))
        chosen = {name: primary_container(found[name]) for name in wanted if found.get(name)}
        running = {c["Id"]: name for name, c in chosen.items() if is_running(c)}
        partial: list[str] = []
        stats: dict[str, dict[str, t.Any]] = {}
        if self.params["stats"] and running:
            try:
                pids = {cid: int((chosen[name].get("State") or {}).get("Pid") or 0) for cid, name in running.items()}
                stats = self.docker.stats(list(running), pids)
            except DockerTimeout:
                raise
            except DockerError as exc:
                partial.append(f"memory and CPU use not read: {exc}")
            unsampled = sorted(name for cid, name in running.items() if cid not in stats)
            if stats and unsampled:
                partial.append(f"memory and CPU use of {', '.join(unsampled)} not read")
            elif not stats and not partial:
                partial.append("memory and CPU use not read: no container answered")
        vanished = list(self.docker.vanished)
        images = self.docker.image_inspect([c.get("Image") for c in chosen.values()])
        now = dt.datetime.now(dt.timezone.utc)
        services = {}
        for name, container in chosen.items():
            info = container_info(container, images.get(container.get("Image")), stats.get(container["Id"]), now)
            info["service"] = name
            info["replicas"] = len(found[name])
            services[name] = info
        return {
            "changed": False,
            "project_found": bool(found),
            "project_name": self.params["project_name"],
            "services": services,
            "running": sorted(n for n, s in services.items() if s["running"]),
            "not_running": sorted(n for n, s in services.items() if not s["running"]),
            "unhealthy": sorted(n for n, s in services.items() if s["health"] == "unhealthy"),
            "missing": [n for n in wanted if n not in services],
            "vanished": vanished,
            **({"partial": partial} if partial else {}),
        }
