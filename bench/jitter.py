"""The host's own latency jitter: a fixed piece of Python timed after an idle gap, as the bot's reactions are.

    python -m bench.jitter GAP_S REPS CPU      # prints the durations (us) as a JSON list

Each repetition sleeps ``GAP_S`` (the reaction benchmark's rounds are ~45 ms apart), then times one call of
:func:`work`: the same instructions every time, about 170 us of dict and float operations on this project's
2-core cloud machines. Whatever spreads its distribution (caches and branch predictors cooled by the idle gap, the
hypervisor, other processes, interrupts) spreads the bot's internal latency too, so its p99/p50 is the
floor that figure's p99/p50 can be judged against. Pinned to ``CPU`` (the bot's core in the benchmark).
"""

from __future__ import annotations

import json
import os
import sys
import time


def work(n: int = 1200) -> float:
    """A fixed amount of interpreter work (no allocation growth, no I/O)."""
    total = 0.0
    table: dict[int, float] = {}
    for i in range(n):
        total += i * 0.5
        table[i & 63] = total
    return total


def main(argv: list[str]) -> int:
    gap, reps, cpu = float(argv[0]), int(argv[1]), int(argv[2])
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})
    out: list[float] = []
    for _ in range(reps):
        time.sleep(gap)
        t0 = time.perf_counter_ns()
        work()
        out.append((time.perf_counter_ns() - t0) / 1e3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
