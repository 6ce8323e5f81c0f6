"""iCANS: individual coupled adaptive number of shots (Kübler, Arrasmith, Cincio, Coles 2020).

Each gradient component i is estimated by the parameter-shift rule with its own shot count s_i
(per shifted evaluation).  With v_i the single-shot variance of ĝ_i (v_i = s_i·Var ĝ_i, from the
standard errors), exponential running averages ξ_i of ĝ_i and χ_i of v_i (bias-corrected by
1 − μ^{k+1}) set the next shot counts — the number that maximises the expected gain per shot:

.. math::

    x_i \\leftarrow x_i - \\eta\\,\\hat g_i,\\qquad
    s_i \\leftarrow \\left\\lceil \\frac{2L\\eta}{2 - L\\eta}\\,\\frac{\\hat\\chi_i}{\\hat\\xi_i^2 + b\\mu^k} \\right\\rceil,

    \\gamma_i = \\frac{1}{s_i}\\left[\\left(\\eta - \\tfrac{L\\eta^2}{2}\\right)\\hat\\xi_i^2 - \\frac{L\\eta^2}{2s_i}\\hat\\chi_i\\right],

and s_i is clipped to [s_min, s_{argmax γ}] (iCANS1).  L bounds the gradient's Lipschitz
constant (L ≤ Σ|c_j| for H = Σ c_j P_j) and η < 2/L is required.  Since the next step's cost
Σ_i 2 s_i·(points per component) is known before it runs, the budget loop stops exactly.

References
----------
J. M. Kübler, A. Arrasmith, L. Cincio, P. J. Coles, "An Adaptive Optimizer for
Measurement-Frugal Variational Algorithms", Quantum 4, 263 (2020) (Algorithm 1, iCANS1);
PennyLane's ``ShotAdaptiveOptimizer`` implements the same update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossnoise.quantum.objective import NoisyObjective
from crossnoise.quantum.optim_base import OptState, ShotLedger, StepOptimizer
from crossnoise.quantum.optim_gradient import ShiftRule, TwoTermShift, shift_gradient
from crossnoise.validation import InputError, check_positive_float, check_positive_int, check_probability

__all__ = ["ICANS"]


@dataclass(frozen=True, slots=True)
class ICANS(StepOptimizer):
    """iCANS1 with shot counts per gradient component (Kübler et al. 2020).

    Parameters
    ----------
    lipschitz : float
        L, a bound on the Lipschitz constant of ∇E (Σ|c_j| of the Hamiltonian's non-identity terms).
    learning_rate : float or None
        η < 2/L; None → η = 1/L.
    min_shots : int
        s_min, the first step's shots per evaluation and the lower clip.
    max_shots : int or None
        An absolute cap on s_i (None: only iCANS1's γ-cap).
    mu, b : float
        Running-average constant and the bias of the denominator (0.99, 1e-6 as in the paper).
    rule : ShiftRule, optional
    """

    lipschitz: float = 1.0
    learning_rate: float | None = None
    min_shots: int = 100
    max_shots: int | None = None
    mu: float = 0.99
    b: float = 1e-6
    rule: Any = None
    name: str = "icans"

    def __post_init__(self) -> None:
        check_positive_float(self.lipschitz, "lipschitz")
        if self.learning_rate is not None:
            lr = check_positive_float(self.learning_rate, "learning_rate")
            if lr >= 2 / self.lipschitz:
                raise InputError(f"`learning_rate` must be below 2/lipschitz = {2 / self.lipschitz:.6g}; got {lr}.")
        check_positive_int(self.min_shots, "min_shots", minimum=2)
        if self.max_shots is not None:
            check_positive_int(self.max_shots, "max_shots", minimum=self.min_shots)
        check_probability(self.mu, "mu")
        check_positive_float(self.b, "b")

    @property
    def eta(self) -> float:
        return self.learning_rate if self.learning_rate is not None else 1.0 / self.lipschitz

    def _rule(self) -> ShiftRule:
        return self.rule or TwoTermShift()

    def next_cost(self, state: OptState | None, n_params: int) -> int:
        per_comp = self._rule().n_points(n_params) // n_params
        if state is None or "s" not in state.aux:
            return per_comp * n_params * self.min_shots
        return int(per_comp * np.sum(state.aux["s"]))

    def init(self, x0: np.ndarray, objective: NoisyObjective, *, rng: np.random.Generator,
             max_iterations: int | None = None) -> OptState:
        d = len(x0)
        aux = {"s": np.full(d, self.min_shots, dtype=np.int64), "xi": np.zeros(d), "chi": np.zeros(d)}
        return OptState(np.asarray(x0, dtype=float).copy(), 0, ShotLedger(), aux=aux)

    def step(self, state: OptState, objective: NoisyObjective, *, rng: np.random.Generator) -> OptState:
        x, k, s = state.params, state.iteration, state.aux["s"]
        d = x.shape[0]
        grad = np.zeros(d)
        var = np.zeros(d)
        ledger = state.ledger
        for shots in np.unique(s):  # one batch per distinct shot count
            comps = np.flatnonzero(s == shots)
            g, v, ledger = shift_gradient(objective, x, int(shots), rng=rng, ledger=ledger, rule=self._rule(),
                                          components=comps)
            grad[comps], var[comps] = g[comps], v[comps]
        single_shot_var = var * s  # Var(ĝ_i) = v_i / s_i
        eta, L, mu = self.eta, self.lipschitz, self.mu
        new_x = x - eta * grad
        xi = mu * state.aux["xi"] + (1 - mu) * grad
        # a component whose variance is undefined (a group measured once) keeps its running average
        ok = np.isfinite(single_shot_var)
        prev_chi_hat = state.aux["chi"] / (1 - mu**k) if k > 0 else np.zeros(d)
        chi = mu * state.aux["chi"] + (1 - mu) * np.where(ok, single_shot_var, prev_chi_hat)
        xi_hat = xi / (1 - mu ** (k + 1))
        chi_hat = chi / (1 - mu ** (k + 1))
        s_new = np.ceil(2 * L * eta / (2 - L * eta) * chi_hat / (xi_hat**2 + self.b * mu**k))
        s_new = np.maximum(s_new, 1.0)
        gamma = ((eta - L * eta**2 / 2) * xi_hat**2 - L * eta**2 / (2 * s_new) * chi_hat) / s_new
        s_max = max(float(s_new[int(np.argmax(gamma))]), float(self.min_shots))
        if self.max_shots is not None:
            s_max = min(s_max, float(self.max_shots))
        s_next = np.clip(s_new, self.min_shots, s_max).astype(np.int64)
        aux = {"s": s_next, "xi": xi, "chi": chi}
        return OptState(new_x, k + 1, ledger, math.nan, math.nan, float(np.linalg.norm(grad)), aux)
