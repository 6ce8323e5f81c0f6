"""Time-dependent SDD solve: crossnoise (Crank–Nicolson, BDF) vs py-pde, at matched accuracy.

Dpp kinetics (D = 0.1 µm²/s, k = 2.52e-4 /s, j0 = 1) on [0, 200] µm with 200 cells, from c = 0 to
t = 4 h.  Accuracy = max |c − c_exact| / c_exact(0) against the exact semi-infinite solution
(the far end at 10λ changes it by ~e⁻²⁰).  py-pde: explicit Euler with dt = 2.5 s (its implicit
and Crank–Nicolson steppers do not converge at larger steps, see reference/peers.md), stepper
compiled once with `make_stepper` and reused (compile time reported apart).  crossnoise: the
largest CN step (from a ladder) whose error is no worse than py-pde's, and BDF (sparse Jacobian)
at rtol 1e-4, atol 1e-6·c0, which also matches it.

Run: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bio_solver.py
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from crossnoise.bio.solver import solve_sdd, transient_semi_infinite  # noqa: E402

D, K, J0, L, N, T = 0.1, 2.52e-4, 1.0, 200.0, 200, 4 * 3600.0
REPEATS = 15


def timed(fn, repeats=REPEATS):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main() -> None:
    import pde

    grid = pde.CartesianGrid([[0.0, L]], [N])
    x = grid.axes_coords[0]
    exact = transient_semi_infinite(x, T, D, K, J0)

    def err(c):
        return float(np.max(np.abs(c - exact)) / exact[0])

    # py-pde: outward normal derivative at x = 0 is +j0/D (flux j0 into the tissue)
    eq = pde.PDE({"c": f"{D}*laplace(c) - {K}*c"}, bc=[{"derivative": J0 / D}, {"derivative": 0.0}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solver = pde.solvers.ExplicitSolver(eq, backend="numba")
    state0 = pde.ScalarField(grid, 0.0)
    t0 = time.perf_counter()
    stepper = solver.make_stepper(state0, dt=2.5)
    compile_s = time.perf_counter() - t0

    def run_pde():
        st = state0.copy()
        stepper(st, 0.0, T)
        return st.data

    c_pde, t_pde = timed(run_pde)
    e_pde = err(c_pde)

    chosen = None
    for dt in (1200.0, 900.0, 600.0, 480.0, 360.0, 300.0, 240.0, 180.0, 120.0, 60.0, 30.0):
        sol = solve_sdd(D, K, J0, L, n_cells=N, t_eval=[T], method="cn", dt=dt)
        if err(sol.c[-1]) <= e_pde:
            chosen = dt
            break
    assert chosen is not None, "no CN step reached py-pde's accuracy"
    sol_cn, t_cn = timed(lambda: solve_sdd(D, K, J0, L, n_cells=N, t_eval=[T], method="cn", dt=chosen))
    c0 = J0 * (D / K) ** 0.5 / D
    sol_bdf, t_bdf = timed(lambda: solve_sdd(D, K, J0, L, n_cells=N, t_eval=[T], method="bdf", rtol=1e-4,
                                             atol=1e-6 * c0), 5)
    print(f"SDD to 4 h, 200 cells (median of {REPEATS}); error = max|c - exact|/c_exact(0)")
    print(f"  py-pde explicit Euler dt=2.5 s : {t_pde * 1e3:8.2f} ms  error {e_pde:.2e}  (compile {compile_s:.1f} s, once)")
    print(f"  crossnoise CN dt={chosen:g} s      : {t_cn * 1e3:8.2f} ms  error {err(sol_cn.c[-1]):.2e}")
    print(f"  crossnoise BDF rtol=1e-4 atol=1e-6·c0: {t_bdf * 1e3:8.2f} ms  error {err(sol_bdf.c[-1]):.2e}  "
          f"(nfev {sol_bdf.cost['nfev']})")
    print(f"  ratio py-pde / crossnoise-CN  : {t_pde / t_cn:.1f}x")
    print(f"  ratio py-pde / crossnoise-BDF : {t_pde / t_bdf:.2f}x")


if __name__ == "__main__":
    main()
