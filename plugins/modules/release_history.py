#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_history
short_description: Read the deploy history of a stack, or record a deploy in it
version_added: 0.2.0
description:
  - The deploy history is the deploy directory O(path), a git checkout, holding O(history_file) - one JSON object per
    deploy, oldest first, with C(time) (UTC), C(service), C(action) (V(deploy) or V(rollback)), C(release), C(previous)
    (the release that ran before, V(null) for the first), C(image), C(image_id), C(by). Each record is also a commit
    (C(deploy indexer v1.5.0 (was v1.4.0)), C(roll back indexer to v1.4.0 (from v1.5.0))), so the triage's
    I(what changed recently?) (M(usdx.incident.deployment_info)) shows the deploys.
  - Without O(record), reads the records of O(service) and changes nothing. A missing or unreadable file is
    reported in RV(error) and lines that are not records in RV(problems), never as an empty history that looks fine.
  - With O(record), appends that record (time and service filled in) and commits it, the file only, with git run
    without hooks, signing, pager or any program the checkout's configuration names. The file is never written
    through a symbolic link. Nothing is written when the directory is not a git checkout (with O(commit)).
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - With O(record), check mode returns the record that would be written in RV(recorded) and writes nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  path:
    description: The deploy directory (a git checkout).
    type: path
    required: true
  history_file:
    description: The history's file name inside O(path).
    type: str
    default: history.jsonl
  service:
    description: The compose service whose deploys are read and recorded.
    type: str
    default: indexer
  record:
    description: A deploy to record; without it the module only reads.
    type: dict
    suboptions:
      action:
        description: V(deploy) or V(rollback).
        type: str
        required: true
        choices: [deploy, rollback]
      release:
        description: The release now running (an image tag).
        type: str
        required: true
      previous:
        description: The release that ran before.
        type: str
      image:
        description: The image reference now running.
        type: str
      image_id:
        description: Its image ID.
        type: str
      by:
        description: Who deployed (a person, a job, a role and its incident).
        type: str
        required: true
  commit:
    description: Whether to commit the record in the git checkout.
    type: bool
    default: true
  git_cli:
    description: Path or name of the C(git) command line client.
    type: path
    default: git
requirements:
  - The C(git) CLI on the target host when O(record) is given and O(commit=true).
seealso:
  - module: usdx.incident.deployment_info
"""

EXAMPLES = r"""
- name: Read the indexer's deploy history
  usdx.incident.release_history:
    path: /opt/usdx-wexel/deploy
  register: history

- name: Record a rollback
  usdx.incident.release_history:
    path: /opt/usdx-wexel/deploy
    record:
      action: rollback
      release: v1.4.0
      previous: v1.5.0
      image: registry.example/usdx/indexer:v1.4.0
      by: usdx.incident.release_rollback (INC-2026-11-29-01)
"""

RETURN = r"""
history:
  description: The records of O(service), oldest first (with the new one once written).
  returned: always
  type: list
  elements: dict
  sample: [{"time": "2026-11-29T00:06:41Z", "service": "indexer", "action": "deploy", "release": "v1.5.0", "previous": "v1.4.0",
            "image": "usdx-sandbox/indexer:v1.5.0", "image_id": "sha256:54c8", "by": "sandbox.sh deploy"}]
last:
  description: The newest record of O(service), V(null) when there is none.
  returned: always
  type: dict
error:
  description: Why the history could not be read (missing or unreadable file), V(null) when it could.
  returned: always
  type: str
  sample: null
problems:
  description: Lines of the file that are not deploy records, one sentence each.
  returned: always
  type: list
  elements: str
  sample: []
recorded:
  description: The record written (in check mode, that would be written); V(null) without O(record).
  returned: always
  type: dict
commit:
  description: The commit of the record, V(null) when none was made.
  returned: always
  type: str
  sample: 1fea815c0e4a3b2d9f8e7a6b5c4d3e2f1a0b9c8d
path:
  description: O(path).
  returned: always
  type: str
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._release import ACTIONS, History, HistoryError, validate


def main() -> None:
    argument_spec = {
        "path": {"type": "path", "required": True},
        "history_file": {"type": "str", "default": "history.jsonl"},
        "service": {"type": "str", "default": "indexer"},
        "record": {"type": "dict", "options": {
            "action": {"type": "str", "required": True, "choices": list(ACTIONS)},
            "release": {"type": "str", "required": True},
            "previous": {"type": "str"},
            "image": {"type": "str"},
            "image_id": {"type": "str"},
            "by": {"type": "str", "required": True},
        }},
        "commit": {"type": "bool", "default": True},
        "git_cli": {"type": "path", "default": "git"},
    }
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        validate(module.params)
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    try:
        result = History(module, module.params).run(module.check_mode)
    except HistoryError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"recording the deploy failed: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
