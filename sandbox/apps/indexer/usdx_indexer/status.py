"""Status gathering shared by the HTTP API and the npm CLI."""
import time

from usdx_common import MAINTENANCE_KEY, PAUSED_KEY, WORKER_KEY, err_text


def gather(query, redis_conn, rpc, log=None):
    """query(sql) -> rows. Returns a dict; unreachable parts carry an error string."""
    st = {"last_indexed_block": None, "last_indexed_block_time": None, "chain_head": None,
          "lag_blocks": None, "lag_seconds": None, "paused": None, "maintenance": None,
          "events_total": None, "worker": None, "errors": {}}
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
        paused, maint, worker = pipe.execute()
        st["paused"] = paused == "1"
        st["maintenance"] = maint == "1"
        if worker:
            st["worker"] = {"pid": int(worker.get("pid", 0)), "state": worker.get("state"),
                            "heartbeat_age_seconds": round(time.time() - float(worker.get("heartbeat", 0)), 3)}
    except Exception as exc:  # noqa: BLE001
        st["errors"]["redis"] = err_text(exc)
    compute_lag(st)
    return st


def compute_lag(st, head=None):
    head = st["chain_head"] if head is None else head
    last = st["last_indexed_block"]
    if head is not None:
        st["lag_blocks"] = max(0, head - (last if last is not None else -1))
    if st["last_indexed_block_time"] is not None:
        st["lag_seconds"] = round(max(0.0, time.time() - st["last_indexed_block_time"]), 3)
