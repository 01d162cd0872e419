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
    neither fails the module, both are named in RV(partial).
  - Nothing the checkout configures is run. git is called with C(--no-pager), without the system configuration, and
    with every setting that runs a program switched off (C(core.fsmonitor), hooks, pager, editor, external diff,
    credential helpers, ssh, gpg); the clean, smudge and process commands of every filter driver and the textconv
    and command of every diff driver the configuration defines (read with C(git config --null --list), which runs
    nothing) are emptied. A driver whose name cannot be overridden leaves RV(repo.dirty) unchecked.
  - Every git and docker call is killed (with its children) after two minutes.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
extends_documentation_fragment:
  - usdx.incident.attributes
  - usdx.incident.connection
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
      description: Whether tracked files have uncommitted changes, V(null) when unknown (see RV(repo.dirty_error)).
      type: bool
      sample: false
    dirty_error:
      description: Why RV(repo.dirty) is unknown, V(null) when it is known or there is no commit to compare with.
      type: str
      sample: null
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
partial:
  description:
    - What was asked for and could not be read, one sentence each with the reason, so the reader can tell a
      finding from a hole in it (the commits when O(repo_path) is given but unreadable, the uncommitted changes,
      the containers).
  returned: when something could not be read
  type: list
  elements: str
  sample: ["container changes not read: docker ps --all --quiet failed (rc=1): Cannot connect to the Docker daemon"]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._deployment import Deployment, validate
from ansible_collections.usdx.incident.plugins.module_utils._docker import docker_argument_spec
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(
        repo_path={"type": "path"},
        count={"type": "int", "default": 10},
        recent_hours={"type": "float", "default": 24},
        git_cli={"type": "path", "default": "git"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        validate(module.params)
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    try:
        result = Deployment(module, module.params).run()
    except OSError as exc:
        module.fail_json(msg=f"reading the deployment failed: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
