"""Timing helper shared by the benchmark scripts (run as `python benchmarks/<name>.py`)."""

import statistics
import time


def interleaved(fns, repeats):
    """Median and minimum seconds of each function, run in turn (fair under a shared, busy CPU)."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [(statistics.median(t), min(t)) for t in times]
