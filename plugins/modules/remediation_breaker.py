#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: remediation_breaker
short_description: Stop automatic remediation of a scenario that keeps coming back on a stack
version_added: 0.2.0
description:
  - A circuit breaker for automatic fixes. It counts the automatic remediations of O(scenario) on this stack within
    the last O(window) seconds, from a history file in O(state_dir) on the stack host.
  - When O(max) remediations already ran within the window the breaker is RV(tripped). The caller then does not
    remediate and escalates to a person instead. A fix that has to be repeated that often is not a fix.
  - With O(record=true) and a breaker that is not tripped, this remediation is added to the history (the caller
    records just before it acts). Entries older than the window are dropped.
  - Reads and writes are serialised by an exclusive C(flock) on a guard file in O(state_dir). The directory must
    not be a symlink, must belong to the running user and must not be writable by group or others.
options:
  scenario:
    description: The scenario being remediated, for example V(db_connections_exhausted).
    type: str
    required: true
  incident:
    description: The incident id recorded with the remediation, C(INC-YYYY-MM-DD-NN).
    type: str
    required: true
  state_dir:
    description: Directory on the stack host for the response state; created (mode C(0700)) when missing.
    type: path
    required: true
  max:
    description: Automatic remediations of one scenario allowed within O(window); the next one trips the breaker.
    type: int
    default: 3
  window:
    description: Seconds the history looks back, 60 to 604800.
    type: int
    default: 3600
  record:
    description: Add this remediation to the history when the breaker is not tripped.
    type: bool
    default: false
extends_documentation_fragment:
  - usdx.incident.attributes.state
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: Count this remediation, unless it has been done too often lately
  usdx.incident.remediation_breaker:
    scenario: db_connections_exhausted
    incident: INC-2026-11-28-01
    state_dir: /var/lib/usdx-incident
    max: 3
    window: 3600
    record: true
  register: breaker

- name: Hand over to a person instead
  ansible.builtin.debug:
    msg: "{{ breaker.count }} automatic fixes within the hour: escalating"
  when: breaker.tripped
"""

RETURN = r"""
tripped:
  description: O(max) or more remediations of O(scenario) ran within O(window); do not remediate automatically.
  type: bool
  returned: always
count:
  description: Remediations of O(scenario) within O(window) before this run.
  type: int
  returned: always
recent:
  description: Those remediations, each with C(at) (Unix time) and C(incident).
  type: list
  elements: dict
  returned: always
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils import _response_state as state


def run(module: AnsibleModule) -> dict:
    params = module.params
    directory = params["state_dir"]
    state.check_directory(directory, create=not module.check_mode)
    now = time.time()
    if module.check_mode:
        # Without the guard: creating its file would be a change, and a read needs none (history is replaced atomically).
        decision = state.breaker_decision(state.read(directory, state.BREAKER_FILE), params["scenario"], now, params["window"],
                                          params["max"], params["record"], params["incident"])
    else:
        with state.guarded(directory):
            history = state.read(directory, state.BREAKER_FILE)
            decision = state.breaker_decision(history, params["scenario"], now, params["window"], params["max"],
                                              params["record"], params["incident"])
            if decision["write"]:
                state.write(directory, state.BREAKER_FILE, decision["document"])
    return {"changed": decision["write"], "tripped": decision["tripped"], "count": decision["count"],
            "recent": decision["recent"]}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "scenario": {"type": "str", "required": True},
            "incident": {"type": "str", "required": True},
            "state_dir": {"type": "path", "required": True},
            "max": {"type": "int", "default": 3},
            "window": {"type": "int", "default": 3600},
            "record": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not state.INCIDENT_ID.match(params["incident"]):
        module.fail_json(msg=f"incident={params['incident']!r} is not an incident id INC-YYYY-MM-DD-NN")
    if params["max"] < 1:
        module.fail_json(msg=f"max={params['max']} must be at least 1")
    if not 60 <= params["window"] <= 604800:
        module.fail_json(msg=f"window={params['window']} is out of range (accepted: 60 to 604800 seconds)")
    try:
        module.exit_json(**run(module))
    except (state.StateError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
