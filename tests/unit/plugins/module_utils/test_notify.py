# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_notify: the payloads field by field against what Slack, PagerDuty Events API v2 and Statuspage document, the
configuration errors (one line each), the masking of secrets, the backoff schedule under the deadline and one
message to several backends at the same time."""

from __future__ import annotations

import datetime
import json
import threading
import time
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _http, _notify

SLACK_URL = "https://hooks.slack.com/services/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h"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
API_KEY = "sp-api-key-5ecret-0a1b2c3d"
INCIDENT = {"id": "INC-2026-11-29-01", "severity": "P0", "channel": "#incident-2026-11-29",
            "started_at": "2026-11-29T03:40:00Z", "summary": "API unavailable", "host": "stack-a",
            "scenario": "api_unavailable"}


def backend(**entry: t.Any) -> dict[str, t.Any]:
    return _notify.validate_backends([entry], "notify_backends")[0]


def is_utc_iso(text: str) -> bool:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ") is not None


# --- payloads -------------------------------------------------------------------------------------------------------

def test_slack_incoming_webhook_payload() -> None:
    slack = backend(type="slack", url=SLACK_URL, channel="#incident-2026-11-29", username="usdx-incident")
    [request] = _notify.build_requests(slack, "alert", INCIDENT, "INCIDENT: API down; log: <script> & <@here>")
    assert request.method == "POST" and request.url == SLACK_URL
    assert request.headers["Content-Type"] == "application/json"
    # Slack: text, with &, < and > escaped so a quoted log line cannot form a link or a mention.
    assert request.body == {"text": "INCIDENT: API down; log: &lt;script&gt; &amp; &lt;@here&gt;",
                            "channel": "#incident-2026-11-29", "username": "usdx-incident"}


def test_slack_without_optional_fields_sends_text_only() -> None:
    [request] = _notify.build_requests(backend(type="slack", url=SLACK_URL), "status", {}, "Services restored.")
    assert request.body == {"text": "Services restored."}


@pytest.mark.parametrize("level, severity", [("P0", "critical"), ("P1", "error"), ("P2", "warning"), ("P3", "info"),
                                             ("auto", "critical"), (None, "critical")],
                         ids=["P0", "P1", "P2", "P3", "undecided pages as the worst", "no level"])
def test_pagerduty_trigger_event(level: str | None, severity: str) -> None:
    pager = backend(type="pagerduty", routing_key=ROUTING_KEY, group="usdx-wexel")
    [request] = _notify.build_requests(pager, "page", {**INCIDENT, "severity": level}, "INCIDENT: API down\nsecond line")
    assert request.method == "POST" and request.url == "https://events.pagerduty.com/v2/enqueue"
    body = request.body
    assert set(body) == {"routing_key", "event_action", "dedup_key", "client", "payload"}
    assert (body["routing_key"], body["event_action"], body["dedup_key"]) == (ROUTING_KEY, "trigger", "INC-2026-11-29-01")
    payload = body["payload"]
    assert set(payload) == {"summary", "source", "severity", "timestamp", "group", "class", "custom_details"}
    assert payload["summary"] == "INCIDENT: API down second line"
    assert payload["source"] == "stack-a"
    assert payload["severity"] == severity and severity in ("critical", "error", "warning", "info")
    assert is_utc_iso(payload["timestamp"])
    assert (payload["group"], payload["class"]) == ("usdx-wexel", "api_unavailable")
    details = {"incident_id": "INC-2026-11-29-01", "channel": "#incident-2026-11-29", "severity": level,
               "started_at": "2026-11-29T03:40:00Z", "kind": "page", "text": "INCIDENT: API down\nsecond line"}
    assert payload["custom_details"] == {key: value for key, value in details.items() if value is not None}


def test_pagerduty_summary_is_cut_at_1024_characters() -> None:
    [request] = _notify.build_requests(backend(type="pagerduty", routing_key=ROUTING_KEY), "alert", INCIDENT, "x" * 3000)
    assert len(request.body["payload"]["summary"]) == 1024


@pytest.mark.parametrize("kind", ["acknowledge", "resolve"])
def test_pagerduty_acknowledge_and_resolve_carry_no_payload(kind: str) -> None:
    [request] = _notify.build_requests(backend(type="pagerduty", routing_key=ROUTING_KEY), kind, INCIDENT, "done")
    assert request.body == {"routing_key": ROUTING_KEY, "event_action": kind, "dedup_key": "INC-2026-11-29-01"}


def test_pagerduty_test_triggers_at_info_and_resolves_the_same_event() -> None:
    trigger, resolve = _notify.build_requests(backend(type="pagerduty", routing_key=ROUTING_KEY, url="https://events.eu.pagerduty.com/v2/enqueue"),
                                              "test", {}, "usdx-incident notifier test")
    assert trigger.url == resolve.url == "https://events.eu.pagerduty.com/v2/enqueue"
    assert trigger.body["event_action"] == "trigger" and trigger.body["payload"]["severity"] == "info"
    assert trigger.body["payload"]["source"] == "usdx-incident"
    assert resolve.body == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": trigger.body["dedup_key"]}
    assert trigger.body["dedup_key"].startswith("usdx-incident-test-")


def test_pagerduty_needs_the_incident_id_as_dedup_key() -> None:
    with pytest.raises(ValueError, match=r"^incident.id is required for kind resolve with pagerduty"):
        _notify.build_requests(backend(type="pagerduty", routing_key=ROUTING_KEY), "resolve", {}, "done")


def test_webhook_event() -> None:
    hook = backend(type="webhook", url="https://hooks.example.com/usdx?token=t0k3n-5ecret", headers={"X-Team": "sre"})
    [request] = _notify.build_requests(hook, "status", INCIDENT, "We have identified the issue.", status="identified")
    assert request.headers["X-Team"] == "sre" and request.headers["Content-Type"] == "application/json"
    body = request.body
    assert is_utc_iso(body.pop("at"))
    assert body == {"incident_id": "INC-2026-11-29-01", "kind": "status", "severity": "P0", "summary": "API unavailable",
                    "text": "We have identified the issue.", "host": "stack-a", "channel": "#incident-2026-11-29",
                    "started_at": "2026-11-29T03:40:00Z", "scenario": "api_unavailable", "status": "identified"}


STATUSPAGE = {"type": "statuspage", "url": "https://api.statuspage.io/", "page_id": "kctbh9vrtdwd", "api_key": API_KEY}


def test_statuspage_create_incident() -> None:
    [request] = _notify.build_requests(backend(**STATUSPAGE), "status", INCIDENT, "We are currently investigating.",
                                       status="investigating")
    assert (request.method, request.url) == ("POST", "https://api.statuspage.io/v1/pages/kctbh9vrtdwd/incidents")
    assert request.headers["Authorization"] == f"OAuth {API_KEY}"
    assert request.body == {"incident": {"name": "Service disruption - 2026-11-29", "status": "investigating",
                                         "body": "We are currently investigating.", "impact_override": "critical"}}


def test_statuspage_update_and_resolve_patch_the_incident() -> None:
    [update] = _notify.build_requests(backend(**STATUSPAGE), "status", INCIDENT, "Identified.", status="identified",
                                      statuspage_incident_id="p31zjtct2jer")
    assert (update.method, update.url) == ("PATCH", "https://api.statuspage.io/v1/pages/kctbh9vrtdwd/incidents/p31zjtct2jer")
    assert update.body == {"incident": {"status": "identified", "body": "Identified."}}
    [resolve] = _notify.build_requests(backend(**STATUSPAGE), "resolve", INCIDENT, "Resolved.", statuspage_incident_id="p31zjtct2jer")
    assert resolve.body == {"incident": {"status": "resolved", "body": "Resolved."}}


def test_statuspage_test_reads_the_page_and_publishes_nothing() -> None:
    [request] = _notify.build_requests(backend(**STATUSPAGE), "test", {}, "test")
    assert (request.method, request.url, request.body) == ("GET", "https://api.statuspage.io/v1/pages/kctbh9vrtdwd", None)


@pytest.mark.parametrize("kind, status, incident_id, message", [
    ("status", None, None, "status None is not accepted for kind status with statuspage (accepted: investigating, "
                           "identified, monitoring, resolved)"),
    ("resolve", "monitoring", None, "status 'monitoring' is not accepted for kind resolve with statuspage (accepted: resolved)"),
    ("status", "identified", "../../pages", "statuspage_incident_id '../../pages' is not an incident id (accepted: letters, digits, _ and -)"),
], ids=["status without a phase", "resolve with another phase", "an id that is a path"])
def test_statuspage_bad_message(kind: str, status: str | None, incident_id: str | None, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        _notify.build_requests(backend(**STATUSPAGE), kind, INCIDENT, "text", status=status, statuspage_incident_id=incident_id)
    assert str(raised.value) == message


@pytest.mark.parametrize("entry, kind", [
    ({"type": "pagerduty", "routing_key": ROUTING_KEY}, "status"),
    ({"type": "statuspage", **{k: v for k, v in STATUSPAGE.items() if k != "type"}}, "alert"),
    ({"type": "slack", "url": SLACK_URL, "kinds": ["alert"]}, "user_notice"),
], ids=["pagerduty takes no status", "statuspage takes no alert", "a backend narrowed to alerts"])
def test_a_kind_the_backend_does_not_take_is_refused(entry: dict[str, t.Any], kind: str) -> None:
    normalized = backend(**entry)
    assert "test" in normalized["kinds"] and kind not in normalized["kinds"]
    with pytest.raises(ValueError, match=f"does not take kind {kind} "):
        _notify.build_requests(normalized, kind, INCIDENT, "text")


# --- configuration --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backends, message", [
    ([{"type": "slak", "url": SLACK_URL}],
     "notify_backends[0]: unknown type 'slak' (accepted: slack, pagerduty, webhook, statuspage, email)"),
    ([{"name": "ops", "type": "slack", "url": "ftp://hooks.slack.com/services/T0/B0/" + "x" * 24}],
     "notify_backends[0] (name 'ops'): url 'ftp://hooks.slack.com/********' is malformed (accepted: https://HOST/..., "
     "http:// only to 127.0.0.1, localhost or ::1 unless allow_http: true)"),
    ([{"type": "slack", "url": "hooks.slack.com/services/T0/B0/SECRET"}],
     "notify_backends[0]: url 'hooks.slack.com/********' is malformed (accepted: https://HOST/..., "
     "http:// only to 127.0.0.1, localhost or ::1 unless allow_http: true)"),
    ([{"type": "webhook", "url": "http://hooks.example.com/in?token=SECRET"}],
     "notify_backends[0]: url 'http://hooks.example.com/********' is plain http to a remote host (accepted: "
     "https://HOST/..., http:// only to 127.0.0.1, localhost or ::1 unless allow_http: true)"),
    ([{"type": "pagerduty"}], "notify_backends[0]: routing_key is required for type pagerduty (required: routing_key)"),
    ([{"type": "statuspage", "url": "https://api.statuspage.io", "page_id": "p1"}],
     "notify_backends[0]: api_key is required for type statuspage (required: url, page_id, api_key)"),
    ([{"type": "email", "host": "smtp.example.com", "port": 587, "from": "usdx@example.com"}],
     "notify_backends[0]: to is required for type email (required: host, port, from, to)"),
    ([{"type": "pagerduty", "routing-key": ROUTING_KEY}],
     "notify_backends[0]: unknown key 'routing-key' for type pagerduty (accepted: name, type, deadline, kinds, "
     "routing_key, url, source, group, allow_http, validate_certs)"),
    ([{"type": "pagerduty", "routing_key": ROUTING_KEY}, {"type": "pagerduty", "routing_key": ROUTING_KEY}],
     "notify_backends[1]: duplicate name 'pagerduty', already used by notify_backends[0] "
     "(accepted: a unique name per backend)"),
    ([{"type": "email", "host": "smtp.example.com", "port": 587, "from": "a@example.com", "to": "b@example.com",
       "secure": "ssl"}], "notify_backends[0]: secure 'ssl' is not accepted (accepted: starttls, never)"),
    ([{"type": "email", "host": "smtp.example.com", "port": "smtp", "from": "a@example.com", "to": "b@example.com"}],
     "notify_backends[0]: port 'smtp' is not a TCP port (accepted: 1 to 65535)"),
    ([{"type": "slack", "url": SLACK_URL, "deadline": 0}],
     "notify_backends[0]: deadline '0' is out of range (accepted: seconds, more than 0 and at most 600)"),
    ([{"type": "pagerduty", "routing_key": ROUTING_KEY, "kinds": ["status"]}],
     "notify_backends[0]: kinds ['status'] is not a list of what type pagerduty carries (accepted: alert, page, "
     "acknowledge, resolve, test)"),
    ([SLACK_URL], "notify_backends[0]: must be a mapping, got str (accepted: a mapping with a type of slack, pagerduty, "
                  "webhook, statuspage, email)"),
    ({"type": "slack"}, "notify_backends must be a list of backends, got dict (accepted: a list of mappings with a type "
                        "of slack, pagerduty, webhook, statuspage, email)"),
], ids=["unknown type", "not http(s)", "no scheme", "plain http to a remote host", "no routing_key", "no api_key",
        "no recipient", "a misspelt key", "duplicate names", "bad secure", "bad port", "zero deadline", "bad kinds",
        "a bare URL", "not a list"])
def test_bad_configuration_is_one_line_naming_the_variable(backends: t.Any, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        _notify.validate_backends(backends, "notify_backends")
    assert str(raised.value) == message
    for secret in ("SECRET", "x" * 24, "xoxSecretWebhookToken24ch", ROUTING_KEY):
        assert secret not in str(raised.value)


def test_defaults_and_local_http() -> None:
    [pager, hook, mail] = _notify.validate_backends([
        {"type": "pagerduty", "routing_key": ROUTING_KEY},
        {"type": "webhook", "url": "http://127.0.0.1:8080/hook", "deadline": "2.5"},
        {"type": "email", "host": "smtp.example.com", "port": "587", "from": "a@example.com", "to": "b@example.com",
         "deadline": 30},
    ], "notify_backends")
    assert pager["url"] == _notify.PAGERDUTY_URL and pager["deadline"] == 10.0 and pager["validate_certs"] is True
    assert pager["kinds"] == ["alert", "page", "acknowledge", "resolve", "test"]
    assert hook["name"] == "webhook" and hook["deadline"] == 2.5 and hook["allow_http"] is False
    assert (mail["port"], mail["to"], mail["secure"]) == (587, ["b@example.com"], "starttls")
    # community.general.mail's retries within the deadline: attempts x timeout + the delays between them.
    assert mail["attempts"] * mail["attempt_timeout"] + (mail["attempts"] - 1) * mail["delay"] <= 30
    assert _notify.validate_backends(None, "notify_backends") == []
    remote = backend(type="webhook", url="http://relay.internal/hook", allow_http=True)
    assert remote["url"] == "http://relay.internal/hook"


# --- secrets --------------------------------------------------------------------------------------------------------

def test_secret_values_of_each_type() -> None:
    assert {SLACK_URL, "/services/T0AAAAAAA/B0BBBBBBB/xoxSecretWebhookToken24ch"} <= set(
        _notify.secret_values(backend(type="slack", url=SLACK_URL)))
    assert ROUTING_KEY in _notify.secret_values(backend(type="pagerduty", routing_key=ROUTING_KEY))
    assert API_KEY in _notify.secret_values(backend(**STATUSPAGE))
    hook = backend(type="webhook", url="https://h.example.com/in?token=t0k3n-5ecret", headers={"Authorization": "Bearer abc123"})
    assert {"token=t0k3n-5ecret", "t0k3n-5ecret", "Bearer abc123"} <= set(_notify.secret_values(hook))


def test_shown_request_masks_url_token_and_keys() -> None:
    slack = backend(type="slack", url=SLACK_URL)
    shown = _notify.shown_request(slack, _notify.build_requests(slack, "alert", INCIDENT, "down")[0])
    assert shown == {"method": "POST", "url": "https://hooks.slack.com/********", "body": {"text": "down"}}
    pager = backend(type="pagerduty", routing_key=ROUTING_KEY)
    shown = _notify.shown_request(pager, _notify.build_requests(pager, "resolve", INCIDENT, "done")[0])
    assert shown["body"]["routing_key"] == "********"
    page = backend(**STATUSPAGE)
    assert API_KEY not in json.dumps(_notify.shown_request(page, _notify.build_requests(page, "test", {}, "t")[0]))


class Script:
    """Answers of a receiver in order, on a clock that only the answers and the sleeps move."""

    def __init__(self, answers: list[tuple[int | None, bytes, float]], headers: dict[str, str] | None = None) -> None:
        self.answers = answers
        self.headers = headers or {}
        self.now = 0.0
        self.sleeps: list[float] = []
        self.timeouts: list[float] = []

    def fetch(self, url: str, timeout: float, **_kwargs: t.Any) -> _http.HttpResult:
        status, body, took = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.timeouts.append(timeout)
        self.now += min(took, timeout)
        error = None if status is not None and status < 400 else (
            f"no complete answer within {timeout:g} s" if status is None else f"HTTP Error {status}")
        return _http.HttpResult(url, status, self.headers, body, False, error, took, status is None)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now

    def send(self, entry: dict[str, t.Any], **kwargs: t.Any) -> dict[str, t.Any]:
        normalized = backend(**entry)
        requests = _notify.build_requests(normalized, kwargs.pop("kind", "alert"), INCIDENT, "down")
        return _notify.send(normalized, requests, fetch=self.fetch, sleep=self.sleep, clock=self.clock, **kwargs)


HOOK = {"type": "webhook", "url": "https://hooks.example.com/in?token=t0k3n-5ecret"}


def test_backoff_doubles_until_the_deadline_leaves_no_room() -> None:
    script = Script([(500, b"upstream down", 0.0)])
    result = script.send(HOOK)
    # 0.5 + 1 + 2 + 4 = 7.5 s of waits; the next (8 s) would pass the 10 s deadline.
    assert script.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert result["attempts"] == 5 and result["delivered"] is False and result["status"] == 500
    assert result["error"] == "HTTP 500: upstream down (after 5 attempts in 7.5 s)"


def test_a_slow_receiver_gets_what_is_left_of_the_deadline() -> None:
    script = Script([(None, b"", 4.0), (None, b"", 4.0), (202, b"{}", 0.1)])
    result = script.send({**HOOK, "deadline": 9})
    # 4 s without an answer, 0.5 s of backoff, 4 s more: the 0.5 s left would not hold the next 1 s wait.
    assert script.timeouts == [9.0, 4.5] and script.sleeps == [0.5]
    assert result["attempts"] == 2 and result["delivered"] is False and script.now <= 9
    assert result["error"] == "no complete answer within 4.5 s (after 2 attempts in 8.5 s)"


def test_retry_after_of_a_429_is_honoured() -> None:
    script = Script([(429, b"rate limited", 0.0), (200, b"ok", 0.0)], headers={"Retry-After": "3"})
    result = script.send(HOOK)
    assert script.sleeps == [3.0] and result["delivered"] is True and result["attempts"] == 2 and result["error"] is None


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_other_4xx_is_not_retried(status: int) -> None:
    script = Script([(status, b"invalid_token", 0.0)])
    result = script.send(HOOK)
    assert script.sleeps == [] and result["attempts"] == 1 and result["error"].startswith(f"HTTP {status}: invalid_token")


def test_500_twice_then_delivered() -> None:
    script = Script([(500, b"", 0.0), (503, b"", 0.0), (202, b'{"status": "success"}', 0.0)])
    result = script.send(HOOK)
    assert script.sleeps == [0.5, 1.0] and result["attempts"] == 3 and result["delivered"] is True and result["status"] == 202


def test_an_echoed_secret_is_masked_in_the_error() -> None:
    script = Script([(400, f'{{"message": "bad key {ROUTING_KEY}"}}'.encode(), 0.0)])
    result = script.send({"type": "pagerduty", "routing_key": ROUTING_KEY})
    assert ROUTING_KEY not in json.dumps(result) and "bad key ********" in result["error"]


def test_statuspage_id_comes_from_the_created_incident() -> None:
    script = Script([(201, b'{"id": "p31zjtct2jer", "status": "investigating"}', 0.0)])
    normalized = backend(**STATUSPAGE)
    requests = _notify.build_requests(normalized, "status", INCIDENT, "Investigating.", status="investigating")
    result = _notify.send(normalized, requests, fetch=script.fetch, sleep=script.sleep, clock=script.clock)
    assert result["statuspage_incident_id"] == "p31zjtct2jer" and result["delivered"] is True
    test = _notify.send(normalized, _notify.build_requests(normalized, "test", {}, "t"), fetch=script.fetch,
                        sleep=script.sleep, clock=script.clock)
    assert test["statuspage_incident_id"] is None  # the page's id is no incident's


def test_email_is_not_sent_over_http() -> None:
    mail = backend(type="email", host="smtp.example.com", port=587, to="oncall@example.com", **{"from": "a@example.com"})
    with pytest.raises(ValueError, match=r"^type email is not sent by usdx.incident.notification_send \(accepted: slack, "):
        _notify.build_requests(mail, "alert", INCIDENT, "down")


# --- one message, several backends at once ---------------------------------------------------------------------------

def hooks(count: int, **entry: t.Any) -> list[tuple[dict[str, t.Any], list[_notify.Request]]]:
    backends = [backend(type="webhook", name=f"hook-{n}", url=f"https://hooks.example.com/{n}?token=t0k3n-5ecret", **entry)
                for n in range(count)]
    return [(b, _notify.build_requests(b, "alert", INCIDENT, "down")) for b in backends]


def answer(url: str, status: int | None, error: str | None = None, timed_out: bool = False) -> _http.HttpResult:
    return _http.HttpResult(url, status, {}, b"{}", False, error, 0.0, timed_out)


def test_send_all_sends_to_every_backend_at_the_same_time() -> None:
    # Each request waits until all three are in flight: sent one after the other, the first would wait in vain.
    all_in_flight = threading.Barrier(3, timeout=5)

    def fetch(url: str, timeout: float, **_kwargs: t.Any) -> _http.HttpResult:
        all_in_flight.wait()
        return answer(url, 200)
    outcomes = _notify.send_all(hooks(3), fetch=fetch)
    assert [(o["delivered"], o["attempts"], o["error"]) for o in outcomes] == [(True, 1, None)] * 3


def test_send_all_keeps_each_backends_deadline_and_order() -> None:
    messages = hooks(2, deadline=0.6)
    finished: dict[str, float] = {}

    def fetch(url: str, timeout: float, **_kwargs: t.Any) -> _http.HttpResult:
        if "/0?" in url:  # the first receiver hangs past its deadline
            time.sleep(timeout)
            finished.setdefault("hung", time.monotonic())
            return answer(url, None, f"no complete answer within {timeout:g} s", timed_out=True)
        finished["answered"] = time.monotonic()
        return answer(url, 202)
    started = time.monotonic()
    hung, answered = _notify.send_all(messages, fetch=fetch)
    took = time.monotonic() - started
    assert (hung["delivered"], answered["delivered"]) == (False, True), "the outcomes are not in the order given"
    assert hung["error"].startswith("no complete answer within 0.6 s (after 1 attempt in ")
    # The answering backend did not wait for the hanging one, and the whole took the hanging one's deadline.
    assert finished["answered"] < finished["hung"] and finished["answered"] - started < 0.3
    assert 0.6 <= took < 1.2


def test_a_send_that_raises_or_overruns_is_that_backends_error_alone() -> None:
    messages = hooks(3, deadline=0.5)

    def fetch(url: str, timeout: float, **_kwargs: t.Any) -> _http.HttpResult:
        if "/0?" in url:
            raise RuntimeError(f"broken client for {url}")
        if "/1?" in url:  # ignores its timeout: given up LATE_GRACE after the deadline
            time.sleep(0.5 + _notify.LATE_GRACE + 1)
        return answer(url, 200)
    started = time.monotonic()
    raised, overran, delivered = _notify.send_all(messages, fetch=fetch)
    assert time.monotonic() - started < 0.5 + _notify.LATE_GRACE + 0.5
    assert (raised["delivered"], raised["attempts"]) == (False, None)
    assert raised["error"] == "RuntimeError: broken client for https://hooks.example.com/0?token=********"
    assert (overran["delivered"], overran["attempts"], overran["error"]) == (False, None, "hook-1 did not finish within 1.5s")
    assert delivered["delivered"] is True


def test_send_all_of_nothing_sends_nothing() -> None:
    assert _notify.send_all([], fetch=lambda *_a, **_k: pytest.fail("a request was sent")) == []
