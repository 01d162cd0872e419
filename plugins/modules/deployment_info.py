#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment_info
short_description: Report what changed recently in the deploy directory and the compose project
version_added: 0.1.0
description:
  - Answers the runbook question I(What changed recently?) (C(git log --oneline -10)) without changing anything.
  - Lists the last O(count) commits of the git checkout O(repo_path), with HEAD, the branch, the tag on HEAD and whether
    the working tree has uncommitted changes.
  - Lists, per service of the compose project O(project_name), the image it runs and when its container was created.
  - Collects in RV(recent_changes) the commits and container creations of the last O(recent_hours) hours.
  - A missing or unreadable checkout is reported (RV(repo_found=false)), and so is a Docker engine that does not answer;
    neither fails the module.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
extends_documentation_fragment:
  - usdx.incident.connection
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
  repo_path:
    description:
      - The deploy directory, a git checkout (the runbook's C(/opt/usdx-wexel)).
      - Without it, no commit is reported.
    type: path
  count:
    description:
      - How many commits to list, newest first.
    type: int
    default: 10
  recent_hours:
    description:
      - Commits and container creations younger than this many hours are listed in RV(recent_changes).
    type: float
    default: 24
  git_cli:
    description:
      - Path or name of the C(git) command line client.
    type: path
    default: git
requirements:
  - The C(git) CLI on the target host when O(repo_path) is set.
seealso:
  - module: usdx.incident.disk_usage_info
"""

EXAMPLES = r"""
- name: What changed recently?
  usdx.incident.deployment_info:
    repo_path: /opt/usdx-wexel
    project_name: usdx-wexel
    recent_hours: 24
  register: deployment

- name: Show the recent changes
  ansible.builtin.debug:
    msg: "{{ item.time }} {{ item.kind }} {{ item.name }}: {{ item.description }}"
  loop: "{{ deployment.recent_changes }}"

- name: Show what the indexer runs
  ansible.builtin.debug:
    msg: >-
      indexer runs {{ deployment.services.indexer.image }} ({{ deployment.services.indexer.image_id[:19] }}),
      created {{ deployment.services.indexer.container_created }}
  when: "'indexer' in deployment.services"
"""

RETURN = r"""
repo_found:
  description: Whether O(repo_path) is a git checkout whose history could be read.
  returned: always
  type: bool
  sample: true
repo:
  description: The git checkout.
  returned: always
  type: dict
  contains:
    path:
      description: O(repo_path), V(null) when not given.
      type: str
      sample: /opt/usdx-wexel
    head:
      description: Full hash of HEAD, V(null) when unknown or the repository has no commit.
      type: str
      sample: 3f1c2a9e0d6b4c8f9a7e5d3c1b0a9f8e7d6c5b4a
    branch:
      description: Checked out branch, V(null) when HEAD is detached or unknown.
      type: str
      sample: main
    tag:
      description: A tag pointing at HEAD, V(null) when there is none.
      type: str
      sample: v1.4.2
    describe:
      description: C(git describe --tags --always) of HEAD, V(null) when unknown.
      type: str
      sample: v1.4.2-3-g3f1c2a9
    dirty:
      description: Whether tracked files have uncommitted changes, V(null) when unknown.
      type: bool
      sample: false
    error:
      description: Why the checkout could not be read, V(null) when it could.
      type: str
      sample: null
commits:
  description: The last O(count) commits, newest first.
  returned: always
  type: list
  elements: dict
  contains:
    hash:
      description: Full commit hash.
      type: str
      sample: 3f1c2a9e0d6b4c8f9a7e5d3c1b0a9f8e7d6c5b4a
    short_hash:
      description: Abbreviated hash.
      type: str
      sample: 3f1c2a9
    date:
      description: Author date, ISO 8601 with the author's offset.
      type: str
      sample: "2026-11-28T05:12:40+00:00"
    author:
      description: Author name.
      type: str
      sample: Jane Doe
    subject:
      description: First line of the message.
      type: str
      sample: "indexer: batch event inserts"
    age_hours:
      description: Hours since the author date.
      type: float
      sample: 1.8
    recent:
      description: Whether the commit is younger than O(recent_hours).
      type: bool
      sample: true
services:
  description: Per compose service of O(project_name), what runs; empty when Docker does not answer.
  returned: always
  type: dict
  sample:
    indexer:
      image: usdx-sandbox/indexer:latest
      image_id: sha256:41a7873846838a2a33c8e3a43af6d4a5ba2acc376b46317e4e698436c8ba79c8
      image_created: "2026-11-28T06:50:01+00:00"
      container_created: "2026-11-28T06:56:20+00:00"
      started_at: "2026-11-28T06:56:21+00:00"
      state: running
      restart_count: 0
      age_hours: 0.2
      recent: true
      containers:
        - name: usdx-wexel-indexer-1
          id: 0b5e9f1c2d3a
          image_id: sha256:41a7873846838a2a33c8e3a43af6d4a5ba2acc376b46317e4e698436c8ba79c8
          created: "2026-11-28T06:56:20+00:00"
          state: running
  contains:
    image:
      description: Image reference the newest container was created from (C(Config.Image)).
      type: str
    image_id:
      description: Image ID of the newest container.
      type: str
    image_created:
      description: When that image was built (ISO 8601, UTC), V(null) when unknown.
      type: str
    container_created:
      description: Creation time of the newest container of the service (ISO 8601, UTC); a re-deployment recreates it.
      type: str
    started_at:
      description: When that container last started, V(null) if never.
      type: str
    state:
      description: Its state (C(running), C(exited), ...).
      type: str
    restart_count:
      description: Its restart count.
      type: int
    age_hours:
      description: Hours since C(container_created).
      type: float
    recent:
      description: Whether C(container_created) is younger than O(recent_hours).
      type: bool
    containers:
      description: All containers of the service, newest first, each with C(name), C(id) (12 characters), C(image_id), C(created), C(state).
      type: list
      elements: dict
docker_error:
  description: Why the compose services could not be listed, V(null) when they could.
  returned: always
  type: str
  sample: null
recent_hours:
  description: The O(recent_hours) used.
  returned: always
  type: float
  sample: 24.0
recent_changes:
  description:
    - Commits (C(kind=commit), C(name) the short hash) and container creations (C(kind=container), C(name) the service)
      younger than O(recent_hours), newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: container
      name: indexer
      time: "2026-11-28T06:56:20+00:00"
      age_hours: 0.2
      description: "container usdx-wexel-indexer-1 created from usdx-sandbox/indexer:latest (sha256:41a787384683)"
    - kind: commit
      name: 3f1c2a9
      time: "2026-11-28T05:12:40+00:00"
      age_hours: 1.8
      description: "indexer: batch event inserts (Jane Doe)"
"""

import datetime
import json
import os
import re
import time
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._docker import (
    DockerCli,
    DockerError,
    docker_argument_spec,
)

FIELD_SEP = "\x1f"
# hash, short hash, author date (strict ISO 8601), author name, subject; records end with NUL (-z).
LOG_FORMAT = "--format=%H%x1f%h%x1f%aI%x1f%an%x1f%s"
_FRACTION_RE = re.compile(r"(\.\d{6})\d+")
_NEVER = "0001-01-01T00:00:00"


def parse_time(text: str | None) -> datetime.datetime | None:
    """ISO 8601 as git and docker print it (C(Z), nanoseconds) -> aware datetime; None for empty or zero times."""
    if not text or text.startswith(_NEVER):
        return None
    cleaned = _FRACTION_RE.sub(r"\1", text.strip())
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


def age_hours(when: datetime.datetime | None, now: float) -> float | None:
    return None if when is None else round((now - when.timestamp()) / 3600.0, 2)


class GitError(Exception):
    """git could not read the checkout."""


class Deployment:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.now = time.time()
        self.window = float(self.params["recent_hours"])

    def is_recent(self, hours: float | None) -> bool:
        # Future dates (clock skew) count as recent.
        return hours is not None and hours <= self.window

    # --- git -------------------------------------------------------------------------
    def git(self, git: str, args: list[str], check: bool = True) -> tuple[int, str, str]:
        rc, out, err = self.module.run_command(
            [git, "--no-optional-locks", "-C", self.params["repo_path"], *args],
            environ_update={"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"},
            errors="replace",
        )
        if check and rc != 0:
            raise GitError(f"git {' '.join(args[:2])} failed (rc={rc}): {err.strip() or out.strip()}")
        return rc, out, err

    def repository(self) -> tuple[bool, dict[str, t.Any], list[dict[str, t.Any]]]:
        path = self.params["repo_path"]
        repo: dict[str, t.Any] = {"path": path, "head": None, "branch": None, "tag": None, "describe": None, "dirty": None, "error": None}
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
            rc, out, _err = self.git(git, ["status", "--porcelain", "--untracked-files=no"], check=False)
            repo["dirty"] = bool(out.strip()) if rc == 0 else None
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
        return {
            "changed": False,
            "repo_found": repo_found,
            "repo": repo,
            "commits": commits,
            "services": services,
            "docker_error": docker_error,
            "recent_hours": self.window,
            "recent_changes": changes,
        }


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(
        repo_path={"type": "path"},
        count={"type": "int", "default": 10},
        recent_hours={"type": "float", "default": 24},
        git_cli={"type": "path", "default": "git"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if module.params["count"] < 1:
        module.fail_json(msg=f"count={module.params['count']!r} is out of range: accepted values are integers >= 1")
    if module.params["recent_hours"] <= 0:
        module.fail_json(msg=f"recent_hours={module.params['recent_hours']!r} is out of range: accepted values are > 0")
    try:
        result = Deployment(module).run()
    except OSError as exc:
        module.fail_json(msg=f"reading the deployment failed: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
