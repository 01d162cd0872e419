"""Operator CLI behind the npm scripts (pause:contracts, maintenance:on, indexer:status, rpc:ping, ...)."""
import json
import os
import sys
import time

from usdx_common import MAINTENANCE_KEY, PAUSED_KEY, Logger, Rpc, db_connect, env, err_text, redis_client
from usdx_indexer import LOG_FILE_DEFAULT, status

# log lines go to stderr (and the log file) so stdout stays pure JSON
log = Logger("cli", env("INDEXER_LOG_FILE", LOG_FILE_DEFAULT), stream=sys.stderr)
PROC_STATES = {"R": "running", "S": "sleeping", "D": "disk-sleep", "T": "stopped", "t": "tracing-stop", "Z": "zombie"}


def worker_processes():
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open("/proc/%s/stat" % pid) as fh:
                state = fh.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "usdx-indexer-worker" in cmd and "python" in cmd:
            found.append({"pid": int(pid), "state": PROC_STATES.get(state, state), "cmdline": cmd})
    return found


def set_flag(key, on, what):
    try:
        r = redis_client()
        if on:
            r.set(key, "1")
        else:
            r.delete(key)
    except Exception as exc:  # noqa: BLE001
        log.error("%s failed: redis error: %s", what, err_text(exc))
        print(json.dumps({"ok": False, "action": what, "error": err_text(exc)}))
        return 1
    log.warn("%s: %s %s (by operator)", what, key, "set to 1" if on else "cleared")
    print(json.dumps({"ok": True, "action": what, "key": key, "value": "1" if on else None}))
    return 0


def cmd_status():
    conn = None

    def query(sql):
        nonlocal conn
        if conn is None:
            conn = db_connect("usdx-indexer-cli")
            conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    st = status.gather(query, redis_client(), Rpc(timeout=3.0))
    if conn is not None:
        conn.close()
    st.pop("last_indexed_block_time", None)
    st["worker_processes"] = worker_processes()
    st["healthy"] = not st["errors"] and any(p["state"] != "stopped" for p in st["worker_processes"])
    print(json.dumps(st, indent=2))
    return 0


def cmd_rpc_ping():
    rpc = Rpc(timeout=3.0)
    started = time.monotonic()
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
        head = rpc.block_number()
    except Exception as exc:  # noqa: BLE001
        text = err_text(exc)
        log.error("rpc:ping %s failed: %s", rpc.url, text)
        print(json.dumps({"ok": False, "url": rpc.url, "error": text}))
        return 1
    out = {"ok": True, "url": rpc.url, "chain_id": chain_id, "block_number": head,
           "latency_ms": round((time.monotonic() - started) * 1000, 1)}
    print(json.dumps(out))
    return 0


COMMANDS = {
    "pause": lambda: set_flag(PAUSED_KEY, True, "pause:contracts"),
    "unpause": lambda: set_flag(PAUSED_KEY, False, "unpause:contracts"),
    "maintenance-on": lambda: set_flag(MAINTENANCE_KEY, True, "maintenance:on"),
    "maintenance-off": lambda: set_flag(MAINTENANCE_KEY, False, "maintenance:off"),
    "status": cmd_status,
    "rpc-ping": cmd_rpc_ping,
}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print("usage: usdx-indexer-cli {%s}" % ",".join(COMMANDS), file=sys.stderr)
        return 2
    return COMMANDS[argv[0]]()


if __name__ == "__main__":
    sys.exit(main())
