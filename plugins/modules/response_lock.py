#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: response_lock
short_description: One incident response per stack at a time, with a lock on the stack host that expires
version_added: 0.2.0
description:
  - Takes, refreshes or releases the response lock of one stack. The lock is a file in O(state_dir) on the stack
    host, so every way of running a response (ansible-playbook, AWX, the C(usdx-incident) command, from any
    controller) sees it.
  - O(state=acquired) takes the lock for O(incident), or refreshes it when O(incident) already holds it. When another
    incident holds a lock that has not expired, nothing is changed and the module reports RV(refused=true) and the
    RV(holder); it does not fail, so the caller can record the refusal.
  - A lock expires O(ttl) seconds after it was last taken or refreshed; an expired lock is taken over (its owner
    died or stopped). Every step of a chain refreshes it.
  - O(state=released) removes the lock held by O(incident), or an expired one. A live lock of another incident is
    never removed (RV(refused=true)).
  - Reads and writes are serialised by an exclusive C(flock) on a guard file in O(state_dir). The directory must
    not be a symlink, must belong to the running user and must not be writable by group or others.
options:
  state:
    description: Whether the lock should be held by O(incident) or released.
    type: str
    choices: [acquired, released]
    default: acquired
  incident:
    description: The incident id that holds the lock, C(INC-YYYY-MM-DD-NN).
    type: str
    required: true
  state_dir:
    description: Directory on the stack host for the response state; created (mode C(0700)) when missing.
    type: path
    required: true
  ttl:
    description: Seconds the lock lives without a refresh, 60 to 86400.
    type: int
    default: 900
extends_documentation_fragment:
  - usdx.incident.attributes.state
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: Take the response lock of this stack for the incident
  usdx.incident.response_lock:
    incident: INC-2026-11-28-01
    state_dir: /var/lib/usdx-incident
  register: lock

- name: Stop when another response is in progress
  ansible.builtin.fail:
    msg: "incident {{ lock.holder.incident }} is already being handled on this stack"
  when: lock.refused

- name: Release the lock at the end of the chain
  usdx.incident.response_lock:
    incident: INC-2026-11-28-01
    state_dir: /var/lib/usdx-incident
    state: released
"""

RETURN = r"""
refused:
  description: Another incident holds a live lock; nothing was changed.
  type: bool
  returned: always
holder:
  description: The lock found before this run (C(incident), C(acquired_at), C(refreshed_at), C(expires_at) as Unix times), or null.
  type: dict
  returned: always
expired:
  description: The lock found had expired and was taken over or removed.
  type: bool
  returned: always
lock:
  description: The lock as it stands after this run (as it would in check mode), or null when released.
  type: dict
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
        # Without the guard: creating its file would be a change, and a read needs none (locks are replaced atomically).
        held = state.read(directory, state.LOCK_FILE)
        decision = state.lock_decision(held, params["incident"], params["state"], now, params["ttl"])
    else:
        with state.guarded(directory):
            held = state.read(directory, state.LOCK_FILE)
            decision = state.lock_decision(held, params["incident"], params["state"], now, params["ttl"])
            if decision["action"] == "write":
                state.write(directory, state.LOCK_FILE, decision["document"])
            elif decision["action"] == "remove":
                state.remove(directory, state.LOCK_FILE)
    # Refreshing one's own lock is bookkeeping, not a change; taking, taking over or releasing is.
    changed = decision["action"] == "remove" or (decision["action"] == "write" and held.get("incident") != params["incident"])
    if decision["action"] == "write":
        lock = decision["document"]
    else:
        lock = None if decision["action"] == "remove" else held or None
    return {"changed": changed, "refused": decision["refused"], "holder": decision["holder"],
            "expired": decision["expired"], "lock": lock}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["acquired", "released"], "default": "acquired"},
            "incident": {"type": "str", "required": True},
            "state_dir": {"type": "path", "required": True},
            "ttl": {"type": "int", "default": 900},
        },
        supports_check_mode=True,
    )
    if not state.INCIDENT_ID.match(module.params["incident"]):
        module.fail_json(msg=f"incident={module.params['incident']!r} is not an incident id INC-YYYY-MM-DD-NN")
    if not 60 <= module.params["ttl"] <= 86400:
        module.fail_json(msg=f"ttl={module.params['ttl']} is out of range (accepted: 60 to 86400 seconds)")
    try:
        module.exit_json(**run(module))
    except (state.StateError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
