# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.container_log_scan (and of triage_info's C(logs) check)."""

from __future__ import annotations

import re
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._docker import (
    DockerCli,
    DockerError,
    DockerTimeout,
    parse_docker_time,
    primary_container,
)
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._logscan import (
    ScanResult,
    combine_causes,
    scan_docker_logs,
)

LIMITS = {"tail": (1, 10000), "max_signatures": (1, 200)}
# What docker logs --since takes: Go durations, RFC 3339 dates/times, Unix timestamps.
SINCE_RE = re.compile(
    r"^(?:(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+"
    r"|\d{4}-\d\d-\d\d(?:T\d\d(?::\d\d(?::\d\d(?:\.\d+)?)?)?(?:Z|[+-]\d\d:\d\d)?)?"
    r"|\d+(?:\.\d+)?)$"
)


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range (C(tail), C(max_signatures), C(since))."""
    for name, (low, high) in LIMITS.items():
        value = params[name]
        if not low <= value <= high:
            raise OptionError(f"{name}={value} is out of range: accepted values are {low} to {high}", option=name)
    since = params["since"]
    if since is not None and not SINCE_RE.match(since):
        raise OptionError(
            f"since={since!r} is not a time docker logs understands: accepted are a duration (10m, 1h30m), "
            "an RFC 3339 date or time (2026-11-28T07:00:00Z) or a Unix timestamp",
            option="since",
        )


def run_context(container: dict[str, t.Any], whole_log: bool) -> dict[str, t.Any]:
    """What the scan needs to know about the container's current run."""
    state = container.get("State") or {}
    started = parse_docker_time(state.get("StartedAt"))
    finished = parse_docker_time(state.get("FinishedAt"))
    running = bool(state.get("Running")) and not state.get("Restarting")
    run_seconds = (finished - started).total_seconds() if (started and finished and finished >= started) else None
    return {
        "started_at": state.get("StartedAt") if started else None,
        "running": running,
        "exit_code": state.get("ExitCode"),
        "run_seconds": None if running else run_seconds,
        "whole_log": whole_log,
    }


class ContainerLogScan:
    """Errors and known causes in the recent logs of a compose project's services.

    O(params) holds C(project_name), C(docker_cli), C(services), C(tail), C(since) and C(max_signatures).
    run() raises OptionError for a bad option (before calling docker) and DockerError when the containers cannot be listed.
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.docker = DockerCli(module, params["docker_cli"], params["project_name"])

    def scan_service(self, container: dict[str, t.Any]) -> tuple[dict[str, t.Any], ScanResult | None]:
        state = container.get("State") or {}
        head = {
            "container": str(container.get("Name", "")).lstrip("/"),
            "running": bool(state.get("Running")) and not state.get("Restarting"),
            "exit_code": state.get("ExitCode"),
        }
        try:
            out, err = self.docker.logs(container["Id"], self.params["tail"], self.params["since"])
        except DockerTimeout:
            raise  # the check's deadline has passed: nothing more can be read
        except DockerError as exc:
            # A service whose logs cannot be read is a finding (partial), not a reason to stop.
            head["error"] = str(exc)
            return head, None
        lines = out.count("\n") + err.count("\n")
        whole_log = self.params["since"] is None and lines < self.params["tail"]
        result = scan_docker_logs(out, err, max_signatures=self.params["max_signatures"], **run_context(container, whole_log))
        head.update(result.as_dict())
        return head, result

    def run(self) -> dict[str, t.Any]:
        validate(self.params)
        found = self.docker.service_containers()
        wanted = list(dict.fromkeys(self.params["services"] or sorted(found)))
        services: dict[str, t.Any] = {}
        scans: dict[str, ScanResult] = {}
        for name in wanted:
            if not found.get(name):
                continue
            services[name], scan = self.scan_service(primary_container(found[name]))
            if scan is not None:
                scans[name] = scan
        result = {
            "changed": False,
            "project_found": bool(found),
            "services": services,
            "causes": combine_causes(scans),
            "error_count": sum(s.get("error_count", 0) for s in services.values()),
            "missing": [n for n in wanted if not found.get(n)],
            "vanished": self.docker.vanished,
        }
        unread = [f"logs of {name} could not be read: {s['error']}" for name, s in services.items() if "error" in s]
        if unread:
            result["partial"] = unread
        return result
