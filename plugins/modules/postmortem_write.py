#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The documentation of the usdx.incident.postmortem_write action (plugins/action/postmortem_write.py), which does
# all the work on the controller: this file is never run, as ansible.builtin.debug's is not.

from __future__ import annotations

DOCUMENTATION = r"""
module: postmortem_write
short_description: Write an incident's post-mortem (Markdown and a self-contained HTML report) into its folder
version_added: 0.3.0
description:
  - Reads one incident folder on the Ansible controller, C(<incidents_dir>/INC-YYYY-MM-DD-NN/), and writes
    C(postmortem.md) and C(postmortem.html) into it, inside Ansible's own process (no module is sent to a host).
  - It reads C(incident.json), every stack's record C(hosts/<host>.json) (steps on the T+ clock, escalations,
    decision, contain), the triage findings the chain took (C(findings/) at assess, C(verify/) at verify, and any
    other folder of findings documents), and C(timeline.jsonl), the events of the
    C(usdx.incident.incident_timeline) callback. A last line of the timeline cut short by a killed run is left
    out; without a timeline the post-mortem says it was not recorded and is written from the records.
  - The Markdown follows the runbook's Post-Mortem Template field for field (Incident ID, Date, Duration,
    Severity, Impact, Summary, Timeline, Root Cause, Resolution, Action Items, Lessons Learned, Prevention). What
    the run knows is filled in; what only people can write is marked C(To be written by the team at the
    post-mortem meeting).
  - The HTML report has inline CSS and two inline SVG charts (ids C(timeline-chart) and C(metric-chart)) - the
    steps against their T+ deadlines, late steps marked, and the key metric of the scenario over T+ - and loads
    nothing from elsewhere.
  - The templates are rendered in Jinja's sandbox, not by Ansible's templating. Values from hosts (log lines,
    error messages, query texts) are inserted as data, never evaluated, and escaped in the HTML. See the
    collection's C(docs/postmortem.md) for the values a template can use.
  - Files are written as usdx.incident.findings_write writes them (no symlink, not writable by others, replaced
    atomically). The post-mortem is the run's output, not a change to a managed host, so C(changed) is always
    V(false).
options:
  incidents_dir:
    description: The controller directory holding one folder per incident.
    type: path
    required: true
  incident_id:
    description: The incident, C(INC-YYYY-MM-DD-NN); its folder must exist in O(incidents_dir).
    type: str
    required: true
  template_markdown:
    description:
      - The Jinja template of C(postmortem.md) on the controller.
      - Default is C(templates/postmortem.md.j2) of the collection's role C(usdx.incident.step_postmortem).
    type: path
  template_html:
    description:
      - The Jinja template of C(postmortem.html) on the controller; rendered with every value HTML-escaped.
      - Default is C(templates/postmortem.html.j2) of the collection's role C(usdx.incident.step_postmortem).
    type: path
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
      - In check mode both documents are rendered (a broken template fails) and nothing is written.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: all
    details:
      - Runs on the controller (POSIX) only, whatever the host the task runs for; that host is not contacted.
seealso:
  - module: usdx.incident.incident_record
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: Write the post-mortem of the incident
  usdx.incident.postmortem_write:
    incidents_dir: /var/lib/usdx-incident/incidents
    incident_id: INC-2026-11-28-01
  run_once: true
  delegate_to: localhost
  register: postmortem

- name: Write it with the team's own templates
  usdx.incident.postmortem_write:
    incidents_dir: /var/lib/usdx-incident/incidents
    incident_id: INC-2026-11-28-01
    template_markdown: "{{ inventory_dir }}/templates/postmortem.md.j2"
    template_html: "{{ inventory_dir }}/templates/postmortem.html.j2"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
incident_id:
  description: The incident id.
  type: str
  returned: success
  sample: INC-2026-11-28-01
folder:
  description: The incident folder.
  type: str
  returned: success
markdown_path:
  description: The path of C(postmortem.md) (in check mode, the path it would have).
  type: str
  returned: success
  sample: /var/lib/usdx-incident/incidents/INC-2026-11-28-01/postmortem.md
html_path:
  description: The path of C(postmortem.html) (in check mode, the path it would have).
  type: str
  returned: success
  sample: /var/lib/usdx-incident/incidents/INC-2026-11-28-01/postmortem.html
written:
  description: Whether the files were written (V(false) in check mode).
  type: bool
  returned: success
summary:
  description: One line on what the post-mortem holds (steps, late ones, escalations, whether a timeline was recorded).
  type: str
  returned: success
  sample: >-
    wrote the post-mortem of INC-2026-11-28-01 (P0, Database Connection Exhausted): 8 step(s), 0 late,
    0 escalation(s), timeline recorded
"""
