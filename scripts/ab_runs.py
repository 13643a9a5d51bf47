#!/usr/bin/env python3
"""Compare commands by interleaved runs: median and fastest wall time and CPU time of each.

usage: ab_runs.py RUNS 'COMMAND A' 'COMMAND B' [...]

Each round runs every command once, in the given order, after one warm-up round that is not
counted, so a noisy moment of the machine lands on all commands alike. Output goes to
/dev/null. For example, two builds of eqlc on the benchmark's events:

  python3 scripts/ab_runs.py 5 'OLD eval ../shared/corpus --events E1M --quiet' \\
                               'NEW eval ../shared/corpus --events E1M --quiet'
"""
import os
import statistics
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    runs = int(sys.argv[1])
    commands = sys.argv[2:]
    results = {c: [] for c in commands}
    for round_ in range(runs + 1):
        for command in commands:
            started = time.monotonic()
            process = subprocess.Popen(
                command, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            _, _, usage = os.wait4(process.pid, 0)
            wall = time.monotonic() - started
            if round_ > 0:
                results[command].append((wall, usage.ru_utime + usage.ru_stime))
    for command in commands:
        walls = [w for w, _ in results[command]]
        cpus = [c for _, c in results[command]]
        print(
            f"wall median {statistics.median(walls):.3f} s, fastest {min(walls):.3f} s | "
            f"cpu median {statistics.median(cpus):.3f} s, least {min(cpus):.3f} s | {command}"
        )


if __name__ == "__main__":
    main()
