# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.deployment_info (and of triage_info's C(deployment) check)."""

from __future__ import annotations

import datetime
import json
import os
import re
import time
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _proc
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerCli, DockerError
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError

# Settings that make git run a program, switched off for every call: the checkout's own configuration is written by
# whoever deploys, and looking at it must not run what they put there (fsmonitor and hooks run on a plain status).
SAFE_GIT_CONFIG = {
    "core.fsmonitor": "false",
    "core.hooksPath": "/dev/null",
    "core.pager": "cat",
    "core.editor": "false",
    "sequence.editor": "false",
    "core.askPass": "",
    "core.sshCommand": "false",
    "core.gitProxy": "",
    "core.untrackedCache": "false",
    "diff.external": "",
    "credential.helper": "",
    "gpg.program": "false",
    "gpg.ssh.program": "false",
    "gpg.x509.program": "false",
    "log.showSignature": "false",
    "status.submoduleSummary": "false",
    "diff.ignoreSubmodules": "all",
    "protocol.allow": "never",
    "gc.auto": "0",
    "maintenance.auto": "false",
}
# Per-driver keys naming a program: filter.<driver>.clean runs during a status when a file's stat data changed,
# diff.<driver>.textconv and .command when a diff is shown.
DRIVER_COMMAND_KEYS = {"filter": ("clean", "smudge", "process"), "diff": ("textconv", "command")}
# The environment of every git call; variables of the caller that could point git elsewhere (GIT_DIR,
# GIT_CONFIG_PARAMETERS, GIT_EXTERNAL_DIFF...) are dropped.
GIT_ENV = {
    "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "PAGER": "cat",
    "GIT_EDITOR": "false", "EDITOR": "false", "VISUAL": "false", "GIT_ASKPASS": "false", "SSH_ASKPASS": "false",
    "GIT_OPTIONAL_LOCKS": "0",
}

FIELD_SEP = "\x1f"
# hash, short hash, author date (strict ISO 8601), author name, subject; records end with NUL (-z).
LOG_FORMAT = "--format=%H%x1f%h%x1f%aI%x1f%an%x1f%s"
# A fraction of any length (docker trims trailing zeros) made 6 digits: fromisoformat takes only 3 or 6 before Python 3.11.
_FRACTION_RE = re.compile(r"\.(\d+)")
_NEVER = "0001-01-01T00:00:00"


def parse_time(text: str | None) -> datetime.datetime | None:
    """ISO 8601 as git and docker print it (C(Z), nanoseconds) -> aware datetime; None for empty or zero times."""
    if not text or text.startswith(_NEVER):
        return None
    cleaned = _FRACTION_RE.sub(lambda match: "." + match.group(1)[:6].ljust(6, "0"), text.strip(), count=1)
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = datetime.datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


def iso(value: datetime.datetime | None, utc: bool = True) -> str | None:
    if value is None:
        return None
    return (value.astimezone(datetime.timezone.utc) if utc else value).isoformat(timespec="seconds")


def parse_git_log(output: str) -> list[dict[str, t.Any]]:
    """Records of C(git log -z) in L(LOG_FORMAT) -> commits (times not yet aged)."""
    commits = []
    for record in output.split("\0"):
        record = record.strip("\n")
        if not record:
            continue
        # The subject comes last: a stray separator in it stays in it.
        fields = record.split(FIELD_SEP, 4)
        if len(fields) != 5:
            raise ValueError(f"unexpected git log record {record[:120]!r}")
        full, short, date, author, subject = fields
        commits.append({"hash": full, "short_hash": short, "date": date, "author": author, "subject": subject})
    return commits


def config_args(settings: t.Mapping[str, str]) -> list[str]:
    """C(-c key=value) arguments for git."""
    return [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]


def driver_overrides(config_list: str) -> tuple[dict[str, str], list[str]]:
    """Empty values for the command keys of every filter/diff driver in C(git config --null --list) output.

    An empty command is no command: git then reads the file as it is. A required filter is made optional, so a
    status does not fail for want of it. The second item lists drivers whose name C(-c) cannot express (an C(=)
    in it would split the key): a caller must not run a command that could call them.
    """
    overrides: dict[str, str] = {}
    unsafe: list[str] = []
    for entry in config_list.split("\0"):
        key = entry.partition("\n")[0]
        section, _dot, rest = key.partition(".")
        driver, _dot, _name = rest.rpartition(".")
        section = section.lower()
        if section not in DRIVER_COMMAND_KEYS or not driver:
            continue
        if "=" in driver:
            unsafe.append(f"{section}.{driver}")
            continue
        for name in DRIVER_COMMAND_KEYS[section]:
            overrides[f"{section}.{driver}.{name}"] = ""
        if section == "filter":
            overrides[f"{section}.{driver}.required"] = "false"
    return overrides, sorted(set(unsafe))


def age_hours(when: datetime.datetime | None, now: float) -> float | None:
    return None if when is None else round((now - when.timestamp()) / 3600.0, 2)


class GitError(Exception):
    """git could not read the checkout."""


class Deployment:
    """Recent commits of the deploy checkout and what the compose services run.

    O(params) holds the options of usdx.incident.deployment_info (checked by validate()). A checkout or a Docker
    engine that cannot be read is a result; only an unexpected OSError escapes run().
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.now = time.time()
        self.window = float(self.params["recent_hours"])
        self.deadline: float | None = getattr(module, "deadline", None)
        self.driver_overrides: dict[str, str] = {}
        self.unsafe_drivers: list[str] = []

    def is_recent(self, hours: float | None) -> bool:
        # Future dates (clock skew) count as recent.
        return hours is not None and hours <= self.window

    # --- git -------------------------------------------------------------------------
    def git(self, git: str, args: list[str], check: bool = True) -> tuple[int, str, str]:
        argv = [git, "--no-pager", "--no-optional-locks", *config_args({**SAFE_GIT_CONFIG, **self.driver_overrides}),
                "-C", self.params["repo_path"], *args]
        done = _proc.run(argv, deadline=self.deadline, env=GIT_ENV, drop_env=lambda name: name.startswith("GIT_"))
        if done.timed_out:
            raise GitError(f"git {' '.join(args[:2])} did not finish by its deadline and was killed")
        if check and done.rc != 0:
            raise GitError(f"git {' '.join(args[:2])} failed (rc={done.rc}): {done.err.strip() or done.out.strip()}")
        return done.rc, done.out, done.err

    def neutralise_drivers(self, git: str) -> None:
        """Switch off the programs of every filter and diff driver the checkout's configuration defines.

        Reading the configuration runs nothing; a driver's command keys are then overridden on every later call.
        """
        _rc, out, _err = self.git(git, ["config", "--null", "--list"])
        self.driver_overrides, self.unsafe_drivers = driver_overrides(out)

    def repository(self) -> tuple[bool, dict[str, t.Any], list[dict[str, t.Any]]]:
        path = self.params["repo_path"]
        repo: dict[str, t.Any] = {"path": path, "head": None, "branch": None, "tag": None, "describe": None, "dirty": None,
                                  "dirty_error": None, "error": None}
        if not path:
            repo["error"] = "repo_path not given"
            return False, repo, []
        if not os.path.isdir(path):
            repo["error"] = f"{path} does not exist" if not os.path.lexists(path) else f"{path} is not a directory"
            return False, repo, []
        git = self.module.get_bin_path(self.params["git_cli"])
        if not git:
            repo["error"] = f"git CLI {self.params['git_cli']!r} not found"
            return False, repo, []
        try:
            rc, out, err = self.git(git, ["rev-parse", "--is-inside-work-tree"], check=False)
            if rc == 0:
                self.neutralise_drivers(git)
            if rc != 0 or out.strip() != "true":
                raise GitError(f"{path} is not a git checkout: {err.strip() or out.strip()}")
            rc, out, _err = self.git(git, ["rev-parse", "--verify", "--quiet", "HEAD"], check=False)
            if rc != 0:
                repo["error"] = "the repository has no commit yet"
                return True, repo, []
            repo["head"] = out.strip()
            rc, out, _err = self.git(git, ["symbolic-ref", "--short", "--quiet", "HEAD"], check=False)
            repo["branch"] = out.strip() if rc == 0 and out.strip() else None
            rc, out, _err = self.git(git, ["describe", "--tags", "--exact-match", "HEAD"], check=False)
            repo["tag"] = out.strip() if rc == 0 and out.strip() else None
            rc, out, _err = self.git(git, ["describe", "--tags", "--always", "HEAD"], check=False)
            repo["describe"] = out.strip() if rc == 0 and out.strip() else None
            if self.unsafe_drivers:
                repo["dirty_error"] = f"not checked: drivers {', '.join(self.unsafe_drivers)} cannot be switched off"
            else:
                rc, out, err = self.git(git, ["status", "--porcelain", "--untracked-files=no", "--ignore-submodules=all"], check=False)
                repo["dirty"] = bool(out.strip()) if rc == 0 else None
                if rc != 0:
                    repo["dirty_error"] = f"git status failed (rc={rc}): {err.strip()}"
            _rc, out, _err = self.git(git, ["log", "-z", f"--max-count={self.params['count']}", LOG_FORMAT, "HEAD"])
            commits = parse_git_log(out)
        except (GitError, ValueError) as exc:
            repo["error"] = str(exc)
            return False, repo, []
        for commit in commits:
            when = parse_time(commit["date"])
            commit["age_hours"] = age_hours(when, self.now)
            commit["recent"] = self.is_recent(commit["age_hours"])
        return True, repo, commits

    # --- docker ----------------------------------------------------------------------
    def image_created(self, client: DockerCli, image_ids: list[str]) -> dict[str, str | None]:
        if not image_ids:
            return {}
        # A removed image makes the call fail for that id only: read what was printed.
        _rc, out, _err = client.run(["image", "inspect", *image_ids], check=False)
        try:
            images = json.loads(out) if out.strip() else []
        except ValueError:
            images = []
        return {img.get("Id"): iso(parse_time(img.get("Created"))) for img in images if isinstance(img, dict)}

    def services(self) -> tuple[dict[str, t.Any], str | None]:
        if not self.module.get_bin_path(self.params["docker_cli"]):
            return {}, f"docker CLI {self.params['docker_cli']!r} not found"
        client = DockerCli(self.module, docker_cli=self.params["docker_cli"], project_name=self.params["project_name"])
        try:
            by_service = client.service_containers()
            images = self.image_created(client, sorted({c.get("Image", "") for cs in by_service.values() for c in cs} - {""}))
        except (DockerError, ValueError) as exc:
            return {}, str(exc)
        services: dict[str, t.Any] = {}
        for name in sorted(by_service):
            containers = []
            for container in by_service[name]:
                state = container.get("State") or {}
                containers.append({
                    "name": str(container.get("Name", "")).lstrip("/"),
                    "id": str(container.get("Id", ""))[:12],
                    "image": (container.get("Config") or {}).get("Image"),
                    "image_id": container.get("Image"),
                    "created_dt": parse_time(container.get("Created")),
                    "started_dt": parse_time(state.get("StartedAt")),
                    "state": state.get("Status"),
                    "restart_count": container.get("RestartCount", 0),
                })
            epoch = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
            containers.sort(key=lambda c: (c["created_dt"] or epoch, c["name"]), reverse=True)
            newest = containers[0]
            hours = age_hours(newest["created_dt"], self.now)
            services[name] = {
                "image": newest["image"],
                "image_id": newest["image_id"],
                "image_created": images.get(newest["image_id"]),
                "container_created": iso(newest["created_dt"]),
                "started_at": iso(newest["started_dt"]),
                "state": newest["state"],
                "restart_count": newest["restart_count"],
                "age_hours": hours,
                "recent": self.is_recent(hours),
                "containers": [
                    {"name": c["name"], "id": c["id"], "image_id": c["image_id"], "created": iso(c["created_dt"]), "state": c["state"]}
                    for c in containers
                ],
            }
        return services, None

    def run(self) -> dict[str, t.Any]:
        repo_found, repo, commits = self.repository()
        services, docker_error = self.services()
        changes = []
        for commit in commits:
            if commit["recent"]:
                changes.append({
                    "kind": "commit", "name": commit["short_hash"], "time": iso(parse_time(commit["date"])),
                    "age_hours": commit["age_hours"], "description": f"{commit['subject']} ({commit['author']})",
                })
        for name, service in services.items():
            if service["recent"]:
                short_id = (service["image_id"] or "").replace("sha256:", "")[:12]
                changes.append({
                    "kind": "container", "name": name, "time": service["container_created"], "age_hours": service["age_hours"],
                    "description": f"container {service['containers'][0]['name']} created from {service['image']} (sha256:{short_id})",
                })
        changes.sort(key=lambda c: (c["age_hours"], c["kind"], c["name"]))
        result = {
            "changed": False,
            "repo_found": repo_found,
            "repo": repo,
            "commits": commits,
            "services": services,
            "docker_error": docker_error,
            "recent_hours": self.window,
            "recent_changes": changes,
        }
        partial = unread_parts(self.params["repo_path"], repo, docker_error)
        if partial:
            result["partial"] = partial
        return result


def unread_parts(repo_path: str | None, repo: t.Mapping[str, t.Any], docker_error: str | None) -> list[str]:
    """What the check was asked to read and could not: the checkout, its uncommitted changes, the containers."""
    parts = []
    if repo_path and repo["error"] and repo["head"] is None and repo["error"] != "the repository has no commit yet":
        parts.append(f"recent commits not read: {repo['error']}")
    if repo_path and repo["head"] and repo["dirty"] is None:
        parts.append(f"uncommitted changes not checked: {repo['dirty_error']}")
    if docker_error:
        parts.append(f"container changes not read: {docker_error}")
    return parts


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    if params["count"] < 1:
        raise OptionError(f"count={params['count']!r} is out of range: accepted values are integers >= 1", option="count")
    if params["recent_hours"] <= 0:
        raise OptionError(f"recent_hours={params['recent_hours']!r} is out of range: accepted values are > 0", option="recent_hours")
