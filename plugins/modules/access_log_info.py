#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: access_log_info
short_description: Count the users that got errors or no answer, from the web servers' access logs
version_added: 0.1.0
description:
  - Answers the runbook's Step 2 question I(How many users affected?) from the access logs of the web app and the
    API, without changing anything.
  - Reads the requests of the last O(window_seconds) (or since O(since)) from each of O(paths) and counts the
    distinct clients, the distinct clients that got a server error (status 500 to 599, which includes the web app
    proxy's 502 and 504 when the API gave no answer), the requests, and the paths the failing clients failed on.
  - The logs are JSON lines, one object per request with at least C(time) (ISO 8601; UTC when it has no offset),
    C(client) and C(status), and C(path) for RV(failed_paths) (V(-) when absent), as the USDX/Wexel services
    write them (see the collection's C(docs/sandbox-contract.md), I(Access logs); an nginx can write the same
    with C(log_format ... escape=json)).
    Other fields are ignored. A line that is not such an object, or is longer than 16384 bytes, is counted in
    RV(malformed_lines) and skipped.
  - A request passed on by the web app is in both its log and the API's, under the same client (the client is
    the first C(X-Forwarded-For) address). Distinct clients are counted once, requests once per file.
  - Only the last O(max_bytes) of each file are read. When they do not reach back to the start of the window, or
    a file cannot be read, or O(timeout) is reached, the result has RV(partial) naming what was not counted. When
    no file can be read at all the module fails.
  - Everything in a log line is data from the clients. It is parsed as JSON, never evaluated or templated. Client
    ids and paths are returned as strings cut to 256 characters, with credentials in URLs and key-like path
    segments (20 or more letters and digits) masked.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
extends_documentation_fragment:
  - usdx.incident.attributes
options:
  paths:
    description:
      - The access log files to read, for example the web app's and the API's.
      - Files are opened read-only and must be regular files; symbolic links are followed.
    type: list
    elements: path
    required: true
  window_seconds:
    description:
      - Requests logged at most this many seconds ago are counted, 1 to 604800.
      - V(300) when neither this nor O(since) is set. Mutually exclusive with O(since).
    type: int
  since:
    description:
      - Count the requests logged at or after this time instead (ISO 8601, for example the time the incident
        started, V(2026-11-28T07:00:00Z); UTC when it has no offset). It must not be in the future.
      - Mutually exclusive with O(window_seconds).
    type: str
  max_bytes:
    description:
      - At most this many bytes are read from the end of each file, 4096 to 1073741824 (1 GiB).
      - Bounds the time and memory one busy log can take; RV(files[].covers_window) says whether it was enough.
    type: int
    default: 33554432
  top:
    description:
      - How many entries RV(failed_paths) and RV(top_failed_clients) list at most, 0 to 1000.
    type: int
    default: 10
  timeout:
    description:
      - Seconds the whole read may take, 0.1 to 3600. Lines not read by then are not counted and RV(partial) and
        RV(timed_out) say so.
    type: float
    default: 10
notes:
  - The window ends when the module starts; lines with a later time (clock skew) are counted.
  - A client is whatever the log says (an address, or an id set by a load balancer); counts are of distinct values.
seealso:
  - module: usdx.incident.container_log_scan
  - module: usdx.incident.triage_info
"""

EXAMPLES = r"""
- name: How many users got errors in the last five minutes
  usdx.incident.access_log_info:
    paths:
      - /var/log/usdx-wexel/webapp-access.log
      - /var/log/usdx-wexel/indexer-access.log
    window_seconds: 300
  register: users

- name: Say it
  ansible.builtin.debug:
    msg: >-
      {{ users.clients_failed }} of {{ users.clients_total }} clients got errors or no answer
      ({{ users.requests_failed }} of {{ users.requests_total }} requests), on {{ users.failed_paths | list }}

- name: Do not trust a count that missed part of the logs
  ansible.builtin.assert:
    that:
      - users.partial is not defined
    fail_msg: "Incomplete: {{ users.partial | default([]) }}"
"""

RETURN = r"""
window_seconds:
  description: O(window_seconds), or the whole seconds from O(since) to the start of the module.
  returned: success
  type: int
  sample: 300
since:
  description: Start of the window, ISO 8601 UTC.
  returned: success
  type: str
  sample: "2026-11-28T06:55:00+00:00"
until:
  description: End of the window (when the module started), ISO 8601 UTC.
  returned: success
  type: str
  sample: "2026-11-28T07:00:00+00:00"
clients_total:
  description: Distinct clients with at least one request in the window, in all files.
  returned: success
  type: int
  sample: 42
clients_failed:
  description: Distinct clients that got at least one status from 500 to 599 in the window.
  returned: success
  type: int
  sample: 17
requests_total:
  description: Requests in the window, summed over the files (a proxied request counts in each file that logged it).
  returned: success
  type: int
  sample: 1250
requests_failed:
  description: Those with a status from 500 to 599.
  returned: success
  type: int
  sample: 310
failed_paths:
  description:
    - The paths failing clients failed on, each with the number of distinct clients that failed there; the O(top)
      with the most clients (ties by path).
  returned: success
  type: dict
  sample: {"/api/status": 17, "/api/events": 9}
failed_paths_total:
  description: Number of distinct failed paths, of which RV(failed_paths) lists at most O(top).
  returned: success
  type: int
  sample: 2
failed_statuses:
  description: Failed requests per status (C(502)/C(504) are the web app's "no answer from the API").
  returned: success
  type: dict
  sample: {"502": 300, "503": 10}
top_failed_clients:
  description: The O(top) clients with the most failed requests, most first, each with C(client) and C(requests_failed).
  returned: success
  type: list
  elements: dict
  sample: [{"client": "203.0.113.7", "requests_failed": 40}]
malformed_lines:
  description: Lines read that are not access log entries (all files), skipped.
  returned: success
  type: int
  sample: 0
files:
  description: One entry per O(paths) item, in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file as given.
      type: str
      sample: /var/log/usdx-wexel/webapp-access.log
    read_bytes:
      description: Bytes read (from the end of the file).
      type: int
      sample: 183000
    lines:
      description: Complete lines read.
      type: int
      sample: 1000
    malformed:
      description: Of those, lines that are not access log entries.
      type: int
      sample: 0
    requests:
      description: Requests of the window in this file.
      type: int
      sample: 640
    requests_failed:
      description: Those with a status from 500 to 599.
      type: int
      sample: 300
    covers_window:
      description: Whether what was read reaches back to the start of the window (or is the whole file).
      type: bool
      sample: true
    error:
      description: Why the file could not be read, V(null) when it was.
      type: str
      sample: null
partial:
  description: What was not counted and why (an unreadable file, a window not covered by O(max_bytes), the deadline).
  returned: when something was not counted
  type: list
  elements: str
  sample: ["/var/log/usdx-wexel/indexer-access.log: No such file or directory (not counted)"]
timed_out:
  description: V(true) when O(timeout) was reached before every file was read.
  returned: when the deadline was reached
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._access_log import AccessLog, AccessLogError, validate
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "paths": {"type": "list", "elements": "path", "required": True},
            "window_seconds": {"type": "int"},
            "since": {"type": "str"},
            "max_bytes": {"type": "int", "default": 33554432},
            "top": {"type": "int", "default": 10},
            "timeout": {"type": "float", "default": 10},
        },
        supports_check_mode=True,
    )
    try:
        validate(module.params)
        result = AccessLog(module, module.params).run()
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    except AccessLogError as exc:
        module.fail_json(msg=f"access_log_info: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
