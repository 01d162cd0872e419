"""Shared helpers for the USDX/Wexel sandbox apps (stdlib + psycopg2 + redis only)."""
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30, "ERROR": 40, "FATAL": 50}


def env(name, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def env_int(name, default):
    return int(env(name, default))


def env_float(name, default):
    return float(env(name, default))


def utc_stamp(ts=None):
    ts = time.time() if ts is None else ts
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


class Logger:
    """Writes `2026-11-28T07:00:00.123Z LEVEL [component] message` to stdout and a file."""

    _lock = threading.Lock()
    _file = None
    _file_path = None
    _file_error_reported = False

    def __init__(self, component, log_file=None, stream=None):
        self.component = component
        self.stream = stream or sys.stdout
        self.min_level = LEVELS.get(env("LOG_LEVEL", "INFO").upper(), 20)
        if log_file and Logger._file_path is None:
            Logger._file_path = log_file
            try:
                os.makedirs(os.path.dirname(log_file), exist_ok=True)
                Logger._file = open(log_file, "a", buffering=1, encoding="utf-8")
            except OSError as exc:
                self._stdout_line("ERROR", "cannot open log file %s: %s" % (log_file, exc))

    def _stdout_line(self, level, message):
        line = "%s %s [%s] %s\n" % (utc_stamp(), level, self.component, message)
        self.stream.write(line)
        self.stream.flush()
        return line

    def log(self, level, message, *args):
        if LEVELS[level] < self.min_level:
            return
        if args:
            message = message % args
        message = " ".join(str(message).splitlines()) or "-"
        with Logger._lock:
            line = self._stdout_line(level, message)
            if Logger._file is not None:
                try:
                    Logger._file.write(line)
                except OSError as exc:
                    if not Logger._file_error_reported:
                        Logger._file_error_reported = True
                        self._stdout_line("ERROR", "cannot write log file %s: %s" % (Logger._file_path, exc))
                else:
                    Logger._file_error_reported = False

    def debug(self, m, *a):
        self.log("DEBUG", m, *a)

    def info(self, m, *a):
        self.log("INFO", m, *a)

    def warn(self, m, *a):
        self.log("WARN", m, *a)

    def error(self, m, *a):
        self.log("ERROR", m, *a)

    def fatal(self, m, *a):
        self.log("FATAL", m, *a)


# ---------------------------------------------------------------- access log
CLIENT_MAX = 256    # characters kept of a client id (X-Forwarded-For is client-controlled)
PATH_MAX = 2048     # characters kept of a request path, so one line stays bounded
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def request_client(headers, peer):
    """The client a request is for: the first X-Forwarded-For address (set by the load balancer in production,
    by the web app for the requests it proxies), else the address of the connection's peer."""
    first = (headers.get("X-Forwarded-For") or "").split(",", 1)[0].strip()
    return first[:CLIENT_MAX] if first else peer


def forwarded_for(headers, peer):
    """The X-Forwarded-For value a proxy sends on: the one it got with the peer's address appended."""
    got = (headers.get("X-Forwarded-For") or "").strip()
    return "%s, %s" % (got, peer) if got else peer


class AccessLog:
    """The access log of one service: a JSON object per request, one per line, appended to a file.

    `{"time": "2026-11-28T07:00:00.123Z", "service": "webapp", "client": "203.0.113.7", "method": "GET",
    "path": "/api/status", "status": 502, "duration_ms": 3.1}` -- time is when the response ended (UTC), path has
    no query string (query strings can hold secrets). Requests from the container's own loopback without
    X-Forwarded-For (its compose healthcheck) are not logged. A write that fails (disk full) loses that line only:
    the request is served all the same and the failure is reported once on the service's log.
    """

    def __init__(self, service, path, log):
        self.service = service
        self.path = path
        self.log = log
        self._lock = threading.Lock()
        self._fd = None
        self._failing = False

    def _file(self):
        """The open file, reopened when it was deleted or replaced (log rotation, a clean-up)."""
        if self._fd is not None:
            try:
                if os.fstat(self._fd).st_ino == os.stat(self.path).st_ino:
                    return self._fd
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return self._fd

    def open(self):
        """Create the file at start, as a web server does: an empty access log is "no request yet", while a missing
        one is a log that cannot be read (a triage reports that check as incomplete)."""
        with self._lock:
            try:
                self._file()
            except OSError as exc:
                self.log.error("cannot open access log %s: %s", self.path, exc)

    def record(self, headers, peer, method, path, status, started):
        """Log one request; `started` is its time.monotonic() at arrival, `path` the raw request target."""
        if peer in LOOPBACK and not headers.get("X-Forwarded-For"):
            return
        entry = {"time": utc_stamp(), "service": self.service, "client": request_client(headers, peer),
                 "method": str(method or "-")[:16], "path": (path or "").split("?", 1)[0][:PATH_MAX],
                 "status": int(status), "duration_ms": round((time.monotonic() - started) * 1000, 1)}
        line = (json.dumps(entry) + "\n").encode()
        with self._lock:
            try:
                os.write(self._file(), line)
            except OSError as exc:
                if not self._failing:
                    self.log.error("cannot write access log %s: %s", self.path, exc)
                self._failing = True
            else:
                self._failing = False


def err_text(exc):
    """The real exception text, on one line (psycopg2 puts FATAL: ... on several lines)."""
    text = str(exc).strip()
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        text = "<urlopen error %s>" % (exc.reason,)
    return " ".join(text.split()) or exc.__class__.__name__


# ---------------------------------------------------------------- config
def db_params(connect_timeout=3):
    return dict(
        host=env("DB_HOST", "db"),
        port=env_int("DB_PORT", 5432),
        dbname=env("DB_NAME", "usdx_wexel"),
        user=env("DB_USER", "usdx"),
        password=env("DB_PASSWORD", "sandbox-usdx-pw"),
        connect_timeout=connect_timeout,
    )


def db_connect(application_name, connect_timeout=3):
    import psycopg2
    return psycopg2.connect(application_name=application_name, **db_params(connect_timeout))


def redis_client(timeout=2.0):
    import redis
    return redis.Redis.from_url(env("REDIS_URL", "redis://redis:6379/0"),
                                socket_timeout=timeout, socket_connect_timeout=timeout,
                                decode_responses=True)


PAUSED_KEY = "usdx:paused"
MAINTENANCE_KEY = "usdx:maintenance"
WORKER_KEY = "usdx:indexer:worker"
PROGRESS_KEY = "usdx:indexer:progress"  # the worker's recent [time, last indexed block, chain head] samples


# ---------------------------------------------------------------- JSON-RPC
class RpcError(Exception):
    pass


class Rpc:
    def __init__(self, url=None, timeout=3.0):
        self.url = url or env("CHAIN_RPC_URL", "http://chain:8545")
        self.timeout = timeout
        self._id = 0

    def _post(self, payload):
        data = json.dumps(payload).encode()
        req = urllib.request.Request(self.url, data=data, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return json.loads(resp.read())

    def call(self, method, *params):
        self._id += 1
        reply = self._post({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})
        if "error" in reply:
            raise RpcError("%s: %s" % (method, reply["error"].get("message")))
        return reply["result"]

    def batch(self, calls):
        payload = []
        for method, params in calls:
            self._id += 1
            payload.append({"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)})
        replies = {r["id"]: r for r in self._post(payload)}
        out = []
        for item in payload:
            reply = replies.get(item["id"])
            if reply is None or "error" in reply:
                raise RpcError("%s: %s" % (item["method"], (reply or {}).get("error")))
            out.append(reply["result"])
        return out

    def block_number(self):
        return int(self.call("eth_blockNumber"), 16)


def serve(port, handler, log, banner, *banner_args):
    """Serve HTTP on every address of the container until SIGTERM or SIGINT."""
    server = ThreadingHTTPServer(("0.0.0.0", port), handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        log.info("received %s, shutting down", signal.Signals(signum).name)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(banner, *banner_args)
    server.serve_forever()
