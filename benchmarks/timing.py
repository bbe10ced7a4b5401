"""Timing helpers: median, min and max of repeated runs, then one more run under tracemalloc for
the peak of Python-tracked memory (NumPy reports its allocations to tracemalloc). Tracing slows
allocation-heavy code several-fold, so it is never active while timing."""

from __future__ import annotations

import statistics
import time
import tracemalloc


def measure(fn, repeat: int = 5, warmup: int = 1) -> dict:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": repeat,
            "peak_mb": peak / 2**20}
