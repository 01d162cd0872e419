# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_http.fetch and _endpoint.probe against real servers on 127.0.0.1 that misbehave on purpose."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _endpoint, _http

DEADLINE = 1.0
# What the deadline may be overrun by on a loaded machine (thread start, the shutdown's grace).
SLACK = 0.8


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args):
        pass

    def _drip(self, data: bytes, pause: float = 0.1) -> None:
        for byte in data:
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(pause)

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 - the name http.server calls
        if self.path == "/drip-body":
            self.send_response(200)
            self.send_header("Content-Length", "10000")
            self.end_headers()
            self._drip(b"x" * 10000)
        elif self.path == "/drip-headers":
            self._drip(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 1000 + b"\r\n\r\n")
        elif self.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"[" * 65536)
            except OSError:
                return
        elif self.path == "/error":
            self._send(503, json.dumps({"status": "error", "checks": {"db": "too many clients"}}).encode())
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/auth":
            self._send(200, json.dumps({"authorization": self.headers.get("Authorization")}).encode())
        elif self.path.startswith("/json/"):
            self._send(200, bytes.fromhex(self.path[len("/json/"):]))
        else:
            self._send(200, b'{"status": "ok", "checks": {"db": "ok"}}')


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_complete_answer(server):
    answer = _http.fetch(server + "/ok", DEADLINE)
    assert (answer.status, answer.error, answer.timed_out, answer.truncated) == (200, None, False, False)
    assert json.loads(answer.body) == {"status": "ok", "checks": {"db": "ok"}}
    assert answer.content_type == "application/json"


def test_an_error_status_is_an_answer_with_its_body(server):
    answer = _http.fetch(server + "/error", DEADLINE)
    assert answer.status == 503 and answer.error == "HTTP Error 503: Service Unavailable"
    assert json.loads(answer.body)["checks"] == {"db": "too many clients"}


def test_safe_redirects_are_followed(server):
    answer = _http.fetch(server + "/redirect", DEADLINE)
    assert answer.status == 200 and answer.url == server + "/ok"


@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"], ids=["body", "headers"])
def test_a_server_answering_one_byte_at_a_time_ends_at_the_deadline(server, path):
    started = time.monotonic()
    answer = _http.fetch(server + path, DEADLINE)
    assert time.monotonic() - started < DEADLINE + SLACK
    assert answer.timed_out is True and answer.error.startswith(f"no complete answer within {DEADLINE:g} s")
    assert len(answer.body) < 10000


def test_an_endless_body_is_cut_at_the_cap(server):
    answer = _http.fetch(server + "/endless", 5, max_bytes=100_000)
    assert answer.truncated is True and len(answer.body) == 100_000 and answer.timed_out is False


def test_userinfo_is_sent_at_once_and_only_when_given(server):
    with_credentials = server.replace("http://", "http://ops:hunter2@") + "/auth"
    assert json.loads(_http.fetch(with_credentials, DEADLINE).body) == {"authorization": "Basic b3BzOmh1bnRlcjI="}
    assert json.loads(_http.fetch(server + "/auth", DEADLINE).body) == {"authorization": None}


def test_an_unexpected_failure_of_the_request_is_an_error_not_a_crash(monkeypatch):
    def broken(url, **_kwargs):
        raise TypeError("unexpected keyword")
    monkeypatch.setattr(_http, "open_url", broken)
    answer = _http.fetch("http://127.0.0.1:9/", DEADLINE)
    assert answer.status is None and answer.error == "Request failed: TypeError: unexpected keyword"


def test_a_malformed_url_is_an_error():
    answer = _http.fetch("http://[::1/health", DEADLINE)
    assert answer.status is None and answer.error.startswith("Request failed")


def test_no_server_is_an_error_without_a_status():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = _http.fetch(f"http://127.0.0.1:{port}/", DEADLINE)
    assert answer.status is None and "Connection refused" in answer.error and answer.timed_out is False


def test_credentials_are_masked_in_the_url_and_the_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = _http.fetch(f"http://ops:hunter2@127.0.0.1:{port}/v3/0123456789abcdef0123456789abcdef?token=t0k3n", DEADLINE,
                         secrets=["Connection"])
    assert answer.url == f"http://********@127.0.0.1:{port}/v3/********?token=********"
    assert "********" in answer.error and "Connection" not in answer.error


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("https://ops:hunter2@rpc.example.com/", ["hunter2"]),
        ("https://t0kenvalue@rpc.example.com/", ["t0kenvalue"]),
        ("https://mainnet.infura.io/v3/0123456789abcdef0123456789abcdef", ["0123456789abcdef0123456789abcdef"]),
        ("https://rpc.example.com/?apikey=s3cr3t&chain=1", ["s3cr3t"]),
        ("http://127.0.0.1:8545", []),
        ("http://[::1", []),
    ],
    ids=["password", "token", "path-key", "query-key", "none", "malformed"],
)
def test_url_secrets(url, secrets):
    assert _http.url_secrets(url) == secrets


def _probe(url, timeout=DEADLINE):
    return _endpoint.probe({"url": url, "timeout": timeout, "validate_certs": True})


@pytest.mark.parametrize(
    ("body", "healthy", "document"),
    [
        (b'{"status": "ok", "checks": {"db": "ok"}}', True, {"status": "ok", "checks": {"db": "ok"}}),
        (b'{"status": "degraded", "checks": {"db": "down"}}', False, {"status": "degraded", "checks": {"db": "down"}}),
        (b"[1, 2]", True, [1, 2]),
        (b'"ok"', True, "ok"),
        (b"null", True, None),
        (b'{"checks": [1, {"x": null}], "a": {"b": {"c": []}}}', True, {"checks": [1, {"x": None}], "a": {"b": {"c": []}}}),
        (b'{"checks": {"db": null, "redis": {"status": 3}}}', False, {"checks": {"db": None, "redis": {"status": 3}}}),
    ],
    ids=["ok", "failing-check", "list", "string", "null", "nested", "odd-check-values"],
)
def test_health_bodies_of_any_shape(server, body, healthy, document):
    result = _probe(server + "/json/" + body.hex())
    assert result["status"] == 200 and result["healthy"] is healthy and "partial" not in result
    assert result.get("json") == document


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00", b'{"checks": '], ids=["garbage", "binary", "cut"])
def test_an_unreadable_json_body_is_partial_and_not_healthy(server, body):
    result = _probe(server + "/json/" + body.hex())
    assert result["status"] == 200 and result["healthy"] is False and "json" not in result
    assert result["partial"][0].startswith("the JSON body could not be parsed")


def test_a_probe_that_never_finishes_is_a_failed_check(server):
    result = _probe(server + "/drip-body")
    assert result["failed"] is True and result["timed_out"] is True and result["healthy"] is False
    assert result["status"] == 200 and result["msg"].startswith("no complete answer")


def test_a_probe_without_headers_in_time_is_an_endpoint_that_does_not_answer(server):
    result = _probe(server + "/drip-headers")
    assert result["status"] == -1 and result["timed_out"] is True and result["healthy"] is False
    assert "failed" not in result


def test_an_endless_json_body_is_partial(server):
    result = _probe(server + "/endless", timeout=5)
    assert result["truncated"] is True and result["healthy"] is False
    assert result["partial"] == [f"the JSON body is larger than {_endpoint.MAX_BODY_BYTES} bytes: its checks were not read"]


def test_an_error_status_keeps_its_document(server):
    result = _probe(server + "/error")
    assert result["status"] == 503 and result["healthy"] is False and result["json"]["checks"] == {"db": "too many clients"}
