#!/usr/bin/env python3
"""Where SQLite's WAL checkpoint runs, and what that does to commit latency.

PromptLab opens its SQLite connections with `wal_autocheckpoint=0` and checkpoints from a
task of its own every 500 ms (`store::checkpoints`). This measures why, with the same
database settings (WAL, synchronous=NORMAL) and a run-like write pattern (one insert and
one update per run, ~1 kB rows, two secondary indexes), through Python's sqlite3:

- SQLite's default: the commit that crosses 1,000 WAL pages copies them all into the
  database file before it returns;
- automatic checkpoints off, a PASSIVE checkpoint every 500 ms from another connection.

Usage: python3 bench/wal-checkpoint.py [runs]   (default 20000; about 15 s per setting)
       INTERVAL=0.1 python3 bench/wal-checkpoint.py   (another checkpoint period, seconds)

Each setting is measured twice, alternating. Seen on the 2-core bench machine: p99.9
4.5-7 ms with SQLite's default against 0.3-0.8 ms with the task, p99 ~270 µs against
~160 µs; p50 ~45 µs against ~65 µs, and the worst single run was sometimes worse with the
task (9-53 ms once, against 6-8 ms). A 100 ms period was worse than 500 ms (p99.9 1.4-2.5 ms).
"""
import os
import sqlite3
import sys
import tempfile
import threading
import time

INTERVAL = float(os.environ.get("INTERVAL", "0.5"))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20000


def measure(auto, background, path):
    c = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=NORMAL")
    c.execute(f"PRAGMA wal_autocheckpoint={auto}")
    c.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, k TEXT, status TEXT, output TEXT, msgs TEXT)")
    c.execute("CREATE INDEX runs_k ON runs(k)")
    c.execute("CREATE INDEX runs_status_k ON runs(status, k)")
    stop = threading.Event()

    def checkpointer():
        c2 = sqlite3.connect(path, isolation_level=None)
        c2.execute(f"PRAGMA wal_autocheckpoint={auto}")
        while not stop.wait(INTERVAL):
            c2.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    t = threading.Thread(target=checkpointer) if background else None
    if t:
        t.start()
    lat = []
    for _ in range(RUNS):
        rid = os.urandom(16).hex()
        t0 = time.perf_counter()
        c.execute("INSERT INTO runs VALUES (?,?,?,?,?)", (rid, os.urandom(32).hex(), "running", "", "x" * 600))
        c.execute("UPDATE runs SET status='succeeded', output=? WHERE id=?", ("y" * 400, rid))
        lat.append((time.perf_counter() - t0) * 1e6)
        time.sleep(0.0002)
    stop.set()
    if t:
        t.join()
    lat.sort()
    q = lambda p: lat[int(p * len(lat)) - 1]
    return f"| {f'off, every {INTERVAL:g} s in a task' if background else 'SQLite default (1,000 pages)'} | {q(.5):.0f} | {q(.99):.0f} | {q(.999):.0f} | {lat[-1]:.0f} |"


def main():
    print(f"{RUNS} runs (insert + update, each its own commit), µs per run:\n")
    print("| automatic checkpoint | p50 | p99 | p99.9 | max |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        for n, (auto, bg) in enumerate([(1000, False), (0, True), (1000, False), (0, True)]):
            print(measure(auto, bg, os.path.join(d, f"{n}.db")), flush=True)


if __name__ == "__main__":
    main()
