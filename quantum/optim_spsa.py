"""SPSA under a shot budget (Spall 1992, 1998), and SPSA as a ``scipy.optimize.minimize`` method.

Each step draws ``resamplings`` Rademacher directions Δ_r and evaluates the 2R points x ± c_kΔ_r
in ONE batch with ``shots`` shots each:

.. math::

    \\hat g_k = \\frac{1}{R}\\sum_r \\frac{f(x_k + c_k\\Delta_r) - f(x_k - c_k\\Delta_r)}{2c_k}\\,\\Delta_r^{-1},
    \\qquad x_{k+1} = x_k - a_k \\hat g_k,

    a_k = \\frac{a}{(A + k + 1)^{\\alpha}}, \\quad c_k = \\frac{c}{(k+1)^{\\gamma}},
    \\quad \\alpha = 0.602,\\ \\gamma = 0.101.

Calibration (``a=None``, as Qiskit's ``SPSA.calibrate``): 25 directions at x_0 (50 evaluations,
counted under ``"calibration"``) give the mean first-step magnitude per component
:math:`\\bar m = \\mathrm{mean}_r |f_+ - f_-|/(2c)`; then :math:`a = s_{target}(A+1)^{\\alpha}/\\bar m`
so that the first step has magnitude :math:`s_{target}` (2π/10 by default) whatever A is.
``A=None`` takes Spall's guideline A = 10 % of the iterations the budget allows.

Blocking: the candidate x_{k+1} is evaluated (counted under ``"blocking"``) and accepted only if
:math:`\\hat f(x_{k+1}) < \\hat f(x_k) + k_\\sigma\\sqrt{se_{k+1}^2 + se_k^2}` — the tolerance is the
shot noise of the two estimates themselves, from their standard errors, at no extra cost
(Qiskit instead spends 50 more evaluations estimating a standard deviation).  Iterate averaging
returns the mean of the last ``averaging`` iterates.

References
----------
Spall, IEEE TAC 37, 332 (1992); Spall, IEEE TAES 34, 817 (1998) (gain guidelines);
qiskit-algorithms ``SPSA.calibrate`` (target first step 2π/10).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult

from crossnoise.quantum.objective import EnergyBatch, NoisyObjective
from crossnoise.quantum.optim_base import OptState, ShotLedger, StepOptimizer, evaluate
from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import (
    InputError,
    check_finite_array,
    check_positive_float,
    check_positive_int,
    warn_degenerate,
)

__all__ = ["SPSA", "rademacher", "spsa_minimize", "CallableObjective", "check_spsa_gains"]


def rademacher(rng: np.random.Generator, d: int) -> np.ndarray:
    """A vector of ±1 with equal probability (Spall's recommended perturbation)."""
    return 1.0 - 2.0 * rng.integers(0, 2, size=d)


def check_spsa_gains(a: Any, c: Any, A: Any, alpha: Any, gamma: Any, target_step: Any) -> None:
    """Validate SPSA gains: all positive (``a``/``A`` may be None: calibrated / guideline)."""
    if a is not None:
        check_positive_float(a, "a")
    check_positive_float(c, "c")
    if A is not None:
        check_positive_float(A, "A", allow_zero=True)
    check_positive_float(alpha, "alpha")
    check_positive_float(gamma, "gamma")
    check_positive_float(target_step, "target_step")


@dataclass(frozen=True, slots=True)
class SPSA(StepOptimizer):
    """Simultaneous-perturbation stochastic approximation with shot accounting.

    Parameters
    ----------
    shots : int
        Shots per energy evaluation (each of the 2R points of a step).
    a : float or None
        Learning-rate gain; None calibrates it (counted shots).
    c : float
        Perturbation gain.
    A : float or None
        Stability constant; None → 10 % of the iterations the budget allows.
    alpha, gamma : float
        Decay exponents (0.602, 0.101: Spall 1998).
    target_step : float
        Calibration's first-step magnitude (2π/10).
    calibration_steps : int
        Directions used to calibrate ``a`` (2 evaluations each).
    resamplings : int
        Directions averaged per gradient estimate.
    blocking : bool
        Reject steps whose estimated energy rises by more than ``blocking_sigmas`` standard errors.
    averaging : int
        Return the mean of the last ``averaging`` iterates (1: the iterate itself).
    perturbation : callable
        ``perturbation(rng, d)`` → a direction with entries ±1 (default Rademacher).

    Examples
    --------
    >>> opt = SPSA(shots=100, a=0.1)
    >>> opt.next_cost(None, 4)   # 2 points × 100 shots
    200
    """

    shots: int = 1000
    a: float | None = None
    c: float = 0.2
    A: float | None = None
    alpha: float = 0.602
    gamma: float = 0.101
    target_step: float = 2 * math.pi / 10
    calibration_steps: int = 25
    resamplings: int = 1
    blocking: bool = False
    blocking_sigmas: float = 2.0
    averaging: int = 1
    perturbation: Callable[[np.random.Generator, int], np.ndarray] = rademacher
    name: str = "spsa"

    def __post_init__(self) -> None:
        check_positive_int(self.shots, "shots")
        check_spsa_gains(self.a, self.c, self.A, self.alpha, self.gamma, self.target_step)
        check_positive_int(self.calibration_steps, "calibration_steps")
        check_positive_int(self.resamplings, "resamplings")
        check_positive_int(self.averaging, "averaging")
        check_positive_float(self.blocking_sigmas, "blocking_sigmas", allow_zero=True)

    # ------------------------------------------------------------------ costs
    def init_cost(self, n_params: int) -> int:
        return spsa_init_cost(self)

    def next_cost(self, state: OptState | None, n_params: int) -> int:
        return 2 * self.resamplings * self.shots + (self.shots if self.blocking else 0)

    # ------------------------------------------------------------------ steps
    def init(self, x0: np.ndarray, objective: NoisyObjective, *, rng: np.random.Generator,
             max_iterations: int | None = None) -> OptState:
        x0 = np.asarray(x0, dtype=float)
        a, A, energy, se, ledger = spsa_start(self, objective, x0, rng=rng, max_iterations=max_iterations,
                                              perturbation=self.perturbation)
        aux: dict[str, Any] = {"a": a, "A": A, "history": (x0.copy(),), "accepted": 0, "rejected": 0}
        return OptState(x0.copy(), 0, ledger, energy, se, math.nan, aux)

    def step(self, state: OptState, objective: NoisyObjective, *, rng: np.random.Generator) -> OptState:
        k, x, aux = state.iteration, state.params, state.aux
        ck = self.c / (k + 1) ** self.gamma
        ak = aux["a"] / (aux["A"] + k + 1) ** self.alpha
        grad, f_mean, f_se, ledger = spsa_gradient(objective, x, ck, self.resamplings, self.shots, rng=rng,
                                                   ledger=state.ledger, perturbation=self.perturbation)
        cand = x - ak * grad
        energy, se = f_mean, f_se  # (f+ + f−)/2: an O(c²)-biased estimate of E(x_k)
        new_aux = dict(aux)
        if self.blocking:
            cand, energy, se, ledger = blocking_step(objective, state, cand, self.shots, self.blocking_sigmas, new_aux,
                                                     rng=rng, ledger=ledger)
        new_aux["history"] = (aux["history"] + (cand.copy(),))[-self.averaging:]
        return OptState(cand, k + 1, ledger, energy, se, float(np.linalg.norm(grad)), new_aux)

    def solution(self, state: OptState) -> np.ndarray:
        hist = state.aux.get("history") if state.aux else None
        if not hist or self.averaging == 1:
            return state.params
        return np.mean(np.stack(hist), axis=0)


def spsa_init_cost(opt: Any) -> int:
    """Shots of an SPSA-family ``init``: the calibration (unless ``a`` is given) and the blocking point."""
    cal = 0 if opt.a is not None else 2 * opt.calibration_steps * opt.shots
    return cal + (opt.shots if opt.blocking else 0)


def spsa_start(opt: Any, objective: NoisyObjective, x0: np.ndarray, *, rng: np.random.Generator,
               max_iterations: int | None, perturbation: Callable[[np.random.Generator, int], np.ndarray] = rademacher,
               ) -> tuple[float, float, float, float, ShotLedger]:
    """Start of an SPSA-family run: gains ``a`` (calibrated and counted when unset) and ``A``, and with
    blocking the energy at ``x0`` and its standard error (NaN without).  Returns (a, A, energy, se, ledger).
    """
    ledger = ShotLedger()
    A = opt.A if opt.A is not None else 0.1 * (max_iterations or 100)
    a = opt.a
    if a is None:
        a, ledger = calibrate_a(objective, x0, c=opt.c, A=A, alpha=opt.alpha, target_step=opt.target_step,
                                steps=opt.calibration_steps, shots=opt.shots, rng=rng, ledger=ledger,
                                perturbation=perturbation)
    energy = se = math.nan
    if opt.blocking:
        energy, se, ledger = blocking_energy(objective, x0, opt.shots, rng=rng, ledger=ledger)
    return float(a), float(A), energy, se, ledger


def blocking_energy(objective: NoisyObjective, x: np.ndarray, shots: int, *, rng: np.random.Generator,
                    ledger: ShotLedger) -> tuple[float, float, ShotLedger]:
    """One counted evaluation at ``x`` (purpose ``"blocking"``): energy, its standard error, the new ledger."""
    batch, ledger = evaluate(objective, x[None, :], shots, rng=rng, ledger=ledger, purpose="blocking")
    return float(batch.values[0]), float(batch.standard_errors[0]), ledger


def blocking_step(objective: NoisyObjective, state: OptState, cand: np.ndarray, shots: int, sigmas: float,
                  aux: dict[str, Any], *, rng: np.random.Generator, ledger: ShotLedger
                  ) -> tuple[np.ndarray, float, float, ShotLedger]:
    """Spall's blocking: accept ``cand`` only if its energy rises by less than ``sigmas`` standard errors.

    The tolerance is :math:`k\sqrt{se_{new}^2 + se_{old}^2}` from the estimates' own standard
    errors (a callable objective has none — NaN — so its tolerance is 0).  Counts accepted and
    rejected steps in ``aux`` (updated in place) and returns (point, energy, se, ledger).
    """
    f_new, se_new, ledger = blocking_energy(objective, cand, shots, rng=rng, ledger=ledger)
    tol = sigmas * math.hypot(np.nan_to_num(se_new), np.nan_to_num(state.energy_se))
    if f_new < state.energy + tol:
        aux["accepted"] += 1
        return cand, f_new, se_new, ledger
    aux["rejected"] += 1
    return state.params, state.energy, state.energy_se, ledger


def spsa_gradient(objective: NoisyObjective, x: np.ndarray, ck: float, resamplings: int, shots: int, *,
                  rng: np.random.Generator, ledger: ShotLedger,
                  perturbation: Callable[[np.random.Generator, int], np.ndarray] = rademacher,
                  purpose: str = "gradient") -> tuple[np.ndarray, float, float, ShotLedger]:
    """One SPSA gradient estimate averaged over ``resamplings`` directions (one batch).

    Returns the gradient, the mean of the 2R energies with its standard error, and the ledger.
    """
    d = x.shape[0]
    deltas = np.stack([perturbation(rng, d) for _ in range(resamplings)])
    pts = np.empty((2 * resamplings, d))
    pts[0::2] = x + ck * deltas
    pts[1::2] = x - ck * deltas
    batch, ledger = evaluate(objective, pts, shots, rng=rng, ledger=ledger, purpose=purpose)
    v = np.asarray(batch.values, dtype=float)
    diff = (v[0::2] - v[1::2]) / (2 * ck)
    grad = np.mean(diff[:, None] / deltas, axis=0)
    se = np.asarray(batch.standard_errors, dtype=float)
    return grad, float(v.mean()), float(np.sqrt(np.sum(se**2)) / v.size), ledger


def calibrate_a(objective: NoisyObjective, x0: np.ndarray, *, c: float, A: float, alpha: float, target_step: float,
                steps: int, shots: int, rng: np.random.Generator, ledger: ShotLedger,
                perturbation: Callable[[np.random.Generator, int], np.ndarray] = rademacher,
                ) -> tuple[float, ShotLedger]:
    """Calibrate ``a`` so that the first step has magnitude ``target_step`` (counted shots).

    .. math:: a = s_{target}(A+1)^{\\alpha} / \\mathrm{mean}_r\\,|f(x_0+c\\Delta_r) - f(x_0-c\\Delta_r)|/(2c)
    """
    d = x0.shape[0]
    deltas = np.stack([perturbation(rng, d) for _ in range(steps)])
    pts = np.empty((2 * steps, d))
    pts[0::2] = x0 + c * deltas
    pts[1::2] = x0 - c * deltas
    batch, ledger = evaluate(objective, pts, shots, rng=rng, ledger=ledger, purpose="calibration")
    v = np.asarray(batch.values, dtype=float)
    mag = float(np.mean(np.abs(v[0::2] - v[1::2]) / (2 * c)))
    if not mag > 0:
        warn_degenerate("SPSA calibration saw no energy differences; using a = target_step.", stacklevel=5)
        return float(target_step), ledger
    return float(target_step * (A + 1) ** alpha / mag), ledger


# ---------------------------------------------------------------------- SPSA as a scipy method
class CallableObjective:
    """A plain callable ``f(x) -> float`` seen as a :class:`NoisyObjective`.

    Its shots are unknown to crossnoise (``EnergyBatch.shots = 0``); the ledger still counts every
    evaluation (``evaluations`` is the honest nfev).  ``exact`` is ``f`` itself.
    """

    def __init__(self, fun: Callable[..., float], n_params: int, args: tuple = ()) -> None:
        self.fun, self.n_params, self.args = fun, n_params, args

    def evaluate(self, thetas: np.ndarray, shots: int, *, rng: np.random.Generator) -> EnergyBatch:
        vals = np.array([float(self.fun(t, *self.args)) for t in np.atleast_2d(thetas)])
        return EnergyBatch(vals, np.full(vals.shape, math.nan), 0, 0)

    def exact(self, thetas: np.ndarray) -> np.ndarray:
        return np.array([float(self.fun(t, *self.args)) for t in np.atleast_2d(thetas)])


def spsa_minimize(fun: Callable[..., float], x0: Any, args: tuple = (), *, maxiter: int = 100,
                  a: float | None = None, c: float = 0.2, A: float | None = None, alpha: float = 0.602,
                  gamma: float = 0.101, resamplings: int = 1, blocking: bool = False, averaging: int = 1,
                  rng: RNGLike = None, callback: Callable[..., Any] | None = None, **unknown: Any) -> OptimizeResult:
    """SPSA as a custom ``method=`` for :func:`scipy.optimize.minimize`.

    ``minimize(f, x0, method=spsa_minimize, options={"maxiter": 200, "rng": 7})``.  ``nfev``
    counts EVERY evaluation, calibration and blocking included.  Gains as :class:`SPSA`.  With
    ``blocking`` the tolerance needs standard errors, which a plain callable has not: the test
    is then a plain decrease (tolerance 0).  ``callback(intermediate_result)`` receives an
    ``OptimizeResult`` with ``x`` and ``fun`` after every iteration.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (averaged if ``averaging > 1``), ``fun`` (the last estimate, f at x for blocking),
        ``nfev``, ``nit``, ``success``, ``message``.
    """
    for key in ("jac", "hess", "hessp", "bounds", "constraints"):  # scipy passes these to every method
        val = unknown.pop(key, None)
        if val is not None and not (isinstance(val, (tuple, list)) and len(val) == 0):
            raise InputError(f"spsa_minimize does not use `{key}`; got one.")
    if unknown:
        raise InputError(f"spsa_minimize accepts maxiter, a, c, A, alpha, gamma, resamplings, blocking, averaging, rng, callback; got {sorted(unknown)}.")
    x0 = check_finite_array(x0, "x0", ndim=1)
    maxiter = check_positive_int(maxiter, "maxiter")
    gen = as_generator(rng)
    opt = SPSA(shots=1, a=a, c=c, A=A, alpha=alpha, gamma=gamma, resamplings=resamplings, blocking=blocking,
               blocking_sigmas=0.0, averaging=averaging)
    obj = CallableObjective(fun, x0.shape[0], tuple(args))
    state = opt.init(x0, obj, rng=gen, max_iterations=maxiter)
    for _ in range(maxiter):
        state = opt.step(state, obj, rng=gen)
        if callback is not None:
            callback(intermediate_result=OptimizeResult(x=opt.solution(state), fun=state.energy, nit=state.iteration))
    return OptimizeResult(x=opt.solution(state), fun=state.energy, nfev=state.ledger.evaluations, nit=state.iteration,
                          success=True, status=0, message=f"SPSA: {maxiter} iterations")
