#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: indexer_lag_info
short_description: Measure how far the blockchain indexer is behind the chain, and why
version_added: 0.1.0
description:
  - Automates the diagnosis of the runbook scenario I(Blockchain Indexer Lagging) without changing anything.
  - Reads the chain head from the JSON-RPC endpoint O(rpc_url) (C(eth_blockNumber)) and the indexer's last indexed
    block from its Prometheus endpoint O(metrics_url) (C(usdx_indexer_last_indexed_block)).
  - Reports the lag in blocks and in seconds (from the timestamps of both blocks, C(eth_getBlockByNumber), or else from
    the indexer's C(usdx_indexer_lag_seconds)), the catch-up rate and an ETA.
  - The rates come from the indexer's own C(usdx_indexer_indexed_blocks_per_second) and
    C(usdx_indexer_chain_blocks_per_second) when it exports them, the chain's rate otherwise from the timestamps of
    the head block and of the block ten before it. Only when the indexer is more than O(max_lag_blocks) behind and
    does not export its indexing rate are two readings O(sample_seconds) apart taken.
  - The RPC and the metrics are read side by side. Every request has a total deadline of O(timeout) seconds and reads at
    most 1 MiB; the readings finish within two O(timeout) plus O(sample_seconds) plus O(wait_seconds), rpc:ping
    within O(ping_timeout) beside them, and the blocks table within O(connect_timeout) plus O(statement_timeout) and
    two seconds after them.
  - Credentials inside O(rpc_url) and O(metrics_url) (C(user:password@), API keys in the path or the query, as RPC
    providers issue them) are masked in everything the module returns.
  - Reachability of the RPC and of the indexer are reported separately, and RV(status) tells an indexer that is
    stuck (V(stalled)) from one that cannot see the chain (V(rpc_unreachable)) or cannot be reached (V(indexer_unreachable)).
  - Unreachable endpoints are reported, the module does not fail on them.
  - With O(wait_seconds), reads the lag again every quarter second until it is within O(max_lag_blocks) or the time
    is up, and reports the last reading - one poll of a catch-up that ends as soon as the catch-up does.
  - With O(ping_service), also runs the runbook's C(npm run rpc:ping) (O(ping_command)) in the running container of
    that compose service (C(docker exec)), side by side with the lag readings, and returns what it printed as
    RV(rpc_ping) - the RPC as the indexer itself sees it.
  - With O(check_blocks), once the lag is within O(max_lag_blocks), also reads the indexer's C(blocks) table (the
    connection options, read only, under O(statement_timeout)) and returns what it holds as RV(blocks) - rows,
    duplicates, range and gaps - so that the reading that ends a catch-up also tells whether anything is missing.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
extends_documentation_fragment:
  - usdx.incident.attributes
  - usdx.incident.connection
  - usdx.incident.connection.postgres
options:
  rpc_url:
    description:
      - URL of the chain's JSON-RPC endpoint (the one the indexer uses, or one that sees the same chain).
    type: str
    default: http://127.0.0.1:8545
  metrics_url:
    description:
      - URL of the indexer's Prometheus C(/metrics) endpoint.
    type: str
    default: http://127.0.0.1:3001/metrics
  sample_seconds:
    description:
      - Seconds between two readings used to measure the indexing rate when the indexer is behind and does not export
        C(usdx_indexer_indexed_blocks_per_second).
      - V(0) takes one reading only; without the indexer's metric RV(catch_up_blocks_per_second) and RV(eta_seconds)
        are then V(null) and RV(status) cannot be V(stalled) unless the indexer says it is paused.
    type: float
    default: 2
  timeout:
    description:
      - Seconds each HTTP request may take in all (connection, headers and body), not per socket read.
    type: float
    default: 5
  max_lag_blocks:
    description:
      - The indexer is V(ok) while it is at most this many blocks behind the chain head.
    type: int
    default: 10
  validate_certs:
    description:
      - Whether to validate TLS certificates of HTTPS URLs.
    type: bool
    default: true
  wait_seconds:
    description:
      - Seconds to keep reading, every quarter second, until the lag is within O(max_lag_blocks); the module returns
        at the first reading within it, or with the last one when the time is up. 0 to 3600.
      - V(0) reads once. The readings of the wait are the sample of the indexing rate when the indexer does not
        export it (no O(sample_seconds) pause after a wait).
    type: float
    default: 0
    version_added: 0.2.0
  ping_service:
    description:
      - Compose service (in O(project_name)) whose one running container runs O(ping_command), the runbook's
        C(docker-compose exec indexer npm run rpc:ping); its output is returned as RV(rpc_ping).
      - V(null) runs nothing in any container.
    type: str
    version_added: 0.2.0
  ping_command:
    description:
      - The command O(ping_service)'s container runs, as a list of arguments (no shell). It only reads.
    type: list
    elements: str
    default: [npm, run, --silent, "rpc:ping"]
    version_added: 0.2.0
  ping_timeout:
    description:
      - Seconds the container lookup and O(ping_command) may take together; the command is killed at the deadline.
    type: float
    default: 15
    version_added: 0.2.0
  check_blocks:
    description:
      - Whether to read the C(blocks) table (C(number), C(hash)) of O(login_db) when the lag is within
        O(max_lag_blocks); see RV(blocks). The table is read whole, once per module run and only then, never while
        the indexer is behind.
    type: bool
    default: false
    version_added: 0.2.0
  statement_timeout:
    description:
      - Seconds the server may spend on the C(blocks) query (C(statement_timeout)), 1 to 600; the client gives up two
        seconds later.
    type: int
    default: 15
    version_added: 0.2.0
notes:
  - O(project_name) and O(docker_cli) are used only with O(ping_service) (and O(connect_via=container)); the database
    options only with O(check_blocks).
seealso:
  - module: usdx.incident.disk_usage_info
"""

EXAMPLES = r"""
- name: Measure the indexer lag
  usdx.incident.indexer_lag_info:
    rpc_url: http://127.0.0.1:8545
    metrics_url: http://127.0.0.1:3001/metrics
  register: lag

- name: Tell a stuck indexer from a broken RPC
  ansible.builtin.debug:
    msg: >-
      {{ lag.status }}: {{ lag.lag_blocks }} blocks
      ({{ lag.lag_seconds | default(0, true) | usdx.incident.human_duration }}) behind;
      RPC {{ 'up, ' ~ lag.rpc.latency_ms ~ ' ms' if lag.rpc.reachable else 'down: ' ~ lag.rpc.error }}

- name: Check the RPC from inside the indexer and measure the lag, in one run
  usdx.incident.indexer_lag_info:
    rpc_url: http://127.0.0.1:8545
    metrics_url: http://127.0.0.1:3001/metrics
    project_name: usdx-wexel
    ping_service: indexer
  register: lag

- name: Wait up to 3 s for the lag to come within 10 blocks
  usdx.incident.indexer_lag_info:
    rpc_url: http://127.0.0.1:8545
    metrics_url: http://127.0.0.1:3001/metrics
    max_lag_blocks: 10
    wait_seconds: 3
  register: poll

- name: The last poll of a catch-up also checks the indexed blocks
  usdx.incident.indexer_lag_info:
    rpc_url: http://127.0.0.1:8545
    metrics_url: http://127.0.0.1:3001/metrics
    wait_seconds: 3
    check_blocks: true
    login_port: 55432
    login_password: "{{ vault_db_superuser_password }}"
  register: poll

- name: Fail when the indexer is stuck
  ansible.builtin.assert:
    that:
      - lag.status != 'stalled'
      - not lag.changed
"""

RETURN = r"""
status:
  description:
    - V(ok) when the lag is at most O(max_lag_blocks).
    - V(lagging) when it is larger and the indexer made progress during the sample (see RV(catch_up_blocks_per_second)).
    - V(stalled) when it is larger and the indexer made no progress during the sample, or says it is paused.
    - V(rpc_unreachable) when the chain head could not be read (checked first).
    - V(indexer_unreachable) when the last indexed block could not be read.
  returned: always
  type: str
  sample: lagging
lag_blocks:
  description:
    - Chain head minus last indexed block (never negative), from the last reading.
    - When the RPC is unreachable, the indexer's own C(usdx_indexer_lag_blocks), which stops growing when it cannot see
      the chain; V(null) when neither is known. RV(lag_source) says which.
  returned: always
  type: int
  sample: 42
lag_seconds:
  description:
    - Time between the last indexed block and the chain head, from their block timestamps, or else the indexer's
      C(usdx_indexer_lag_seconds); V(null) when neither is known.
  returned: always
  type: float
  sample: 42.0
lag_source:
  description: V(rpc) when the lag comes from the RPC's chain head, V(metric) from the indexer's metrics, V(null) when unknown.
  returned: always
  type: str
  sample: rpc
chain_head_block:
  description: Chain head from the RPC (last reading), V(null) when unreachable.
  returned: always
  type: int
  sample: 12400
last_indexed_block:
  description: Last indexed block from the indexer's metrics (last reading), V(null) when unreachable.
  returned: always
  type: int
  sample: 12358
catch_up_blocks_per_second:
  description:
    - Indexed blocks per second minus chain blocks per second over the sample; positive when the lag shrinks.
    - V(null) without a sample or when either rate is unknown.
  returned: always
  type: float
  sample: -1.0
eta_seconds:
  description:
    - Estimated seconds until the indexer reaches the chain head at the measured catch-up rate.
    - V(0) when the lag is at most O(max_lag_blocks), V(null) when it is larger and the indexer is not catching up
      or the rate is unknown.
  returned: always
  type: int
  sample: null
sample:
  description: The rates used, and where each came from.
  returned: always
  type: dict
  contains:
    seconds:
      description: Time actually elapsed between the two readings of the indexer (0 without a sample).
      type: float
      sample: 2.01
    indexed_blocks_per_second:
      description: Rate at which the last indexed block advances, V(null) when unknown.
      type: float
      sample: 0.0
    chain_blocks_per_second:
      description: Rate at which the chain head advances, V(null) when unknown.
      type: float
      sample: 1.0
    indexed_rate_source:
      description: V(metrics) (the indexer's own gauge), V(sample) (two readings), V(null) when unknown.
      type: str
      sample: metrics
    chain_rate_source:
      description:
        - V(sample) (two readings), V(metrics) (the indexer's own gauge), V(block_timestamps) (head and ten blocks
          before), V(null) when unknown.
      type: str
      sample: block_timestamps
timed_out:
  description: Whether any request ended at its deadline without a complete answer.
  returned: always
  type: bool
  sample: false
partial:
  description:
    - What could not be read although the endpoint answered (an answer that is not JSON, a JSON-RPC error, a result of
      the wrong type, metrics that do not parse, block timestamps); one sentence each.
  returned: when something could not be read
  type: list
  elements: str
  sample: ["the chain head could not be read from the answer: eth_blockNumber's result is not a hex quantity: None"]
rpc:
  description: The JSON-RPC endpoint as seen from the target.
  returned: always
  type: dict
  contains:
    url:
      description: O(rpc_url), credentials masked.
      type: str
      sample: http://127.0.0.1:8545
    reachable:
      description: Whether C(eth_blockNumber) answered with a block number.
      type: bool
      sample: true
    latency_ms:
      description: Round trip of the last C(eth_blockNumber) call in milliseconds, V(null) when it failed.
      type: float
      sample: 3.2
    error:
      description: Why the RPC is unreachable or its answer unusable, V(null) when it is reachable.
      type: str
      sample: null
    timed_out:
      description: Whether the last C(eth_blockNumber) call ended at its deadline.
      type: bool
      sample: false
    head_timestamp:
      description: Timestamp (Unix seconds) of the head block, V(null) when unknown.
      type: int
      sample: 1795849200
indexer:
  description: The indexer as its metrics describe it.
  returned: always
  type: dict
  contains:
    metrics_url:
      description: O(metrics_url), credentials masked.
      type: str
      sample: http://127.0.0.1:3001/metrics
    reachable:
      description: Whether the metrics were read and held C(usdx_indexer_last_indexed_block).
      type: bool
      sample: true
    status_code:
      description: HTTP status of the last metrics request, V(null) when no HTTP answer came.
      type: int
      sample: 200
    error:
      description: Why the metrics could not be used, V(null) when they could.
      type: str
      sample: null
    timed_out:
      description: Whether the last metrics request ended at its deadline.
      type: bool
      sample: false
    indexed_blocks_per_second:
      description: C(usdx_indexer_indexed_blocks_per_second), V(null) when not exported.
      type: float
      sample: 12.5
    chain_blocks_per_second:
      description: C(usdx_indexer_chain_blocks_per_second), V(null) when not exported.
      type: float
      sample: 1.0
    last_indexed_block:
      description: C(usdx_indexer_last_indexed_block).
      type: int
      sample: 12358
    chain_head_block:
      description: C(usdx_indexer_chain_head_block), the chain head as the indexer last saw it.
      type: int
      sample: 12400
    lag_blocks:
      description: C(usdx_indexer_lag_blocks).
      type: int
      sample: 42
    lag_seconds:
      description: C(usdx_indexer_lag_seconds).
      type: float
      sample: 42.0
    paused:
      description: C(usdx_indexer_paused) is 1 (V(null) when not exported).
      type: bool
      sample: false
    maintenance:
      description: C(usdx_maintenance_mode) is 1 (V(null) when not exported).
      type: bool
      sample: false
blocks:
  description:
    - The indexer's C(blocks) table, read in one read-only statement when O(check_blocks) is set and RV(status) is
      V(ok); V(null) when the lag is not within O(max_lag_blocks) (not read).
    - C(error) and C(timed_out) instead of the figures when it could not be read.
  returned: when O(check_blocks) is set
  type: dict
  version_added: 0.2.0
  contains:
    count:
      description: Rows.
      type: int
      sample: 3512
    distinct_numbers:
      description: Distinct block numbers (fewer than RV(blocks.count) - a duplicate number).
      type: int
      sample: 3512
    distinct_hashes:
      description: Distinct block hashes (fewer than RV(blocks.count) - a duplicate hash).
      type: int
      sample: 3512
    min:
      description: Lowest block number.
      type: int
      sample: 1
    max:
      description: Highest block number.
      type: int
      sample: 3512
    gaps:
      description: The first 20 ranges of missing numbers, each C([first missing, last missing]).
      type: list
      elements: list
      sample: []
    error:
      description: Why the table could not be read (the password never appears in it).
      type: str
      sample: "relation \"blocks\" does not exist"
    timed_out:
      description: Whether the read was given up at its deadline.
      type: bool
      sample: false
rpc_ping:
  description:
    - What O(ping_command) did in the O(ping_service) container. The runbook's C(rpc:ping) prints one JSON line
      (C(ok), C(url), C(block_number), C(error)) and exits non-zero when the RPC is unreachable.
  returned: when O(ping_service) is set
  type: dict
  version_added: 0.2.0
  contains:
    service:
      description: O(ping_service).
      type: str
      sample: indexer
    container:
      description: Id of the container it ran in, V(null) when there was not exactly one running.
      type: str
      sample: 7d819792300a52fe39d5a927b18098c26376d47b461be4d960378e9d2c9ad6fc
    command:
      description: O(ping_command).
      type: list
      elements: str
      sample: [npm, run, --silent, "rpc:ping"]
    rc:
      description: Its exit code, V(null) when it could not run (see RV(rpc_ping.error)).
      type: int
      sample: 0
    stdout:
      description: What it printed (the last 4000 characters), credentials inside URLs masked.
      type: str
      sample: '{"ok": true, "url": "http://chain:8545", "chain_id": 31337, "block_number": 935, "latency_ms": 3.7}'
    stderr:
      description: Its error output (the last 4000 characters), credentials inside URLs masked.
      type: str
      sample: ""
    error:
      description: Why it could not run (no running container or more than one, docker failed, the deadline), else V(null).
      type: str
      sample: null
    timed_out:
      description: Whether it was killed at O(ping_timeout).
      type: bool
      sample: false
"""

import traceback
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._http import hide_url_secrets
from ansible_collections.usdx.incident.plugins.module_utils._docker import docker_argument_spec
from ansible_collections.usdx.incident.plugins.module_utils._indexer_lag import EndpointError, LagProbe, RpcPing, indexed_blocks, validate
from ansible_collections.usdx.incident.plugins.module_utils._postgres import postgres_argument_spec


def main() -> None:
    argument_spec = {
        "rpc_url": {"type": "str", "default": "http://127.0.0.1:8545"},
        "metrics_url": {"type": "str", "default": "http://127.0.0.1:3001/metrics"},
        "sample_seconds": {"type": "float", "default": 2},
        "timeout": {"type": "float", "default": 5},
        "max_lag_blocks": {"type": "int", "default": 10},
        "validate_certs": {"type": "bool", "default": True},
        "wait_seconds": {"type": "float", "default": 0},
        "ping_service": {"type": "str"},
        "ping_command": {"type": "list", "elements": "str", "default": ["npm", "run", "--silent", "rpc:ping"]},
        "ping_timeout": {"type": "float", "default": 15},
        "check_blocks": {"type": "bool", "default": False},
        "statement_timeout": {"type": "int", "default": 15},
        **docker_argument_spec(),
        **postgres_argument_spec(),
    }
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    hide_url_secrets(module, module.params["rpc_url"], module.params["metrics_url"])
    try:
        validate(module.params)
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="usdx-rpc-ping") as pool:
        # rpc:ping (a container lookup and a process start, most of a second) runs while the lag is read.
        ping = pool.submit(RpcPing(module, module.params).run) if module.params["ping_service"] else None
        try:
            result = LagProbe(module, module.params).run()
        except EndpointError as exc:
            result = {"failed": True, "msg": str(exc), "exception": traceback.format_exc()}
        if module.params["check_blocks"] and not result.get("failed"):
            result["blocks"] = indexed_blocks(module, module.params) if result["status"] == "ok" else None
        if ping is not None:
            result["rpc_ping"] = ping.result()
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
