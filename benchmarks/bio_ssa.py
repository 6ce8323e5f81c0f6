"""Exact SSA on a 50-site SDD lattice: crossnoise vs GillesPy2 (its fastest solver), same simulated time.

Lattice: 50 sites, production 10/s at site 0, degradation 0.1/s, hopping 1/s to each side, closed
ends; 100 trajectories from empty to t = 200 s, recorded at 201 time points.  GillesPy2's
SSACSolver (compiled C++; the compile is timed apart, its build needs the venv's bin on PATH) vs
crossnoise's exact independent-molecule SSA (`ssa_particles`) and its vectorised Gillespie direct
method (`ssa_direct`).  Agreement: mean total molecules at t = 200 (exact: (p/k)(1 − e^{−20})).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bio_ssa.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from crossnoise.bio.lattice import Lattice, ssa_direct, ssa_particles  # noqa: E402

SITES, PROD, DEG, HOP, T_END, TRAJ = 50, 10.0, 0.1, 1.0, 200.0, 100
TIMES = np.linspace(0.0, T_END, 201)
REPEATS = 3


def gillespy_model():
    import gillespy2

    m = gillespy2.Model(name="sdd_lattice")
    species = [gillespy2.Species(name=f"S{i}", initial_value=0) for i in range(SITES)]
    m.add_species(species)
    m.add_parameter([gillespy2.Parameter(name="p", expression=PROD), gillespy2.Parameter(name="k", expression=DEG),
                     gillespy2.Parameter(name="h", expression=HOP)])
    rx = [gillespy2.Reaction(name="birth", reactants={}, products={"S0": 1}, rate="p")]
    for i in range(SITES):
        rx.append(gillespy2.Reaction(name=f"d{i}", reactants={f"S{i}": 1}, products={}, rate="k"))
    for i in range(SITES - 1):
        rx.append(gillespy2.Reaction(name=f"r{i}", reactants={f"S{i}": 1}, products={f"S{i + 1}": 1}, rate="h"))
        rx.append(gillespy2.Reaction(name=f"l{i}", reactants={f"S{i + 1}": 1}, products={f"S{i}": 1}, rate="h"))
    m.add_reaction(rx)
    m.timespan(TIMES)
    return m


def main() -> None:
    from gillespy2 import SSACSolver

    model = gillespy_model()
    t0 = time.perf_counter()
    solver = SSACSolver(model=model)
    compile_s = time.perf_counter() - t0
    lat = Lattice(SITES, PROD, DEG, HOP)
    # interleave the two sides so machine load hits both alike; median of the paired ratios
    t_gps, t_ps = [], []
    for rep in range(REPEATS):
        t0 = time.perf_counter()
        res = solver.run(number_of_trajectories=TRAJ, seed=1 + rep)
        t_gps.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run_p = ssa_particles(lat, T_END, n_embryos=TRAJ, record_times=TIMES, rng=1 + rep)
        t_ps.append(time.perf_counter() - t0)
    total_gp = np.array([sum(traj[f"S{i}"][-1] for i in range(SITES)) for traj in res])
    t_gp, t_p = statistics.median(t_gps), statistics.median(t_ps)
    ratio_p = statistics.median([a / b for a, b in zip(t_gps, t_ps)])
    t0 = time.perf_counter()
    run_d = ssa_direct(lat, T_END, n_embryos=TRAJ, record_times=TIMES, rng=2)
    t_d = time.perf_counter() - t0
    exact = PROD / DEG * (1 - np.exp(-DEG * T_END))
    print(f"exact SSA, {SITES} sites, {TRAJ} trajectories to t = {T_END:g} s, {TIMES.size} time points")
    print(f"  GillesPy2 SSACSolver (median): {t_gp:7.2f} s (compile {compile_s:.1f} s, once)  "
          f"total at t_end {total_gp.mean():.1f} ± {total_gp.std(ddof=1) / np.sqrt(TRAJ):.1f}")
    for name, run, t in (("crossnoise ssa_particles (median)", run_p, t_p), ("crossnoise ssa_direct            ", run_d, t_d)):
        tot = run.states[:, -1].sum(axis=1)
        print(f"  {name}: {t:7.2f} s  total at t_end {tot.mean():.1f} ± {tot.std(ddof=1) / np.sqrt(TRAJ):.1f}"
              f"  ({run.cost['events']:,} events)")
    print(f"  exact mean total             : {exact:.1f}")
    print(f"  ratio GillesPy2 / ssa_particles : {ratio_p:.1f}x (median of {REPEATS} paired runs; "
          f"per-run ratios {', '.join(f'{a / b:.1f}' for a, b in zip(t_gps, t_ps))})")
    print(f"  ratio GillesPy2 / ssa_direct    : {t_gp / t_d:.2f}x")


if __name__ == "__main__":
    main()
