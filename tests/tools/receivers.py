# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real receivers for the notifiers' tests: an HTTP server and an SMTP server on 127.0.0.1, recording what arrives.

HttpReceiver answers each path prefix as its Route says: a status and a JSON body, 500 for the first N requests,
or a hang past the caller's deadline. SmtpReceiver is aiosmtpd with AUTH (LOGIN, PLAIN) and, when given a
certificate, STARTTLS. A test module takes the fixtures by naming them in its own namespace:

    sys.path.insert(0, str(REPO / "tests" / "tools"))
    import receivers as receiver_tools  # noqa: E402

    http_receiver = receiver_tools.http_receiver
    smtp_receiver = receiver_tools.smtp_receiver
"""

from __future__ import annotations

import dataclasses
import datetime
import email
import email.policy
import json
import logging
import pathlib
import socket
import ssl
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclasses.dataclass
class Route:
    """How one path prefix answers. body may be a callable(Recorded) -> JSON value."""

    status: int = 200
    body: t.Any = None
    fail_first: int = 0
    fail_status: int = 500
    hang: float = 0.0


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float

    @property
    def json(self) -> t.Any:
        return json.loads(self.raw) if self.raw else None


class HttpReceiver:
    """A threaded HTTP server on 127.0.0.1:<free port>; routes are matched by the longest path prefix."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {"/": Route()}
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="http-receiver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, prefix: str, **behaviour: t.Any) -> None:
        self.routes[prefix] = Route(**behaviour)

    def received(self, prefix: str = "/") -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def _answer(self, recorded: Recorded) -> tuple[Route, bool]:
        with self.lock:
            self.requests.append(recorded)
            prefix = max((p for p in self.routes if recorded.path.startswith(p)), key=len)
            route = self.routes[prefix]
            seen = sum(1 for r in self.requests if r.path.startswith(prefix))
        return route, seen <= route.fail_first

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: t.Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                recorded = Recorded(self.command, self.path, dict(self.headers.items()), self.rfile.read(length),
                                    time.monotonic())
                route, failing = receiver._answer(recorded)
                if route.hang:
                    time.sleep(route.hang)
                status = route.fail_status if failing else route.status
                body = route.body(recorded) if callable(route.body) else route.body
                data = json.dumps({"error": "receiver failing on purpose"} if failing else body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up first (its deadline)

            do_GET = do_POST = do_PATCH = _serve  # noqa: N815 - the names http.server calls

        return Handler

    def __enter__(self) -> HttpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: t.Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclasses.dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage
    login: t.Optional[str]


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1:<free port> recording every message and the login that sent it."""

    def __init__(self, users: t.Mapping[str, str], tls: t.Optional[ssl.SSLContext] = None) -> None:
        from aiosmtpd.controller import Controller  # pylint: disable=import-outside-toplevel
        from aiosmtpd.smtp import AuthResult  # pylint: disable=import-outside-toplevel

        # aiosmtpd warns on its own use of its deprecated Session.login_data at every login.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self.mails: list[Mail] = []
        self.refused_connections = 0  # connections whose login was refused (smtplib tries each mechanism once)
        receiver = self

        class Handler:
            async def handle_DATA(self, _server: t.Any, session: t.Any, envelope: t.Any) -> str:  # noqa: N802
                message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
                login = session.auth_data.login.decode() if session.authenticated and session.auth_data else None
                receiver.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message, login))
                return "250 OK"

        def authenticate(_server: t.Any, session: t.Any, _envelope: t.Any, _mechanism: str, data: t.Any) -> AuthResult:
            login, password = data.login.decode(), data.password.decode()
            if users.get(login) == password:
                return AuthResult(success=True, auth_data=data)
            if not getattr(session, "usdx_refused", False):
                session.usdx_refused = True
                receiver.refused_connections += 1
            return AuthResult(success=False, handled=False)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticate,
                                     auth_require_tls=tls is not None, require_starttls=tls is not None, tls_context=tls)

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *_exc: t.Any) -> None:
        self.controller.stop()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (aiosmtpd's controller cannot bind port 0: it connects to its port to start)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def self_signed_context(directory: pathlib.Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for localhost (STARTTLS of SmtpReceiver)."""
    # pylint: disable=import-outside-toplevel
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def http_receiver() -> t.Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def smtp_receiver(tmp_path: pathlib.Path) -> t.Iterator[t.Callable[..., SmtpReceiver]]:
    """smtp_receiver(users, starttls=False): a started SmtpReceiver, stopped at teardown."""
    started: list[SmtpReceiver] = []

    def start(users: t.Mapping[str, str], starttls: bool = False) -> SmtpReceiver:
        receiver = SmtpReceiver(users, self_signed_context(tmp_path) if starttls else None)
        started.append(receiver.__enter__())
        return receiver

    yield start
    for receiver in started:
        receiver.__exit__(None, None, None)
