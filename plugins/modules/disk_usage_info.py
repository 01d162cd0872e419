#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: disk_usage_info
short_description: Report disk use, old logs, old backups and Docker's reclaimable space
version_added: 0.1.0
description:
  - Automates the diagnosis of the runbook scenario I(Out of Disk Space) (C(df -h), C(docker system df),
    C(find /var/log -mtime +30), C(find /var/backups/usdx-wexel -mtime +60)) without changing anything.
  - Measures the filesystem of each of O(paths) with C(statvfs) (space and inodes, like C(df -h) and C(df -i))
    and lists the paths whose use is at or over O(threshold_percent) in RV(full).
  - Lists the files older than O(log_max_age_days) in O(log_dirs) and older than O(backup_max_age_days) in
    O(backup_dirs). The newest backup of each backup directory is always flagged C(newest=true), even when it
    is old, so that a later clean-up can keep it.
  - Lists the O(largest) largest files found under O(paths), staying on the filesystem of each path.
  - With O(docker=true), reports the space C(docker system df) says is reclaimable, per kind; nothing is pruned.
    The engine computes one C(docker system df) at a time, so the modules of one host asking the same engine at the
    same time (a fleet triaged side by side) take turns and share one reading, which must have started after the
    module asked (see RV(docker.shared)); the readings are kept in a directory of the user's own under the
    temporary directory (C(usdx-incident-UID), mode 0700).
  - Scans never follow symbolic links (links are skipped), so they never leave the scanned directories.
    Unreadable directories and files that vanish during a scan are reported in C(errors), not raised.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
extends_documentation_fragment:
  - usdx.incident.attributes
  - usdx.incident.connection
options:
  paths:
    description:
      - Mount points or directories whose filesystems are measured, and under which the largest files are searched.
    type: list
    elements: path
    default: ['/']
  threshold_percent:
    description:
      - A path whose space or inode use is at or over this percentage is listed in RV(full).
      - Must be greater than 0 and at most 100.
    type: float
    default: 90
  log_dirs:
    description:
      - Directories holding log files, scanned recursively.
    type: list
    elements: path
    default: []
  log_patterns:
    description:
      - Shell patterns a log file's base name must match (the runbook uses C(*.log)).
    type: list
    elements: str
    default: ['*.log', '*.log.*']
  log_max_age_days:
    description:
      - A log file last modified more than this many days (periods of 24 hours) ago is old.
    type: int
    default: 30
  backup_dirs:
    description:
      - Directories holding database backups, scanned recursively.
    type: list
    elements: path
    default: []
  backup_patterns:
    description:
      - Shell patterns a backup file's base name must match.
    type: list
    elements: str
    default: ['*']
  backup_max_age_days:
    description:
      - A backup last modified more than this many days (periods of 24 hours) ago is old.
    type: int
    default: 60
  largest:
    description:
      - How many of the largest files under O(paths) to report. V(0) skips that scan.
    type: int
    default: 10
  max_files:
    description:
      - At most this many directory entries are examined under each scanned directory;
        a scan that stops there says C(truncated=true) and adds a RV(partial) reason.
    type: int
    default: 100000
  scan_seconds:
    description:
      - Seconds all directory walks of one run may take together. A walk still running then stops, says
        C(truncated=true) and adds a RV(partial) reason. Must be greater than 0.
    type: float
    default: 20
  docker:
    description:
      - Report Docker's reclaimable space per kind (C(docker system df)). Nothing is removed.
      - O(project_name) is not used by this module, C(docker system df) covers the whole engine.
    type: bool
    default: true
notes:
  - Old files are those whose modification time is more than N days ago, which includes everything
    C(find -mtime +N) finds.
  - Symbolic links are never followed, so a walk never leaves the directory it was given. Files that vanish
    during a walk are left out.
  - File names may hold any bytes. Every path the module returns is text that is safe to print and to store as
    JSON; bytes that are not UTF-8 are written C(\\xNN), control and invisible characters C(\\xNN) or C(\\uNNNN),
    a backslash C(\\\\).
seealso:
  - module: usdx.incident.indexer_lag_info
"""

EXAMPLES = r"""
- name: Measure the data filesystem and find what can be cleaned
  usdx.incident.disk_usage_info:
    paths:
      - /
      - /var/lib/docker
    log_dirs:
      - /var/log/usdx-wexel
    backup_dirs:
      - /var/backups/usdx-wexel
  register: disk

- name: Say which filesystems are full
  ansible.builtin.debug:
    msg: "{{ item.path }} is {{ item.percent_used }}% used ({{ item.free_bytes | usdx.incident.human_size }} free)"
  loop: "{{ disk.paths | selectattr('over_threshold') }}"

- name: Old backups that a clean-up may delete (never the newest of a directory)
  ansible.builtin.debug:
    msg: "{{ disk.backups.dirs | map(attribute='old_files') | flatten | rejectattr('newest') | map(attribute='path') }}"

- name: The module never changes anything
  ansible.builtin.assert:
    that:
      - not disk.changed
"""

RETURN = r"""
paths:
  description: One entry per O(paths) item, in the same order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path as given.
      type: str
      sample: /var/lib/docker
    exists:
      description: Whether the path exists.
      type: bool
      sample: true
    mount_point:
      description: Mount point of the filesystem holding the path.
      type: str
      sample: /
    fs_type:
      description: Filesystem type from C(/proc/self/mounts), V(null) when unknown.
      type: str
      sample: ext4
    total_bytes:
      description: Size of the filesystem.
      type: int
      sample: 268435456
    used_bytes:
      description: Space in use.
      type: int
      sample: 255013683
    free_bytes:
      description: Space available to unprivileged users (C(df)'s I(Avail)).
      type: int
      sample: 13421773
    percent_used:
      description: Used share of the space users can have, like C(df)'s I(Use%), one decimal.
      type: float
      sample: 95.0
    inodes_total:
      description: Number of inodes.
      type: int
      sample: 65536
    inodes_used:
      description: Inodes in use.
      type: int
      sample: 310
    inodes_free:
      description: Inodes available to unprivileged users.
      type: int
      sample: 65226
    inodes_percent_used:
      description: Used share of the inodes.
      type: float
      sample: 0.5
    over_threshold:
      description: Whether space or inode use is at or over O(threshold_percent).
      type: bool
      sample: true
    error:
      description: Why the path could not be measured, V(null) when it was.
      type: str
      sample: null
full:
  description: The O(paths) items whose space or inode use is at or over O(threshold_percent).
  returned: always
  type: list
  elements: str
  sample: [/srv/usdx/data]
threshold_percent:
  description: The threshold used for RV(full).
  returned: always
  type: float
  sample: 90.0
logs:
  description: Old files in O(log_dirs).
  returned: always
  type: dict
  contains:
    max_age_days:
      description: O(log_max_age_days).
      type: int
      sample: 30
    old_count:
      description: Number of old log files in all directories.
      type: int
      sample: 12
    old_bytes:
      description: Total size of the old log files.
      type: int
      sample: 104857600
    dirs:
      description: One entry per O(log_dirs) item.
      type: list
      elements: dict
      contains:
        path:
          description: The directory.
          type: str
          sample: /var/log/usdx-wexel
        exists:
          description: Whether it exists and is a directory.
          type: bool
          sample: true
        symlinked:
          description:
            - Whether the directory itself, or a directory above it, is a symbolic link (its real path is another).
              The walk goes through it; a clean-up must not.
          type: bool
          sample: false
        dev:
          description: The device of the directory itself (links not followed), V(null) when it does not exist.
          type: int
          sample: 64770
        file_count:
          description: Number of matching files.
          type: int
          sample: 14
        total_bytes:
          description: Total size of the matching files.
          type: int
          sample: 115343360
        old_files:
          description:
            - Matching files older than O(log_max_age_days), oldest first.
            - Each has C(path), C(size) (bytes), C(mtime) (ISO 8601, UTC), C(age_days), C(inode) and C(newest) (always
              V(false) for logs).
          type: list
          elements: dict
          sample:
            - path: /var/log/usdx-wexel/indexer.log.3
              size: 10485760
              mtime: "2026-09-01T07:00:00+00:00"
              age_days: 88.0
              inode: 40213
              newest: false
        old_count:
          description: Number of old files.
          type: int
          sample: 12
        old_bytes:
          description: Total size of the old files.
          type: int
          sample: 104857600
        newest:
          description: Always V(null) for logs.
          type: dict
          sample: null
        truncated:
          description: Whether the scan stopped at O(max_files).
          type: bool
          sample: false
        errors:
          description: Unreadable entries met during the scan (at most 20).
          type: list
          elements: str
          sample: []
backups:
  description:
    - Old files in O(backup_dirs), with the same structure as RV(logs).
    - In each directory the newest backup is in C(newest) and, when it is old, stays in C(old_files) with
      C(newest=true); C(old_count) and C(old_bytes) never count it.
  returned: always
  type: dict
  contains:
    max_age_days:
      description: O(backup_max_age_days).
      type: int
      sample: 60
    old_count:
      description: Number of old backups that are not the newest of their directory.
      type: int
      sample: 3
    old_bytes:
      description: Their total size.
      type: int
      sample: 62914560
    dirs:
      description: One entry per O(backup_dirs) item, as in RV(logs.dirs), with C(newest) set.
      type: list
      elements: dict
      sample:
        - path: /var/backups/usdx-wexel
          exists: true
          symlinked: false
          dev: 64770
          file_count: 4
          total_bytes: 83886080
          newest:
            path: /var/backups/usdx-wexel/usdx_wexel-2026-11-27.sql.gz
            size: 20971520
            mtime: "2026-11-27T03:00:00+00:00"
            age_days: 1.17
            inode: 40377
            newest: true
          old_files:
            - path: /var/backups/usdx-wexel/usdx_wexel-2026-08-01.sql.gz
              size: 20971520
              mtime: "2026-08-01T03:00:00+00:00"
              age_days: 119.17
              inode: 40102
              newest: false
          old_count: 1
          old_bytes: 20971520
          truncated: false
          errors: []
largest_files:
  description: The O(largest) largest files under O(paths), largest first, each with C(path), C(size), C(mtime), C(age_days), C(inode).
  returned: always
  type: list
  elements: dict
  sample:
    - path: /var/lib/postgresql/data/base/16384/16423
      size: 1073741824
      mtime: "2026-11-28T06:59:00+00:00"
      age_days: 0.01
      inode: 1835041
partial:
  description:
    - What could not be checked, one sentence each; absent when everything was. A walk stopped at O(max_files) or
      O(scan_seconds), entries that could not be read, and C(docker system df) failing are each a reason.
  returned: when something could not be checked
  type: list
  elements: str
  sample: ["docker's reclaimable space is unknown: docker system df failed (rc=1): permission denied"]
scan:
  description: How the largest-files scan went.
  returned: always
  type: dict
  contains:
    files_scanned:
      description: Directory entries examined.
      type: int
      sample: 5210
    truncated:
      description: Whether a scan stopped at O(max_files) or O(scan_seconds).
      type: bool
      sample: false
    errors:
      description: Unreadable entries (at most 20 per path).
      type: list
      elements: str
      sample: ["/root/.cache: Permission denied"]
docker:
  description:
    - Docker's disk use per kind from C(docker system df); V(null) with O(docker=false).
    - The kinds C(images), C(containers), C(volumes), C(build_cache) each have C(total_count), C(active),
      C(size_bytes) and C(reclaimable_bytes).
  returned: always
  type: dict
  contains:
    available:
      description: Whether C(docker system df) answered.
      type: bool
      sample: true
    shared:
      description:
        - Whether the answer is another module's on this host that asked the same engine at the same time (a fleet
          triaged side by side). The engine computes one at a time, so they take turns and share one reading.
        - A shared reading always started after this module asked for it.
      type: bool
      sample: false
    error:
      description: Why not, V(null) when it did.
      type: str
      sample: null
    reclaimable_bytes:
      description: Sum of the reclaimable bytes of all kinds.
      type: int
      sample: 1199000000
    images:
      description: Images.
      type: dict
      sample: {total_count: 7, active: 5, size_bytes: 3600000000, reclaimable_bytes: 1199000000}
    containers:
      description: Containers (stopped ones are reclaimable).
      type: dict
      sample: {total_count: 6, active: 5, size_bytes: 2048, reclaimable_bytes: 1024}
    volumes:
      description: Local volumes.
      type: dict
      sample: {total_count: 1, active: 1, size_bytes: 0, reclaimable_bytes: 0}
    build_cache:
      description: Build cache.
      type: dict
      sample: {total_count: 0, active: 0, size_bytes: 0, reclaimable_bytes: 0}
summary:
  description: What a clean-up following the runbook could free, in bytes (the newest backups excluded).
  returned: always
  type: dict
  sample: {old_log_bytes: 104857600, old_backup_bytes: 62914560, docker_reclaimable_bytes: 1199000000, reclaimable_bytes: 1366772160}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._disk_usage import DiskUsage, validate
from ansible_collections.usdx.incident.plugins.module_utils._docker import docker_argument_spec
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(
        paths={"type": "list", "elements": "path", "default": ["/"]},
        threshold_percent={"type": "float", "default": 90},
        log_dirs={"type": "list", "elements": "path", "default": []},
        log_patterns={"type": "list", "elements": "str", "default": ["*.log", "*.log.*"]},
        log_max_age_days={"type": "int", "default": 30},
        backup_dirs={"type": "list", "elements": "path", "default": []},
        backup_patterns={"type": "list", "elements": "str", "default": ["*"]},
        backup_max_age_days={"type": "int", "default": 60},
        largest={"type": "int", "default": 10},
        max_files={"type": "int", "default": 100000},
        scan_seconds={"type": "float", "default": 20},
        docker={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        validate(module.params)
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    try:
        result = DiskUsage(module, module.params).run()
    except OSError as exc:
        module.fail_json(msg=f"disk measurement failed: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
