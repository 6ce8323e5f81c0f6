"""Gradient estimators as plans: what to run (points and shots, cost known up front) and how to combine.

Every estimator here is LINEAR in the energies it measures, so a plan is a set of M points, the
shots per point, and a (d, M) combination matrix C: :math:`\\hat g = C\\,\\hat E`.  With independent
evaluations the per-component variance is :math:`\\operatorname{Var}(\\hat g_i) = \\sum_m C_{im}^2
\\operatorname{Var}(\\hat E_m)` (DESIGN §3.5: plans separate *what to run* from *how to combine*).

- Parameter shift (Mitarai et al. PRA 98, 032309 (2018); Schuld et al. PRA 99, 032331 (2019)):
  for rotations :math:`e^{-i a_r\\theta_j P/2}`,
  :math:`\\partial_j E = \\sum_{r: j(r)=j} a_r [E(\\varphi_r + \\pi/2) - E(\\varphi_r - \\pi/2)]/2`,
  2 points per ROTATION (in rotation-angle space; when every parameter drives one rotation with
  coefficient 1 the points are θ ± π/2 eᵢ).  Unbiased.
- SPSA (Spall, IEEE TAC 37, 332 (1992)): :math:`\\hat g = \\frac{1}{R}\\sum_{s=1}^R
  \\frac{E(\\theta + c\\Delta_s) - E(\\theta - c\\Delta_s)}{2c}\\,\\Delta_s^{-1}`, Δ Rademacher
  (Δ⁻¹ = Δ), or Gaussian smoothing (Δ ~ N(0, I), multiplied by Δ; unbiased for the gradient of the
  Gaussian-smoothed E).  2R points.  Bias O(c²).
- Central finite differences: :math:`[E(\\theta + h e_i) - E(\\theta - h e_i)]/(2h)`, 2d points,
  bias O(h²).

At a fixed budget B per gradient (σ² the single-shot variance of the energy estimator):
parameter shift Var(ĝᵢ) = σ²d/B; SPSA shot part σ²/(c²B), independent of d, plus a direction
part with total (d−1)|g|² (see :mod:`crossnoise.quantum.variance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crossnoise.quantum.ansatz import Ansatz, check_theta
from crossnoise.quantum.objective import EnergyBatch
from crossnoise.rng import as_generator
from crossnoise.validation import InputError, check_choice, check_positive_float, check_positive_int

__all__ = ["GradientPlan", "GradientEstimate", "parameter_shift_plan", "spsa_plan", "finite_difference_plan",
           "run_plan", "exact_gradient", "plan_for_budget"]


@dataclass(frozen=True, slots=True)
class GradientPlan:
    """M evaluation points, shots per point and the (d, M) combination matrix.

    Attributes
    ----------
    name : str
    points : (M, width) array
        θ points (``space == "theta"``) or rotation-angle points (``space == "angles"``).
    space : {"theta", "angles"}
    shots_per_point : int
    combine : (d, M) array
        ĝ = combine @ E.
    directions : (R, d) array or None
        SPSA's perturbation directions (for diagnostics).
    """

    name: str
    points: np.ndarray
    space: str
    shots_per_point: int
    combine: np.ndarray
    directions: np.ndarray | None = None

    @property
    def n_points(self) -> int:
        return int(self.points.shape[0])

    @property
    def shots(self) -> int:
        """Total shots this plan spends (known before running)."""
        return self.n_points * self.shots_per_point

    def circuits(self, n_groups: int) -> int:
        """Circuit executions: points × measurement groups."""
        return self.n_points * n_groups

    def apply(self, energies: np.ndarray) -> np.ndarray:
        """ĝ = C E for energies of shape (M,) or (R, M) → (d,) or (R, d)."""
        e = np.asarray(energies, dtype=float)
        return e @ self.combine.T


@dataclass(frozen=True, slots=True)
class GradientEstimate:
    """A gradient estimate with per-component standard errors and its cost."""

    gradient: np.ndarray
    standard_errors: np.ndarray
    shots: int
    circuits: int
    method: str

    @property
    def norm(self) -> float:
        return float(np.linalg.norm(self.gradient))


def _check_shots(shots: Any, minimum: int = 1) -> int:
    return check_positive_int(shots, "shots", minimum=minimum)


def parameter_shift_plan(ansatz: Ansatz, theta: Any, shots: int) -> GradientPlan:
    """Parameter-shift plan at θ with ``shots`` per point (2 points per rotation).

    Examples
    --------
    >>> from crossnoise.quantum.ansatz import hardware_efficient
    >>> plan = parameter_shift_plan(hardware_efficient(4, 2, 2), np.zeros(8), 100)
    >>> plan.n_points, plan.shots, plan.space
    (16, 1600, 'theta')
    """
    t = check_theta(theta, ansatz)[0]
    n = _check_shots(shots)
    if ansatz.one_to_one:
        d = ansatz.n_params
        pts = np.repeat(t[None, :], 2 * d, axis=0)
        comb = np.zeros((d, 2 * d))
        for j in range(d):
            pts[2 * j, j] += np.pi / 2
            pts[2 * j + 1, j] -= np.pi / 2
            comb[j, 2 * j], comb[j, 2 * j + 1] = 0.5, -0.5
        return GradientPlan("parameter-shift", pts, "theta", n, comb)
    phi = ansatz.angles(t[None, :])[0]
    n_rot = ansatz.n_rotations
    pts = np.repeat(phi[None, :], 2 * n_rot, axis=0)
    comb = np.zeros((ansatz.n_params, 2 * n_rot))
    for r, rot in enumerate(ansatz.rotations):
        pts[2 * r, r] += np.pi / 2
        pts[2 * r + 1, r] -= np.pi / 2
        comb[rot.param, 2 * r] += 0.5 * rot.coeff
        comb[rot.param, 2 * r + 1] -= 0.5 * rot.coeff
    return GradientPlan("parameter-shift", pts, "angles", n, comb)


def spsa_plan(theta: Any, shots: int, *, c: float = 0.2, resamplings: int = 1, distribution: str = "rademacher",
              directions: Any = None, rng: Any = None) -> GradientPlan:
    """SPSA plan: 2·``resamplings`` points θ ± cΔ, ``shots`` per point.

    ``directions`` (R, d) fixes Δ (then ``rng`` is unused), e.g. to separate the shot part of the
    variance from the direction part.

    Examples
    --------
    >>> plan = spsa_plan(np.zeros(5), 1000, rng=0)
    >>> plan.n_points, plan.shots
    (2, 2000)
    """
    t = np.asarray(theta, dtype=float).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise InputError(f"`theta` must be a non-empty finite vector; got {theta!r}.")
    n = _check_shots(shots)
    c = check_positive_float(c, "c")
    r = check_positive_int(resamplings, "resamplings")
    check_choice(distribution, "distribution", ("rademacher", "gaussian"))
    d = t.size
    if directions is None:
        gen = as_generator(rng)
        delta = gen.choice([-1.0, 1.0], size=(r, d)) if distribution == "rademacher" else gen.standard_normal((r, d))
    else:
        delta = np.asarray(directions, dtype=float).reshape(-1, d)
        r = delta.shape[0]
    mult = 1.0 / delta if distribution == "rademacher" else delta
    pts = np.empty((2 * r, d))
    comb = np.zeros((d, 2 * r))
    for s in range(r):
        pts[2 * s] = t + c * delta[s]
        pts[2 * s + 1] = t - c * delta[s]
        comb[:, 2 * s] = mult[s] / (2 * c * r)
        comb[:, 2 * s + 1] = -mult[s] / (2 * c * r)
    return GradientPlan(f"spsa({distribution},c={c:g},R={r})", pts, "theta", n, comb, delta)


def finite_difference_plan(theta: Any, shots: int, *, h: float = 0.1) -> GradientPlan:
    """Central finite differences with step h: 2d points, ``shots`` per point."""
    t = np.asarray(theta, dtype=float).ravel()
    if t.size == 0 or not np.all(np.isfinite(t)):
        raise InputError(f"`theta` must be a non-empty finite vector; got {theta!r}.")
    n = _check_shots(shots)
    h = check_positive_float(h, "h")
    d = t.size
    pts = np.repeat(t[None, :], 2 * d, axis=0)
    comb = np.zeros((d, 2 * d))
    for j in range(d):
        pts[2 * j, j] += h
        pts[2 * j + 1, j] -= h
        comb[j, 2 * j], comb[j, 2 * j + 1] = 1 / (2 * h), -1 / (2 * h)
    return GradientPlan(f"finite-difference(h={h:g})", pts, "theta", n, comb)


def plan_for_budget(method: str, ansatz: Ansatz, theta: Any, budget: int, *, rng: Any = None, **kwargs: Any
                    ) -> GradientPlan:
    """A plan that spends at most ``budget`` shots: shots per point = ⌊budget / points⌋.

    Raises an :class:`InputError` naming the minimum when the budget is smaller than one gradient's
    cost (one shot per group is NOT checked here; the objective checks it).
    """
    check_choice(method, "method", ("parameter-shift", "spsa", "finite-difference"))
    b = check_positive_int(budget, "budget")
    if method == "parameter-shift":
        m = 2 * (ansatz.n_params if ansatz.one_to_one else ansatz.n_rotations)
    elif method == "spsa":
        m = 2 * int(kwargs.get("resamplings", 1))
    else:
        m = 2 * ansatz.n_params
    if b < m:
        raise InputError(f"`budget` must be at least {m} shots (one per point of one {method} gradient); got {b}.")
    if method == "parameter-shift":
        return parameter_shift_plan(ansatz, theta, b // m)
    if method == "spsa":
        return spsa_plan(theta, b // m, rng=rng, **kwargs)
    return finite_difference_plan(theta, b // m, **kwargs)


def run_plan(objective: Any, plan: GradientPlan, *, rng: Any = None) -> GradientEstimate:
    """Execute a plan on an objective (one batch) and combine.

    θ-space plans run on any :class:`~crossnoise.quantum.objective.NoisyObjective`; rotation-angle
    plans need an :class:`~crossnoise.quantum.objective.EnergyObjective`.
    """
    gen = as_generator(rng)
    if plan.space == "angles":
        if not hasattr(objective, "evaluate_angles"):
            raise InputError("`plan` is in rotation-angle space (a parameter drives several rotations); "
                             "`objective` must be an EnergyObjective.")
        batch: EnergyBatch = objective.evaluate_angles(plan.points, plan.shots_per_point, rng=gen)
    else:
        batch = objective.evaluate(plan.points, plan.shots_per_point, rng=gen)
    g = plan.apply(batch.values)
    se = np.sqrt((plan.combine**2) @ np.asarray(batch.standard_errors, dtype=float) ** 2)
    return GradientEstimate(g, se, batch.shots, batch.circuits, plan.name)


def exact_gradient(objective: Any, theta: Any) -> np.ndarray:
    """The exact gradient: the parameter-shift rule applied to exact statevector energies.

    For Pauli rotations the shift rule is exact (not an approximation), so this is ∇E(θ) to
    machine precision; the tests check it against finite differences of the exact energy.
    """
    plan = parameter_shift_plan(objective.ansatz, theta, 1)
    e = objective.exact_angles(plan.points) if plan.space == "angles" else objective.exact(plan.points)
    return plan.apply(e)
