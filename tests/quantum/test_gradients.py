"""Gradient plans: exactness of the shift rule, unbiasedness and variance of the estimators, cost."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from crossnoise.quantum.gradients import (
    exact_gradient,
    finite_difference_plan,
    parameter_shift_plan,
    plan_for_budget,
    run_plan,
    spsa_plan,
)
from crossnoise.quantum.objective import energy_objective
from crossnoise.validation import InputError


@pytest.fixture(scope="module")
def h2():
    return energy_objective("H2", layers=2)


@pytest.fixture(scope="module")
def h2_uccsd():
    return energy_objective("H2", ansatz="uccsd")


def _fd(obj, theta, h=1e-5):
    return np.array([(obj.exact(theta + h * e)[0] - obj.exact(theta - h * e)[0]) / (2 * h) for e in np.eye(len(theta))])


@pytest.mark.parametrize("which", ["h2", "h2_uccsd"])
def test_exact_gradient_matches_finite_differences(which, request):
    obj = request.getfixturevalue(which)
    theta = np.random.default_rng(1).uniform(-1, 1, obj.n_params)
    # central differences with h = 1e-5 have truncation O(h²) ≈ 1e-10 and rounding ≈ 1e-11
    assert np.max(np.abs(exact_gradient(obj, theta) - _fd(obj, theta))) < 1e-8


def test_uccsd_shift_rule_sums_over_occurrences(h2_uccsd):
    plan = parameter_shift_plan(h2_uccsd.ansatz, np.zeros(3), 100)
    assert plan.space == "angles" and plan.n_points == 2 * h2_uccsd.n_rotations
    # the double excitation drives 8 rotations: its row of the combination matrix has 16 entries
    assert np.count_nonzero(plan.combine[2]) == 16


@pytest.mark.parametrize("which", ["h2", "h2_uccsd"])
def test_parameter_shift_is_unbiased_with_the_predicted_variance(which, request):
    """R = 300 parameter-shift estimates with N shots per point.

    Mean per component within 4 SE of the exact gradient (Bonferroni over d ≤ 16 components: a
    4σ test has a family false-alarm rate ≤ 16·6e-5 = 1e-3).  Pooled variance: Σ_i (R−1)s_i²/V_i
    ~ χ²_{d(R−1)} with V_i = Σ_m C_im² Var(E_m) from the exact per-point variances.
    """
    obj = request.getfixturevalue(which)
    theta = np.random.default_rng(2).uniform(-1, 1, obj.n_params)
    plan = parameter_shift_plan(obj.ansatz, theta, 500)
    r = 300
    batches = obj.evaluate_angles(plan.points if plan.space == "angles" else obj.ansatz.angles(plan.points), 500,
                                  rng=7, repeats=r)
    g = plan.apply(np.stack([b.values for b in batches]))
    exact = exact_gradient(obj, theta)
    angles = plan.points if plan.space == "angles" else obj.ansatz.angles(plan.points)
    v = (plan.combine**2) @ obj.variance_angles(angles, 500)
    assert np.all(np.abs(g.mean(0) - exact) < 4 * np.sqrt(v / r))
    chi2 = np.sum((r - 1) * g.var(0, ddof=1) / v)
    dof = len(v) * (r - 1)
    assert stats.chi2.ppf(5e-4, dof) < chi2 < stats.chi2.ppf(1 - 5e-4, dof)


def test_run_plan_reports_cost_stated_in_advance(h2):
    theta = np.full(h2.n_params, 0.3)
    for plan in (parameter_shift_plan(h2.ansatz, theta, 100), spsa_plan(theta, 100, resamplings=4, rng=0),
                 finite_difference_plan(theta, 100)):
        est = run_plan(h2, plan, rng=1)
        assert est.shots == plan.shots and est.circuits == plan.circuits(h2.n_groups)
        assert est.gradient.shape == (h2.n_params,) and np.all(est.standard_errors > 0)


def test_spsa_with_exact_energies_averages_to_the_gradient(h2):
    """With exact energies only the direction (and c) randomness is left.

    Over R Rademacher directions the mean of ĝ has covariance Σ_dir/R with per-component variance
    Σ_{j≠i} g_j² (plus O(c²) terms); with c = 1e-3 the O(c²) bias is ~1e-6, far below 4 SE.
    """
    theta = np.random.default_rng(4).uniform(-1, 1, h2.n_params)
    g = exact_gradient(h2, theta)
    r = 4000
    plan = spsa_plan(theta, 1, c=1e-3, resamplings=r, rng=9)
    e = h2.exact(plan.points)
    per_dir = ((e[0::2] - e[1::2]) / 2e-3)[:, None] * plan.directions
    se = np.sqrt((np.sum(g**2) - g**2) / r)
    assert np.all(np.abs(per_dir.mean(0) - g) < 4 * se + 1e-6)
    # the plan's own combination gives the same average
    assert np.allclose(plan.apply(h2.exact(plan.points)), per_dir.mean(0))
    # direction variance per component matches Σ_{j≠i} g_j² (relative SE of a variance ~ √(2/R) ≈ 2 %)
    assert np.allclose(per_dir.var(0), np.sum(g**2) - g**2, rtol=0.12)


def test_gaussian_spsa_and_finite_differences(h2):
    theta = np.random.default_rng(5).uniform(-1, 1, h2.n_params)
    g = exact_gradient(h2, theta)
    fd = finite_difference_plan(theta, 1, h=1e-4)
    assert np.max(np.abs(fd.apply(h2.exact(fd.points)) - g)) < 1e-6
    plan = spsa_plan(theta, 1, c=1e-3, resamplings=4000, distribution="gaussian", rng=3)
    est = plan.apply(h2.exact(plan.points))
    # E[(g·Δ)Δ] = g for Δ ~ N(0, I); per-component variance |g|² + g_i²
    se = np.sqrt((np.sum(g**2) + g**2) / 4000)
    assert np.all(np.abs(est - g) < 4 * se + 1e-6)


def test_same_seed_same_gradient_other_seed_different(h2):
    theta = np.full(h2.n_params, 0.2)
    a = run_plan(h2, spsa_plan(theta, 200, rng=1), rng=2).gradient
    b = run_plan(h2, spsa_plan(theta, 200, rng=1), rng=2).gradient
    c = run_plan(h2, spsa_plan(theta, 200, rng=1), rng=3).gradient
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_budget_errors(h2):
    theta = np.zeros(h2.n_params)
    with pytest.raises(InputError, match="at least 32 shots"):
        plan_for_budget("parameter-shift", h2.ansatz, theta, 31)
    plan = plan_for_budget("spsa", h2.ansatz, theta, 1001, rng=0)
    assert plan.shots == 1000
    with pytest.raises(InputError, match="`c`"):
        spsa_plan(theta, 10, c=0)
    with pytest.raises(InputError, match="length d = 16"):
        parameter_shift_plan(h2.ansatz, np.zeros(3), 10)


@pytest.mark.slow
@pytest.mark.parametrize("ansatz", ["hea", "uccsd"])
def test_ten_qubit_lih_parameter_shift_statistics(ansatz):
    """LiH (10 qubits, 64 groups): the same unbiasedness and χ² variance test as for H2.

    d ≤ 40 components, Bonferroni 4σ per component (family false alarm ≤ 40·6e-5 = 2.5e-3).
    """
    obj = energy_objective("LiH", ansatz=ansatz, layers=2)
    theta = np.random.default_rng(8).uniform(-0.5, 0.5, obj.n_params)
    plan = parameter_shift_plan(obj.ansatz, theta, 6400)
    angles = plan.points if plan.space == "angles" else obj.ansatz.angles(plan.points)
    r = 120
    g = plan.apply(np.stack([b.values for b in obj.evaluate_angles(angles, 6400, rng=4, repeats=r)]))
    v = (plan.combine**2) @ obj.variance_angles(angles, 6400)
    assert np.all(np.abs(g.mean(0) - exact_gradient(obj, theta)) < 4 * np.sqrt(v / r))
    dof = len(v) * (r - 1)
    chi2 = np.sum((r - 1) * g.var(0, ddof=1) / v)
    assert stats.chi2.ppf(5e-4, dof) < chi2 < stats.chi2.ppf(1 - 5e-4, dof)
