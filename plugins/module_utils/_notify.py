# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The notifiers: backend configuration, the payloads each service documents, and delivery under a total deadline.

L(validate_backends) is the one check of C(notify_backends) (the notifier_config filter runs it before an incident
starts; usdx.incident.notification_send runs it on the backends of its message). L(build_requests) turns an
incident message into the HTTP requests of a backend; L(send) makes them with retries and exponential backoff, all
attempts within the backend's deadline; L(send_all) sends one message to several backends at the same time. Email
is validated here and sent by the role with community.general.mail.

Webhook URLs (their path and query), routing keys, API keys, header values and passwords are secrets: they are
masked in every error and result (L(secret_values) lists them for a module's no_log_values).
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import time
import typing as t
import uuid
from urllib.parse import urlsplit

from ansible_collections.usdx.incident.plugins.module_utils import _http, _parallel
from ansible_collections.usdx.incident.plugins.module_utils._redact import MASK, redact, redact_text

TYPES = ("slack", "pagerduty", "webhook", "statuspage", "email")
# What usdx.incident.notification_send sends; email goes through community.general.mail.
HTTP_TYPES = ("slack", "pagerduty", "webhook", "statuspage")
KINDS = ("alert", "page", "acknowledge", "resolve", "status", "user_notice", "escalation", "test")
STATUSPAGE_STATUSES = ("investigating", "identified", "monitoring", "resolved")
SECURE = ("starttls", "never")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
PAGERDUTY_ACTIONS = {"alert": "trigger", "page": "trigger", "acknowledge": "acknowledge", "resolve": "resolve"}
# The runbook's levels as PagerDuty and Statuspage grade them; an unknown level pages as the worst.
PAGERDUTY_SEVERITY = {"P0": "critical", "P1": "error", "P2": "warning", "P3": "info"}
STATUSPAGE_IMPACT = {"P0": "critical", "P1": "major", "P2": "minor", "P3": "none"}
# Kinds each type carries; "test" goes to every backend (usdx-incident notify --test).
TYPE_KINDS = {
    "slack": KINDS, "webhook": KINDS, "email": KINDS,
    "pagerduty": ("alert", "page", "acknowledge", "resolve", "test"),
    "statuspage": ("status", "resolve", "test"),
}
REQUIRED = {"slack": ("url",), "pagerduty": ("routing_key",), "webhook": ("url",),
            "statuspage": ("url", "page_id", "api_key"), "email": ("host", "port", "from", "to")}
OPTIONAL = {"slack": ("channel", "username"), "pagerduty": ("url", "source", "group"), "webhook": ("headers",),
            "statuspage": (), "email": ("secure", "username", "password")}
COMMON = ("name", "type", "deadline", "kinds")
HTTP_COMMON = ("allow_http", "validate_certs")
SECRET_KEYS = ("routing_key", "api_key", "password")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DEFAULT_DEADLINE = 10.0
MAX_DEADLINE = 600.0
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\Z")
PATH_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
HEADER_RE = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")
FIRST_DELAY = 0.5
# An attempt that could not even connect in this time is not worth a sleep before it.
MIN_ATTEMPT_SECONDS = 0.2
MAX_ANSWER_BYTES = 64 * 1024
# Past the largest deadline of a message's backends, a send that has not ended (it should have) is given up.
LATE_GRACE = 1.0
PAGERDUTY_SUMMARY_MAX = 1024


class Request(t.NamedTuple):
    method: str
    url: str
    headers: dict[str, str]
    body: dict[str, t.Any] | None


def shown_url(url: t.Any) -> str:
    """A URL as errors show it: scheme and host only, the rest (a webhook's token) masked."""
    text = str(url)
    head, sep, rest = text.partition("://")
    host = rest if sep else head
    host = host.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    masked = (head + sep if sep else "") + host
    return masked + "/" + MASK if len(masked) < len(text) else masked


def _fail(where: str, message: str) -> t.NoReturn:
    raise ValueError(f"{where}: {message}")


def _check_url(where: str, value: t.Any, allow_http: bool) -> str:
    accepted = ("accepted: https://HOST/..., http:// only to 127.0.0.1, localhost or ::1 unless allow_http: true")
    if not isinstance(value, str) or not value:
        _fail(where, f"url must be a non-empty string ({accepted})")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not port_ok or parts.scheme not in ("https", "http") or not parts.hostname or re.search(r"[\s\x00-\x1f]", value):
        _fail(where, f"url {shown_url(value)!r} is malformed ({accepted})")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK and not allow_http:
        _fail(where, f"url {shown_url(value)!r} is plain http to a remote host ({accepted})")
    return value


def _check_entry(where: str, entry: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    kind = entry.get("type")
    if kind not in TYPES:
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 40 else type(kind).__name__
        _fail(where, f"unknown type {shown} (accepted: {', '.join(TYPES)})")
    allowed = COMMON + REQUIRED[kind] + OPTIONAL[kind] + (HTTP_COMMON if kind != "email" else ())
    for key in entry:
        if key not in allowed:
            _fail(where, f"unknown key {str(key)[:40]!r} for type {kind} (accepted: {', '.join(allowed)})")
    for key in REQUIRED[kind]:
        if entry.get(key) in (None, "", []):
            _fail(where, f"{key} is required for type {kind} (required: {', '.join(REQUIRED[kind])})")
    result = {key: entry.get(key) for key in allowed}
    result["name"] = entry.get("name") or kind
    if not isinstance(result["name"], str) or not NAME_RE.match(result["name"]):
        _fail(where, "name must be 1 to 64 letters, digits and _ . @ - (accepted: for example ops-slack)")
    deadline = _number(DEFAULT_DEADLINE if entry.get("deadline") is None else entry["deadline"], float)
    if deadline is None or not 0 < deadline <= MAX_DEADLINE:
        _fail(where, f"deadline {str(entry.get('deadline'))[:40]!r} is out of range "
                     f"(accepted: seconds, more than 0 and at most {MAX_DEADLINE:g})")
    result["deadline"] = deadline
    kinds = entry.get("kinds") or list(TYPE_KINDS[kind])
    if not isinstance(kinds, list) or any(k not in TYPE_KINDS[kind] for k in kinds):
        _fail(where, f"kinds {repr(kinds)[:80]} is not a list of what type {kind} carries "
                     f"(accepted: {', '.join(TYPE_KINDS[kind])})")
    result["kinds"] = list(dict.fromkeys(kinds + ["test"]))
    for key in SECRET_KEYS:
        if key in result and result[key] is not None and (not isinstance(result[key], str) or not result[key]):
            _fail(where, f"{key} must be a non-empty string")
    for key in ("channel", "username", "source", "group", "host"):
        if key in result and result[key] is not None and not isinstance(result[key], str):
            _fail(where, f"{key} must be a string, got {type(result[key]).__name__}")
    if kind == "email":
        return _check_email(where, result)
    for key in HTTP_COMMON:
        value = (key == "validate_certs") if entry.get(key) is None else entry[key]
        if not isinstance(value, bool):
            _fail(where, f"{key} must be true or false, got {value!r}")
        result[key] = value
    if kind == "pagerduty":
        result["url"] = result["url"] or PAGERDUTY_URL
    result["url"] = _check_url(where, result["url"], result["allow_http"])
    if kind == "statuspage" and (not isinstance(result["page_id"], str) or not PATH_ID_RE.match(result["page_id"])):
        _fail(where, f"page_id {str(result['page_id'])[:70]!r} is not a page id (accepted: letters, digits, _ and -)")
    headers = result.get("headers") or {}
    if kind == "webhook" and (not isinstance(headers, t.Mapping) or not all(
            isinstance(k, str) and HEADER_RE.match(k) and isinstance(v, str) for k, v in headers.items())):
        _fail(where, "headers must map header names (letters, digits, -) to strings")
    return result


def _number(value: t.Any, kind: type) -> t.Any:
    """An int or float, or a string of one (a value read from the environment), as C(kind); None for anything else."""
    if isinstance(value, str):
        try:
            value = kind(value.strip())
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        return None
    return kind(value)


def _check_email(where: str, result: dict[str, t.Any]) -> dict[str, t.Any]:
    port = _number(result["port"], int)
    if port is None or not 0 < port < 65536:
        _fail(where, f"port {str(result['port'])[:40]!r} is not a TCP port (accepted: 1 to 65535)")
    result["port"] = port
    recipients = [result["to"]] if isinstance(result["to"], str) else result["to"]
    if not isinstance(recipients, list) or not recipients or not all(isinstance(r, str) and "@" in r for r in recipients):
        _fail(where, "to must be an address or a list of addresses (accepted: for example oncall@example.com)")
    result["to"] = recipients
    if not isinstance(result["from"], str) or "@" not in result["from"]:
        _fail(where, f"from {str(result['from'])[:70]!r} is not an address (accepted: for example usdx-incident@example.com)")
    result["secure"] = result["secure"] or "starttls"
    if result["secure"] not in SECURE:
        _fail(where, f"secure {result['secure']!r} is not accepted (accepted: {', '.join(SECURE)})")
    if (result["username"] is None) != (result["password"] is None):
        _fail(where, "username and password go together (accepted: both or neither)")
    # community.general.mail retries as a task: attempts and the SMTP timeout of each fit the deadline.
    result["attempts"] = max(1, min(3, int(result["deadline"] // 5)))
    result["delay"] = 1
    result["attempt_timeout"] = max(1, int((result["deadline"] - (result["attempts"] - 1)) / result["attempts"]))
    return result


def validate_backends(backends: t.Any, variable_name: str) -> list[dict[str, t.Any]]:
    """The backends normalized (every key of their type present, defaults applied); ValueError names the bad one."""
    if backends is None:
        return []
    if not isinstance(backends, list):
        raise ValueError(f"{variable_name} must be a list of backends, got {type(backends).__name__} "
                         f"(accepted: a list of mappings with a type of {', '.join(TYPES)})")
    result: list[dict[str, t.Any]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(backends):
        normalized = validate_backend(entry, f"{variable_name}[{index}]")
        if normalized["name"] in seen:
            _fail(f"{variable_name}[{index}]", f"duplicate name {normalized['name']!r}, already used by "
                                               f"{variable_name}[{seen[normalized['name']]}] (accepted: a unique name per backend)")
        seen[normalized["name"]] = index
        result.append(normalized)
    return result


def validate_backend(entry: t.Any, where: str) -> dict[str, t.Any]:
    """One backend normalized; ValueError starting with C(where) (and the entry's name) when it is bad."""
    if not isinstance(entry, t.Mapping):
        _fail(where, f"must be a mapping, got {type(entry).__name__} (accepted: a mapping with a type of {', '.join(TYPES)})")
    if isinstance(entry.get("name"), str) and NAME_RE.match(entry["name"]):
        where += f" (name {entry['name']!r})"
    try:
        return _check_entry(where, entry)
    except ValueError as exc:
        raise ValueError(redact_text(str(exc), secret_values(entry))) from None


def secret_values(backend: t.Mapping[str, t.Any]) -> list[str]:
    """The literal secrets of a backend: whole webhook URLs with their path and query, keys, header values."""
    found: list[t.Any] = [backend.get(key) for key in SECRET_KEYS]
    url = backend.get("url")
    if isinstance(url, str) and url:
        found += _http.url_secrets(url)
        if backend.get("type") in ("slack", "webhook"):
            found += [url, *_path_and_query(url)]
    headers = backend.get("headers")
    if isinstance(headers, t.Mapping):
        found += list(headers.values())
    return [value for value in dict.fromkeys(found) if isinstance(value, str) and len(value) >= 3 and value != "/"]


def _path_and_query(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    return [parts.path, parts.query, parts.path + "?" + parts.query if parts.query else ""]


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _slack_escaped(text: str) -> str:
    # Slack reads <...> as links and mentions: a log line quoted in a message must stay text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _compact(mapping: dict[str, t.Any]) -> dict[str, t.Any]:
    return {key: value for key, value in mapping.items() if value is not None}


def _json_headers(extra: t.Mapping[str, str] | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", "Accept": "application/json", **(extra or {})}


def _pagerduty(backend: t.Mapping[str, t.Any], kind: str, incident: t.Mapping[str, t.Any], text: str,
               now: str) -> list[Request]:
    level = incident.get("severity")
    if kind == "test":
        # A test must not leave an incident open: trigger at the lowest severity, then resolve the same event.
        dedup, actions, severity = f"usdx-incident-test-{uuid.uuid4().hex[:16]}", ["trigger", "resolve"], "info"
    else:
        dedup, actions, severity = incident.get("id"), [PAGERDUTY_ACTIONS[kind]], PAGERDUTY_SEVERITY.get(level, "critical")
        if not dedup:
            raise ValueError(f"incident.id is required for kind {kind} with pagerduty (the dedup key of the incident)")
    requests = []
    for action in actions:
        body: dict[str, t.Any] = {"routing_key": backend["routing_key"], "event_action": action, "dedup_key": dedup}
        if action == "trigger":
            body["client"] = "usdx.incident"
            body["payload"] = _compact({
                "summary": _one_line(text)[:PAGERDUTY_SUMMARY_MAX], "source": backend.get("source") or incident.get("host") or "usdx-incident",
                "severity": severity, "timestamp": now, "component": incident.get("component"),
                "group": backend.get("group"), "class": incident.get("scenario"),
                "custom_details": _compact({"incident_id": incident.get("id"), "channel": incident.get("channel"),
                                            "severity": level, "started_at": incident.get("started_at"),
                                            "kind": kind, "text": text}),
            })
        requests.append(Request("POST", backend["url"], _json_headers(), body))
    return requests


def _statuspage(backend: t.Mapping[str, t.Any], kind: str, incident: t.Mapping[str, t.Any], text: str,
                status: str | None, statuspage_incident_id: str | None) -> list[Request]:
    page = f"{backend['url'].rstrip('/')}/v1/pages/{backend['page_id']}"
    headers = _json_headers({"Authorization": f"OAuth {backend['api_key']}"})
    if kind == "test":
        return [Request("GET", page, headers, None)]  # reads the page: proves the key and page id, publishes nothing
    if kind == "resolve":
        status = status or "resolved"
    if (kind == "resolve" and status != "resolved") or status not in STATUSPAGE_STATUSES:
        raise ValueError(f"status {status!r} is not accepted for kind {kind} with statuspage "
                         f"(accepted: {'resolved' if kind == 'resolve' else ', '.join(STATUSPAGE_STATUSES)})")
    if statuspage_incident_id:
        if not PATH_ID_RE.match(statuspage_incident_id):
            raise ValueError(f"statuspage_incident_id {statuspage_incident_id[:70]!r} is not an incident id "
                             "(accepted: letters, digits, _ and -)")
        return [Request("PATCH", f"{page}/incidents/{statuspage_incident_id}", headers,
                        {"incident": {"status": status, "body": text}})]
    started = str(incident.get("started_at") or _utc_now())[:10]
    body = _compact({"name": incident.get("title") or f"Service disruption - {started}", "status": status, "body": text,
                     "impact_override": STATUSPAGE_IMPACT.get(incident.get("severity"))})
    return [Request("POST", f"{page}/incidents", headers, {"incident": body})]


def build_requests(backend: t.Mapping[str, t.Any], kind: str, incident: t.Mapping[str, t.Any], text: str,
                   status: str | None = None, statuspage_incident_id: str | None = None) -> list[Request]:
    """The HTTP requests that carry one message to one backend; ValueError when it cannot carry this one."""
    if kind not in backend["kinds"]:
        raise ValueError(f"backend {backend['name']} ({backend['type']}) does not take kind {kind} "
                         f"(accepted: {', '.join(backend['kinds'])})")
    now = _utc_now()
    if backend["type"] == "slack":
        return [Request("POST", backend["url"], _json_headers(), _compact(
            {"text": _slack_escaped(text), "channel": backend.get("channel"), "username": backend.get("username")}))]
    if backend["type"] == "pagerduty":
        return _pagerduty(backend, kind, incident, text, now)
    if backend["type"] == "statuspage":
        return _statuspage(backend, kind, incident, text, status, statuspage_incident_id)
    if backend["type"] == "webhook":
        lines = text.strip().splitlines()
        event = {"incident_id": incident.get("id"), "kind": kind, "severity": incident.get("severity"),
                 "summary": incident.get("summary") or (lines[0] if lines else ""), "text": text,
                 "host": incident.get("host"), "at": now, "channel": incident.get("channel"),
                 "started_at": incident.get("started_at"), "scenario": incident.get("scenario"), "status": status}
        return [Request("POST", backend["url"], _json_headers(backend.get("headers")), event)]
    raise ValueError(f"type {backend['type']} is not sent by usdx.incident.notification_send (accepted: {', '.join(HTTP_TYPES)})")


def shown_request(backend: t.Mapping[str, t.Any], request: Request) -> dict[str, t.Any]:
    """A request as results show it: the URL's token, the keys and header values masked."""
    secrets = secret_values(backend)
    url = shown_url(request.url) if backend["type"] in ("slack", "webhook") else redact_text(request.url, secrets)
    return {"method": request.method, "url": url, "body": redact(request.body, secrets)}


def backoff(attempt: int, remaining: float, retry_after: float | None = None) -> float | None:
    """Seconds to wait before attempt C(attempt)+1 (0.5, 1, 2, ...; a longer Retry-After wins), or None when what
    is left of the deadline after the wait would not hold another attempt."""
    delay = max(FIRST_DELAY * 2 ** (attempt - 1), retry_after or 0)
    return delay if remaining - delay >= MIN_ATTEMPT_SECONDS else None


def _retry_after(headers: t.Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff alone decides


def _attempt_error(answer: _http.HttpResult) -> str:
    if answer.status is None:
        return answer.error or "no answer"
    excerpt = _one_line(answer.body[:300].decode("utf-8", "replace"))
    return f"HTTP {answer.status}" + (f": {excerpt}" if excerpt else "")


def send(backend: t.Mapping[str, t.Any], requests: t.Sequence[Request],
         fetch: t.Callable[..., _http.HttpResult] = _http.fetch, sleep: t.Callable[[float], None] = time.sleep,
         clock: t.Callable[[], float] = time.monotonic) -> dict[str, t.Any]:
    """Make the requests in order, each retried on no answer, 429 and 5xx, all within the backend's deadline in all.

    Returns C(delivered), C(attempts), C(status) (the last HTTP code or None), C(error) (redacted, None when
    delivered), C(elapsed), C(requests) (as shown: masked) and C(statuspage_incident_id) (the C(id) of a
    Statuspage incident the last answer describes, else None).
    """
    secrets = secret_values(backend)
    total = float(backend["deadline"])
    started = clock()
    attempts, status, error, answer = 0, None, None, None
    for request in requests:
        data = json.dumps(request.body).encode() if request.body is not None else None
        tries = 0
        while True:
            remaining = started + total - clock()
            if remaining < MIN_ATTEMPT_SECONDS:
                error = error or f"no time left for {request.method} within the deadline of {total:g} s"
                break
            tries += 1
            attempts += 1
            result = fetch(request.url, timeout=round(remaining, 1), method=request.method, data=data, headers=request.headers,
                           max_bytes=MAX_ANSWER_BYTES, secrets=secrets, validate_certs=backend["validate_certs"])
            status = result.status
            if result.status is not None and 200 <= result.status < 300 and not result.error:
                error, answer = None, _json(result.body)
                break
            error = _attempt_error(result)
            if result.status is not None and result.status != 429 and result.status < 500:
                break  # the receiver refused this request: sending it again changes nothing
            delay = backoff(tries, started + total - clock(), _retry_after(result.headers))
            if delay is None:
                break
            sleep(delay)
        if error:
            error = f"{error} (after {attempts} attempt{'s' if attempts > 1 else ''} in {clock() - started:.1f} s)"
            break
    return {"delivered": error is None, "attempts": attempts, "status": status,
            "error": redact_text(error, secrets) if error else None, "elapsed": round(clock() - started, 3),
            "requests": [shown_request(backend, request) for request in requests],
            "statuspage_incident_id": _incident_id(backend, requests, answer) if error is None else None}


def send_all(messages: t.Sequence[tuple[t.Mapping[str, t.Any], t.Sequence[Request]]],
             fetch: t.Callable[..., _http.HttpResult] = _http.fetch, sleep: t.Callable[[float], None] = time.sleep,
             clock: t.Callable[[], float] = time.monotonic) -> list[dict[str, t.Any]]:
    """L(send) of each (backend, requests) at the same time, one thread per backend; the outcomes in the order given.

    Each backend keeps its own deadline, retries and backoff: a receiver that hangs costs its own deadline and
    delays no other, and the whole takes as long as the slowest backend, at most the largest deadline (and
    LATE_GRACE). A send that raises, or does not end by then, is that backend's error alone.
    """
    if not messages:
        return []
    jobs = {backend["name"]: functools.partial(send, backend, requests, fetch, sleep, clock)
            for backend, requests in messages}
    bound = time.monotonic() + max(backend["deadline"] for backend, _requests in messages) + LATE_GRACE
    outcomes = _parallel.run_parallel(jobs, lambda _name, _exc: None, bound)
    return [_sent(backend, requests, outcomes[backend["name"]]) for backend, requests in messages]


def _sent(backend: t.Mapping[str, t.Any], requests: t.Sequence[Request], outcome: _parallel.Outcome) -> dict[str, t.Any]:
    if not outcome.result.get("failed"):
        return outcome.result
    # Its attempts are unknown: it may have made some before it raised or was given up.
    return {"delivered": False, "attempts": None, "status": None,
            "error": redact_text(outcome.result["msg"], secret_values(backend)), "elapsed": outcome.seconds,
            "requests": [shown_request(backend, request) for request in requests], "statuspage_incident_id": None}


def _incident_id(backend: t.Mapping[str, t.Any], requests: t.Sequence[Request], answer: t.Any) -> str | None:
    # Statuspage answers a create or an update with the incident; a test reads the page, whose id is no incident's.
    if backend["type"] != "statuspage" or requests[-1].method == "GET" or not isinstance(answer, dict):
        return None
    return answer["id"] if isinstance(answer.get("id"), str) and PATH_ID_RE.match(answer["id"]) else None


def _json(body: bytes) -> t.Any:
    try:
        return json.loads(body.decode("utf-8")) if body.strip() else None
    except ValueError:
        return None
