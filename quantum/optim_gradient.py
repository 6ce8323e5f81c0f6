"""Parameter-shift gradient descent and Adam under a shot budget.

The gradient is a fixed linear combination of energies at shifted points (DESIGN §4): for a
parameter that enters ONE gate exp(−iθP/2) with P² = I,

.. math:: \\partial_i E = \\tfrac12\\left[E(\\theta + \\tfrac{\\pi}{2}e_i) - E(\\theta - \\tfrac{\\pi}{2}e_i)\\right],

2d evaluations with ``shots`` shots each, batched in one call; its variance per component is
:math:`(se_+^2 + se_-^2)/4`.  An ansatz whose parameters have more frequencies passes another
:class:`ShiftRule` (points and weights): :class:`EquidistantShift` with R = 2 for UCCSD.

References
----------
Mitarai et al., PRA 98, 032309 (2018); Schuld et al., PRA 99, 032331 (2019) (parameter shift);
Kingma & Ba, ICLR (2015) (Adam).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from crossnoise.quantum.objective import NoisyObjective
from crossnoise.quantum.optim_base import OptState, ShotLedger, StepOptimizer, evaluate
from crossnoise.validation import check_positive_float, check_positive_int, check_probability

__all__ = ["ShiftRule", "EquidistantShift", "TwoTermShift", "shift_gradient", "ParameterShiftGD", "ParameterShiftAdam"]


class ShiftRule(Protocol):
    """``plan(x) -> (points (M, d), weights (d, M))``: ∇E(x) = weights @ E(points)."""

    def plan(self, x: np.ndarray, components: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def n_points(self, n_params: int) -> int: ...


@dataclass(frozen=True, slots=True)
class EquidistantShift:
    """The general parameter-shift rule for integer frequencies 1 … R (Wierichs et al. 2022).

    If E restricted to θ_i is a trigonometric polynomial with frequencies in {1, …, R},

    .. math::

        \\partial_i E(\\theta) = \\sum_{\\mu=1}^{2R} E(\\theta + x_\\mu e_i)\\,
            \\frac{(-1)^{\\mu-1}}{4R\\sin^2(x_\\mu/2)},\\qquad x_\\mu = \\frac{(2\\mu-1)\\pi}{2R},

    exactly: R = 1 is the two-term ±π/2 rule (one Pauli rotation per parameter, the HEA); R = 2
    covers a fermionic excitation e^{θ(T−T†)} (eigenvalues of its generator 0, ±i, so
    frequencies 1 and 2), i.e. every UCCSD parameter, with 4 evaluations instead of two per
    compiled rotation.  Reference: D. Wierichs, J. Izaac, C. Wang, C. Y.-Y. Lin, "General
    parameter-shift rules for quantum gradients", Quantum 6, 677 (2022), Eq. (31).
    """

    R: int = 1

    def __post_init__(self) -> None:
        check_positive_int(self.R, "R")

    def _shifts(self) -> tuple[np.ndarray, np.ndarray]:
        mu = np.arange(1, 2 * self.R + 1)
        x = (2 * mu - 1) * np.pi / (2 * self.R)
        return x, (-1.0) ** (mu - 1) / (4 * self.R * np.sin(x / 2) ** 2)

    def plan(self, x: np.ndarray, components: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        d = x.shape[0]
        comps = np.arange(d) if components is None else np.asarray(components, dtype=int)
        shifts, coef = self._shifts()
        s = shifts.size
        pts = np.repeat(x[None, :], s * comps.size, axis=0)
        w = np.zeros((d, s * comps.size))
        for j, c in enumerate(comps):
            rows = slice(j * s, (j + 1) * s)
            pts[rows, c] += shifts
            w[c, rows] = coef
        return pts, w

    def n_points(self, n_params: int) -> int:
        return 2 * self.R * n_params


def TwoTermShift() -> EquidistantShift:  # noqa: N802 — the common name of the R = 1 rule
    """The two-term rule ±π/2 (each parameter in one Pauli rotation): ``EquidistantShift(1)``."""
    return EquidistantShift(1)


def shift_gradient(objective: NoisyObjective, x: np.ndarray, shots: int, *, rng: np.random.Generator,
                   ledger: ShotLedger, rule: ShiftRule | None = None, components: np.ndarray | None = None,
                   purpose: str = "gradient") -> tuple[np.ndarray, np.ndarray, ShotLedger]:
    """Shift-rule gradient (one batch): returns ĝ, Var(ĝ_i) from the standard errors, the ledger.

    .. math:: \\hat g = W\\hat E(\\text{points}),\\qquad \\mathrm{Var}(\\hat g_i) = \\sum_m W_{im}^2\\,se_m^2
    """
    rule = rule or TwoTermShift()
    pts, w = rule.plan(x, components)
    batch, ledger = evaluate(objective, pts, shots, rng=rng, ledger=ledger, purpose=purpose)
    v = np.asarray(batch.values, dtype=float)
    se = np.asarray(batch.standard_errors, dtype=float)
    return w @ v, (w**2) @ (se**2), ledger


@dataclass(frozen=True, slots=True)
class ParameterShiftGD(StepOptimizer):
    """Gradient descent x ← x − η ĝ with the parameter-shift gradient.

    Parameters
    ----------
    shots : int
        Shots per energy evaluation (2d evaluations per step).
    learning_rate : float
    rule : ShiftRule, optional
        Default: two-term ±π/2.
    gtol : float
        Converged when ‖ĝ‖ falls below ``gtol`` (0: never).
    """

    shots: int = 1000
    learning_rate: float = 0.1
    rule: Any = None
    gtol: float = 0.0
    name: str = "ps-gd"

    def __post_init__(self) -> None:
        check_positive_int(self.shots, "shots")
        check_positive_float(self.learning_rate, "learning_rate")
        check_positive_float(self.gtol, "gtol", allow_zero=True)

    def _rule(self) -> ShiftRule:
        return self.rule or TwoTermShift()

    def next_cost(self, state: OptState | None, n_params: int) -> int:
        return self._rule().n_points(n_params) * self.shots

    def init(self, x0: np.ndarray, objective: NoisyObjective, *, rng: np.random.Generator,
             max_iterations: int | None = None) -> OptState:
        return OptState(np.asarray(x0, dtype=float).copy(), 0, ShotLedger(), aux=self._init_aux(x0))

    def _init_aux(self, x0: np.ndarray) -> dict[str, Any]:
        return {}

    def _update(self, state: OptState, grad: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        return state.params - self.learning_rate * grad, {}

    def step(self, state: OptState, objective: NoisyObjective, *, rng: np.random.Generator) -> OptState:
        grad, _, ledger = shift_gradient(objective, state.params, self.shots, rng=rng, ledger=state.ledger,
                                         rule=self._rule())
        x, aux = self._update(state, grad)
        return OptState(x, state.iteration + 1, ledger, math.nan, math.nan, float(np.linalg.norm(grad)), aux)

    def converged(self, state: OptState) -> bool:
        return self.gtol > 0 and state.grad_norm < self.gtol


@dataclass(frozen=True, slots=True)
class ParameterShiftAdam(ParameterShiftGD):
    """Adam on the parameter-shift gradient (bias-corrected moments, Kingma & Ba 2015).

    .. math::

        m_k = \\beta_1 m_{k-1} + (1-\\beta_1)\\hat g_k,\\quad v_k = \\beta_2 v_{k-1} + (1-\\beta_2)\\hat g_k^2,

        x_{k+1} = x_k - \\eta\\,\\frac{m_k/(1-\\beta_1^k)}{\\sqrt{v_k/(1-\\beta_2^k)} + \\epsilon}
    """

    learning_rate: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name: str = "ps-adam"

    def __post_init__(self) -> None:
        ParameterShiftGD.__post_init__(self)
        check_probability(self.beta1, "beta1")
        check_probability(self.beta2, "beta2")
        check_positive_float(self.eps, "eps")

    def _init_aux(self, x0: np.ndarray) -> dict[str, Any]:
        return {"m": np.zeros(len(x0)), "v": np.zeros(len(x0))}

    def _update(self, state: OptState, grad: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        k = state.iteration + 1
        m = self.beta1 * state.aux["m"] + (1 - self.beta1) * grad
        v = self.beta2 * state.aux["v"] + (1 - self.beta2) * grad**2
        mhat = m / (1 - self.beta1**k)
        vhat = v / (1 - self.beta2**k)
        return state.params - self.learning_rate * mhat / (np.sqrt(vhat) + self.eps), {"m": m, "v": v}
