# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""notification_send: check mode sends nothing and predicts each backend; a backend that does not deliver is
reported without failing the module, the others are still sent to; bad options fail with one
line before anything is sent; secrets appear nowhere in the answer (its invocation included)."""

from __future__ import annotations

import json
import socket
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _http
from ansible_collections.usdx.incident.plugins.modules import notification_send

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
WEBHOOK_TOKEN = "t0k3n-5ecret-9f8e7d"
API_KEY = "sp-api-key-5ecret-0a1b2c3d"
INCIDENT = {"id": "INC-2026-11-29-01", "severity": "P1", "channel": "#incident-2026-11-29",
            "started_at": "2026-11-29T03:40:00Z"}


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def no_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: t.Any, **_kwargs: t.Any) -> t.NoReturn:
        raise AssertionError("a request was sent")
    monkeypatch.setattr(_http, "fetch", refuse)


def test_check_mode_sends_nothing_and_predicts_each_backend(run_module: t.Any, no_sending: None) -> None:
    result = run_module(notification_send.main, {
        "backends": [{"type": "pagerduty", "name": "oncall", "routing_key": ROUTING_KEY},
                     {"type": "statuspage", "url": "https://api.statuspage.io", "page_id": "page-1", "api_key": API_KEY}],
        "kind": "resolve", "incident": INCIDENT, "text": "INCIDENT: API down", "statuspage_incident_id": "p31zjtct2jer",
        "_ansible_check_mode": True})
    assert result["changed"] is True and not result.get("failed") and "warnings" not in result
    pager, page = result["notifications"]
    assert {k: pager[k] for k in ("backend", "name", "kind", "delivered", "attempts", "error", "status")} == {
        "backend": "pagerduty", "name": "oncall", "kind": "resolve", "delivered": False, "attempts": 0, "error": None,
        "status": None}
    [request] = pager["requests"]
    assert request["method"] == "POST" and request["body"] == {
        "routing_key": "********", "event_action": "resolve", "dedup_key": "INC-2026-11-29-01"}
    # The API base is a no_log option like every backend's url, so it is masked as well.
    [(method, url)] = [(r["method"], r["url"]) for r in page["requests"]]
    assert method == "PATCH" and url.endswith("/v1/pages/page-1/incidents/p31zjtct2jer")
    assert result["statuspage_incident_id"] == "p31zjtct2jer"
    assert ROUTING_KEY not in json.dumps(result) and API_KEY not in json.dumps(result)


def test_undelivered_is_reported_per_backend_and_does_not_fail(run_module: t.Any, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/hooks/{WEBHOOK_TOKEN}?token={WEBHOOK_TOKEN}"
    result = run_module(notification_send.main, {
        "backends": [{"type": "webhook", "name": "relay", "url": url, "deadline": 1.0},
                     {"type": "statuspage", "url": f"http://localhost:{closed_port}/statuspage", "page_id": "page-1",
                      "api_key": API_KEY},
                     {"type": "slack", "name": "ops-slack", "url": url.replace("/hooks/", "/slack/"), "deadline": 1.0}],
        "kind": "status", "incident": INCIDENT, "text": "INCIDENT: API down"})
    assert not result.get("failed") and result["changed"] is False
    relay, page, slack = result["notifications"]
    # Connection refused is retried with backoff (0.5 s, then 1 s would pass the deadline).
    for entry, name in ((relay, "relay"), (slack, "ops-slack")):
        assert (entry["name"], entry["delivered"], entry["attempts"], entry["status"]) == (name, False, 2, None)
        assert entry["error"].startswith("Request failed: ") and entry["requests"][0]["url"] == f"http://127.0.0.1:{closed_port}/********"
    # Statuspage cannot carry a status without its phase: not sent to, and said why; the others were still tried.
    assert (page["delivered"], page["attempts"], page["requests"]) == (False, 0, [])
    assert page["error"] == "status None is not accepted for kind status with statuspage (accepted: investigating, identified, monitoring, resolved)"
    # The warning per backend is checked through ansible-playbook (tests/integration/test_notify_role.py): in a
    # process that loaded ansible's controller code, module warnings go to its display instead of the result.
    assert result["statuspage_incident_id"] is None
    assert WEBHOOK_TOKEN not in json.dumps(result) and API_KEY not in json.dumps(result)


@pytest.mark.parametrize("args, message", [
    ({"backends": [{"type": "webhook", "url": "http://hooks.example.com/in?token=" + WEBHOOK_TOKEN}], "kind": "alert"},
     "backends[0]: url 'http://hooks.example.com/********' is plain http to a remote host (accepted: https://HOST/..., "
     "http:// only to 127.0.0.1, localhost or ::1 unless allow_http: true)"),
    ({"backends": [{"type": "pagerduty", "routing_key": ROUTING_KEY},
                   {"type": "pagerduty", "routing_key": ROUTING_KEY, "deadline": 0}], "kind": "alert"},
     "backends[1]: deadline '0.0' is out of range (accepted: seconds, more than 0 and at most 600)"),
    ({"backends": [{"type": "pagerduty", "routing_key": ROUTING_KEY}, {"type": "pagerduty", "routing_key": ROUTING_KEY}],
      "kind": "alert"},
     "backends[1]: duplicate name 'pagerduty', already used by backends[0] (accepted: a unique name per backend)"),
], ids=["plain http to a remote host", "zero deadline", "duplicate name"])
def test_bad_options_fail_with_one_line_before_sending(run_module: t.Any, no_sending: None, args: dict[str, t.Any],
                                                       message: str) -> None:
    result = run_module(notification_send.main, {"text": "INCIDENT: API down", **args})
    assert result["failed"] is True and result["msg"] == message
    assert WEBHOOK_TOKEN not in json.dumps(result) and ROUTING_KEY not in json.dumps(result)
