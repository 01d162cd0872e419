#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: notification_send
short_description: Send one incident message to Slack, PagerDuty, JSON webhooks and Statuspage-compatible pages at once
version_added: 0.3.0
description:
  - Sends one message of an incident to every backend of O(backends) over HTTP, all at the same time, replacing
    the runbook's C(./scripts/send_alert.sh), C(./scripts/send_notification.sh) and C(./scripts/update_status.sh).
    The role usdx.incident.notify runs it once per message, on the controller, with every HTTP backend that takes
    the message's kind; email goes through community.general.mail there.
  - V(slack) - posts C({"text", "channel", "username"}) to a Slack incoming webhook; C(&), C(<) and C(>) of the text
    are escaped as Slack asks, so quoted log lines cannot form links or mentions.
  - V(pagerduty) - PagerDuty Events API v2 - V(alert) and V(page) trigger, V(acknowledge) and V(resolve) act on the
    event whose C(dedup_key) is the incident id. The payload (C(summary), C(source), C(severity) from the incident's
    level - V(P0) critical, V(P1) error, V(P2) warning, V(P3) info, anything else critical - C(timestamp),
    C(component), C(group), C(class), C(custom_details)) goes with a trigger only. V(test) triggers an C(info)
    event with a test key and resolves it at once.
  - V(webhook) - posts the incident event C({incident_id, kind, severity, summary, text, host, at, channel,
    started_at, scenario, status}) as JSON.
  - "V(statuspage) - Statuspage REST API v1 with C(Authorization: OAuth <api_key>). V(status) and V(resolve) create
    an incident (C(POST <url>/v1/pages/<page_id>/incidents)) or, with O(statuspage_incident_id), update it
    (C(PATCH <url>/v1/pages/<page_id>/incidents/<id>)); RV(statuspage_incident_id) is the id to update next time.
    V(test) reads the page (C(GET <url>/v1/pages/<page_id>)) and publishes nothing."
  - Each backend is sent to in its own thread, under its own deadline (O(backends[].deadline)) for all its
    attempts. Attempts without an answer, and answers 429 and 5xx, are retried after 0.5 s, 1 s, 2 s ... (a longer
    C(Retry-After) wins) while the deadline leaves room; other 4xx answers are not retried. A receiver that hangs
    costs its own deadline and delays no other backend; the module takes as long as the slowest backend, at most
    the largest deadline.
  - The module does not fail when a backend does not deliver - communication never blocks the fix - it reports
    each backend in RV(notifications) and warns once per backend not delivered. A backend that cannot carry this
    message (a kind it does not take, V(statuspage) without O(status), V(pagerduty) without the incident's C(id))
    is not sent to and reported with the reason; the others are sent to. The module fails, before anything is
    sent, only on invalid options (a backend's configuration), with one line naming the entry.
  - Webhook URLs (their path and query), routing keys, API keys and header values are masked in everything the
    module returns.
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - In check mode nothing is sent; each entry of RV(notifications) shows the requests that would be sent
        (masked), with C(delivered=false) and C(attempts=0), and C(changed) is V(true) when one backend would be sent to.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
options:
  backends:
    description:
      - The backends the message goes to, as elements of the role's C(notify_backends) (see
        usdx.incident.notifier_config, which checks them all before an incident starts). Type V(email) is not sent
        by this module. Names must be unique.
      - The secrets among their keys (O(backends[].url), O(backends[].routing_key), O(backends[].api_key),
        O(backends[].headers)) are C(no_log); the list as a whole is not, so that the names, types and kinds in
        RV(notifications) stay readable.
    type: list
    elements: dict
    required: true
    suboptions:
      type:
        description: The service.
        type: str
        required: true
        choices: [slack, pagerduty, webhook, statuspage]
      name:
        description: The backend's name in results; defaults to its type.
        type: str
      url:
        description:
          - V(slack) and V(webhook) - the URL to post to (a secret - its path and query are masked).
          - V(pagerduty) - the Events API v2 endpoint, default C(https://events.pagerduty.com/v2/enqueue) (the EU
            region's is C(https://events.eu.pagerduty.com/v2/enqueue)).
          - V(statuspage) - the API base, for example C(https://api.statuspage.io).
          - C(https://), or C(http://) to 127.0.0.1, localhost or ::1; any C(http://) with O(backends[].allow_http=true).
        type: str
      routing_key:
        description: V(pagerduty) - the integration's routing key.
        type: str
      page_id:
        description: V(statuspage) - the page id.
        type: str
      api_key:
        description: V(statuspage) - the API key.
        type: str
      channel:
        description: V(slack) - a channel to post to instead of the webhook's own (where Slack still allows it).
        type: str
      username:
        description: V(slack) - the name the message is posted under (where Slack still allows it).
        type: str
      source:
        description: V(pagerduty) - the payload's C(source); default the incident's C(host).
        type: str
      group:
        description: V(pagerduty) - the payload's C(group), for example the platform's name.
        type: str
      headers:
        description: V(webhook) - extra request headers (their values are masked as secrets).
        type: dict
      allow_http:
        description: Accept a plain C(http://) URL to a remote host.
        type: bool
        default: false
      validate_certs:
        description: Validate TLS certificates.
        type: bool
        default: true
      deadline:
        description: Seconds all attempts of one message to this backend may take in all (more than 0, at most 600).
        type: float
        default: 10
      kinds:
        description: The kinds this backend takes (V(test) always); default every kind its type carries.
        type: list
        elements: str
  kind:
    description:
      - What the message is. V(pagerduty) takes V(alert), V(page), V(acknowledge), V(resolve) and V(test);
        V(statuspage) takes V(status), V(resolve) and V(test); the others take every kind.
    type: str
    required: true
    choices: [alert, page, acknowledge, resolve, status, user_notice, escalation, test]
  incident:
    description:
      - The incident - C(id) (PagerDuty's dedup key, required for V(pagerduty) except with V(test)), C(severity)
        (V(P0) to V(P3)), C(channel), C(started_at), C(summary), C(host), C(scenario), C(title) (the Statuspage
        incident's name; default C(Service disruption - <date>)), C(component). Unknown keys are ignored.
    type: dict
    default: {}
  text:
    description: The message. Sent as data - never rendered as a template.
    type: str
    required: true
  status:
    description: The Statuspage phase; required for V(statuspage) with O(kind=status), V(resolved) with O(kind=resolve).
    type: str
    choices: [investigating, identified, monitoring, resolved]
  statuspage_incident_id:
    description: V(statuspage) - the incident to update instead of creating one.
    type: str
seealso:
  - module: community.general.mail
  - plugin: usdx.incident.notifier_config
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Alert the incident channel and page the on-call engineer, at the same time
  usdx.incident.notification_send:
    backends:
      - type: slack
        name: incident-channel
        url: "{{ lookup('ansible.builtin.env', 'USDX_SLACK_WEBHOOK') }}"
      - type: pagerduty
        name: oncall
        routing_key: "{{ lookup('ansible.builtin.env', 'USDX_PAGERDUTY_ROUTING_KEY') }}"
    kind: alert
    incident: "{{ respond_incident.incident | combine({'host': inventory_hostname}) }}"
    text: "INCIDENT: API unavailable on {{ inventory_hostname }}"
  delegate_to: localhost
  register: alerted

- name: Status page - investigating (creates the Statuspage incident)
  usdx.incident.notification_send:
    backends:
      - &statuspage
        type: statuspage
        url: https://api.statuspage.io
        page_id: kctbh9vrtdwd
        api_key: "{{ vault_statuspage_api_key }}"
    kind: status
    status: investigating
    incident: "{{ respond_incident.incident }}"
    text: "We are currently investigating reports of the API being unavailable."
  delegate_to: localhost
  register: status_page

- name: Status page - identified (updates it)
  usdx.incident.notification_send:
    backends: [*statuspage]
    kind: status
    status: identified
    statuspage_incident_id: "{{ status_page.statuspage_incident_id }}"
    incident: "{{ respond_incident.incident }}"
    text: "We have identified the issue: the API ran out of database connections."
  delegate_to: localhost
"""

RETURN = r"""
notifications:
  description:
    - What became of the message at each backend, in the order of O(backends). The timeline callback records
      one C(notification) event per entry.
  returned: always
  type: list
  elements: dict
  contains:
    backend:
      description: The backend's type.
      type: str
      sample: slack
    name:
      description: The backend's name.
      type: str
      sample: ops-slack
    kind:
      description: O(kind).
      type: str
      sample: alert
    delivered:
      description: Whether every request was answered 2xx (V(false) in check mode).
      type: bool
      sample: true
    attempts:
      description:
        - Requests made, retries included (0 in check mode and for a backend that cannot carry the message).
        - V(null) when unknown - the send to this backend raised an error, or was given up after its deadline.
      type: int
      sample: 1
    error:
      description:
        - Why it was not delivered (masked), or why the backend cannot carry this message; V(null) when delivered
          and in check mode for a backend that would be sent to.
      type: str
      sample: "HTTP 500: upstream down (after 3 attempts in 3.6 s)"
    status:
      description: The last HTTP status answered; V(null) without an answer or in check mode.
      type: int
      sample: 202
    elapsed:
      description: Seconds the attempts to this backend took.
      type: float
      sample: 0.052
    requests:
      description: The requests (made, or in check mode to be made) - C(method), C(url) and C(body), secrets masked.
      type: list
      elements: dict
      sample: [{"method": "POST", "url": "https://hooks.slack.com/********", "body": {"text": "INCIDENT: API down"}}]
statuspage_incident_id:
  description:
    - The Statuspage incident to update next - the one this message created or updated, else
      O(statuspage_incident_id); V(null) when neither.
  returned: always
  type: str
  sample: p31zjtct2jer
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils import _notify


def _not_sent(error: str | None, shown_requests: list[dict]) -> dict:
    return {"delivered": False, "attempts": 0, "status": None, "error": error, "elapsed": 0.0,
            "requests": shown_requests, "statuspage_incident_id": None}


def notify(module: AnsibleModule) -> dict:
    params = module.params
    given = [{key: value for key, value in entry.items() if value is not None} for entry in params["backends"]]
    for entry in given:
        module.no_log_values.update(_notify.secret_values(entry))
    try:
        backends = _notify.validate_backends(given, "backends")
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    messages, refused = [], {}
    for backend in backends:
        try:
            messages.append((backend, _notify.build_requests(
                backend, params["kind"], params["incident"], params["text"], params["status"],
                params["statuspage_incident_id"])))
        except ValueError as exc:
            # This backend cannot carry this message; the others still get it.
            refused[backend["name"]] = _not_sent(str(exc), [])
    if module.check_mode:
        outcomes = [_not_sent(None, [_notify.shown_request(backend, request) for request in requests])
                    for backend, requests in messages]
    else:
        outcomes = _notify.send_all(messages)
    sent = {backend["name"]: outcome for (backend, _requests), outcome in zip(messages, outcomes)}
    notifications = []
    for backend in backends:
        outcome = sent.get(backend["name"]) or refused[backend["name"]]
        entry = {"backend": backend["type"], "name": backend["name"], "kind": params["kind"]}
        entry.update((key, outcome[key]) for key in ("delivered", "attempts", "error", "status", "elapsed", "requests"))
        if entry["error"]:
            module.warn(f"{entry['backend']} {entry['name']}: {entry['kind']} not delivered: {entry['error']}")
        notifications.append(entry)
    created = next((outcome["statuspage_incident_id"] for outcome in outcomes if outcome["statuspage_incident_id"]), None)
    changed = any(entry["delivered"] for entry in notifications) or (module.check_mode and bool(messages))
    return {"changed": changed, "notifications": notifications,
            "statuspage_incident_id": created or params["statuspage_incident_id"]}


def main() -> None:
    argument_spec = {
        "backends": {"type": "list", "elements": "dict", "required": True, "options": {
            "type": {"type": "str", "required": True, "choices": list(_notify.HTTP_TYPES)},
            "name": {"type": "str"},
            "url": {"type": "str", "no_log": True},
            "routing_key": {"type": "str", "no_log": True},
            "page_id": {"type": "str"},
            "api_key": {"type": "str", "no_log": True},
            "channel": {"type": "str"},
            "username": {"type": "str"},
            "source": {"type": "str"},
            "group": {"type": "str"},
            "headers": {"type": "dict", "no_log": True},
            "allow_http": {"type": "bool", "default": False},
            "validate_certs": {"type": "bool", "default": True},
            "deadline": {"type": "float", "default": _notify.DEFAULT_DEADLINE},
            "kinds": {"type": "list", "elements": "str"},
        }},
        "kind": {"type": "str", "required": True, "choices": list(_notify.KINDS)},
        "incident": {"type": "dict", "default": {}},
        "text": {"type": "str", "required": True},
        "status": {"type": "str", "choices": list(_notify.STATUSPAGE_STATUSES)},
        "statuspage_incident_id": {"type": "str"},
    }
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    module.exit_json(**notify(module))


if __name__ == "__main__":
    main()
