# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""triage_info against HTTP servers (and pg_activity_info against a port) that misbehave for real, beside the sandbox.

A server on 127.0.0.1 (a thread of this test process, an ephemeral port) answers one byte at a time, sends an
endless body, answers odd JSON, or relays to the sandbox's chain behind a URL that carries credentials. The API
and RPC URLs of triage_info point at it; everything else is the real sandbox.

Run: .venv/bin/pytest -m sandbox tests/integration/test_hostile_http.py
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from sandbox_stack import REPO, STACK

pytestmark = pytest.mark.sandbox

DATA = STACK.data_dir
HTTP_TIMEOUT = 2
SAMPLE = 1
# Ansible's own start-up and the other checks around the deadlines under test.
OVERHEAD = 25
PASSWORD = "hunter2-rpc-password"
API_KEY = "9aa3d95b3bc440fa88ea12eaa4456161"

HEALTH_BODIES = {
    "list": b'[{"status": "ok"}, 2]',
    "string": b'"ok"',
    "null": b"null",
    "nested": b'{"status": {"deep": [{"checks": null}]}, "checks": {"db": {"status": "ok", "x": [1, {"y": null}]}}}',
    "checks-list": b'{"checks": ["db", "redis"]}',
    "garbage": b'{"checks": {"db": "ok"',
    "binary": b"\xff\xfe\x00\x01{",
}
RPC_ANSWERS = {
    "null-result": b'{"jsonrpc": "2.0", "id": 1, "result": null}',
    "number": b'{"jsonrpc": "2.0", "id": 1, "result": 1002}',
    "error-object": b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "daily request count exceeded"}}',
    "html": b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    "list": b"[]",
}


class Hostile(BaseHTTPRequestHandler):
    """Routes by the first path segment: /drip, /drip-headers, /endless, /health/<shape>, /rpc/<shape>, /v3/<key>."""

    protocol_version = "HTTP/1.1"
    chain_rpc = ""
    seen: list[dict[str, str]] = []

    def log_message(self, *_args):
        pass

    def _send(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, data, pause=0.3):
        for byte in data:
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(pause)

    def _answer(self):
        parts = self.path.strip("/").split("/")
        if parts[0] == "drip":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self._drip(b"{" + b" " * 99999)
        elif parts[0] == "drip-headers":
            self._drip(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 10000)
        elif parts[0] == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"[" * 65536)
            except OSError:
                return
        elif parts[0] == "health":
            self._send(200, HEALTH_BODIES[parts[1]])
        elif parts[0] == "rpc":
            self._send(200, RPC_ANSWERS[parts[1]], "text/html" if parts[1] == "html" else "application/json")
        elif parts[0] == "v3":
            # The provider-style URL with credentials: relayed to the sandbox's chain, so the lag check works.
            type(self).seen.append({"path": self.path, "authorization": self.headers.get("Authorization", "")})
            data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = urllib.request.Request(self.chain_rpc, data=data, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the sandbox's own RPC
                self._send(200, response.read())
        else:
            self._send(404, b"{}")

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self._answer()

    def do_POST(self):  # noqa: N802
        self._answer()


@pytest.fixture(scope="module")
def hostile(sandbox):
    Hostile.chain_rpc = f"http://127.0.0.1:{sandbox.get('USDX_CHAIN_PORT', '58545')}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def triage_args(healthy_sandbox, pg_args):
    def args(api_url, rpc_url, checks=None):
        values = {
            **pg_args("tcp"),
            "api_url": api_url, "rpc_url": rpc_url,
            "metrics_url": f"http://127.0.0.1:{healthy_sandbox['USDX_INDEXER_PORT']}/metrics",
            "webapp_url": f"http://127.0.0.1:{healthy_sandbox.get('USDX_WEBAPP_PORT', '3000')}",
            "http_timeout": HTTP_TIMEOUT, "lag_sample_seconds": SAMPLE,
            "paths": [str(DATA)], "log_dirs": [str(DATA / "log")], "backup_dirs": [str(DATA / "backups")],
            "repo_path": str(REPO / "sandbox"), "log_tail": 50,
        }
        if checks:
            values["checks"] = checks
        return values
    return args


def _lag_deadline():
    return 2 * HTTP_TIMEOUT + SAMPLE


def test_a_dripping_api_and_an_endless_rpc_are_reported_within_their_deadlines(hostile, triage_args, module_runner):
    started = time.monotonic()
    run = module_runner("triage_info", triage_args(f"http://{hostile}/drip", f"http://{hostile}/endless"))
    wall = time.monotonic() - started
    result = run.result
    assert not result.get("failed"), result.get("msg")
    assert wall < _lag_deadline() + OVERHEAD

    api = result["api"]
    assert api["failed"] is True and api["timed_out"] is True and api["healthy"] is False
    assert api["status"] == 200 and api["msg"].startswith(f"no complete answer within {HTTP_TIMEOUT} s")
    assert result["timings"]["api"] < HTTP_TIMEOUT + 1

    lag = result["lag"]
    assert lag["status"] == "rpc_unreachable" and lag["rpc"]["reachable"] is False
    assert "larger than 1048576 bytes" in lag["rpc"]["error"]
    assert lag["indexer"]["reachable"] is True and lag["last_indexed_block"] > 0
    assert result["timings"]["lag"] < _lag_deadline() + 1

    # Every other check is as on a healthy sandbox.
    assert result["webapp"]["status"] == 200 and result["webapp"]["healthy"] is True
    assert result["postgres"]["is_available"] is True
    for name in ("services", "logs", "disk", "deployment", "webapp", "postgres"):
        assert not result[name].get("failed"), (name, result[name].get("msg"))


def test_an_rpc_answering_one_byte_at_a_time_times_out(hostile, triage_args, module_runner):
    result = module_runner("triage_info", triage_args(f"http://{hostile}/drip-headers", f"http://{hostile}/drip",
                                                      checks=["api", "lag", "webapp"])).result
    assert result["api"]["status"] == -1 and result["api"]["timed_out"] is True and result["api"]["healthy"] is False
    lag = result["lag"]
    assert lag["timed_out"] is True and lag["rpc"]["timed_out"] is True and lag["status"] == "rpc_unreachable"
    assert lag["rpc"]["error"].startswith(f"no complete answer within {HTTP_TIMEOUT} s")
    assert result["timings"]["lag"] < _lag_deadline() + 1 and result["timings"]["api"] < HTTP_TIMEOUT + 1
    assert result["webapp"]["healthy"] is True


@pytest.mark.parametrize("shape", sorted(HEALTH_BODIES))
def test_health_bodies_of_any_shape(hostile, triage_args, module_runner, shape):
    api = module_runner("triage_info", triage_args(f"http://{hostile}/health/{shape}", "http://127.0.0.1:9",
                                                   checks=["api"])).result["api"]
    assert "exception" not in api and api["status"] == 200
    if shape in ("garbage", "binary"):
        assert api["healthy"] is False and "json" not in api
        assert api["partial"][0].startswith("the JSON body could not be parsed")
    else:
        assert api["healthy"] is True and api.get("json") == json.loads(HEALTH_BODIES[shape])


@pytest.mark.parametrize("shape", sorted(RPC_ANSWERS))
def test_rpc_answers_of_any_shape(hostile, triage_args, module_runner, shape):
    lag = module_runner("triage_info", triage_args("http://127.0.0.1:9", f"http://{hostile}/rpc/{shape}",
                                                   checks=["lag"])).result["lag"]
    assert "exception" not in lag and not lag.get("failed"), lag
    assert lag["status"] == "rpc_unreachable" and lag["rpc"]["reachable"] is False
    assert lag["partial"] == [f"the chain head could not be read from the answer: {lag['rpc']['error']}"]
    assert lag["rpc"]["error"].startswith("eth_blockNumber")
    assert lag["indexer"]["reachable"] is True


def _secret_free(text, where):
    assert PASSWORD not in text, f"the RPC password appears in {where}"
    assert API_KEY not in text, f"the RPC API key appears in {where}"


def test_credentials_in_the_rpc_url_never_appear(hostile, triage_args, module_runner, helpers, tmp_path):
    rpc_url = f"http://ops:{PASSWORD}@{hostile}/v3/{API_KEY}"
    Hostile.seen.clear()
    api_url = triage_args("", "")["metrics_url"].rsplit("/", 1)[0]
    run = module_runner("triage_info", triage_args(api_url, rpc_url, checks=["api", "lag"]))
    assert run.result["lag"]["rpc"]["reachable"] is True, run.result["lag"]
    assert Hostile.seen and Hostile.seen[0]["path"] == f"/v3/{API_KEY}" and Hostile.seen[0]["authorization"]
    _secret_free(run.stdout + run.stderr, "the module result")
    assert run.result["lag"]["rpc"]["url"] == f"http://********@{hostile}/v3/********"

    # The triage role, verbose, writing its findings: neither the output nor the document holds the secrets.
    findings = tmp_path / "findings"
    extra = tmp_path / "extra.yml"
    extra.write_text(yaml.safe_dump({"usdx_rpc_url": rpc_url, "triage_findings_dir": str(findings),
                                     "triage_http_timeout": HTTP_TIMEOUT}))
    ansible_playbook = helpers.playbook_command("usdx.incident.triage")[0]
    proc = subprocess.run([ansible_playbook, "-v", "-i", str(REPO / "inventories" / "sandbox"), "-e", f"@{extra}",
                           "usdx.incident.triage"],
                          capture_output=True, text=True, timeout=300, cwd=REPO, env=helpers.ansible_env(), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _secret_free(proc.stdout + proc.stderr, "the verbose playbook output")
    documents = list(findings.glob("*.json"))
    assert documents, "the triage wrote no findings"
    for document in documents:
        text = document.read_text()
        _secret_free(text, document.name)
        assert json.loads(text)["lag"]["rpc"]["reachable"] is True


def test_a_database_port_that_never_answers_is_a_timed_out_finding(module_runner, pg_args):
    """Not HTTP, but the same hostile peer: a port that accepts connections and then says nothing."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        args = {**pg_args("tcp"), "login_port": silent.getsockname()[1], "connect_timeout": 2}
        started = time.monotonic()
        run = module_runner("pg_activity_info", args)
        wall = time.monotonic() - started
    result = run.result
    assert not result.get("failed"), result.get("msg")
    assert result["is_available"] is False and result["timed_out"] is True and "timeout expired" in result["error"]
    assert wall < 2 + OVERHEAD
