#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_log_scan
short_description: Count, group and explain the errors in the recent logs of a compose project's services
version_added: 0.1.0
description:
  - The runbook's C(docker-compose logs --tail=500 indexer | grep ERROR), made to answer "what is wrong".
  - Reads the last O(tail) lines of C(docker logs --timestamps) of each service's container, stdout and stderr
    merged in time order.
  - Counts lines by level. It reads the sandbox's format (C(2026-11-28T07:00:00.123Z ERROR [worker] message)),
    JSON lines with a level and message, logfmt (C(level=error msg=...)) and plain lines with a level word
    (C(ERROR), C(FATAL:), C(WARNING), C([error])), a C(Traceback) or an exception.
  - Groups ERROR and FATAL lines into signatures, with numbers, hex ids, hashes, UUIDs, IP addresses, times
    and quoted values replaced, and reports for each its count, first and last time seen and one sample line.
  - Recognises the runbook's common causes in WARN, ERROR, FATAL and unlevelled lines, with evidence
    (see RV(causes)).
  - Log text is untrusted. It is only matched against fixed patterns; lines are cut to 4096 characters
    before parsing, samples to 300 characters and stripped of control characters and terminal escapes,
    and returned as plain strings, never templated or run.
  - A service whose logs cannot be read is reported with RV(services.error) and named in RV(partial), not as a
    failure; a project without containers gives RV(project_found=false). A docker CLI that cannot list the
    containers (daemon down, permission denied, binary missing, no answer in time) fails the module.
  - Every docker call is killed (with its children) after two minutes.
  - The module never changes anything; C(changed) is always V(false).
options:
  services:
    description:
      - Scan only these services. Services asked for but not found are listed in RV(missing).
      - By default every service of the project.
    type: list
    elements: str
    default: []
  tail:
    description:
      - How many of the last log lines of each service to read, 1 to 10000.
    type: int
    default: 500
  since:
    description:
      - Read only lines newer than this, as C(docker logs --since) takes it
        (a duration such as V(10m) or V(1h30m), an RFC 3339 time or a Unix timestamp).
      - O(tail) still bounds the number of lines.
    type: str
  max_signatures:
    description:
      - At most this many error signatures per service, 1 to 200; further ones are counted in
        RV(services.signatures_dropped).
    type: int
    default: 50
extends_documentation_fragment:
  - usdx.incident.attributes
  - usdx.incident.connection
notes:
  - C(crash_on_startup) needs the container's state. It is found for a container that is not running (or is
    restarting) after a non-zero exit, when errors or exceptions come within the first 25 lines of a run that
    lasted less than a minute, or an exception is among its last 10 lines.
seealso:
  - module: usdx.incident.compose_service_info
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: Errors of the last 500 lines of the indexer and the webapp
  usdx.incident.container_log_scan:
    project_name: usdx-wexel
    services: [indexer, webapp]
    tail: 500
  register: logs

- name: Name the likely cause
  ansible.builtin.debug:
    msg: "{{ item.key }} in {{ item.value.services | join(', ') }}: {{ item.value.sample }}"
  loop: "{{ logs.causes | dict2items }}"

- name: Only the last ten minutes, every service
  usdx.incident.container_log_scan:
    since: 10m
  register: recent

- name: The database ran out of connections
  ansible.builtin.assert:
    that: "'db_connections_exhausted' not in recent.causes"
"""

RETURN = r"""
project_found:
  description: Whether the project has any container.
  returned: always
  type: bool
  sample: true
services:
  description: Scan results keyed by service name.
  returned: always
  type: dict
  contains:
    container:
      description: Name of the container whose logs were read.
      type: str
      sample: usdx-wexel-indexer-1
    running:
      description: Whether the container runs.
      type: bool
      sample: true
    exit_code:
      description: Exit code of the container's last run.
      type: int
      sample: 0
    error:
      description: Why the logs could not be read; only present then.
      type: str
      sample: "docker logs --timestamps --tail failed (rc=1): configured logging driver does not support reading"
    lines:
      description: Lines read.
      type: int
      sample: 500
    truncated_lines:
      description: Lines longer than 4096 characters, of which only the start was parsed.
      type: int
      sample: 0
    by_level:
      description: Lines by level; V(OTHER) counts lines without a recognisable level (stack frames, plain output).
      type: dict
      sample: {"DEBUG": 0, "INFO": 450, "WARN": 10, "ERROR": 38, "FATAL": 0, "OTHER": 2}
    error_count:
      description: ERROR plus FATAL lines.
      type: int
      sample: 38
    signatures:
      description: ERROR and FATAL lines grouped by normalised message, the most frequent first.
      type: list
      elements: dict
      contains:
        signature:
          description: The normalised message (at most 200 characters).
          type: str
          sample: "database error (attempt <n>): connection to server at \"<str>\" (<ip>), port <n> failed: FATAL: sorry, too many clients already"
        level:
          description: V(ERROR) or V(FATAL).
          type: str
          sample: ERROR
        component:
          description: The component in brackets after the level, if the format has one.
          type: str
          sample: worker
        count:
          description: Lines with this signature.
          type: int
          sample: 12
        first_seen:
          description: Time of the first such line (docker's timestamp).
          type: str
          sample: "2026-11-28T07:00:00.123456789Z"
        last_seen:
          description: Time of the last such line.
          type: str
          sample: "2026-11-28T07:05:00.123456789Z"
        sample:
          description: The first such line, cut to 300 characters.
          type: str
          sample: "2026-11-28T07:00:00.123Z ERROR [worker] database error (attempt 1): ..."
    signatures_dropped:
      description: ERROR and FATAL lines not grouped because O(max_signatures) signatures existed already.
      type: int
      sample: 0
    causes:
      description: Known causes found in this service's lines, as in RV(causes) but without RV(causes.services).
      type: dict
      sample: {"db_connections_exhausted": {"count": 12, "first_seen": "2026-11-28T07:00:00.1Z",
               "last_seen": "2026-11-28T07:05:00.1Z", "sample": "... too many clients already"}}
    first_line_at:
      description: Time of the first line read.
      type: str
      sample: "2026-11-28T06:58:00.123456789Z"
    last_line_at:
      description: Time of the last line read.
      type: str
      sample: "2026-11-28T07:05:00.123456789Z"
causes:
  description:
    - Known causes over all services. Keys are among V(db_connections_exhausted), V(db_unreachable),
      V(out_of_memory), V(disk_full), V(rpc_failure) and V(crash_on_startup).
  returned: always
  type: dict
  contains:
    count:
      description: Lines that show the cause.
      type: int
      sample: 12
    services:
      description: Services whose logs show it, sorted.
      type: list
      elements: str
      sample: [indexer]
    sample:
      description: One such line (of the first service in RV(causes.services)), cut to 300 characters.
      type: str
      sample: "2026-11-28T07:00:00.123Z ERROR [worker] database error (attempt 1): ... too many clients already"
    first_seen:
      description: Time of the first such line.
      type: str
      sample: "2026-11-28T07:00:00.123456789Z"
    last_seen:
      description: Time of the last such line.
      type: str
      sample: "2026-11-28T07:05:00.123456789Z"
  sample: {"rpc_failure": {"count": 7, "services": ["indexer"], "sample": "... chain RPC error (attempt 7): ...",
           "first_seen": "2026-11-28T07:00:00.1Z", "last_seen": "2026-11-28T07:00:30.1Z"}}
error_count:
  description: ERROR plus FATAL lines over all services.
  returned: always
  type: int
  sample: 38
missing:
  description: Services named in O(services) that the project has no container for.
  returned: always
  type: list
  elements: str
  sample: []
vanished:
  description: Containers (ids) listed by C(docker ps) but removed before they could be inspected; the rest are scanned.
  returned: always
  type: list
  elements: str
  sample: []
partial:
  description: The services whose logs could not be read, one sentence each with the reason.
  returned: when the logs of a service could not be read
  type: list
  elements: str
  sample: ["logs of db could not be read: docker logs --timestamps --tail failed (rc=1): Error response from daemon: ..."]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._container_log_scan import ContainerLogScan
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerError, docker_argument_spec
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(
        services={"type": "list", "elements": "str", "default": []},
        tail={"type": "int", "default": 500},
        since={"type": "str"},
        max_signatures={"type": "int", "default": 50},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = ContainerLogScan(module, module.params).run()
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    except DockerError as exc:
        module.fail_json(msg=f"container_log_scan: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
