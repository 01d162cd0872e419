#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The documentation of the usdx.incident.incident_record action (plugins/action/incident_record.py), which does
# all the work on the controller: this file is never run, as ansible.builtin.debug's is not.

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_record
short_description: Open and update an incident's folder on the controller, with each stack's steps on the T+ clock
version_added: 0.2.0
description:
  - Keeps the record of one incident in C(<incidents_dir>/INC-YYYY-MM-DD-NN/) on the Ansible controller, inside
    Ansible's own process. The id is in UTC with a sequence per day, and is taken by creating its folder, so two
    responses starting at once get different ids.
  - V(open) allocates the id when O(incident_id) is empty and writes C(incident.json) (id, channel
    C(#incident-YYYY-MM-DD), severity, scenario, fix option, start time, check mode) unless it exists. Run it once
    per incident (C(run_once)).
  - V(host), V(step_start), V(step_end), V(set), V(reached) and V(finish) read and write C(hosts/<inventory_hostname>.json), the
    record of one stack. V(step_start) appends a step started now; V(step_end) closes it with the step role's
    result (status, summary, actions, escalations) and its deadline verdict. The deadline is met when the step
    ended by its T+ deadline, counted from the incident's start. A missed deadline is recorded as an escalation
    (trigger C(deadline_missed)). Each escalation gets the level of the runbook's ladder its trigger reaches at that
    point of the T+ clock. V(set) sets fields of the record, V(reached) records who one escalation reached, and
    V(finish) computes its outcome.
  - Paths are checked as usdx.incident.findings_write checks them. The record is the run's output, not a change to
    a managed host, so it is written in check mode too and C(changed) is always V(false).
options:
  op:
    description: What to do.
    type: str
    required: true
    choices: [open, host, step_start, step_end, set, reached, finish]
  incidents_dir:
    description: The controller directory holding one folder per incident.
    type: path
    required: true
  incident_id:
    description: The incident, C(INC-YYYY-MM-DD-NN); with O(op=open) empty means allocate the next one.
    type: str
    default: ""
  severity:
    description: With O(op=open), the severity of the response (V(P0) to V(P3), or V(auto) until the triage decides).
    type: str
  scenario:
    description: With O(op=open), the requested scenario.
    type: str
  fix_option:
    description: With O(op=open), the requested Fix option.
    type: str
  step:
    description: With O(op=step_start), the step (C(id), C(title), C(deadline_seconds)) from the chain.
    type: dict
  result:
    description:
      - With O(op=step_end), the step role's result. C(status) is one of V(ok), V(changed), V(skipped), V(failed),
        V(refused) or V(escalated). The other keys are C(summary), C(actions), C(escalations) (C(trigger), one of
        C(deadline_missed), C(step_failed), C(fix_failed), C(verify_failed), C(breaker_tripped), C(no_scenario),
        C(approval_missing), C(security), C(external_service); and C(reason)),
        C(needs_approval) (a gate) and C(stop) (why later destructive steps must not act).
    type: dict
  fields:
    description: With O(op=set), fields of the stack's record to set.
    type: dict
  escalation:
    description: With O(op=reached), the recorded escalation (its C(at), C(step) and C(trigger) find it).
    type: dict
  reached:
    description: With O(op=reached), the names of the contacts the escalation reached (empty when nobody was).
    type: list
    elements: str
attributes:
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  bypass_host_loop:
    description: Forces a 'global' task that does not execute per host.
    support: none
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The record is written in check mode too. It is the output of the run, not a change to a managed host.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
    details:
      - Runs on the controller (POSIX) only, whatever the host the task runs for; that host is not contacted.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: Open the incident
  usdx.incident.incident_record:
    op: open
    incidents_dir: /var/lib/usdx-incident/incidents
    severity: P0
  run_once: true
  register: incident

- name: Record that the assess step starts
  usdx.incident.incident_record:
    op: step_start
    incidents_dir: /var/lib/usdx-incident/incidents
    incident_id: "{{ incident.incident_id }}"
    step: {id: assess, title: Assess, deadline_seconds: 300}
"""

RETURN = r"""
incident_id:
  description: The incident id.
  type: str
  returned: success
folder:
  description: The incident folder.
  type: str
  returned: success
incident:
  description: The content of C(incident.json).
  type: dict
  returned: success
record:
  description: This stack's record after the operation (steps, escalations, stopped, outcome); not with O(op=open).
  type: dict
  returned: success and O(op) is not V(open)
"""
