#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The documentation of the usdx.incident.findings_write action (plugins/action/findings_write.py), which does
# all the work on the controller: this file is never run, as ansible.builtin.debug's is not.

from __future__ import annotations

DOCUMENTATION = r"""
module: findings_write
short_description: Write a findings document on the controller, refusing a path another user could redirect
version_added: 0.1.0
description:
  - Writes O(content) as O(dir)/O(name) on the Ansible controller, whatever host the task runs for, inside Ansible's
    own process (no module is sent to a host). This is how the C(usdx.incident.triage) role keeps its findings.
  - Before anything is written it refuses, with one line naming the path and why, when the directory or the file is a
    symlink, not a directory or regular file, owned by another user, or group- or world-writable; when a directory
    above it belongs to a user other than root or the running user, or is group- or world-writable without the
    sticky bit (as C(/tmp) and C(/var/tmp) have); or when a symlink above it belongs to another user. With those
    excluded nobody else can move anything on the path between the checks and the write.
  - Missing directories are created with mode C(0750) (less with a stricter umask), the file with C(0640). The
    document is written to a temporary file in the directory and renamed over the old one, so a reader never sees
    half of it.
  - The document is never a change to a managed host, so the result is always C(changed=false).
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
options:
  dir:
    description:
      - The findings directory on the controller; created, with its missing parents, when it does not exist.
    type: path
    required: true
  name:
    description:
      - The file name inside O(dir), one path component (not V(.) or V(..)), for example the inventory host name
        followed by V(.json).
    type: str
    required: true
  content:
    description:
      - The document. A string is written as it is; anything else is written as JSON indented by two spaces, keys in
        the order given, followed by a newline.
    type: raw
    required: true
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
      - The document is written in check mode too. It is the output of the run, not a change to a managed host.
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
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write the findings document on the controller
  usdx.incident.findings_write:
    dir: /var/tmp/usdx-incident/findings
    name: "{{ inventory_hostname }}.json"
    content: "{{ triage_findings }}"
"""

RETURN = r"""
path:
  description: The absolute path of the document written.
  returned: success
  type: str
  sample: /var/tmp/usdx-incident/findings/sandbox.json
"""
