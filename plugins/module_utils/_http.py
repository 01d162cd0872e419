# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The collection's one HTTP client: ansible.module_utils.urls under a total deadline and a size cap.

C(open_url)'s C(timeout) bounds each socket operation, not the request: a server that sends one byte every second
keeps it reading for ever, and an endless body fills the memory. L(fetch) therefore runs the request in a worker
thread and waits for it at most until the deadline; at the deadline it shuts the response's socket down, which
ends a blocked read at once. Until the response headers have arrived there is no socket to reach: the worker is
left behind (a daemon thread, its socket timeout bounded by the deadline per read) and L(fetch) returns on time.
What is read stops at C(max_bytes) and is reported as truncated.

Everything C(open_url) offers for production endpoints (CA bundles in C(ca_path), client certificates, proxies
from the environment, certificate validation) is passed through. Error texts and URLs in the result are redacted.
"""

from __future__ import annotations

import socket
import threading
import time
import typing as t
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qsl, urlsplit

from ansible.module_utils.urls import open_url

from ansible_collections.usdx.incident.plugins.module_utils._redact import MASK, redact_text, redact_url

# Bytes read of any one answer unless the caller says otherwise; health and metrics documents are far smaller.
MAX_BODY_BYTES = 1024 * 1024
_CHUNK = 64 * 1024


class HttpResult(t.NamedTuple):
    """One request's outcome. C(status) is None without an HTTP answer; C(error) is None after a complete answer."""

    url: str
    status: int | None
    headers: dict[str, str]
    body: bytes
    truncated: bool
    error: str | None
    elapsed: float
    timed_out: bool

    @property
    def content_type(self) -> str:
        return next((value for name, value in self.headers.items() if name.lower() == "content-type"), "")


class _Exchange:
    """State shared by L(fetch) and its worker thread."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.response: t.Any = None
        self.timed_out = False
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.final_url: str | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False
        self.error: str | None = None

    def attach(self, response: t.Any) -> None:
        """Remember the response so the deadline can reach its socket; shut it at once when already too late."""
        with self.lock:
            self.response = response
            late = self.timed_out
        if late:
            shut_down(response)

    def expire(self) -> None:
        with self.lock:
            self.timed_out = True
            response = self.response
        if response is not None:
            shut_down(response)


def _socket_of(response: t.Any) -> socket.socket | None:
    """The socket under an http.client response (HTTPResponse -> BufferedReader -> SocketIO -> socket)."""
    stream = getattr(response, "fp", None)
    for attribute in ("raw", "_sock"):
        if stream is None:
            return None
        if isinstance(stream, socket.socket):
            return stream
        stream = getattr(stream, attribute, None)
    return stream if isinstance(stream, socket.socket) else None


def shut_down(response: t.Any) -> None:
    """End every blocked read of C(response) now. A shutdown, not a close: close waits for the reader's buffer lock."""
    sock = _socket_of(response) or _socket_of(getattr(response, "fp", None))
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the other side


def _headers(message: t.Any) -> dict[str, str]:
    try:
        return {str(name): str(value) for name, value in message.items()} if message is not None else {}
    except (AttributeError, TypeError):
        return {}


def _read(exchange: _Exchange, response: t.Any, max_bytes: int) -> None:
    """Read the body until its end, C(max_bytes) (one more byte tells a truncation) or the deadline."""
    read = getattr(response, "read1", None) or response.read
    while exchange.size <= max_bytes:
        remaining = exchange.deadline - time.monotonic()
        if remaining <= 0:
            exchange.timed_out = True
            return
        sock = _socket_of(response)
        if sock is not None:
            sock.settimeout(remaining)
        chunk = read(min(_CHUNK, max_bytes + 1 - exchange.size))
        if not chunk:
            return
        exchange.chunks.append(chunk)
        exchange.size += len(chunk)
    exchange.truncated = True


def _is_timeout(exc: BaseException) -> bool:
    reason = exc.reason if isinstance(exc, URLError) else exc
    return isinstance(reason, socket.timeout) or "timed out" in str(reason)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, HTTPError):
        return f"HTTP Error {exc.code}: {exc.reason}"
    if isinstance(exc, URLError):
        return f"Request failed: {exc.reason}"
    return f"Request failed: {exc or type(exc).__name__}"


def _work(exchange: _Exchange, url: str, max_bytes: int, options: dict[str, t.Any]) -> None:
    try:
        try:
            response = open_url(url, **options)
        except HTTPError as exc:
            # An HTTP error status is an answer: its body is read like any other.
            response = exc
            exchange.error = _error_text(exc)
        exchange.attach(response)
        exchange.status = int(response.getcode())
        exchange.headers = _headers(response.headers)
        exchange.final_url = response.geturl() if hasattr(response, "geturl") else None
        _read(exchange, response, max_bytes)
        response.close()
    except (URLError, HTTPException, OSError, ValueError) as exc:
        if _is_timeout(exc):
            exchange.timed_out = True
        elif not exchange.timed_out:
            exchange.error = _error_text(exc)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # a thread cannot raise to fetch(): report it
        exchange.error = f"Request failed: {type(exc).__name__}: {exc}"
    finally:
        exchange.done.set()


def fetch(url: str, timeout: float, method: str = "GET", data: bytes | None = None,
          headers: t.Mapping[str, str] | None = None, max_bytes: int = MAX_BODY_BYTES, secrets: t.Iterable[str] = (),
          **options: t.Any) -> HttpResult:
    """One request to C(url), finished (answered, failed or abandoned) within C(timeout) seconds in all.

    C(options) go to ansible.module_utils.urls.open_url (C(validate_certs), C(ca_path), C(client_cert),
    C(client_key), C(use_proxy), C(follow_redirects), ...); redirects are followed when safe unless said otherwise.
    C(secrets) are literal strings masked in the error text besides what L(redact_text) finds by shape.
    """
    started = time.monotonic()
    exchange = _Exchange(started + timeout)
    options.setdefault("follow_redirects", "safe")
    if _has_userinfo(url):
        # user:password@ in the URL is sent at once, as curl does; RPC providers do not answer 401 to ask for it.
        options.setdefault("force_basic_auth", True)
    options.update(method=method, data=data, headers=dict(headers or {}), timeout=timeout)
    worker = threading.Thread(target=_work, args=(exchange, url, max_bytes, options), name="usdx-http", daemon=True)
    worker.start()
    if not exchange.done.wait(timeout):
        exchange.expire()
        # The shutdown ends a blocked body read at once; give the worker a moment to record what it had.
        exchange.done.wait(0.1)
    with exchange.lock:
        body = b"".join(exchange.chunks)[:max_bytes]
        error = exchange.error
        timed_out = exchange.timed_out
    if timed_out:
        got = f" (HTTP {exchange.status}, {len(body)} bytes read)" if exchange.status is not None else ""
        error = f"no complete answer within {timeout:g} s{got}"
    secrets = tuple(secrets)
    return HttpResult(
        url=redact_text(redact_url(exchange.final_url or url), secrets),
        status=exchange.status,
        headers=exchange.headers,
        body=body,
        truncated=exchange.truncated,
        error=redact_text(error, secrets) if error else None,
        elapsed=round(time.monotonic() - started, 3),
        timed_out=timed_out,
    )


def _has_userinfo(url: str) -> bool:
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False  # open_url reports the malformed URL


def url_secrets(url: str) -> list[str]:
    """The credentials inside C(url), as L(redact_url) finds them: the userinfo's password (or its token when it has
    no password), key-like path segments and secret query values.

    A module adds them to its C(no_log_values), so Ansible masks them everywhere in its answer, the C(invocation)
    that echoes its options included; a whole URL cannot be C(no_log) without hiding every harmless one as well.
    """
    try:
        raw, masked = urlsplit(url), urlsplit(redact_url(url))
        userinfo = raw.password if raw.password is not None else raw.username
    except ValueError:
        return []
    found = [userinfo] if userinfo and "@" in raw.netloc else []
    found += [seg for seg, hidden in zip(raw.path.split("/"), masked.path.split("/")) if hidden == MASK and seg != MASK]
    found += [value for (_name, value), (_same, hidden) in zip(parse_qsl(raw.query), parse_qsl(masked.query))
              if hidden == MASK and value != MASK]
    return [secret for secret in dict.fromkeys(found) if len(secret) >= 3]


def hide_url_secrets(module: t.Any, *urls: str | None) -> None:
    """Make C(module) mask the credentials of C(urls) wherever they would appear in its answer."""
    for url in urls:
        if url:
            module.no_log_values.update(url_secrets(url))
