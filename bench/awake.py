#!/usr/bin/env python3
"""Run a command while no CPU of this machine is ever idle: a probe of what waking an
idle virtual CPU costs, not a way to run PromptLab.

On the 2-core virtual machines these benchmarks run on, an idle CPU halts (there is no
cpuidle driver: `cat /sys/devices/system/cpu/cpuidle/current_driver` says `none`), and a
thread woken for it waits until the hypervisor runs that CPU again. Every hand-off in
the run path (the client's request, the provider's frame, the writer thread's commit)
can land on a halted CPU. This starts one busy loop per CPU, pinned to it, at the
`SCHED_IDLE` policy: the kernel runs it only when nothing else wants that CPU and
preempts it at once when something does, so the CPU never halts and a woken thread runs
at once. Compare a benchmark's figures with and without it (bench/ANALYSIS.md,
"Nineteenth session": it made the tail longer, not shorter).

    python3 bench/awake.py -- <command> [args...]

The loops stop when the command ends; the command's exit status is this script's.
"""
import os
import signal
import subprocess
import sys


def spin(cpu):
    os.sched_setaffinity(0, {cpu})
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    while True:
        pass


def main():
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    spinners = []
    for cpu in sorted(os.sched_getaffinity(0)):
        pid = os.fork()
        if pid == 0:
            spin(cpu)
        spinners.append(pid)
    try:
        status = subprocess.call(args)
    finally:
        for pid in spinners:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    sys.exit(status)


if __name__ == "__main__":
    main()
