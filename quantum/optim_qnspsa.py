"""Second-order SPSA: QN-SPSA (Gacon et al. 2021) and 2-SPSA (Spall 2000), shots counted.

Besides the first-order SPSA gradient, each step estimates a d×d preconditioner from FOUR
evaluations along two independent Rademacher directions Δ1, Δ2 with perturbation ε:

.. math::

    \\delta F = F(x + \\epsilon\\Delta_1 + \\epsilon\\Delta_2) - F(x + \\epsilon\\Delta_1)
               - F(x - \\epsilon\\Delta_1 + \\epsilon\\Delta_2) + F(x - \\epsilon\\Delta_1),

    \\hat H = s\\,\\frac{\\delta F}{2\\epsilon^2}\\,\\frac{\\Delta_1\\Delta_2^T + \\Delta_2\\Delta_1^T}{2},

with F the energy and s = 1 (2-SPSA: the Hessian of E) or F(y) = |⟨ψ(x)|ψ(y)⟩|² and s = −1/2
(QN-SPSA: the Fubini–Study metric, the Hessian of −½ fidelity).  The running mean
:math:`\\bar H_k = \\frac{k}{k+1}\\bar H_{k-1} + \\frac{1}{k+1}\\hat H_k` is made positive definite,
:math:`\\bar H^+ = \\sqrt{\\bar H^2} + \\beta I`, and the step is
:math:`x_{k+1} = x_k - a_k (\\bar H^+)^{-1}\\hat g_k`.  Blocking is on by default (Gacon et al.
recommend it); its tolerance is the shot noise of the two compared estimates.

The fidelity for QN-SPSA comes from the objective itself: it must provide
``fidelity(thetas_a, thetas_b, shots, *, rng) -> EnergyBatch`` (a finite-shot estimate of
|⟨ψ(a)|ψ(b)⟩|², e.g. the all-zeros frequency of the compute–uncompute circuit), whose shots are
counted under ``"metric"`` like every other evaluation.

References
----------
J. Gacon, C. Zoufal, G. Carleo, S. Woerner, "Simultaneous Perturbation Stochastic Approximation of
the Quantum Fisher Information", Quantum 5, 567 (2021); J. C. Spall, "Adaptive stochastic
approximation by the simultaneous perturbation method", IEEE TAC 45, 1839 (2000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import numpy as np

from crossnoise.quantum.objective import NoisyObjective
from crossnoise.quantum.optim_base import EvaluationFailed, OptState, ShotLedger, StepOptimizer, evaluate
from crossnoise.quantum.optim_spsa import (
    blocking_step,
    check_spsa_gains,
    rademacher,
    spsa_gradient,
    spsa_init_cost,
    spsa_start,
)
from crossnoise.validation import InputError, check_choice, check_positive_float, check_positive_int

__all__ = ["SecondOrderSPSA", "make_spd"]


def make_spd(matrix: np.ndarray, regularization: float) -> np.ndarray:
    """√(M²) + βI: the absolute value of a symmetric matrix, shifted to be positive definite."""
    w, v = np.linalg.eigh((matrix + matrix.T) / 2)
    return (v * np.abs(w)) @ v.T + regularization * np.eye(matrix.shape[0])


@dataclass(frozen=True, slots=True)
class SecondOrderSPSA(StepOptimizer):
    """QN-SPSA (``metric="fidelity"``) or 2-SPSA (``metric="hessian"``) with a shot ledger.

    Parameters
    ----------
    metric : {"fidelity", "hessian"}
    shots : int
        Shots per evaluation (gradient, metric and blocking points alike).
    a, c, A, alpha, gamma, target_step, calibration_steps :
        As :class:`~crossnoise.quantum.optim_spsa.SPSA` (``a=None`` calibrates, counted).
    epsilon : float
        Perturbation of the metric estimate (0.01 as Gacon et al. / Qiskit's QNSPSA).
    regularization : float
        β added to the preconditioner (0.01 as Qiskit).
    blocking : bool
    hessian_delay : int
        Plain SPSA steps (no metric evaluations) before preconditioning starts.
    """

    metric: str = "fidelity"
    shots: int = 1000
    a: float | None = None
    c: float = 0.2
    A: float | None = None
    alpha: float = 0.602
    gamma: float = 0.101
    target_step: float = 2 * math.pi / 10
    calibration_steps: int = 25
    epsilon: float = 0.01
    regularization: float = 0.01
    blocking: bool = True
    blocking_sigmas: float = 2.0
    hessian_delay: int = 0
    name: str = "qnspsa"

    def __post_init__(self) -> None:
        check_choice(self.metric, "metric", ("fidelity", "hessian"))
        check_positive_int(self.shots, "shots")
        check_spsa_gains(self.a, self.c, self.A, self.alpha, self.gamma, self.target_step)
        check_positive_int(self.calibration_steps, "calibration_steps")
        check_positive_float(self.epsilon, "epsilon")
        check_positive_float(self.regularization, "regularization")
        check_positive_float(self.blocking_sigmas, "blocking_sigmas", allow_zero=True)
        if isinstance(self.hessian_delay, bool) or not isinstance(self.hessian_delay, int) or self.hessian_delay < 0:
            raise InputError(f"`hessian_delay` must be a non-negative integer; got {self.hessian_delay!r}.")

    def init_cost(self, n_params: int) -> int:
        return spsa_init_cost(self)

    def next_cost(self, state: OptState | None, n_params: int) -> int:
        k = 0 if state is None else state.iteration
        metric = 4 * self.shots if k >= self.hessian_delay else 0
        return 2 * self.shots + metric + (self.shots if self.blocking else 0)

    def init(self, x0: np.ndarray, objective: NoisyObjective, *, rng: np.random.Generator,
             max_iterations: int | None = None) -> OptState:
        if self.metric == "fidelity" and not callable(getattr(objective, "fidelity", None)):
            raise InputError("QN-SPSA (`metric='fidelity'`) needs an objective with a `fidelity(thetas_a, thetas_b, "
                             f"shots, *, rng)` method; {type(objective).__name__} has none (use metric='hessian').")
        x0 = np.asarray(x0, dtype=float)
        a, A, energy, se, ledger = spsa_start(self, objective, x0, rng=rng, max_iterations=max_iterations)
        d = x0.shape[0]
        aux = {"a": a, "A": A, "H": np.zeros((d, d)), "n_metric": 0, "accepted": 0, "rejected": 0}
        return OptState(x0.copy(), 0, ledger, energy, se, math.nan, aux)

    def _metric_sample(self, objective: NoisyObjective, x: np.ndarray, *, rng: np.random.Generator,
                       ledger: ShotLedger) -> tuple[np.ndarray, ShotLedger]:
        d = x.shape[0]
        d1, d2 = rademacher(rng, d), rademacher(rng, d)
        eps = self.epsilon
        pts = np.stack([x + eps * (d1 + d2), x + eps * d1, x + eps * (-d1 + d2), x - eps * d1])
        if self.metric == "fidelity":
            try:
                batch = objective.fidelity(np.repeat(x[None, :], 4, axis=0), pts, self.shots, rng=rng)
            except InputError:
                raise
            except Exception as exc:
                raise EvaluationFailed(f"metric evaluation raised {type(exc).__name__}: {exc}", ledger) from exc
            ledger = ledger.add(batch, 4, "metric")
            vals = np.asarray(batch.values, dtype=float)
            scale = -0.5
        else:
            batch, ledger = evaluate(objective, pts, self.shots, rng=rng, ledger=ledger, purpose="metric")
            vals = np.asarray(batch.values, dtype=float)
            scale = 1.0
        if not np.all(np.isfinite(vals)):
            raise EvaluationFailed("metric evaluation returned a non-finite value", ledger)
        delta_f = vals[0] - vals[1] - vals[2] + vals[3]
        outer = np.outer(d1, d2)
        return scale * delta_f / (2 * eps**2) * (outer + outer.T) / 2, ledger

    def step(self, state: OptState, objective: NoisyObjective, *, rng: np.random.Generator) -> OptState:
        k, x, aux = state.iteration, state.params, state.aux
        ck = self.c / (k + 1) ** self.gamma
        ak = aux["a"] / (aux["A"] + k + 1) ** self.alpha
        grad, f_mean, f_se, ledger = spsa_gradient(objective, x, ck, 1, self.shots, rng=rng, ledger=state.ledger)
        new_aux = dict(aux)
        if k >= self.hessian_delay:
            h_sample, ledger = self._metric_sample(objective, x, rng=rng, ledger=ledger)
            n = aux["n_metric"]
            new_aux["H"] = n / (n + 1) * aux["H"] + h_sample / (n + 1)
            new_aux["n_metric"] = n + 1
            direction = np.linalg.solve(make_spd(new_aux["H"], self.regularization), grad)
        else:
            direction = grad
        cand = x - ak * direction
        energy, se = f_mean, f_se
        if self.blocking:
            cand, energy, se, ledger = blocking_step(objective, state, cand, self.shots, self.blocking_sigmas, new_aux,
                                                     rng=rng, ledger=ledger)
        return OptState(cand, k + 1, ledger, energy, se, float(np.linalg.norm(grad)), new_aux)
