"""USDX/Wexel web app (sandbox): serves the UI on :3000 and proxies /api/* to the indexer."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler

from usdx_common import (MAINTENANCE_KEY, AccessLog, Logger, env, env_float, env_int, err_text, forwarded_for,
                         redis_client, serve)

log = Logger("webapp", env("WEBAPP_LOG_FILE", "/var/log/usdx-wexel/webapp.log"))
access_log = AccessLog("webapp", env("WEBAPP_ACCESS_LOG_FILE", "/var/log/usdx-wexel/webapp-access.log"), log)
INDEXER_URL = env("INDEXER_URL", "http://indexer:3001").rstrip("/")
PROXY_TIMEOUT = env_float("WEBAPP_PROXY_TIMEOUT", 10.0)
REDIS = redis_client()

INDEX_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>USDX/Wexel</title>
<style>body{font-family:sans-serif;margin:2rem;max-width:48rem}td{padding:.2rem 1rem}</style></head>
<body><h1>USDX/Wexel</h1><p>Deposit USDX into the Wexel vault and track your positions.</p>
<h2>Indexer status</h2><table id="status"><tr><td>loading&hellip;</td></tr></table>
<h2>Marketplace</h2><table id="listings"></table>
<h2>Latest events</h2><table id="events"></table>
<script>
async function refresh(){
  try{
    const s=await (await fetch('/api/status')).json();
    document.getElementById('status').innerHTML=Object.entries(s).filter(([k,v])=>typeof v!=='object')
      .map(([k,v])=>'<tr><td>'+k+'</td><td>'+v+'</td></tr>').join('');
    const e=await (await fetch('/api/events?limit=10')).json();
    document.getElementById('events').innerHTML=(e.events||[]).map(x=>'<tr><td>'+x.block_number+'</td><td>'+
      x.event_name+'</td><td>'+x.amount+'</td><td>'+x.tx_hash.slice(0,18)+'&hellip;</td></tr>').join('');
    const m=await fetch('/api/marketplace/listings?limit=5');
    document.getElementById('listings').innerHTML=m.ok?((await m.json()).listings||[]).map(x=>'<tr><td>'+
      x.position_id+'</td><td>'+x.ask_price+'</td><td>'+x.seller.slice(0,10)+'&hellip;</td></tr>').join(''):
      '<tr><td>marketplace unavailable ('+m.status+')</td></tr>';
  }catch(err){document.getElementById('status').innerHTML='<tr><td>API unavailable</td></tr>';}
}
refresh();setInterval(refresh,5000);
</script></body></html>
"""

MAINTENANCE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>USDX/Wexel - maintenance</title></head>
<body><h1>We'll be right back</h1><p>USDX/Wexel is undergoing scheduled maintenance.
Your funds are safe. Please try again in a few minutes.</p></body></html>
"""

_maint = {"at": 0.0, "value": False, "error": None}
_maint_lock = threading.Lock()


def maintenance():
    """Redis usdx:maintenance == '1', cached for one second; fails open when Redis is down."""
    with _maint_lock:
        if time.monotonic() - _maint["at"] < 1.0:
            return _maint["value"]
        try:
            _maint["value"] = REDIS.get(MAINTENANCE_KEY) == "1"
            if _maint["error"]:
                log.info("redis connection restored")
            _maint["error"] = None
        except Exception as exc:  # noqa: BLE001
            text = err_text(exc)
            if _maint["error"] != text:
                log.error("cannot read %s from redis: %s", MAINTENANCE_KEY, text)
            _maint["error"] = text
            _maint["value"] = False
        _maint["at"] = time.monotonic()
        return _maint["value"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "usdx-webapp/1.0"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, data, ctype, extra=()):
        if isinstance(data, str):
            data = data.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def handle_any(self):
        started = time.monotonic()
        path = self.path.split("?", 1)[0]
        code = 500  # an unexpected exception ends the request without an answer
        try:
            if path == "/healthz":  # liveness for the compose healthcheck; never in maintenance
                self.send(200, '{"status": "ok"}\n', "application/json")
                code = 200
                return
            code = self.route(path)
            level = "ERROR" if code >= 500 and code != 503 else "INFO"
            log.log(level, "%s %s %d %dms", self.command, path, code, (time.monotonic() - started) * 1000)
        except (BrokenPipeError, ConnectionResetError):
            code = 499  # nginx's "client closed the connection": the answer could not be written
            self.close_connection = True
        finally:
            access_log.record(self.headers, self.client_address[0], self.command, self.path, code, started)

    def route(self, path):
        if maintenance():
            if path.startswith("/api/"):
                self.send(503, '{"error": "maintenance", "message": "USDX/Wexel is in maintenance mode"}\n',
                          "application/json", [("Retry-After", "300")])
            else:
                self.send(503, MAINTENANCE_HTML, "text/html; charset=utf-8", [("Retry-After", "300")])
            return 503
        if path.startswith("/api/"):
            return self.proxy()
        if path in ("/", "/index.html"):
            self.send(200, INDEX_HTML, "text/html; charset=utf-8")
            return 200
        self.send(404, "<!doctype html><title>Not found</title><h1>404 Not found</h1>", "text/html; charset=utf-8")
        return 404

    def proxy(self):
        """Relay to the indexer; no answer from it is 502 (refused, reset, bad reply) or 504 (timed out)."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        target = INDEXER_URL + self.path
        req = urllib.request.Request(target, data=body, method=self.command)
        for name in ("Content-Type", "Accept"):
            if self.headers.get(name):
                req.add_header(name, self.headers[name])
        req.add_header("X-Forwarded-For", forwarded_for(self.headers, self.client_address[0]))
        try:
            with urllib.request.urlopen(req, timeout=PROXY_TIMEOUT) as resp:
                code, data, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as exc:
            code, data, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "application/json")
        except Exception as exc:  # noqa: BLE001
            text = err_text(exc)
            timed_out = isinstance(getattr(exc, "reason", exc), socket.timeout)
            code, error = (504, "gateway timeout") if timed_out else (502, "bad gateway")
            log.error("proxy %s %s -> %s failed: %s", self.command, self.path.split("?", 1)[0], INDEXER_URL, text)
            self.send(code, json.dumps({"error": error, "detail": text}) + "\n", "application/json")
            return code
        self.send(code, data, ctype)
        return code

    do_GET = do_POST = do_HEAD = handle_any


def main():
    port = env_int("WEBAPP_PORT", 3000)
    access_log.open()
    serve(port, Handler, log, "web app listening on :%d (api %s)", port, INDEXER_URL)


if __name__ == "__main__":
    main()
