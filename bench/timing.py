#!/usr/bin/env python3
"""Sum up the run path's timing events in a server log (BENCH_SERVER_LOG=<file>).

The server logs, under `promptlab::timing` at debug level, each run's insert
("run inserted", write_us), its final write ("final state written", write_us) and the
end of the run from the provider's last event to `succeeded` told ("run ended and told",
finish_us), the writer's batches ("writer batch", exec_us), and the reads before a run's
provider request: the session ("session read", read_us), then the prompt, the lookup by
key and the whole start up to the provider request ("run start read": prompt_us,
lookup_us, opened_us), and from the provider request's sending to its first text parsed
("first token", ttft_us), and the WAL checkpoints (frames, copied, checkpoint_us). Prints
p10/p50/p90/p99 of each in microseconds; then, when the log has checkpoints, how many of
each kind's slowest 1 % overlapped a checkpoint, against how many of all of them did (each
event is logged as it ends, so it spans its duration back from its timestamp); then the
WAL frames the writer's batches wrote per run (wal_frames: the log's length after each).

    python3 bench/timing.py server.log [more.log ...]
"""
import bisect
import datetime
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
EVENTS = {
    "run inserted": ("insert", "write_us"),
    "final state written": ("final write", "write_us"),
    "run ended and told": ("end of run", "finish_us"),
    "writer batch": ("in SQLite", "exec_us"),
    "session read": ("session", "read_us"),
    "run start read": ("prompt", "prompt_us"),
    "first token": ("first token", "ttft_us"),
    "checkpoint frames=": ("checkpoint", "checkpoint_us"),
}
# Further fields of an event already matched above: (message, name, field).
MORE = [
    ("run start read", "same key", "lookup_us"),
    ("run start read", "to request", "opened_us"),
]


def pct(values, q):
    return values[min(len(values) - 1, int(q * len(values)))]


STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z")


def seconds(line):
    m = STAMP.match(line)
    if not m:
        return None
    return datetime.datetime.fromisoformat(m.group(1)).timestamp()


def overlaps(spans, start, end):
    """True when [start, end] meets one of `spans` (sorted by start, non-overlapping)."""
    i = bisect.bisect_right(spans, (end, float("inf"))) - 1
    return i >= 0 and spans[i][1] >= start


def during_checkpoints(timed):
    spans = sorted((t - us / 1e6, t) for t, us in timed.get("checkpoint", []))
    if not spans:
        return
    print("  during a WAL checkpoint (slowest 1 % / all):")
    for name, events in timed.items():
        if name == "checkpoint" or len(events) < 100:
            continue
        cut = pct(sorted(us for _, us in events), .99)
        slow = [(t, us) for t, us in events if us > cut]
        hit = lambda evs: sum(overlaps(spans, t - us / 1e6, t) for t, us in evs)
        print(
            f"    {name:12} {hit(slow):5} of {len(slow):5} ({100 * hit(slow) / max(1, len(slow)):4.1f} %)"
            f" / {100 * hit(events) / len(events):4.1f} % of all"
        )


def wal_frames_per_run(lengths, runs):
    """What the run path's writes added to the WAL, per run: `lengths` is the log's length
    after each of the writer's batches; a length below the one before means the log
    started over (after a checkpoint), and the batch wrote that many."""
    if not lengths or not runs:
        return
    added, before = 0, 0
    for n in lengths:
        added += n - before if n >= before else n
        before = n
    print(
        f"  WAL frames written by the writer: {added} for {runs} runs,"
        f" {added / runs:.1f} per run (one frame: one page, 4 kB)"
    )


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    for path in paths:
        found = {}
        timed = {}
        lengths = []
        with open(path, errors="replace") as f:
            for line in f:
                line = ANSI.sub("", line)
                if "writer batch" in line:
                    m = re.search(r"\bwal_frames=(\d+)", line)
                    if m:
                        lengths.append(int(m.group(1)))
                for message, (name, field) in EVENTS.items():
                    if message in line:
                        m = re.search(r"\b%s=(\d+)" % field, line)
                        if m:
                            found.setdefault(name, []).append(int(m.group(1)))
                            t = seconds(line)
                            if t is not None:
                                timed.setdefault(name, []).append((t, int(m.group(1))))
                for message, name, field in MORE:
                    if message in line:
                        m = re.search(r"\b%s=(\d+)" % field, line)
                        if m:
                            found.setdefault(name, []).append(int(m.group(1)))
        print(path)
        for name in [n for n, _ in EVENTS.values()] + [n for _, n, _ in MORE]:
            v = sorted(found.get(name, []))
            if v:
                print(
                    f"  {name:12} n={len(v):6}  p10 {pct(v, .1):5}  p50 {pct(v, .5):5}"
                    f"  p90 {pct(v, .9):5}  p99 {pct(v, .99):6}  (µs)"
                )
        during_checkpoints(timed)
        wal_frames_per_run(lengths, len(found.get("insert", [])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
