"""Sweep overhead: `crossnoise.sweep.run_sweep` against plain dask `client.map` + `gather`.

Both run the same 24 cells of ``core.snr-synthetic`` on a fresh 2-process LocalCluster (1 thread
each), cluster start-up included.  run_sweep also expands and checks the grid, looks up the stored
cells, streams each result back and records it in SQLite (one transaction per cell); plain dask
gathers the results in memory and stores nothing.  The ratio is the cost of resumability.
Also: the cost of one ``ResultsStore.record`` (one WAL transaction) against a bare sqlite3 INSERT
with the same payload, both autocommitted.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/app_sweep.py
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from crossnoise.store import ResultsStore, RunRecord, code_version, run_id  # noqa: E402
from crossnoise.sweep import parse_sweep, run_cell, run_sweep  # noqa: E402

SWEEP = """\
[sweep]
name = "bench"
experiment = "core.snr-synthetic"
seeds = [0, 1]
[fixed]
dim = 16
repeats = 5
[grid]
n = [20000, 50000, 100000, 200000]
mean = [0.02, 0.05, 0.1]
"""


def plain_dask(cells) -> float:
    from distributed import Client, LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        futs = client.map(run_cell, ["core.snr-synthetic"] * len(cells), [c.config for c in cells],
                          [c.seed for c in cells], pure=False)
        out = client.gather(futs)
    assert len(out) == len(cells)
    return time.perf_counter() - t0


def crossnoise_sweep(spec) -> float:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        with ResultsStore(Path(d) / "r.sqlite") as store:
            res = run_sweep(spec, store=store, workers=2)
        wall = time.perf_counter() - t0
    assert res.computed == res.total
    return wall


def record_cost(n: int = 300) -> tuple[float, float]:
    metrics = run_cell("core.snr-synthetic", {"dim": 4, "n": 100, "mean": 0.5, "sigma": 1.0, "repeats": 1}, 0)["metrics"]
    v = code_version("1")
    with tempfile.TemporaryDirectory() as d:
        with ResultsStore(Path(d) / "r.sqlite") as store:
            t0 = time.perf_counter()
            for i in range(n):
                cfg = {"i": i}
                store.record(RunRecord(run_id("x", cfg, 0, v), "x", cfg, 0, v, "ok", metrics, wall_s=0.0))
            ours = (time.perf_counter() - t0) / n
        con = sqlite3.connect(Path(d) / "bare.sqlite", isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, config TEXT, metrics TEXT)")
        t0 = time.perf_counter()
        for i in range(n):
            con.execute("INSERT INTO runs VALUES (?, ?, ?)", (str(i), json.dumps({"i": i}), json.dumps(metrics)))
        bare = (time.perf_counter() - t0) / n
        con.close()
    return ours, bare


def main() -> None:
    spec = parse_sweep(SWEEP, name="bench.toml")
    cells = spec.cells()
    ours, peer = [], []
    for _ in range(3):  # alternate, so load changes hit both
        ours.append(crossnoise_sweep(spec))
        peer.append(plain_dask(cells))
    o, p = statistics.median(ours), statistics.median(peer)
    print(f"{len(cells)} cells, LocalCluster 2×1, median of 3 (start-up included)")
    print(f"  crossnoise run_sweep (stream + SQLite per cell): {o:.2f} s")
    print(f"  plain dask client.map + gather (no store):      {p:.2f} s")
    print(f"  ratio crossnoise / dask: {o / p:.2f}")
    r, b = record_cost()
    print(f"  ResultsStore.record: {1e3 * r:.3f} ms per run; bare sqlite3 INSERT: {1e3 * b:.3f} ms; ratio {r / b:.1f}")


if __name__ == "__main__":
    main()
