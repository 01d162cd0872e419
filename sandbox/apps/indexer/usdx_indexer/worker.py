"""Indexing worker: polls the chain and writes blocks + events rows in batches."""
import collections
import json
import os
import signal
import sys
import time
from datetime import datetime, timezone

import psycopg2
import psycopg2.extras

from usdx_common import (PAUSED_KEY, PROGRESS_KEY, WORKER_KEY, Logger, Rpc, env, env_float, env_int, err_text,
                         db_connect, redis_client)
from usdx_indexer import LOG_FILE_DEFAULT
from usdx_indexer.status import RATE_WINDOW

log = Logger("worker", env("INDEXER_LOG_FILE", LOG_FILE_DEFAULT))

BATCH = env_int("INDEXER_BATCH_SIZE", 25)
POLL = env_float("INDEXER_POLL_INTERVAL", 1.0)
LAG_LOG_EVERY = env_float("INDEXER_LAG_LOG_INTERVAL", 5.0)
LAG_WARN = env_int("INDEXER_LAG_WARN_BLOCKS", 10)
START_BLOCK = env_int("INDEXER_START_BLOCK", 0)
SAMPLE_EVERY = 0.5  # seconds between two progress samples
EVENT_NAMES = {
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef": "Transfer",
    "0xe1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c": "Deposit",
}


class Worker:
    def __init__(self):
        self.rpc = Rpc(timeout=5.0)
        self.redis = redis_client()
        self.conn = None
        self.last_block = None
        self.head = None
        self.next_lag_log = 0.0
        self.failures = {}
        self.paused_logged = False
        self.progress = collections.deque()

    # ------------------------------------------------------------ helpers
    def fail(self, what, exc):
        """Log a dependency failure (every time, with backoff applied by the caller)."""
        n = self.failures.get(what, 0) + 1
        self.failures[what] = n
        log.error("%s error (attempt %d): %s", what, n, err_text(exc))
        return min(5.0, 0.5 * 2 ** min(n, 4))

    def recovered(self, what):
        if self.failures.pop(what, 0):
            log.info("%s connection restored", what)

    def db(self):
        if self.conn is None or self.conn.closed:
            self.conn = db_connect("usdx-indexer-worker", connect_timeout=5)
            self.conn.autocommit = False
        return self.conn

    def drop_db(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    def heartbeat(self, state):
        try:
            self.redis.hset(WORKER_KEY, mapping={"pid": os.getpid(), "state": state, "heartbeat": time.time(),
                                                 "last_block": -1 if self.last_block is None else self.last_block,
                                                 "head": -1 if self.head is None else self.head})
            self.redis.expire(WORKER_KEY, 60)
            self.recovered("redis")
        except Exception as exc:  # noqa: BLE001
            return self.fail("redis", exc)
        return 0

    def paused(self):
        try:
            value = self.redis.get(PAUSED_KEY)
            self.recovered("redis")
            return value == "1"
        except Exception as exc:  # noqa: BLE001
            self.fail("redis", exc)
            return False  # fail open: keep indexing when the flag cannot be read

    def lag_log(self, force=False):
        now = time.monotonic()
        if not force and now < self.next_lag_log:
            return
        self.next_lag_log = now + LAG_LOG_EVERY
        if self.head is None:
            return
        lag = max(0, self.head - (self.last_block if self.last_block is not None else START_BLOCK - 1))
        level = "WARN" if lag >= LAG_WARN else "INFO"
        log.log(level, "indexer lag %d blocks (last indexed %s, chain head %d)", lag, "none" if self.last_block is None else self.last_block, self.head)

    def sample(self):
        """Record and publish (time, last indexed block, chain head) for the API's rate metrics (status.rates()).

        Kept: samples at least SAMPLE_EVERY apart (the newest replaces a younger one), from the newest one older
        than the rate window on. Published at once, in a key that outlives the heartbeat, so that after the worker
        stopped the API still measures from its real last state.
        """
        now = time.time()
        if self.last_block is None or self.head is None:
            return
        if len(self.progress) >= 2 and now - self.progress[-2][0] < SAMPLE_EVERY:
            self.progress[-1] = (round(now, 3), self.last_block, self.head)
        else:
            self.progress.append((round(now, 3), self.last_block, self.head))
        while len(self.progress) > 1 and self.progress[1][0] <= now - RATE_WINDOW:
            self.progress.popleft()
        try:
            self.redis.set(PROGRESS_KEY, json.dumps(list(self.progress)), ex=3600)
        except Exception:  # noqa: BLE001 - the heartbeat reports Redis failures; the rates are then NaN
            pass

    # ------------------------------------------------------------ indexing
    def load_last_block(self):
        with self.db().cursor() as cur:
            cur.execute("SELECT max(number) FROM blocks")
            self.last_block = cur.fetchone()[0]
        self.db().commit()

    def index_range(self, frm, to):
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in range(frm, to + 1)]
        calls.append(("eth_getLogs", [{"fromBlock": hex(frm), "toBlock": hex(to)}]))
        results = self.rpc.batch(calls)
        blocks, logs = results[:-1], results[-1]
        block_rows = []
        for b in blocks:
            if b is None:
                raise RuntimeError("chain returned no block in range %d..%d" % (frm, to))
            block_rows.append((int(b["number"], 16), b["hash"], b["parentHash"],
                               datetime.fromtimestamp(int(b["timestamp"], 16), timezone.utc), len(b["transactions"])))
        event_rows = []
        for e in logs:
            topics = e["topics"]
            name = EVENT_NAMES.get(topics[0] if topics else "", "Unknown")
            frm_addr = "0x" + topics[1][-40:] if len(topics) > 1 else None
            to_addr = "0x" + topics[2][-40:] if len(topics) > 2 else None
            event_rows.append((int(e["blockNumber"], 16), e["blockHash"], e["transactionHash"], int(e["logIndex"], 16),
                               e["address"], name, topics, e["data"], frm_addr, to_addr, int(e["data"], 16)))
        conn = self.db()
        try:
            with conn.cursor() as cur:
                psycopg2.extras.execute_values(
                    cur, "INSERT INTO blocks (number, hash, parent_hash, timestamp, tx_count) VALUES %s", block_rows)
                if event_rows:
                    psycopg2.extras.execute_values(
                        cur, "INSERT INTO events (block_number, block_hash, tx_hash, log_index, contract_address, "
                             "event_name, topics, data, from_address, to_address, amount) VALUES %s", event_rows)
            conn.commit()
        except Exception:
            try:
                conn.rollback()
            except Exception:
                pass
            raise
        self.last_block = to
        log.debug("indexed blocks %d..%d (%d events)", frm, to, len(event_rows))
        return len(event_rows)

    def step(self):
        """One iteration; returns seconds to sleep."""
        delay = self.heartbeat("running")
        if not delay and self.paused():
            if not self.paused_logged:
                log.warn("indexing paused (%s=1): not processing new blocks", PAUSED_KEY)
                self.paused_logged = True
            self.heartbeat("paused")
            return POLL
        if self.paused_logged:
            log.info("indexing resumed")
            self.paused_logged = False
        try:
            self.head = self.rpc.block_number()
            self.recovered("chain RPC")
        except Exception as exc:  # noqa: BLE001
            return self.fail("chain RPC", exc)
        try:
            if self.last_block is None:
                self.load_last_block()
            self.recovered("database")
        except psycopg2.Error as exc:
            self.drop_db()
            return self.fail("database", exc)
        self.lag_log()
        nxt = START_BLOCK if self.last_block is None else self.last_block + 1
        if nxt > self.head:
            self.sample()
            return max(delay, POLL)
        to = min(nxt + BATCH - 1, self.head)
        try:
            self.index_range(nxt, to)
            self.recovered("database")
            self.recovered("chain RPC")
            self.sample()
        except psycopg2.IntegrityError as exc:
            log.error("duplicate data while indexing blocks %d..%d: %s", nxt, to, err_text(exc))
            self.last_block = None  # re-read the high-water mark from the database
            return POLL
        except psycopg2.Error as exc:
            self.drop_db()
            self.last_block = None
            return self.fail("database", exc)
        except Exception as exc:  # noqa: BLE001 - RPC/network/decoding errors
            return self.fail("chain RPC", exc)
        return max(delay, 0.05 if to < self.head else POLL)

    def run(self):
        log.info("worker started (pid %d, batch %d, poll %.1fs, rpc %s)", os.getpid(), BATCH, POLL, self.rpc.url)
        while True:
            try:
                delay = self.step()
            except Exception as exc:  # noqa: BLE001 - never die silently
                log.error("unexpected worker error: %s: %s", exc.__class__.__name__, err_text(exc))
                delay = 2.0
            time.sleep(delay)


def main():
    def stop(signum, _frame):
        log.info("worker received %s, shutting down", signal.Signals(signum).name)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        Worker().run()
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001
        log.fatal("worker crashed: %s: %s", exc.__class__.__name__, err_text(exc))
        raise


if __name__ == "__main__":
    main()
