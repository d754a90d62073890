#!/usr/bin/env python3
"""Does an fsync on this machine stop a thread on another CPU?

One process, kept on CPU 0, spins reading the clock and records every gap between two
reads longer than 0.5 ms (time it was not running). It spins alone first (the control;
the page cache is flushed before each phase, so the kernel's own writeback does not land
in it), then while a second process, kept on CPU 1, rewrites 4 MB of a file every 0.5 s
and fsyncs it, as SQLite's WAL checkpoint syncs under load. If disk flushes stalled the
whole machine (as some virtual disks might), the second phase would show gaps the first
does not. On the 2-core VM of the round that wrote this, it did not: the checkpoint's
share of the run path's tail comes through the CPUs the server's threads share, not a
stall of the machine (bench/ANALYSIS.md, "The WAL checkpoint and the tail").

    python3 bench/fsync-stall.py [--seconds 20] [--dir DIR]

DIR is where the file is written (default: the current directory, which should be on
the disk the server's database would use). Prints one Markdown table.
"""
import argparse
import multiprocessing
import os
import time

GAP = 0.0005  # seconds: a clock read this much after the previous one is a gap


def pin(cpu):
    """Keep the calling process on one CPU (of two or more): the spinner and the writer
    never share one, so a gap is not the writer's own CPU time."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


def spin(seconds, ready, out):
    pin(0)
    ready.wait()
    end = time.perf_counter() + seconds
    last = time.perf_counter()
    gaps = []
    while True:
        now = time.perf_counter()
        if now > end:
            break
        if now - last > GAP:
            gaps.append(now - last)
        last = now
    out.put(gaps)


def rewrite(seconds, path, sync, ready, out):
    pin(1)
    took = []
    if not sync:
        ready.set()
        out.put(took)
        return
    block = os.urandom(4096 * 1000)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    ready.set()  # both processes are up: the spinner's clock starts now
    end = time.time() + seconds
    try:
        while time.time() < end:
            os.pwrite(fd, block, 0)
            t = time.perf_counter()
            os.fsync(fd)
            took.append(time.perf_counter() - t)
            time.sleep(0.5)
    finally:
        os.close(fd)
    out.put(took)


def phase(seconds, path, sync):
    os.sync()
    time.sleep(1)
    gaps, syncs = multiprocessing.Queue(), multiprocessing.Queue()
    ready = multiprocessing.Event()
    spinner = multiprocessing.Process(target=spin, args=(seconds, ready, gaps))
    writer = multiprocessing.Process(target=rewrite, args=(seconds, path, sync, ready, syncs))
    spinner.start()
    writer.start()
    g, s = gaps.get(), syncs.get()
    spinner.join()
    writer.join()
    return sorted(g), sorted(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--dir", default=".")
    a = ap.parse_args()
    path = os.path.join(a.dir, f".fsync-stall-{os.getpid()}.bin")
    print(f"Machine: {os.cpu_count()} CPUs; file in `{os.path.abspath(a.dir)}`; "
          f"{a.seconds:g} s per phase.\n")
    print("| phase | fsyncs | fsync p50 ms | fsync max ms | spinner gaps > 0.5 ms | > 1 ms | > 2 ms | longest gap ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for name, sync in (("spinning alone (control)", False), ("4 MB rewrite + fsync every 0.5 s", True)):
            gaps, syncs = phase(a.seconds, path, sync)
            p50 = syncs[len(syncs) // 2] * 1e3 if syncs else 0
            print(f"| {name} | {len(syncs)} | {p50:.2f} | {max(syncs, default=0) * 1e3:.2f} | "
                  f"{len(gaps)} | {sum(g > 0.001 for g in gaps)} | {sum(g > 0.002 for g in gaps)} | "
                  f"{max(gaps, default=0) * 1e3:.2f} |")
    finally:
        if os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":
    main()
