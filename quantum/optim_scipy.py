"""Gradient-free baselines (COBYLA, Nelder–Mead, Powell) on the same noisy objective.

``scipy.optimize.minimize`` drives the loop; the function it sees evaluates ONE point of the
:class:`~crossnoise.quantum.objective.NoisyObjective` with ``shots`` shots and adds the batch to
the same :class:`~crossnoise.quantum.optim_base.ShotLedger` the step optimizers use, so line
searches and simplex moves are counted like any other evaluation.  When the budget cannot pay
for the next evaluation the function raises, scipy stops, and the run ends with status
``"budget_spent"`` at the last iterate scipy reported; a scipy convergence stop is
``"converged"``.  Each scipy iteration (its callback) is one trace point.

References
----------
Powell, M. J. D., "A direct search optimization method that models the objective and constraint
functions by linear interpolation" (1994) (COBYLA); Nelder & Mead, Comput. J. 7, 308 (1965);
Powell, Comput. J. 7, 155 (1964); Virtanen et al., SciPy 1.0, Nat. Methods 17, 261 (2020).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

from crossnoise.quantum.objective import NoisyObjective
from crossnoise.quantum.optim_base import (
    EvaluationFailed,
    OptimizationResult,
    ShotLedger,
    TracePoint,
    _validate_run,
    evaluate,
)
from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import check_choice, check_positive_float, check_positive_int

__all__ = ["ScipyOptimizer", "SCIPY_METHODS"]

SCIPY_METHODS = {"cobyla": "COBYLA", "nelder-mead": "Nelder-Mead", "powell": "Powell"}


class _BudgetSpent(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ScipyOptimizer:
    """A ``scipy.optimize.minimize`` method on a noisy objective, with every shot counted.

    Parameters
    ----------
    method : {"cobyla", "nelder-mead", "powell"}
    shots : int
        Shots per evaluation.
    simplex_step : float
        Nelder–Mead's initial simplex x0 + step·e_i (scipy's default, 5 % of x0 or 2.5e-4 at zero,
        is far below the shot noise at a Hartree–Fock start) and COBYLA's ``rhobeg``.
    options : dict
        Passed to scipy (``maxiter``/``maxfev`` default to values the budget, not scipy, binds).

    Examples
    --------
    >>> ScipyOptimizer("cobyla", shots=500).min_budget(4)   # d + 1 evaluations to start
    2500
    """

    method: str = "cobyla"
    shots: int = 1000
    simplex_step: float = 0.2
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice(self.method, "method", tuple(SCIPY_METHODS))
        check_positive_int(self.shots, "shots")
        check_positive_float(self.simplex_step, "simplex_step")

    @property
    def name(self) -> str:
        return self.method

    def init_cost(self, n_params: int) -> int:
        return 0

    def next_cost(self, state: Any, n_params: int) -> int:
        """The first iteration needs d + 1 evaluations (initial simplex / interpolation set)."""
        return (n_params + 1) * self.shots

    def min_budget(self, n_params: int) -> int:
        return self.next_cost(None, n_params)

    def minimize(self, objective: NoisyObjective, x0: np.ndarray, *, budget: int, rng: RNGLike = None,
                 max_iterations: int | None = None, record_every: int = 1,
                 progress: Callable[[int, int], None] | None = None,
                 divergence_bound: float = 1e3) -> OptimizationResult:
        """Run scipy's method until the budget cannot pay for the next evaluation.

        Parameters as :func:`~crossnoise.quantum.optim_base.run_optimizer`.
        """
        x0, budget, max_iterations, record_every = _validate_run(self, objective, x0, budget, max_iterations,
                                                                 record_every)
        gen = as_generator(rng)
        t0 = time.perf_counter()
        box: dict[str, Any] = {"ledger": ShotLedger(), "last": {}, "x": x0.copy(), "nit": 0,
                               "energy": math.nan, "se": math.nan}
        trace: list[TracePoint] = []

        def record(x: np.ndarray) -> None:
            box["recorded"] = (x.tobytes(), box["ledger"].shots)
            exact = float(np.asarray(objective.exact(x[None, :]))[0])
            led = box["ledger"]
            e, se = box["last"].get(x.tobytes(), (math.nan, math.nan))
            box["energy"], box["se"] = e, se
            trace.append(TracePoint(box["nit"], led.shots, led.circuits, led.evaluations, e, se, exact, math.nan,
                                    time.perf_counter() - t0))

        def fun(x: np.ndarray) -> float:
            if box["ledger"].shots + self.shots > budget:
                raise _BudgetSpent
            x = np.asarray(x, dtype=float)
            if not np.all(np.isfinite(x)) or np.max(np.abs(x)) > divergence_bound:
                raise FloatingPointError(f"scipy proposed a point outside [-{divergence_bound:g}, {divergence_bound:g}]")
            batch, box["ledger"] = evaluate(objective, x[None, :], self.shots, rng=gen, ledger=box["ledger"],
                                            purpose="evaluation")
            val = float(batch.values[0])
            cache = box["last"]  # recent evaluations, to report the estimate at the iterate scipy returns
            cache[x.tobytes()] = (val, float(batch.standard_errors[0]))
            if len(cache) > 256:
                del cache[next(iter(cache))]
            if progress is not None:
                progress(min(box["ledger"].shots, budget), budget)
            return val

        def callback(intermediate_result: Any) -> None:
            x = np.asarray(getattr(intermediate_result, "x", intermediate_result), dtype=float).copy()
            box["nit"] += 1
            box["x"] = x
            if box["nit"] % record_every == 0:
                record(x)
            if max_iterations is not None and box["nit"] >= max_iterations:
                raise StopIteration

        record(x0)
        opts = {"maxiter": 10**9}
        if self.method != "cobyla":
            opts["maxfev"] = 10**9
        if self.method == "nelder-mead":
            opts["adaptive"] = True
            opts["initial_simplex"] = np.vstack([x0, x0 + self.simplex_step * np.eye(x0.shape[0])])
        if self.method == "cobyla":
            opts["rhobeg"] = self.simplex_step
        opts.update(self.options)
        status, message = "converged", ""
        try:
            res = minimize(fun, x0, method=SCIPY_METHODS[self.method], callback=callback, options=opts)
            box["x"] = np.asarray(res.x, dtype=float)
            message = f"scipy: {res.message}"
            status = "converged" if res.success else "failed"
        except _BudgetSpent:
            status = "budget_spent"
            message = f"{box['ledger'].shots} of {budget} shots used; the next evaluation needs {self.shots}"
        except StopIteration:
            status, message = "max_iterations", f"stopped after {box['nit']} iterations"
        except EvaluationFailed as exc:
            status, message = "failed", str(exc)
            if exc.ledger is not None:
                box["ledger"] = exc.ledger
        except FloatingPointError as exc:
            status, message = "diverged", str(exc)
        x = box["x"]
        if box["recorded"] != (x.tobytes(), box["ledger"].shots):
            record(x)
        led = box["ledger"]
        return OptimizationResult(self.name, x, status, message, led, tuple(trace), float(box["energy"]),
                                  float(box["se"]), trace[-1].energy_exact, budget, time.perf_counter() - t0)
