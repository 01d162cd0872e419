#!/usr/bin/env python
"""The sandbox's stand-in for Slack, PagerDuty, a status page and a chat webhook: it accepts what the notifiers send
and appends one JSON line per message to a file, so a demo (and a person) sees what the on-call engineer, the pager
and the users would have received.

    notify_sink.py --port 58080 --log .state/notify/received.jsonl

Routes (the services' own answers, enough for a client to go on):
  POST  /slack/...                                  200 "ok"                      (Slack incoming webhook)
  POST  /pagerduty/v2/enqueue                       202 {"status": "success"...}  (PagerDuty Events API v2)
  POST  /statuspage/v1/pages/<page>/incidents       201 {"id": ...}               (Statuspage: create)
  PATCH /statuspage/v1/pages/<page>/incidents/<id>  200 {"id": ...}               (Statuspage: update)
  GET   /statuspage/v1/pages/<page>                 200 {"id": ...}               (Statuspage: read the page)
  POST  /webhook/...                                200 {"ok": true}              (a generic JSON webhook)

Secrets are not recorded: no header, no path below the service's prefix (a Slack webhook's path is its token), and
PagerDuty's routing_key is dropped from the body. Only 127.0.0.1 is listened on. Standard library only: it runs on
the host's python3 with nothing installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1 << 20
SECRET_KEYS = ("routing_key", "token", "api_key", "password")


class Sink(BaseHTTPRequestHandler):
    log_path = ""
    lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 (the stdlib's signature): quiet, the file is the log
        return

    def _body(self):
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            return {"unparsed_bytes": len(raw)}

    def _record(self, service, body):
        if isinstance(body, dict):
            body = {k: ("********" if k in SECRET_KEYS else v) for k, v in body.items()}
        line = {"at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "service": service, "method": self.command, "body": body}
        with self.lock, open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")

    def _answer(self, status, payload):
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if isinstance(payload, str) else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 (the stdlib's name)
        body = self._body()
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "slack":
            self._record("slack", body)
            self._answer(200, "ok")
        elif parts[:3] == ["pagerduty", "v2", "enqueue"]:
            self._record("pagerduty", body)
            dedup = body.get("dedup_key") if isinstance(body, dict) else None
            self._answer(202, {"status": "success", "message": "Event processed", "dedup_key": dedup})
        elif parts[0] == "statuspage" and len(parts) == 5 and parts[4] == "incidents":
            self._record("statuspage", body)
            self._answer(201, {"id": uuid.uuid4().hex[:12], **((body or {}).get("incident") or {})})
        elif parts[0] == "webhook":
            self._record("webhook", body)
            self._answer(200, {"ok": True})
        else:
            self._answer(404, {"error": "unknown route"})

    def do_GET(self):  # noqa: N802 (usdx-incident notify --test reads the page: nothing is published)
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "statuspage" and len(parts) == 4 and parts[2] == "pages":
            self._answer(200, {"id": parts[3], "name": "USDX/Wexel (sandbox)"})
        else:
            self._answer(404, {"error": "unknown route"})

    def do_PATCH(self):  # noqa: N802
        body = self._body()
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "statuspage" and len(parts) == 6 and parts[4] == "incidents":
            self._record("statuspage", body)
            self._answer(200, {"id": parts[5], **((body or {}).get("incident") or {})})
        else:
            self._answer(404, {"error": "unknown route"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    # A long-lived child of sandbox.sh must not keep the locks its callers hold on inherited descriptors.
    os.closerange(3, 4096)
    os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
    Sink.log_path = args.log
    ThreadingHTTPServer(("127.0.0.1", args.port), Sink).serve_forever()


if __name__ == "__main__":
    main()
