#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: smoke_test_info
short_description: Run the runbook's smoke test of the critical paths as a client would
version_added: 0.2.0
description:
  - Automates the runbook's Verify step I(Run smoke tests on critical paths - wallet connection, deposit flow,
    marketplace) and I(Check error rates and response times are back to normal).
  - V(wallet) - loads the web app's page (O(webapp_url), unless O(check_page=false)), asks the chain's JSON-RPC
    (O(rpc_url)) for its chain id as a wallet does on connecting, and reads C(GET /api/wallet/<address>) for
    O(wallet_address) (balance, nonce, deposits); the API's chain id must be the RPC's (and O(chain_id) when given).
  - V(deposit) - submits a deposit of O(deposit_amount) from O(wallet_address) to the chain with the JSON-RPC method
    O(deposit_rpc_method) and polls C(GET /api/deposits/<transaction hash>) every O(poll_interval) seconds until the
    API serves it, so the deposit travelled from the chain through the indexer into the database and out of the API.
    B(This writes to the chain) (see the C(check_mode) attribute and RV(changed)).
  - V(marketplace) - reads C(GET /api/marketplace/listings).
  - Each path runs within one total deadline of O(timeout) seconds, its requests and polls included; a path that
    does not get what a client needs fails with the reason, and a path that did not run is never a pass.
  - The indexer's Prometheus metrics (O(metrics_url)) are read before the first path and after the last. Over that
    window, the API's client routes (C(/api/...); not C(/health) or C(/metrics)) must have an error rate (5xx
    answers / requests, from C(usdx_http_requests_total)) of at most O(max_error_rate), and the 95th percentile
    of their response time (the upper bound of its C(usdx_http_request_duration_seconds) bucket) at most
    O(max_response_ms). A counter that went down (the API restarted) counts from zero, as Prometheus' C(increase) does.
  - RV(passed) is true only when every requested path passed and the metrics were read and normal.
  - Credentials inside the URLs are masked in everything the module returns.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: partial
    details:
      - The V(deposit) path writes to the chain; in check mode it is not submitted and is reported as V(not_run), so
        RV(passed) is false in check mode whenever V(deposit) is requested. The other paths only read and run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  paths:
    description: The critical paths to run, always in the order V(wallet), V(deposit), V(marketplace).
    type: list
    elements: str
    choices: [wallet, deposit, marketplace]
    default: [wallet, deposit, marketplace]
  webapp_url:
    description:
      - Base URL of the web app users load; its page is the first request of V(wallet), and the API is called
        through it (its C(/api) proxy) unless O(api_url) is set.
    type: str
    default: http://127.0.0.1:3000
  api_url:
    description:
      - Base URL of the API's C(/api/...) routes when they are not to be called through O(webapp_url), for example the
        indexer itself while the web app shows a maintenance page.
    type: str
  check_page:
    description: Whether V(wallet) loads the web app's page (C(GET /), HTML with status 200) first.
    type: bool
    default: true
  rpc_url:
    description: URL of the chain's JSON-RPC endpoint, the one a user's wallet talks to.
    type: str
    default: http://127.0.0.1:8545
  metrics_url:
    description: URL of the indexer's Prometheus C(/metrics).
    type: str
    default: http://127.0.0.1:3001/metrics
  wallet_address:
    description:
      - The test wallet (C(0x) and 40 hex digits) whose page V(wallet) reads and from which V(deposit) deposits.
      - Required by the paths V(wallet) and V(deposit).
    type: str
  chain_id:
    description: The chain id the RPC must serve; when not given, only the API and the RPC must agree.
    type: int
  deposit_amount:
    description: Amount of the test deposit, in the token's smallest unit (USDX has 6 decimals).
    type: int
    default: 1000000
  deposit_rpc_method:
    description:
      - JSON-RPC method that submits the deposit, with one parameter C({"from", "amount"}) and an answer holding
        C(transactionHash). The default is the sandbox chain's test-only method; a chain that does not offer it
        makes V(deposit) fail with the RPC's error.
    type: str
    default: usdx_sandboxDeposit
  timeout:
    description: Seconds each path may take in all (its requests and, for V(deposit), the polls), and each metrics read.
    type: float
    default: 15
  poll_interval:
    description: Seconds between two polls of C(GET /api/deposits/<hash>) while the deposit is not served yet.
    type: float
    default: 0.25
  max_error_rate:
    description: Highest share of 5xx answers among the API's client requests during the test (0 to 1).
    type: float
    default: 0.01
  max_response_ms:
    description: Highest 95th percentile response time of the API's client requests during the test, in milliseconds.
    type: float
    default: 1000
  validate_certs:
    description: Whether to validate TLS certificates of HTTPS URLs.
    type: bool
    default: true
seealso:
  - module: usdx.incident.indexer_lag_info
"""

EXAMPLES = r"""
- name: Verify - smoke test the critical paths
  usdx.incident.smoke_test_info:
    webapp_url: http://127.0.0.1:3000
    rpc_url: http://127.0.0.1:8545
    metrics_url: http://127.0.0.1:3001/metrics
    wallet_address: "0x5af3107a4000a11ce5af3107a4000a11ce5af310"
  register: smoke

- name: Fail the verify step unless every path passed
  ansible.builtin.assert:
    that: smoke.passed
    fail_msg: "{{ smoke.summary }}"

- name: While the web app shows its maintenance page - the API itself, read-only paths only
  usdx.incident.smoke_test_info:
    api_url: http://127.0.0.1:3001
    check_page: false
    paths: [wallet, marketplace]
    wallet_address: "0x5af3107a4000a11ce5af3107a4000a11ce5af310"
  register: smoke_api
"""

RETURN = r"""
changed:
  description: True when a deposit was submitted to the chain (the V(deposit) path outside check mode).
  returned: always
  type: bool
  sample: true
passed:
  description: Every requested path passed and the metrics were read and normal. False when anything failed or did not run.
  returned: always
  type: bool
  sample: false
summary:
  description: One line - C(PASSED) with the figures, or C(FAILED) and C(NOT RUN) naming each path and why.
  returned: always
  type: str
  sample: 'FAILED: marketplace (GET /api/marketplace/listings answered 500: relation "listings" does not exist ...); passed: wallet, deposit'
failures:
  description: The paths (and V(metrics)) that failed (not named C(failed), which is Ansible's own key).
  returned: always
  type: list
  elements: str
  sample: [marketplace, metrics]
not_run:
  description: The paths (and V(metrics)) that could not run.
  returned: always
  type: list
  elements: str
  sample: []
paths:
  description: Per requested path, what happened.
  returned: always
  type: dict
  contains:
    status:
      description: V(passed), V(failed) or V(not_run).
      type: str
      sample: passed
    passed:
      description: Whether the path passed.
      type: bool
      sample: true
    elapsed_ms:
      description: Time the path took.
      type: float
      sample: 1712.4
    evidence:
      description: What the client got, one sentence per step that succeeded.
      type: list
      elements: str
      sample: ["GET /api/marketplace/listings 200: 5 listing(s), first wexel-1827 at 48802013000"]
    error:
      description: Why the path failed or did not run; V(null) when it passed.
      type: str
      sample: null
    requests:
      description: The requests made, in order - C(request) (method and path), C(status) (V(null) without an HTTP answer), C(elapsed_ms), C(error).
      type: list
      elements: dict
      sample: [{"request": "GET /api/marketplace/listings?limit=5", "status": 200, "elapsed_ms": 8.1, "error": null}]
deposit:
  description: The deposit submitted (C(tx_hash), C(block_number), C(amount), C(from)); V(null) when none was.
  returned: always
  type: dict
  sample: {"tx_hash": "0x9ac0b72b130cbcf204859b05d46a59b517af5a5e77ac08b30dd17376b8e0a415", "block_number": 1066, "amount": 1000000}
metrics:
  description: The API's client requests between the two metrics reads.
  returned: always
  type: dict
  contains:
    status:
      description: V(passed), V(failed), or V(not_run) when the metrics could not be read.
      type: str
      sample: passed
    passed:
      description: Whether the error rate and response time were normal.
      type: bool
      sample: true
    window_seconds:
      description: Seconds between the start of the first read and the end of the second.
      type: float
      sample: 2.1
    requests:
      description: Client requests the API answered in the window; V(null) when not measured.
      type: int
      sample: 12
    errors:
      description: Of those, answers with a 5xx status.
      type: int
      sample: 0
    error_rate:
      description: RV(metrics.errors) / RV(metrics.requests); V(null) without requests.
      type: float
      sample: 0.0
    mean_response_ms:
      description: Mean response time of those requests.
      type: float
      sample: 6.3
    p95_response_ms:
      description: Upper bound of the histogram bucket holding the 95th percentile; V(null) when unknown or beyond the last bucket.
      type: float
      sample: 25.0
    p95_beyond_last_bucket:
      description: Whether the 95th percentile is beyond the histogram's last bucket.
      type: bool
      sample: false
    routes:
      description: Per client route, C(requests) and C(errors) in the window.
      type: dict
      sample: {"/api/marketplace/listings": {"requests": 1, "errors": 1}}
    max_error_rate:
      description: O(max_error_rate).
      type: float
      sample: 0.01
    max_response_ms:
      description: O(max_response_ms).
      type: float
      sample: 1000
    error:
      description: Why the metrics were not read, or what was not normal; V(null) when they passed.
      type: str
      sample: null
elapsed_ms:
  description: Time the whole smoke test took.
  returned: always
  type: float
  sample: 2140.7
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._http import hide_url_secrets
from ansible_collections.usdx.incident.plugins.module_utils._smoke import PATHS, SmokeTest, validate


def main() -> None:
    argument_spec = {
        "paths": {"type": "list", "elements": "str", "choices": list(PATHS), "default": list(PATHS)},
        "webapp_url": {"type": "str", "default": "http://127.0.0.1:3000"},
        "api_url": {"type": "str"},
        "check_page": {"type": "bool", "default": True},
        "rpc_url": {"type": "str", "default": "http://127.0.0.1:8545"},
        "metrics_url": {"type": "str", "default": "http://127.0.0.1:3001/metrics"},
        "wallet_address": {"type": "str"},
        "chain_id": {"type": "int"},
        "deposit_amount": {"type": "int", "default": 1000000},
        "deposit_rpc_method": {"type": "str", "default": "usdx_sandboxDeposit"},
        "timeout": {"type": "float", "default": 15},
        "poll_interval": {"type": "float", "default": 0.25},
        "max_error_rate": {"type": "float", "default": 0.01},
        "max_response_ms": {"type": "float", "default": 1000},
        "validate_certs": {"type": "bool", "default": True},
    }
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    hide_url_secrets(module, params["webapp_url"], params["api_url"], params["rpc_url"], params["metrics_url"])
    try:
        validate(params)
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**SmokeTest(params, module.check_mode).run())


if __name__ == "__main__":
    main()
