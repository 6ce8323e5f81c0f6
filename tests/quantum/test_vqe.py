"""The VQE driver on Quantum 1's real engines (H2, UCCSD, statevector and Aer)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crossnoise.quantum.optim_base import ShotLedger
from crossnoise.quantum.optim_gradient import EquidistantShift, shift_gradient
from crossnoise.quantum.vqe import (
    CHEMICAL_ACCURACY,
    OPTIMIZERS,
    VQEObjective,
    make_optimizer,
    make_problem,
    min_shots,
    run_vqe,
)
from crossnoise.validation import InputError


@pytest.fixture(scope="module")
def h2():
    return make_problem("H2")


class Recording:
    """Wraps the real objective; logs the shots of every batch it hands back (energy and fidelity)."""

    def __init__(self, inner: VQEObjective, fail_after: int | None = None):
        self.inner, self.n_params, self.fail_after = inner, inner.n_params, fail_after
        self.drawn: list[int] = []
        self.requested: list[tuple[int, int]] = []

    def _log(self, batch, shots, points):
        self.drawn.append(batch.shots)
        self.requested.append((shots, points))
        return batch

    def evaluate(self, thetas, shots, *, rng):
        batch = self._log(self.inner.evaluate(thetas, shots, rng=rng), shots, len(np.atleast_2d(thetas)))
        if self.fail_after is not None and len(self.drawn) > self.fail_after:
            batch.values[0] = np.nan
        return batch

    def fidelity(self, a, b, shots, *, rng):
        return self._log(self.inner.fidelity(a, b, shots, rng=rng), shots, len(np.atleast_2d(a)))

    def exact(self, thetas):
        return self.inner.exact(thetas)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_shot_ledger_equals_the_shots_the_real_engine_drew(h2, name):
    # every batch the engine returns is logged; the engine splits `shots` over the measurement
    # groups with an allocation that sums to `shots` exactly, so batch.shots = shots × points is
    # what it drew — checked here too
    obj = Recording(h2.objective)
    opt = make_optimizer(name, h2, budget=12_000, shots=50)
    res = opt.minimize(obj, h2.x0(), budget=12_000, rng=3)
    assert res.ledger.shots == sum(obj.drawn) <= 12_000
    assert res.ledger.evaluations == sum(p for _, p in obj.requested)
    for (shots, points), drawn in zip(obj.requested, obj.drawn):
        assert drawn == shots * points
        assert h2.objective.energy.shots_per_group(shots).sum() == shots
    assert res.ledger.shots == sum(s for _, s in res.ledger.by_purpose)
    if name in ("spsa", "qnspsa", "2spsa"):
        assert res.ledger.shots_for("calibration") == 50 * 50
    if name == "qnspsa":
        assert res.ledger.shots_for("metric") == 4 * 50 * res.iterations


def test_uccsd_r2_shift_rule_is_exact_and_r1_is_not(h2):
    # a UCC excitation has generator eigenvalues 0, ±i: frequencies 1 and 2 in θ
    x = np.array([0.1, -0.2, 0.3])
    obj = h2.objective
    exact_pts = lambda t: obj.exact(np.atleast_2d(t))  # noqa: E731
    fd = np.array([(exact_pts(x + 1e-6 * e)[0] - exact_pts(x - 1e-6 * e)[0]) / 2e-6 for e in np.eye(3)])
    pts, w = EquidistantShift(2).plan(x)
    np.testing.assert_allclose(w @ exact_pts(pts), fd, atol=1e-7)
    pts1, w1 = EquidistantShift(1).plan(x)
    assert np.max(np.abs(w1 @ exact_pts(pts1) - fd)) > 0.05
    # and the finite-shot estimate's variance bound comes from the engine's standard errors
    g, var, led = shift_gradient(obj, x, 2000, rng=np.random.default_rng(0), ledger=ShotLedger(), rule=EquidistantShift(2))
    assert led.shots == 12 * 2000 and np.all(var > 0)
    assert np.all(np.abs(g - fd) < 5 * np.sqrt(var))


def test_fidelity_is_binomial_around_the_exact_overlap(h2):
    obj = h2.objective
    a, b = np.array([0.1, -0.2, 0.3]), np.array([0.3, 0.1, -0.2])
    from crossnoise.quantum.statevector import statevectors

    ans = obj.energy.ansatz
    f = abs(np.vdot(statevectors(ans, ans.angles(a[None]))[0], statevectors(ans, ans.angles(b[None]))[0])) ** 2
    batch = obj.fidelity(np.repeat(a[None], 400, 0), np.repeat(b[None], 400, 0), 1000, rng=np.random.default_rng(1))
    # mean of 400 Binomial(1000, F)/1000 draws has sd √(F(1−F)/4e5); 4 sd
    assert abs(batch.values.mean() - f) < 4 * math.sqrt(f * (1 - f) / 4e5)
    assert batch.shots == 400 * 1000 and batch.circuits == 400
    same = obj.fidelity(a[None], a[None], 100, rng=np.random.default_rng(0))
    assert same.values[0] == 1.0


def test_parameter_shift_descent_reaches_chemical_accuracy_on_h2(h2):
    r = run_vqe(h2, "ps-gd", budget=1_000_000, rng=0)
    assert r.status == "budget_spent" and r.result.ledger.shots <= 1_000_000
    assert r.final_error < CHEMICAL_ACCURACY
    assert r.shots_to_chemical_accuracy is not None and r.shots_to_chemical_accuracy < 1_000_000
    rows = r.trace_rows()
    assert rows[0]["shots"] == 0 and rows[-1]["shots"] == r.result.ledger.shots
    assert all(rows[i]["shots"] < rows[i + 1]["shots"] for i in range(len(rows) - 1))
    assert rows[0]["error"] == pytest.approx(h2.e_hf - h2.e_exact, abs=1e-9)  # θ = 0 is Hartree–Fock


def test_same_seed_same_run_and_seeds_differ(h2):
    a = run_vqe(h2, "spsa", budget=8_000, rng=5)
    b = run_vqe(h2, "spsa", budget=8_000, rng=5)
    c = run_vqe(h2, "spsa", budget=8_000, rng=6)
    np.testing.assert_array_equal(a.result.params, b.result.params)
    assert [p.energy for p in a.trace] == [p.energy for p in b.trace]
    assert not np.array_equal(a.result.params, c.result.params)


def test_nan_evaluation_stops_with_failed_status_and_keeps_trace(h2):
    obj = Recording(h2.objective, fail_after=4)
    opt = make_optimizer("ps-adam", h2, budget=100_000, shots=100)
    res = opt.minimize(obj, h2.x0(), budget=100_000, rng=0)
    assert res.status == "failed" and "non-finite" in res.message
    assert res.ledger.shots == sum(obj.drawn)
    assert [p.iteration for p in res.trace][:5] == [0, 1, 2, 3, 4]


def test_bad_input_is_clear(h2):
    with pytest.raises(InputError, match=r"one of spsa, qnspsa"):
        run_vqe(h2, "adamw", budget=10**5)
    with pytest.raises(InputError, match=r"`budget` must pay for .* ps-gd: \d+ shots"):
        run_vqe(h2, "ps-gd", budget=100, rng=0)
    with pytest.raises(InputError, match=r"at least 48"):
        make_optimizer("spsa", h2, budget=10**5, shots=10)
    with pytest.raises(InputError, match="`a`"):
        run_vqe(h2, "spsa", budget=10**5, a=-1.0)
    with pytest.raises(InputError, match="length d = 3"):
        run_vqe(h2, "spsa", budget=10**5, x0=np.zeros(4))
    assert min_shots(h2) == 48


def test_aer_engine_runs_the_same_driver_with_an_exact_ledger():
    p = make_problem("H2", engine="aer")
    obj = Recording(p.objective)
    opt = make_optimizer("spsa", p, budget=8_000, shots=50)
    res = opt.minimize(obj, p.x0(), budget=8_000, rng=1)
    assert res.ledger.shots == sum(obj.drawn) and res.status == "budget_spent"
    assert res.iterations == (8_000 - 2_500) // 100


def test_hea_problem_starts_at_a_seeded_random_point():
    p = make_problem("H2", ansatz="hea", layers=2)
    assert p.start == "random" and p.n_params == 8
    np.testing.assert_array_equal(p.x0(rng=1), p.x0(rng=1))
    assert np.all(np.abs(p.x0(rng=1)) <= 0.5)


def test_a_budget_for_only_a_few_steps_warns(h2):
    with pytest.warns(RuntimeWarning, match="only 2 iteration"):
        r = run_vqe(h2, "ps-gd", budget=2 * 12 * 48, rng=0)
    assert r.result.iterations == 2 and r.result.ledger.shots == 2 * 12 * 48
