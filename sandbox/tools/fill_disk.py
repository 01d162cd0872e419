#!/usr/bin/env python
"""disk-full fault helper: fills the sandbox data filesystem with realistic, back-dated files.

Runs inside a throw-away container with the data filesystem at /data. Creates
  log/indexer-YYYY-MM-DD.log, log/webapp-YYYY-MM-DD.log   old (mtime 35-80 days) and recent (1-4 days)
  backups/usdx_wexel-YYYY-MM-DD.sql.gz                    old (mtime 65-120 days) and recent (7, 14 days)
until the filesystem is at least --target percent used, and appends every path it created
(relative to /data) to --manifest. Existing files (the newest real backup) are never touched.
"""
import argparse
import gzip
import os
import random
import time

DAY = 86400
ROWS_PER_CHUNK = 2000
# One row of the dumped events table: an ERC-20 Transfer of the USDX contract.
EVENT_ROW = ("%d\t%d\t0x%s\t0x%s\t%d\t0x5d3a1ff2b6bab83b63cd9ad0787074081a52ef34\tTransfer\t"
             "{0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef,0x%s}\t"
             "0x%064x\t0x%s\t0x%s\t%d\t2026-01-01 00:00:00+00\n")


def usage(path):
    st = os.statvfs(path)
    size = st.f_blocks * st.f_frsize
    return size, size - st.f_bavail * st.f_frsize


def stamp(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + ".%03dZ" % int((ts % 1) * 1000)


LOG_TEMPLATES = {
    "indexer": [
        ("INFO", "worker", "indexer lag {a} blocks (last indexed {b}, chain head {c})"),
        ("INFO", "api", "GET /api/status 200 {a}ms"),
        ("INFO", "api", "GET /api/events?limit=50 200 {a}ms"),
        ("DEBUG", "worker", "indexed blocks {b}..{c} ({a} events)"),
        ("WARN", "worker", "indexer lag {a} blocks (last indexed {b}, chain head {c})"),
        ("ERROR", "worker", "chain RPC error (attempt 1): <urlopen error timed out>"),
    ],
    "webapp": [
        ("INFO", "webapp", "GET / 200 {a}ms"),
        ("INFO", "webapp", "GET /api/status 200 {a}ms"),
        ("INFO", "webapp", "GET /api/events?limit=10 200 {a}ms"),
        ("ERROR", "webapp", "proxy GET /api/status -> http://indexer:3001/api/status failed: timed out"),
    ],
}


def write_log(path, kind, day_start, size):
    rng = random.Random(path)
    templates = LOG_TEMPLATES[kind]
    weights = [60, 20, 10, 8, 2, 1][:len(templates)]
    ts, block, written = day_start, rng.randint(18_000_000, 19_000_000), 0
    step = DAY / max(1, size // 95)
    with open(path, "w") as fh:
        buf = []
        while written < size:
            level, comp, msg = rng.choices(templates, weights)[0]
            block += 1
            line = "%s %s [%s] %s\n" % (stamp(ts), level, comp, msg.format(a=rng.randint(0, 40), b=block, c=block + rng.randint(0, 3)))
            buf.append(line)
            written += len(line)
            ts += step
            if len(buf) >= 5000:
                fh.write("".join(buf))
                buf = []
        fh.write("".join(buf))


def write_backup(path, day_start, size):
    rng = random.Random(path)
    header = ("--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.10 (Debian 15.10-0+deb12u1)\n"
              "-- Dumped by pg_dump version 15.10 (Debian 15.10-0+deb12u1)\n-- Started on %s\n\n"
              "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n"
              "COPY public.events (id, block_number, block_hash, tx_hash, log_index, contract_address, event_name, "
              "topics, data, from_address, to_address, amount, indexed_at) FROM stdin;\n"
              % time.strftime("%Y-%m-%d 03:00:01 UTC", time.gmtime(day_start)))
    # level 0 = stored blocks: a valid .sql.gz whose size matches the dump (tmpfs has no compression anyway)
    with gzip.open(path, "wb", compresslevel=0) as fh:
        fh.write(header.encode())
        written, row = len(header), rng.randint(1, 1000)
        while written < size:
            lines = []
            for _row_in_chunk in range(ROWS_PER_CHUNK):
                row += 1
                h1, h2, who = "%064x" % rng.getrandbits(256), "%064x" % rng.getrandbits(256), "%040x" % rng.getrandbits(160)
                lines.append(EVENT_ROW % (row, 18_000_000 + row // 3, h1, h2, row % 7, who.rjust(64, "0"), row * 1000, who, who[::-1], row * 1000))
            chunk = "".join(lines).encode()
            fh.write(chunk)
            written += len(chunk)
        fh.write(b"\\.\n\n--\n-- PostgreSQL database dump complete\n--\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/data")
    ap.add_argument("--target", type=float, default=96.0)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--now", type=float, default=time.time())
    args = ap.parse_args()

    size, used = usage(args.data)
    goal = int(size * args.target / 100) + 512 * 1024
    need = goal - used
    if need <= 0:
        print("already at %.1f%%" % (100.0 * used / size))
        return
    today = args.now - args.now % DAY
    plan = []  # (relpath, kind, day_start, share)
    # The recent files first: they are what a clean-up must keep (the newest 3 backups among them), and the loop
    # below stops at the goal, which the database's own growth while it runs can bring forward; only old
    # files are then left out.
    for days in range(1, 5):                               # recent logs: 1..4 days
        plan.append(("log/indexer-%s.log" % time.strftime("%Y-%m-%d", time.gmtime(today - days * DAY)), "indexer", days, 0.10 / 4))
    for days in (7, 14):                                   # recent backups (< 60 days, kept by cleanup)
        plan.append(("backups/usdx_wexel-%s.sql.gz" % time.strftime("%Y-%m-%d", time.gmtime(today - days * DAY)), "backup", days, 0.05 / 2))
    for i, days in enumerate(range(35, 81, 5)):           # old logs: 35..80 days
        plan.append(("log/indexer-%s.log" % time.strftime("%Y-%m-%d", time.gmtime(today - days * DAY)), "indexer", days, 0.30 / 10 * (1.2 if i % 2 else 0.8)))
        plan.append(("log/webapp-%s.log" % time.strftime("%Y-%m-%d", time.gmtime(today - days * DAY)), "webapp", days, 0.05 / 10))
    for days in range(65, 121, 11):                        # old backups: 65..120 days
        plan.append(("backups/usdx_wexel-%s.sql.gz" % time.strftime("%Y-%m-%d", time.gmtime(today - days * DAY)), "backup", days, 0.45 / 6))
    total_share = sum(p[3] for p in plan)

    created = []
    with open(args.manifest, "a") as manifest:
        for rel, kind, days, share in plan:
            path = os.path.join(args.data, rel)
            if os.path.exists(path):
                continue
            used = usage(args.data)[1]
            left = goal - used
            if left <= 0:
                break
            nbytes = max(64 * 1024, min(left, int(need * share / total_share)))
            day_start = today - days * DAY
            manifest.write(rel + "\n")
            manifest.flush()
            if kind == "backup":
                write_backup(path, day_start, nbytes)
                mtime = day_start + 3 * 3600 + 120
            else:
                write_log(path, kind, day_start, nbytes)
                mtime = day_start + DAY - 1
            parent = os.stat(os.path.dirname(path))
            os.chown(path, parent.st_uid, parent.st_gid)
            os.utime(path, (mtime, mtime))
            created.append(rel)
        # top up with one more recent log if rounding left us short
        used = usage(args.data)[1]
        if used < goal:
            rel = "log/indexer-%s.log.1" % time.strftime("%Y-%m-%d", time.gmtime(today - DAY))
            rel = rel.replace(".log.1", "-1.log")
            manifest.write(rel + "\n")
            manifest.flush()
            path = os.path.join(args.data, rel)
            write_log(path, "indexer", today - DAY, goal - used)
            os.utime(path, (today - 1, today - 1))
            created.append(rel)
    size, used = usage(args.data)
    print("%d files, %.1f%% used" % (len(created), 100.0 * used / size))


if __name__ == "__main__":
    main()
