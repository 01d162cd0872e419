# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The docker CLI, called with argument lists (never through a shell)."""

from __future__ import annotations

import json
import typing as t

COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"


def docker_argument_spec() -> dict[str, t.Any]:
    """Options of the C(usdx.incident.connection) doc fragment."""
    return {
        "project_name": {"type": "str", "default": "usdx-wexel"},
        "docker_cli": {"type": "path", "default": "docker"},
    }


class DockerError(Exception):
    """A docker CLI call failed; the message carries the command and its stderr."""


class DockerCli:
    """Runs C(docker) for one compose project through AnsibleModule.run_command."""

    def __init__(self, module: t.Any, docker_cli: str = "docker", project_name: str | None = None) -> None:
        self.module = module
        self.project_name = project_name
        self.docker = module.get_bin_path(docker_cli, required=False) or docker_cli

    def run(self, args: list[str], check: bool = True, data: str | None = None) -> tuple[int, str, str]:
        # Host output (logs above all) may hold any bytes: decode leniently, never fail on it.
        rc, out, err = self.module.run_command([self.docker, *args], data=data, binary_data=True, encoding="utf-8", errors="replace")
        if check and rc != 0:
            raise DockerError(f"docker {' '.join(args[:3])} failed (rc={rc}): {err.strip() or out.strip()}")
        return rc, out, err

    def run_json_lines(self, args: list[str]) -> list[dict[str, t.Any]]:
        """Run a command printing one JSON document a line (C(--format '{{json .}}'))."""
        _rc, out, _err = self.run(args)
        return [json.loads(line) for line in out.splitlines() if line.strip()]

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

    def exec(self, container: str, argv: list[str], user: str | None = None, data: str | None = None) -> tuple[int, str, str]:
        args = ["exec"]
        if data is not None:
            args.append("--interactive")
        if user:
            args += ["--user", user]
        return self.run([*args, container, *argv], check=False, data=data)

    def system_df(self) -> dict[str, t.Any]:
        """C(docker system df --verbose) as parsed JSON."""
        _rc, out, _err = self.run(["system", "df", "--verbose", "--format", "{{json .}}"])
        return json.loads(out)
