"""Timing helpers: median, min and max of repeated runs, then one more run under tracemalloc for
the peak of Python-tracked memory (NumPy reports its allocations to tracemalloc). Tracing slows
allocation-heavy code several-fold, so it is never active while timing.

A call shorter than MIN_RUN_S is timed in loops of as many calls as fill MIN_RUN_S (as timeit
does) and reported per call: one 40-microsecond call is dominated by cold caches after the
previous case, which made a small fit look 25% slower or faster from one run to the next."""

from __future__ import annotations

import statistics
import time
import tracemalloc


MIN_RUN_S = 0.05


def measure(fn, repeat: int = 5, warmup: int = 1) -> dict:
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
    once = (time.perf_counter() - t0) / max(warmup, 1)
    number = max(1, int(MIN_RUN_S / once)) if once < MIN_RUN_S else 1
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": repeat, "calls_per_run": number,
            "peak_mb": peak / 2**20}
