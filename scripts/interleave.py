#!/usr/bin/env python3
"""Interleaved timing of whole commands, for a shared machine whose load drifts.

    scripts/interleave.py N 'command A' 'command B' ...

Runs every command once in turn (order reversed every other round), N rounds after
three warm-up rounds, and prints each command's median, 25th and 75th percentile
wall time in milliseconds. The Python spawn cost is in every figure alike, so
compare commands of one run with each other, not with other tools' figures.
"""
import os
import shlex
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    commands = [shlex.split(c) for c in sys.argv[2:]]
    times = [[] for _ in commands]
    with open(os.devnull, "wb") as null:
        for _ in range(3):
            for c in commands:
                subprocess.run(c, stdout=null, stderr=null)
        for i in range(rounds):
            order = range(len(commands)) if i % 2 == 0 else reversed(range(len(commands)))
            for k in order:
                start = time.perf_counter()
                subprocess.run(commands[k], stdout=null, stderr=null)
                times[k].append((time.perf_counter() - start) * 1000)
    for text, t in zip(sys.argv[2:], times):
        t.sort()
        print(f"median {statistics.median(t):6.2f}  p25 {t[len(t) // 4]:6.2f}  "
              f"p75 {t[3 * len(t) // 4]:6.2f}  {text}")


if __name__ == "__main__":
    main()
