"""A tiny thread-safe PostgreSQL connection pool with in-use accounting."""
import threading
import time

import psycopg2

from usdx_common import db_connect


class PoolTimeout(Exception):
    pass


class Pool:
    def __init__(self, max_size, application_name, acquire_timeout=3.0):
        self.max_size = max_size
        self.application_name = application_name
        self.acquire_timeout = acquire_timeout
        self._idle = []
        self._open = 0
        self._in_use = 0
        self.errors = 0
        self._cond = threading.Condition()

    def stats(self):
        with self._cond:
            return {"in_use": self._in_use, "open": self._open, "idle": len(self._idle), "max": self.max_size}

    def _acquire(self):
        deadline = time.monotonic() + self.acquire_timeout
        with self._cond:
            while True:
                if self._idle:
                    conn = self._idle.pop()
                    self._in_use += 1
                    return conn
                if self._open < self.max_size:
                    self._open += 1
                    self._in_use += 1
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PoolTimeout("timeout acquiring a connection: pool of %d exhausted" % self.max_size)
                self._cond.wait(left)
        try:
            conn = db_connect(self.application_name)
            conn.autocommit = True
            return conn
        except Exception:
            with self._cond:
                self._open -= 1
                self._in_use -= 1
                self.errors += 1
                self._cond.notify()
            raise

    def _release(self, conn, broken):
        with self._cond:
            self._in_use -= 1
            if broken or conn.closed:
                self._open -= 1
                try:
                    conn.close()
                except Exception:
                    pass
            else:
                self._idle.append(conn)
            self._cond.notify()

    def query(self, sql, args=None, retry=True):
        """Run one statement, return all rows. Retries once on a dead pooled connection."""
        conn = self._acquire()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                rows = cur.fetchall() if cur.description else []
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            self._release(conn, broken=True)
            with self._cond:
                self.errors += 1
            if retry:
                return self.query(sql, args, retry=False)
            raise
        except Exception:
            self._release(conn, broken=conn.closed != 0)
            raise
        self._release(conn, broken=False)
        return rows
