"""Status gathering shared by the HTTP API and the npm CLI."""
import json
import time

from usdx_common import MAINTENANCE_KEY, PAUSED_KEY, PROGRESS_KEY, WORKER_KEY, env_float, err_text

RATE_WINDOW = env_float("INDEXER_RATE_WINDOW_SECONDS", 10.0)


def gather(query, redis_conn, rpc, log=None):
    """query(sql) -> rows. Returns a dict; unreachable parts carry an error string."""
    st = {"last_indexed_block": None, "last_indexed_block_time": None, "chain_head": None,
          "lag_blocks": None, "lag_seconds": None, "paused": None, "maintenance": None,
          "events_total": None, "worker": None, "rates": None, "errors": {}}
    now = time.time()
    progress = None
    try:
        rows = query("SELECT b.number, extract(epoch FROM b.timestamp)::float8, "
                     "(SELECT count(*) FROM events) FROM blocks b ORDER BY b.number DESC LIMIT 1")
        if rows:
            st["last_indexed_block"], st["last_indexed_block_time"], st["events_total"] = rows[0]
        else:
            st["events_total"] = 0
    except Exception as exc:  # noqa: BLE001 - report any db failure
        st["errors"]["db"] = err_text(exc)
    try:
        st["chain_head"] = rpc.block_number()
    except Exception as exc:  # noqa: BLE001
        st["errors"]["chain"] = err_text(exc)
    try:
        pipe = redis_conn.pipeline()
        pipe.get(PAUSED_KEY)
        pipe.get(MAINTENANCE_KEY)
        pipe.hgetall(WORKER_KEY)
        pipe.get(PROGRESS_KEY)
        paused, maint, worker, progress = pipe.execute()
        st["paused"] = paused == "1"
        st["maintenance"] = maint == "1"
        if worker:
            st["worker"] = {"pid": int(worker.get("pid", 0)), "state": worker.get("state"),
                            "heartbeat_age_seconds": round(time.time() - float(worker.get("heartbeat", 0)), 3)}
    except Exception as exc:  # noqa: BLE001
        st["errors"]["redis"] = err_text(exc)
    compute_lag(st)
    if "db" not in st["errors"] and "chain" not in st["errors"]:
        st["rates"] = rates(progress, now, st["last_indexed_block"], st["chain_head"])
    return st


def rates(progress, now, last_block, head, window=RATE_WINDOW):
    """Indexing and chain speed, in blocks per second, from the worker's samples to this reading.

    The start is the newest sample at least `window` seconds old (the oldest one while the worker is younger
    than that); the end is `now` with the block and head just read. A worker that stopped or paused made no
    samples since, so its indexed rate falls to 0 instead of keeping its last value. None without a usable sample.
    """
    try:
        samples = [(float(t), int(b), int(h)) for t, b, h in json.loads(progress or "[]") if b is not None]
    except (TypeError, ValueError):
        return None
    older = [s for s in samples if s[0] <= now - window]
    start = older[-1] if older else (samples[0] if samples else None)
    if start is None or last_block is None or head is None or now - start[0] < 1.0:
        return None
    seconds = now - start[0]
    indexed = round((last_block - start[1]) / seconds, 3)
    chain = round((head - start[2]) / seconds, 3)
    if indexed < 0 or chain < 0:  # the database or the chain was reset since the sample
        return None
    return {"indexed_blocks_per_second": indexed, "chain_blocks_per_second": chain,
            "catch_up_blocks_per_second": round(indexed - chain, 3), "window_seconds": round(seconds, 3)}


def compute_lag(st, head=None):
    head = st["chain_head"] if head is None else head
    last = st["last_indexed_block"]
    if head is not None:
        st["lag_blocks"] = max(0, head - (last if last is not None else -1))
    if st["last_indexed_block_time"] is not None:
        st["lag_seconds"] = round(max(0.0, time.time() - st["last_indexed_block_time"]), 3)
