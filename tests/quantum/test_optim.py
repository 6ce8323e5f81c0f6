"""Optimizers under a shot budget, on a small honest synthetic noisy objective.

``CosineObjective``: E(θ) = Σ_i (1 − cos θ_i), estimated with Gaussian noise of variance σ²/shots
drawn from the passed Generator, and ``shots × points`` counted per batch.  Every parameter
enters with frequency 1, so the two-term parameter-shift rule is exact for it.  The real-engine
ledger test lives in test_vqe.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from crossnoise.quantum.objective import EnergyBatch
from crossnoise.quantum.optim_adaptive import ICANS
from crossnoise.quantum.optim_base import run_optimizer
from crossnoise.quantum.optim_gradient import ParameterShiftAdam, ParameterShiftGD, TwoTermShift, shift_gradient
from crossnoise.quantum.optim_base import ShotLedger
from crossnoise.quantum.optim_qnspsa import SecondOrderSPSA, make_spd
from crossnoise.quantum.optim_scipy import ScipyOptimizer
from crossnoise.quantum.optim_spsa import SPSA, spsa_gradient, spsa_minimize
from crossnoise.validation import InputError


class CosineObjective:
    def __init__(self, d: int, sigma: float = 1.0, fail_after: int | None = None):
        self.n_params, self.sigma, self.fail_after = d, sigma, fail_after
        self.drawn: list[int] = []

    def exact(self, thetas):
        return np.sum(1 - np.cos(np.atleast_2d(thetas)), axis=1)

    def evaluate(self, thetas, shots, *, rng):
        th = np.atleast_2d(thetas)
        se = np.full(th.shape[0], self.sigma / math.sqrt(shots))
        vals = self.exact(th) + se * rng.normal(size=th.shape[0])
        self.drawn.append(shots * th.shape[0])
        if self.fail_after is not None and len(self.drawn) > self.fail_after:
            vals[0] = np.nan
        return EnergyBatch(vals, se, shots * th.shape[0], th.shape[0])

    def fidelity(self, a, b, shots, *, rng):
        # |<ψ(a)|ψ(b)>|² for a product of RY-like rotations; all-zeros frequency is binomial
        f = np.prod(np.cos((np.atleast_2d(a) - np.atleast_2d(b)) / 2) ** 2, axis=1)
        k = rng.binomial(shots, f)
        self.drawn.append(shots * len(f))
        return EnergyBatch(k / shots, np.sqrt(f * (1 - f) / shots), shots * len(f), len(f))


def all_optimizers():
    return [
        SPSA(shots=50),
        SPSA(shots=50, blocking=True, resamplings=2, averaging=4),
        SecondOrderSPSA(shots=50),
        SecondOrderSPSA(metric="hessian", shots=50, name="2spsa"),
        ParameterShiftGD(shots=50, learning_rate=0.3),
        ParameterShiftAdam(shots=50),
        ICANS(lipschitz=3.0, min_shots=10),
        ScipyOptimizer("cobyla", shots=50),
        ScipyOptimizer("nelder-mead", shots=50),
        ScipyOptimizer("powell", shots=50),
    ]


@pytest.mark.parametrize("opt", all_optimizers(), ids=lambda o: o.name + ("-blk" if getattr(o, "blocking", False) else ""))
def test_ledger_equals_shots_drawn_and_stays_within_budget(opt):
    obj = CosineObjective(3)
    res = opt.minimize(obj, np.full(3, 1.0), budget=40_000, rng=5)
    assert res.ledger.shots == sum(obj.drawn)
    assert res.ledger.shots <= 40_000
    assert sum(s for _, s in res.ledger.by_purpose) == res.ledger.shots
    assert res.trace[-1].shots == res.ledger.shots
    assert res.status in ("budget_spent", "converged")
    # every optimizer but Nelder–Mead improves a frequency-1 landscape from E(1) = 3(1 − cos 1) = 1.38;
    # Nelder–Mead's simplex comparisons (energy gaps ~0.1 at step 0.2) drown in the 0.14 shot noise
    if opt.name != "nelder-mead":
        assert res.energy_exact < 1.38


@pytest.mark.parametrize("opt", all_optimizers()[:7], ids=lambda o: o.name)
def test_same_seed_same_numbers_different_seed_differs(opt):
    a = opt.minimize(CosineObjective(3), np.full(3, 1.0), budget=5_000, rng=11)
    b = opt.minimize(CosineObjective(3), np.full(3, 1.0), budget=5_000, rng=11)
    c = opt.minimize(CosineObjective(3), np.full(3, 1.0), budget=5_000, rng=12)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.ledger == b.ledger
    assert not np.array_equal(a.params, c.params)


def test_budget_smaller_than_one_iteration_names_the_cost():
    with pytest.raises(InputError, match=r"2600 shots \(2500 to initialise \+ 100 per iteration"):
        SPSA(shots=50).minimize(CosineObjective(3), np.zeros(3), budget=2599, rng=0)
    with pytest.raises(InputError, match=r"600 shots"):
        ParameterShiftGD(shots=100).minimize(CosineObjective(3), np.zeros(3), budget=599, rng=0)


@pytest.mark.parametrize("kwargs", [{"a": 0.0}, {"a": -1.0}, {"c": 0.0}, {"alpha": -0.6}, {"gamma": 0}, {"A": -1.0}])
def test_non_positive_gains_rejected(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(InputError, match=f"`{name}`"):
        SPSA(**kwargs)


def test_calibration_first_step_has_target_magnitude_and_is_counted():
    # d = 1 and a noiseless linear f = g·x: |f(x+cΔ) − f(x−cΔ)|/(2c) = |g| for every Δ, so the
    # calibrated first step a/(A+1)^α·|ĝ| equals target_step exactly (whatever A is).
    class Linear(CosineObjective):
        def exact(self, thetas):
            return 0.7 * np.atleast_2d(thetas)[:, 0]

    obj = Linear(1, sigma=0.0)
    opt = SPSA(shots=10, A=5.0, target_step=0.3)
    st = opt.init(np.zeros(1), obj, rng=np.random.default_rng(0))
    assert st.ledger.shots_for("calibration") == 2 * 25 * 10 == sum(obj.drawn)
    st1 = opt.step(st, obj, rng=np.random.default_rng(1))
    assert abs(st1.params[0]) == pytest.approx(0.3 * (6 / 6) ** 0.602, rel=1e-12)


def test_spsa_gradient_is_unbiased_on_a_quadratic():
    # central differences are exact for a quadratic, so E[ĝ] = ∇f; each component of the mean of
    # R estimates has standard error ≈ sd/√R — 5 standard errors bound a false failure at ~1e-6.
    class Quad(CosineObjective):
        def exact(self, thetas):
            t = np.atleast_2d(thetas)
            return np.sum(t**2, axis=1) + t[:, 0] * t[:, 1]

    obj, rng = Quad(3, sigma=0.5), np.random.default_rng(3)
    x = np.array([0.3, -0.2, 0.5])
    g = np.stack([spsa_gradient(obj, x, 0.2, 1, 100, rng=rng, ledger=ShotLedger())[0] for _ in range(4000)])
    true = np.array([2 * 0.3 - 0.2, 2 * -0.2 + 0.3, 1.0])
    se = g.std(axis=0, ddof=1) / math.sqrt(len(g))
    assert np.all(np.abs(g.mean(axis=0) - true) < 5 * se)


def test_parameter_shift_exact_and_its_variance_matches_the_standard_errors():
    x = np.array([0.4, -1.1])
    g, var, _ = shift_gradient(CosineObjective(2, sigma=0.0), x, 100, rng=np.random.default_rng(0), ledger=ShotLedger())
    np.testing.assert_allclose(g, np.sin(x), atol=1e-12)
    # with noise σ²/shots per evaluation, Var(ĝ_i) = (σ²/N + σ²/N)/4 = σ²/(2N); the sample
    # variance of R = 2000 draws has relative sd √(2/(R−1)) ≈ 0.032, so ±15 % is > 4.5 sd.
    obj, rng = CosineObjective(2, sigma=2.0), np.random.default_rng(1)
    draws = np.stack([shift_gradient(obj, x, 100, rng=rng, ledger=ShotLedger())[0] for _ in range(2000)])
    _, var, _ = shift_gradient(obj, x, 100, rng=rng, ledger=ShotLedger())
    np.testing.assert_allclose(var, 4.0 / 200, rtol=1e-12)
    np.testing.assert_allclose(draws.var(axis=0, ddof=1), var, rtol=0.15)


def test_blocking_rejects_overshooting_steps_and_keeps_the_iterate():
    opt = SPSA(shots=200, a=20.0, A=0.0, blocking=True)
    res = opt.minimize(CosineObjective(2, sigma=0.2), np.full(2, 0.5), budget=20_000, rng=2)
    assert res.ledger.shots_for("blocking") == 200 * (1 + res.iterations)
    st = opt.init(np.full(2, 0.5), CosineObjective(2, sigma=0.2), rng=np.random.default_rng(2))
    rejected = accepted = 0
    obj, rng = CosineObjective(2, sigma=0.2), np.random.default_rng(3)
    for _ in range(30):
        new = opt.step(st, obj, rng=rng)
        if new.aux["rejected"] > st.aux["rejected"]:
            np.testing.assert_array_equal(new.params, st.params)
            rejected += 1
        else:
            accepted += 1
        st = new
    assert rejected > 0 and accepted + rejected == 30


def test_failed_evaluation_stops_with_status_and_keeps_trace_and_ledger():
    obj = CosineObjective(2, fail_after=6)
    res = ParameterShiftGD(shots=10).minimize(obj, np.ones(2), budget=10_000, rng=0)
    assert res.status == "failed" and "non-finite" in res.message
    assert res.ledger.shots == sum(obj.drawn) == 7 * 40
    # iterations 0…6 recorded, then the final point again with the failed batch's shots included
    assert len(res.trace) == 8 and res.trace[-1].iteration == res.trace[-2].iteration == 6
    assert res.trace[-1].shots == 280 and res.trace[-2].shots == 240


def test_divergence_is_reported():
    class Quad(CosineObjective):
        def exact(self, thetas):
            return -np.sum(np.atleast_2d(thetas) ** 2, axis=1)  # unbounded below: descent runs off

    res = ParameterShiftGD(shots=10, learning_rate=5.0).minimize(Quad(2, sigma=0.0), np.ones(2), budget=10**6, rng=0)
    assert res.status == "diverged" and np.all(np.abs(res.params) <= 1e3)


def test_icans_raises_shots_as_the_gradient_shrinks():
    opt = ICANS(lipschitz=3.0, min_shots=10)
    res = opt.minimize(CosineObjective(3), np.full(3, 1.0), budget=200_000, rng=4)
    costs = np.diff([p.shots for p in res.trace])
    assert costs[-1] > 5 * costs[0]  # late steps near the minimum buy many more shots
    assert res.energy_exact < 0.01
    with pytest.raises(InputError, match="below 2/lipschitz"):
        ICANS(lipschitz=2.0, learning_rate=1.0)


def test_qnspsa_metric_sample_averages_to_the_fubini_study_metric():
    # product of single-qubit rotations: F(a, b) = Π cos²((a−b)/2) ≈ 1 − |δ|²/4, so the metric
    # −½∇²F is I/4; each sample is ±-weighted Rademacher outer products, so its mean over R samples
    # has entrywise sd ≲ 0.25·√(1/R) + shot noise; R = 3000 → sd ≈ 0.005, tolerance 0.03 (≈6 sd).
    opt = SecondOrderSPSA(shots=10**6, epsilon=0.05)
    obj, rng = CosineObjective(3), np.random.default_rng(0)
    H = np.mean([opt._metric_sample(obj, np.array([0.1, 0.2, 0.3]), rng=rng, ledger=ShotLedger())[0]
                 for _ in range(3000)], axis=0)
    np.testing.assert_allclose(H, np.eye(3) / 4, atol=0.03)
    spd = make_spd(np.diag([1.0, -2.0]), 0.01)
    np.testing.assert_allclose(spd, np.diag([1.01, 2.01]))


def test_qnspsa_needs_a_fidelity():
    class NoFid:
        n_params = 2

        def evaluate(self, thetas, shots, *, rng):  # pragma: no cover
            raise AssertionError

        def exact(self, thetas):
            return np.zeros(len(np.atleast_2d(thetas)))

    with pytest.raises(InputError, match="fidelity"):
        SecondOrderSPSA(shots=10).minimize(NoFid(), np.zeros(2), budget=10**5, rng=0)


def test_spsa_as_a_scipy_method_counts_every_evaluation():
    calls = []

    def f(x):
        calls.append(1)
        return float(np.sum((x - 1.0) ** 2))

    res = minimize(f, np.zeros(3), method=spsa_minimize, options={"maxiter": 150, "rng": 3, "blocking": True})
    assert res.nfev == len(calls) == 50 + 1 + 150 * 3  # calibration + first blocking + (2 + 1) per step
    np.testing.assert_allclose(res.x, np.ones(3), atol=1e-3)
    again = minimize(f, np.zeros(3), method=spsa_minimize, options={"maxiter": 150, "rng": 3, "blocking": True})
    np.testing.assert_array_equal(res.x, again.x)


def test_shots_to_reach_requires_staying_within():
    obj = CosineObjective(2, sigma=0.0)
    res = run_optimizer(ParameterShiftGD(shots=10, learning_rate=0.5), obj, np.ones(2), budget=2_000, rng=0)
    err = res.errors(0.0)
    hit = res.shots_to_reach(0.01, 0.0)
    first = next(i for i, e in enumerate(err) if e <= 0.01)
    assert hit == res.trace[first].shots
    assert res.shots_to_reach(0.5, -1.0) is None  # errors against −1 stay ≥ 1


def test_unknown_scipy_method_lists_known():
    with pytest.raises(InputError, match="cobyla, nelder-mead, powell"):
        ScipyOptimizer("bfgs")


def test_two_term_shift_plan_components():
    pts, w = TwoTermShift().plan(np.zeros(3), np.array([2]))
    assert pts.shape == (2, 3) and pts[0, 2] == pytest.approx(math.pi / 2) and w[2, 0] == pytest.approx(0.5)
