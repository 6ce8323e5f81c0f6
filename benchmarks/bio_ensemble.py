"""Vectorised ensemble readout vs the obvious per-embryo loop (same law, tested in tests/bio).

bicoid preset (50 cells), lognormal CV 0.1 readouts averaged over 4 time points and ±1 neighbour:
`read_out` on all embryos at once vs `read_out_loop` one embryo, cell and readout at a time; and
the whole `pattern` (profiles, readouts, boundaries, σx profile, predictions) for 10⁴ embryos.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bio_ensemble.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402

from crossnoise.bio.ensemble import embryo_profiles, read_out, read_out_loop  # noqa: E402
from crossnoise.bio.noise import Multiplicative  # noqa: E402
from crossnoise.bio.patterning import pattern  # noqa: E402
from crossnoise.bio.presets import get_preset  # noqa: E402

EMBRYOS = 500


def main() -> None:
    p = get_preset("bicoid")
    c = embryo_profiles(p, EMBRYOS, rng=0).c
    model = Multiplicative(0.1)
    times = []
    for i in range(7):
        t0 = time.perf_counter()
        read_out(c, model, n_time=4, neighbours=1, rng=i)
        times.append(time.perf_counter() - t0)
    t_vec = statistics.median(times)
    t0 = time.perf_counter()
    read_out_loop(c, model, n_time=4, neighbours=1, rng=0)
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = pattern(p, n_embryos=10_000, noise="cv:0.1", n_time=4, neighbours=1, rng=0)
    t_pat = time.perf_counter() - t0
    print(f"readout of {EMBRYOS} embryos × {c.shape[1]} cells × 4 readouts, ±1 neighbour")
    print(f"  vectorised read_out : {t_vec * 1e3:9.2f} ms")
    print(f"  per-embryo loop     : {t_loop * 1e3:9.2f} ms")
    print(f"  ratio loop / vectorised : {t_loop / t_vec:.0f}x")
    print(f"  full pattern(), 10^4 embryos: {t_pat * 1e3:.1f} ms (σx = {res.sigma_x_measured:.2f} µm)")


if __name__ == "__main__":
    main()
