"""Indexer HTTP API on :3001 -- /health, /metrics, /api/status, /api/events, and what the web app's clients call:
/api/marketplace/listings, /api/wallet/<address>, /api/deposits/<tx_hash>."""
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

import psycopg2

from usdx_common import AccessLog, Logger, Rpc, db_connect, env, env_int, err_text, redis_client, serve
from usdx_indexer import ACCESS_LOG_FILE_DEFAULT, LOG_FILE_DEFAULT, marketplace, status
from usdx_indexer.httpmetrics import HttpMetrics
from usdx_indexer.pool import Pool, PoolTimeout
from usdx_indexer.release import RELEASE

log = Logger("api", env("INDEXER_LOG_FILE", LOG_FILE_DEFAULT))
access_log = AccessLog("indexer", env("INDEXER_ACCESS_LOG_FILE", ACCESS_LOG_FILE_DEFAULT), log)

POOL = Pool(env_int("DB_POOL_MAX", 5), "usdx-indexer-api")
REDIS = redis_client()
RPC = Rpc(timeout=3.0)
CHECKS = ThreadPoolExecutor(max_workers=6)
STARTED = time.time()
HTTP = HttpMetrics()
ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
TX_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
# The database could not be used (as opposed to a query the database rejects: a bug, answered 500).
DB_OUTAGES = (psycopg2.OperationalError, psycopg2.InterfaceError, PoolTimeout)

_cache_lock = threading.Lock()
_cache = {"at": 0.0, "status": None}
_last_known = {"chain_head": None, "last_indexed_block": None, "last_indexed_block_time": None,
               "paused": None, "maintenance": None, "events_total": None}
_logged_errors = {}


def current_status():
    """Status cached for one second; keeps last known values when a dependency is down."""
    with _cache_lock:
        if _cache["status"] is not None and time.monotonic() - _cache["at"] < 1.0:
            return _cache["status"]
        st = status.gather(POOL.query, REDIS, RPC)
        for key in _last_known:
            if st[key] is None:
                st[key] = _last_known[key]
            else:
                _last_known[key] = st[key]
        status.compute_lag(st)
        for part, text in st["errors"].items():
            if _logged_errors.get(part) != text or time.monotonic() - _logged_errors.get(part + "@", 0) > 30:
                log.error("status: %s unavailable: %s", part, text)
                _logged_errors[part] = text
                _logged_errors[part + "@"] = time.monotonic()
        for part in list(k for k in _logged_errors if "@" not in k):
            if part not in st["errors"]:
                _logged_errors.pop(part, None)
                _logged_errors.pop(part + "@", None)
        _cache.update(at=time.monotonic(), status=st)
        return st


# ------------------------------------------------------------------ checks
def check_db():
    conn = db_connect("usdx-indexer-health", connect_timeout=3)  # fresh connection on purpose
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    finally:
        conn.close()


def check_redis():
    if not REDIS.ping():
        raise RuntimeError("redis PING failed")


def check_chain():
    RPC.block_number()


def health():
    futures = {name: CHECKS.submit(fn) for name, fn in
               (("db", check_db), ("redis", check_redis), ("chain", check_chain))}
    checks, ok = {}, True
    for name, fut in futures.items():
        try:
            fut.result(timeout=8)
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001
            ok = False
            checks[name] = err_text(exc)
    if not ok:
        log.error("health check failed: %s", "; ".join("%s: %s" % (k, v) for k, v in checks.items() if v != "ok"))
        return 503, {"status": "error", "checks": checks}
    return 200, {"status": "ok", "checks": checks}


# ------------------------------------------------------------------ metrics
def metric_lines():
    st = current_status()
    pool = POOL.stats()
    rates = st["rates"] or {}

    def num(v):
        if v is None:
            return "NaN"
        if isinstance(v, bool):
            return "1" if v else "0"
        return repr(v) if isinstance(v, float) else str(int(v))

    rows = [
        ("usdx_indexer_last_indexed_block", "gauge", "Highest block number written to the blocks table.", st["last_indexed_block"]),
        ("usdx_indexer_chain_head_block", "gauge", "Latest block number reported by the chain RPC (last known).", st["chain_head"]),
        ("usdx_indexer_lag_blocks", "gauge", "chain head minus last indexed block.", st["lag_blocks"]),
        ("usdx_indexer_lag_seconds", "gauge", "Seconds since the timestamp of the last indexed block.", st["lag_seconds"]),
        ("usdx_db_pool_connections_in_use", "gauge", "API database pool connections checked out right now.", pool["in_use"]),
        ("usdx_db_pool_connections_open", "gauge", "API database pool connections open (in use + idle).", pool["open"]),
        ("usdx_db_pool_connections_max", "gauge", "API database pool size limit.", pool["max"]),
        ("usdx_db_pool_errors_total", "counter", "Failed connection attempts / broken pooled connections.", POOL.errors),
        ("usdx_indexer_paused", "gauge", "1 when usdx:paused is set (pause:contracts).", st["paused"]),
        ("usdx_maintenance_mode", "gauge", "1 when usdx:maintenance is set (maintenance:on).", st["maintenance"]),
        ("usdx_indexer_events_total", "counter", "Rows in the events table.", st["events_total"]),
        ("usdx_indexer_dependency_up", None, None, None),
        ("usdx_indexer_uptime_seconds", "gauge", "Seconds since the API process started.", round(time.time() - STARTED, 3)),
        ("usdx_indexer_indexed_blocks_per_second", "gauge",
         "Blocks indexed per second over the last usdx_indexer_rate_window_seconds (NaN when unknown).",
         rates.get("indexed_blocks_per_second")),
        ("usdx_indexer_chain_blocks_per_second", "gauge",
         "Chain head advance per second over the same window (NaN when unknown).", rates.get("chain_blocks_per_second")),
        ("usdx_indexer_catch_up_blocks_per_second", "gauge",
         "Indexed minus chain blocks per second: how fast the lag shrinks (NaN when unknown).",
         rates.get("catch_up_blocks_per_second")),
        ("usdx_indexer_rate_window_seconds", "gauge",
         "Seconds the three rates cover (from the worker's sample to this scrape; NaN when unknown).",
         rates.get("window_seconds")),
    ]
    out = ["# HELP usdx_indexer_release_info The release this API runs (label release) and the schema its code expects.",
           "# TYPE usdx_indexer_release_info gauge",
           'usdx_indexer_release_info{release="%s",schema="%d"} 1' % (RELEASE["name"], RELEASE["schema"])]
    for name, typ, help_text, value in rows:
        if name == "usdx_indexer_dependency_up":
            out.append("# HELP %s 1 when the last status query reached the dependency." % name)
            out.append("# TYPE %s gauge" % name)
            for dep in ("db", "redis", "chain"):
                out.append('%s{dependency="%s"} %s' % (name, dep, "0" if dep in st["errors"] else "1"))
            continue
        out.append("# HELP %s %s" % (name, help_text))
        out.append("# TYPE %s %s" % (name, typ))
        out.append("%s %s" % (name, num(value)))
    out += HTTP.lines()
    return "\n".join(out) + "\n"


def api_status():
    st = current_status()
    body = {k: st[k] for k in ("last_indexed_block", "chain_head", "lag_blocks", "lag_seconds", "paused",
                               "maintenance", "events_total", "worker")}
    body["errors"] = st["errors"]
    body["release"] = RELEASE["name"]
    return 200, body


def api_events(query):
    q = parse_qs(query)
    limit = max(1, min(500, int((q.get("limit") or ["50"])[0])))
    where, args = [], []
    if q.get("contract"):
        where.append("contract_address = %s")
        args.append(q["contract"][0].lower())
    if q.get("event"):
        where.append("event_name = %s")
        args.append(q["event"][0])
    if q.get("from_block"):
        where.append("block_number >= %s")
        args.append(int(q["from_block"][0]))
    sql = ("SELECT id, block_number, tx_hash, log_index, contract_address, event_name, from_address, to_address, "
           "amount::text, data FROM events %s ORDER BY block_number DESC, log_index DESC LIMIT %d"
           % (("WHERE " + " AND ".join(where)) if where else "", limit))
    try:
        rows = POOL.query(sql, args)
    except Exception as exc:  # noqa: BLE001
        log.error("GET /api/events failed: %s", err_text(exc))
        return 503, {"error": "database unavailable", "detail": err_text(exc)}
    keys = ("id", "block_number", "tx_hash", "log_index", "contract_address", "event_name", "from_address",
            "to_address", "amount", "data")
    return 200, {"events": [dict(zip(keys, r)) for r in rows], "count": len(rows)}


def db_unavailable(path, exc):
    log.error("GET %s failed: database unavailable: %s", path, err_text(exc))
    return 503, {"error": "database unavailable", "detail": err_text(exc)}


def api_listings(query):
    """The marketplace. A query the database rejects is a bug of the release: it propagates and is answered 500."""
    try:
        limit = int((parse_qs(query).get("limit") or ["20"])[0])
    except ValueError:
        return 400, {"error": "limit must be an integer"}
    try:
        items = marketplace.listings(POOL.query, max(1, min(100, limit)))
    except DB_OUTAGES as exc:
        return db_unavailable("/api/marketplace/listings", exc)
    return 200, {"listings": items, "count": len(items)}


def api_wallet(address):
    """What a wallet connection shows: balance and nonce from the chain, the address's vault deposits from the database."""
    if not ADDRESS_RE.match(address):
        return 400, {"error": "not an address (0x and 40 hex digits)", "address": address[:100]}
    address = address.lower()
    try:
        chain_id, head, balance, nonce = Rpc(timeout=3.0).batch([
            ("eth_chainId", []), ("eth_blockNumber", []), ("eth_getBalance", [address, "latest"]),
            ("eth_getTransactionCount", [address, "latest"])])
    except Exception as exc:  # noqa: BLE001 - any RPC failure: the chain cannot be read
        log.error("GET /api/wallet failed: chain RPC unavailable: %s", err_text(exc))
        return 503, {"error": "chain unavailable", "detail": err_text(exc)}
    try:
        deposits = marketplace.wallet_deposits(POOL.query, address)
    except DB_OUTAGES as exc:
        return db_unavailable("/api/wallet", exc)
    return 200, {"address": address, "chain_id": int(chain_id, 16), "block": int(head, 16),
                 "balance_wei": str(int(balance, 16)), "nonce": int(nonce, 16), "deposits": deposits}


def api_deposit(tx_hash):
    """One deposit, once the indexer wrote it; 404 until then."""
    if not TX_HASH_RE.match(tx_hash):
        return 400, {"error": "not a transaction hash (0x and 64 hex digits)", "tx_hash": tx_hash[:100]}
    try:
        found = marketplace.deposit(POOL.query, tx_hash.lower())
    except DB_OUTAGES as exc:
        return db_unavailable("/api/deposits", exc)
    if found is None:
        return 404, {"error": "deposit not indexed", "tx_hash": tx_hash.lower(),
                     "last_indexed_block": current_status()["last_indexed_block"]}
    return 200, found


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "usdx-indexer/1.0"

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="application/json"):
        data = (json.dumps(body) + "\n").encode() if ctype == "application/json" else body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        started = time.monotonic()
        code = 500  # an unexpected exception ends the request without an answer
        try:
            code = self.answer(urlparse(self.path).path)
        except (BrokenPipeError, ConnectionResetError):
            code = 499  # nginx's "client closed the connection": the answer could not be written
            self.close_connection = True
        finally:
            HTTP.observe(urlparse(self.path).path, code, time.monotonic() - started)
            access_log.record(self.headers, self.client_address[0], self.command, self.path, code, started)

    def answer(self, path):
        """Route and send one request; returns the status sent."""
        started = time.monotonic()
        try:
            if path == "/health":
                code, body = health()
                self.send(code, body)
            elif path == "/metrics":
                code = 200
                self.send(200, metric_lines(), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/api/status":
                code, body = api_status()
                self.send(code, body)
            elif path == "/api/events":
                code, body = api_events(urlparse(self.path).query)
                self.send(code, body)
            elif path == "/api/marketplace/listings":
                code, body = api_listings(urlparse(self.path).query)
                self.send(code, body)
            elif path.startswith("/api/wallet/"):
                code, body = api_wallet(path[len("/api/wallet/"):])
                self.send(code, body)
            elif path.startswith("/api/deposits/"):
                code, body = api_deposit(path[len("/api/deposits/"):])
                self.send(code, body)
            elif path in ("/", "/api"):
                code = 200
                self.send(200, {"service": "usdx-indexer", "release": RELEASE["name"],
                                "endpoints": ["/health", "/metrics", "/api/status", "/api/events", "/api/marketplace/listings",
                                              "/api/wallet/<address>", "/api/deposits/<tx_hash>"]})
            else:
                code = 404
                self.send(404, {"error": "not found", "path": path})
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as exc:  # noqa: BLE001
            log.error("GET %s failed: %s: %s", path, exc.__class__.__name__, err_text(exc))
            code = 500
            try:
                self.send(500, {"error": "internal error", "detail": err_text(exc)})
            except OSError:
                pass
        if path.startswith("/api"):
            log.info("GET %s %d %dms", path, code, (time.monotonic() - started) * 1000)
        return code

    do_HEAD = do_GET


def main():
    port = env_int("INDEXER_PORT", 3001)
    access_log.open()
    serve(port, Handler, log, "API %s listening on :%d (db %s, redis %s, rpc %s)", RELEASE["name"], port, env("DB_HOST", "db"),
          env("REDIS_URL", "redis://redis:6379/0"), RPC.url)


if __name__ == "__main__":
    main()
