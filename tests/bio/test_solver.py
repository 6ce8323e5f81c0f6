import math
import warnings

import numpy as np
import pytest

from crossnoise.bio.solver import (
    accumulation_time_numeric,
    convergence_order,
    make_grid,
    solve_sdd,
    steady_state_numeric,
    transient_semi_infinite,
)
from crossnoise.bio.steady import accumulation_time, decay_length, steady_state
from crossnoise.validation import InputError


@pytest.mark.parametrize("case,method", [("steady", "bdf"), ("transient", "bdf"), ("transient", "cn"),
                                         ("self-enhanced", "bdf")])
def test_convergence_order_is_two(case, method):
    """Cell-centred finite volumes with exact flux boundaries are second order; CN with dt ∝ h too.

    The observed order between the two finest grids must lie in [1.85, 2.2], and the error must
    fall by > 3.4× per halving on every refinement (an O(h) scheme gives 2×).
    """
    res = convergence_order(case, method=method, n_cells=(25, 50, 100))
    assert 1.85 <= res.order <= 2.2, res
    assert all(e1 / e2 > 3.4 for e1, e2 in zip(res.errors, res.errors[1:])), res


def test_transient_exact_solution_tends_to_steady_state():
    D, k, j0 = 0.1, 2.52e-4, 1.0
    x = np.array([0.0, 10.0, 40.0])
    late = transient_semi_infinite(x, 50 / k, D, k, j0)
    assert np.allclose(late, steady_state(x, D, k, j0), rtol=1e-9)


def test_bdf_and_crank_nicolson_agree_and_reach_steady_state():
    D, k, j0, L = 0.1, 2.52e-4, 1.0, 200.0
    t = np.array([600.0, 3600.0, 14400.0, 60000.0])
    bdf = solve_sdd(D, k, j0, L, n_cells=200, t_eval=t, method="bdf", rtol=1e-10)
    cn = solve_sdd(D, k, j0, L, n_cells=200, t_eval=t, method="cn", dt=5.0)
    # CN time error (k·dt)²/12·… ≈ 1e-7 relative; both share the spatial discretisation
    assert np.max(np.abs(bdf.c - cn.c)) < 1e-4 * bdf.c.max()
    x, cs = steady_state_numeric(D, k, j0, L, n_cells=200)
    # at t = 60000 s = 15/k the residual is ≈ e^{-15}·… of the steady state
    assert np.max(np.abs(bdf.c[-1] - cs)) < 1e-5 * cs.max()
    assert bdf.cost["nfev"] > 0 and cn.cost["steps"] == 12000


def test_numeric_accumulation_time_matches_analytic_on_long_tissue():
    D, k = 0.1, 2.52e-4
    lam = decay_length(D, k)
    x, tau = accumulation_time_numeric(D, k, 20 * lam, n_cells=800)
    ref = accumulation_time(x, D, k)
    near = x < 3 * lam
    # O(h²) with h = λ/40: relative error ~ (1/40)²/… < 1e-3
    assert np.max(np.abs(tau[near] / ref[near] - 1)) < 2e-3


def test_accumulation_time_from_time_course_matches_linear_algebra():
    """τ = ∫(1 − c/cs)dt computed from a BDF time course equals −A⁻¹cs / cs."""
    D, k, L, n = 0.1, 2.52e-4, 100.0, 50
    x, tau = accumulation_time_numeric(D, k, L, n_cells=n)
    t = np.linspace(0, 25 / k, 4001)
    sol = solve_sdd(D, k, 1.0, L, n_cells=n, t_eval=t[1:], rtol=1e-10)
    _, cs = steady_state_numeric(D, k, 1.0, L, n_cells=n)
    frac = np.vstack([np.zeros(n), sol.c]) / cs
    integral = np.trapezoid(1 - frac, t, axis=0)
    # trapezoid error (Δt²/12)·max|u''| over 25/k and truncation e^{-25}: < 1e-4 relative
    assert np.allclose(integral, tau, rtol=1e-4)


def test_coarse_grid_warns_and_bad_input_raises():
    with pytest.warns(RuntimeWarning, match="too coarse"):
        steady_state_numeric(0.1, 2.52e-4, 1.0, 200.0, n_cells=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_grid(200.0, 100, decay_length=19.9)
    with pytest.raises(InputError, match="`D`"):
        solve_sdd(-1.0, 1e-3, 1.0, 100.0, n_cells=50, t_eval=[1.0])
    with pytest.raises(InputError, match="`t_eval`"):
        solve_sdd(0.1, 1e-3, 1.0, 100.0, n_cells=50, t_eval=[2.0, 1.0])
    with pytest.raises(InputError, match="linear model"):
        solve_sdd(0.1, 1e-3, 1.0, 100.0, n_cells=50, t_eval=[1.0], method="cn", alpha=1e-3)
    with pytest.raises(InputError, match="multiples"):
        solve_sdd(0.1, 1e-3, 1.0, 100.0, n_cells=50, t_eval=[1.5], method="cn", dt=1.0)


def test_self_enhanced_time_course_reaches_newton_steady_state():
    D, alpha, j0, L = 0.1, 1e-3, 0.5, 200.0
    x, cs = steady_state_numeric(D, 0.0, j0, L, n_cells=200, alpha=alpha)
    sol = solve_sdd(D, 0.0, j0, L, n_cells=200, t_eval=[2e6], alpha=alpha, rtol=1e-9)
    near = x < 20
    assert np.max(np.abs(sol.c[-1, near] - cs[near]) / cs[near]) < 1e-3
    assert math.isfinite(sol.cost["wall_s"])
