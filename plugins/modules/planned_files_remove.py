#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: planned_files_remove
short_description: Delete the planned old files that are still exactly as planned, in one run, never through a link
version_added: 0.2.0
description:
  - The deletion step of the runbook scenario I(Out of Disk Space) (C(find /var/log -mtime +30 -delete),
    C(find /var/backups/usdx-wexel -mtime +60 -delete)), limited to the files a plan named
    (the C(delete) list of the filter C(usdx.incident.disk_full_plan), made from M(usdx.incident.disk_usage_info)).
  - Re-reads each file just before deleting it and deletes it only while it is still exactly what was planned - a
    regular file (not a link), on the filesystem of its directory, the same inode when the plan knows it, the same
    modification time (whole seconds) and the same size. Anything else is left alone and listed in RV(left) with the
    reason; so are files in a directory that is now a symbolic link.
  - Never follows a symbolic link. The configured directory (C(dir) of each O(files) entry) is opened from C(/) one
    component at a time refusing links, the file's parent directories below it the same way, and the file is read
    and deleted relative to its parent's descriptor (C(openat), C(fstatat), C(unlinkat)).
  - All files in one module run, within O(timeout) seconds in all; files not reached by then are left.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - In check mode every file is re-checked the same way and RV(deleted) lists those that would be deleted;
        nothing is deleted.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  files:
    description:
      - The planned files. Each is a dict with C(path) (absolute, normalized, strictly inside C(dir), printable and
        without a backslash, as M(usdx.incident.disk_usage_info) shows names), C(dir) (the configured directory
        it was found in; never C(/) nor a system path such as C(/etc), C(/usr), C(/var/lib/postgresql)), C(size)
        (bytes) and C(mtime) (seconds since the epoch, whole, rounded down), and optionally C(dev) (the device of
        C(dir) at the plan) and C(inode) (the file's). Other keys (C(category), ...) are returned as given.
      - A bad entry fails the module, naming it, before any file is touched.
    type: list
    elements: dict
    required: true
  timeout:
    description:
      - Seconds the whole run may take. Files not checked by then are left, with that reason, and RV(timed_out) is
        V(true). Must be greater than 0.
    type: float
    default: 60
notes:
  - A file is left alone when, since the plan, it is gone, became a symbolic link or anything but a regular file, is
    on another filesystem than its directory, was replaced (another inode), has another modification time, grew or
    shrank, or when its directory (or a directory on the way to it) is now a symbolic link or not a directory.
  - The only moment not covered is the one between the last read of a file and its deletion (two system calls), as
    with C(find -delete); a name swapped in right then is deleted, never what it points to.
  - RV(freed_bytes) counts file sizes; a file with other hard links frees no space.
seealso:
  - module: usdx.incident.disk_usage_info
"""

EXAMPLES = r"""
- name: Delete the planned old logs and backups (re-checked, links never followed)
  usdx.incident.planned_files_remove:
    files: "{{ plan.delete }}"
    timeout: 60
  register: removed

- name: Say what was left and why
  ansible.builtin.debug:
    msg: "LEFT {{ item.path }}: {{ item.why }}"
  loop: "{{ removed.left }}"

- name: One file, as disk_usage_info and the plan describe it
  usdx.incident.planned_files_remove:
    files:
      - path: /var/log/usdx-wexel/indexer-2026-09-09.log
        dir: /var/log/usdx-wexel
        size: 7988791
        mtime: 1757462399
        inode: 40213
        category: logs
  check_mode: true
"""

RETURN = r"""
deleted:
  description:
    - The entries of O(files) (as given) that were deleted; in check mode those that would be.
  returned: always
  type: list
  elements: dict
  sample:
    - path: /var/log/usdx-wexel/indexer-2026-09-09.log
      dir: /var/log/usdx-wexel
      size: 7988791
      mtime: 1757462399
      inode: 40213
      category: logs
left:
  description:
    - The entries of O(files) (as given) that were not deleted, each with C(why).
  returned: always
  type: list
  elements: dict
  sample:
    - path: /var/log/usdx-wexel/webapp-2026-09-09.log
      dir: /var/log/usdx-wexel
      size: 1109567
      mtime: 1757462399
      category: logs
      why: "grew since the plan (1109567 -> 1110000 bytes)"
freed_bytes:
  description: The sum of the sizes of RV(deleted) (in check mode, what would be freed).
  returned: always
  type: int
  sample: 77669285
timed_out:
  description: Whether O(timeout) passed before every file was checked (those not checked are in RV(left)).
  returned: always
  type: bool
  sample: false
msg:
  description: One line saying how many files were (or would be) deleted and left.
  returned: always
  type: str
  sample: "deleted 20 file(s), 77669285 bytes; left 0"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._planned_files import (
    Remover,
    parse_files,
    supported,
    validate_timeout,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "files": {"type": "list", "elements": "dict", "required": True},
            "timeout": {"type": "float", "default": 60},
        },
        supports_check_mode=True,
    )
    try:
        validate_timeout(module.params["timeout"])
        planned = parse_files(module.params["files"])
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    unsupported = supported()
    if unsupported:
        module.fail_json(msg=unsupported)
    module.exit_json(**Remover(planned, module.check_mode, module.params["timeout"]).run())


if __name__ == "__main__":
    main()
