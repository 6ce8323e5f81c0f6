"""Optimizers under ONE total shot budget: the shot ledger, the optimizer state and the run loop.

Every optimizer in :mod:`crossnoise.quantum` is written against
:class:`~crossnoise.quantum.objective.NoisyObjective` and spends shots only through
:func:`evaluate`, which adds what each batch *actually drew* (``EnergyBatch.shots``) to an
immutable :class:`ShotLedger`, labelled by purpose (``"gradient"``, ``"calibration"``,
``"blocking"``, ``"metric"``, ``"line_search"`` …).  Nothing escapes the ledger: calibration,
resamplings and blocking checks are evaluations like any other (qiskit-algorithms' ``nfev``
leaves some of them out).

Step optimizers are pure (DESIGN §3.6): ``init(x0, objective, rng=…) -> OptState`` and
``step(state, objective, rng=…) -> OptState``, with an explicit iteration counter; each states
the nominal shot cost of its next step before running it (:meth:`StepOptimizer.next_cost`), so
the loop :func:`run_optimizer` stops *before* a step that the budget cannot pay for.

References
----------
Spall, J. C. "Implementation of the simultaneous perturbation algorithm for stochastic
optimization", IEEE TAES 34, 817 (1998).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crossnoise.quantum.objective import EnergyBatch, NoisyObjective
from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import InputError, check_finite_array, check_positive_int

__all__ = [
    "ShotLedger",
    "OptState",
    "TracePoint",
    "OptimizationResult",
    "EvaluationFailed",
    "StepOptimizer",
    "STATUSES",
    "evaluate",
    "run_optimizer",
    "check_budget",
]

STATUSES = ("budget_spent", "converged", "max_iterations", "diverged", "failed")
"""Why a run stopped: the budget cannot pay for the next step; the optimizer's own convergence
test held; the iteration cap was reached; the iterate ran off (non-finite or beyond
``divergence_bound``); an evaluation failed (NaN or an exception) — the trace so far is kept."""


class EvaluationFailed(RuntimeError):
    """An evaluation returned NaN/inf or raised; the run stops with status ``"failed"``.

    ``ledger`` is the ledger including the failed batch when its shots are known.
    """

    def __init__(self, message: str, ledger: ShotLedger | None = None) -> None:
        super().__init__(message)
        self.ledger = ledger


@dataclass(frozen=True, slots=True)
class ShotLedger:
    """What a run has spent, counted from the batches the objective returned.

    Attributes
    ----------
    shots, circuits : int
        Sums of ``EnergyBatch.shots`` and ``EnergyBatch.circuits`` over every evaluation.
    evaluations : int
        Parameter points evaluated (the honest ``nfev``).
    calls : int
        Batches sent to the objective.
    by_purpose : tuple of (str, int)
        Shots per purpose, in first-use order.
    """

    shots: int = 0
    circuits: int = 0
    evaluations: int = 0
    calls: int = 0
    by_purpose: tuple[tuple[str, int], ...] = ()

    def add(self, batch: EnergyBatch, n_points: int, purpose: str) -> ShotLedger:
        """A new ledger with ``batch`` added under ``purpose``."""
        shots = int(batch.shots)
        purposes = dict(self.by_purpose)
        purposes[purpose] = purposes.get(purpose, 0) + shots
        return ShotLedger(self.shots + shots, self.circuits + int(batch.circuits),
                          self.evaluations + int(n_points), self.calls + 1, tuple(purposes.items()))

    def shots_for(self, purpose: str) -> int:
        """Shots spent on ``purpose`` (0 if none)."""
        return dict(self.by_purpose).get(purpose, 0)


@dataclass(frozen=True, slots=True)
class OptState:
    """The state of a step optimizer after ``iteration`` steps.

    ``energy``/``energy_se`` are the optimizer's own finite-shot estimate of E at ``params`` when
    its step produced one (NaN otherwise: parameter-shift steps never evaluate E(θ) itself);
    ``grad_norm`` is the norm of the last gradient estimate; ``aux`` holds optimizer-specific
    arrays (moments, running Hessian, shot counts…) and is never mutated.
    """

    params: np.ndarray
    iteration: int
    ledger: ShotLedger
    energy: float = math.nan
    energy_se: float = math.nan
    grad_norm: float = math.nan
    aux: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> OptState:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class TracePoint:
    """One recorded iteration: spend so far, the estimate, and the exact energy at θ (simulator side)."""

    iteration: int
    shots: int
    circuits: int
    evaluations: int
    energy: float
    energy_se: float
    energy_exact: float
    grad_norm: float
    wall_s: float


@dataclass(frozen=True, slots=True)
class OptimizationResult:
    """The outcome of one optimizer run under a shot budget.

    Attributes
    ----------
    optimizer : str
    params : ndarray
        The returned point (for SPSA with iterate averaging, the average).
    status : str
        One of :data:`STATUSES`; ``message`` says more.
    ledger : ShotLedger
        Everything spent, including calibration and blocking.
    trace : tuple of TracePoint
        Iteration 0 is the starting point (after any calibration).
    energy, energy_se : float
        The optimizer's last finite-shot energy estimate (NaN if it never made one).
    energy_exact : float
        Exact energy at ``params`` (simulator side; no shots).
    budget : int
    wall_s : float
    """

    optimizer: str
    params: np.ndarray
    status: str
    message: str
    ledger: ShotLedger
    trace: tuple[TracePoint, ...]
    energy: float
    energy_se: float
    energy_exact: float
    budget: int
    wall_s: float

    @property
    def iterations(self) -> int:
        return self.trace[-1].iteration if self.trace else 0

    def errors(self, reference: float) -> np.ndarray:
        """Exact-energy error E(θ_k) − ``reference`` along the trace."""
        return np.array([p.energy_exact - reference for p in self.trace])

    def shots_to_reach(self, threshold: float, reference: float) -> int | None:
        """Shots used when the exact error first fell within ``threshold`` *and stayed there*.

        The error must remain ≤ ``threshold`` at every later recorded point, so a run that
        touches chemical accuracy and wanders off again does not count.  None if never.
        """
        err = self.errors(reference)
        ok = err <= threshold
        if not ok.size or not ok[-1]:
            return None
        bad = np.flatnonzero(~ok)
        first = 0 if bad.size == 0 else int(bad[-1]) + 1
        return int(self.trace[first].shots)


def evaluate(objective: NoisyObjective, thetas: np.ndarray, shots: int, *, rng: np.random.Generator,
             ledger: ShotLedger, purpose: str) -> tuple[EnergyBatch, ShotLedger]:
    """Evaluate ``objective`` at the rows of ``thetas`` and add the batch to ``ledger``.

    Raises :class:`EvaluationFailed` if the objective raises or returns a non-finite estimate.
    """
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    try:
        batch = objective.evaluate(thetas, int(shots), rng=rng)
    except InputError:
        raise
    except Exception as exc:  # a failed evaluation ends the run with a status, keeping the trace
        # the shots of a batch that raised are unknown; the ledger keeps everything before it
        raise EvaluationFailed(f"{purpose} evaluation raised {type(exc).__name__}: {exc}", ledger) from exc
    values = np.asarray(batch.values, dtype=float)
    if values.shape != (thetas.shape[0],):
        raise EvaluationFailed(f"{purpose} evaluation returned {values.shape} values for {thetas.shape[0]} points",
                               ledger.add(batch, thetas.shape[0], purpose))
    ledger = ledger.add(batch, thetas.shape[0], purpose)
    if not np.all(np.isfinite(values)):
        raise EvaluationFailed(f"{purpose} evaluation returned a non-finite energy", ledger)
    return batch, ledger


class StepOptimizer:
    """Base of the pure ``init``/``step`` optimizers (configuration only, no run state).

    Subclasses are frozen dataclasses that set ``name`` and implement :meth:`init`,
    :meth:`step`, :meth:`init_cost` and :meth:`next_cost` (nominal shots, i.e. shots per point ×
    points, of the next step).
    """

    name: str = "step"

    def init(self, x0: np.ndarray, objective: NoisyObjective, *, rng: np.random.Generator,
             max_iterations: int | None = None) -> OptState:
        raise NotImplementedError

    def step(self, state: OptState, objective: NoisyObjective, *, rng: np.random.Generator) -> OptState:
        raise NotImplementedError

    def init_cost(self, n_params: int) -> int:
        """Nominal shots spent by :meth:`init` (calibration, the first blocking estimate)."""
        return 0

    def next_cost(self, state: OptState | None, n_params: int) -> int:
        """Nominal shots of the next step (``state=None``: the first step)."""
        raise NotImplementedError

    def solution(self, state: OptState) -> np.ndarray:
        """The point this optimizer would return now (default: the iterate)."""
        return state.params

    def converged(self, state: OptState) -> bool:
        return False

    def min_budget(self, n_params: int) -> int:
        """The smallest budget that pays for initialisation and one step."""
        return self.init_cost(n_params) + self.next_cost(None, n_params)

    def minimize(self, objective: NoisyObjective, x0: np.ndarray, *, budget: int, rng: RNGLike = None,
                 max_iterations: int | None = None, record_every: int = 1,
                 progress: Callable[[int, int], None] | None = None,
                 divergence_bound: float = 1e3) -> OptimizationResult:
        """Run this optimizer with :func:`run_optimizer`."""
        return run_optimizer(self, objective, x0, budget=budget, rng=rng, max_iterations=max_iterations,
                             record_every=record_every, progress=progress, divergence_bound=divergence_bound)


def check_budget(optimizer: Any, n_params: int, budget: Any) -> int:
    """Validate ``budget``: a positive integer that pays for initialisation plus one iteration."""
    budget = check_positive_int(budget, "budget")
    init, step = int(optimizer.init_cost(n_params)), int(optimizer.next_cost(None, n_params))
    if budget < init + step:
        raise InputError(
            f"`budget` must pay for initialisation and one iteration of {optimizer.name}: "
            f"{init + step} shots ({init} to initialise + {step} per iteration, d = {n_params}); got {budget}."
        )
    return budget


def _validate_run(optimizer: Any, objective: Any, x0: Any, budget: Any, max_iterations: Any,
                  record_every: Any) -> tuple[np.ndarray, int, int | None, int]:
    if not isinstance(objective, NoisyObjective):
        raise InputError(f"`objective` must implement NoisyObjective (evaluate, exact, n_params); got {type(objective).__name__}.")
    x0 = check_finite_array(x0, "x0", ndim=1)
    if x0.shape[0] != objective.n_params:
        raise InputError(f"`x0` must have length n_params = {objective.n_params}; got {x0.shape[0]}.")
    budget = check_budget(optimizer, objective.n_params, budget)
    if max_iterations is not None:
        max_iterations = check_positive_int(max_iterations, "max_iterations")
    record_every = check_positive_int(record_every, "record_every")
    return x0, budget, max_iterations, record_every


def run_optimizer(optimizer: StepOptimizer, objective: NoisyObjective, x0: np.ndarray, *, budget: int,
                  rng: RNGLike = None, max_iterations: int | None = None, record_every: int = 1,
                  progress: Callable[[int, int], None] | None = None,
                  divergence_bound: float = 1e3) -> OptimizationResult:
    """Run a step optimizer until the shot budget cannot pay for its next step.

    The loop checks, before every step, that ``ledger.shots + next_cost ≤ budget``
    (next_cost is the nominal shots per point × points); a step is never started that the budget
    cannot pay for, so the total spend stays within ``budget`` whenever the objective draws
    exactly the shots it is asked for.  The trace records, every ``record_every`` iterations and
    at the end, the spend so far, the optimizer's estimate and the exact energy at
    :meth:`StepOptimizer.solution` (``objective.exact``, simulator side, costs no shots).

    Parameters
    ----------
    optimizer : StepOptimizer
    objective : NoisyObjective
    x0 : (d,) array
    budget : int
        Total shots for everything, initialisation included.
    rng : RNGLike
        One stream for perturbations and shot noise.
    max_iterations : int, optional
    record_every : int
    progress : callable, optional
        ``progress(shots_used, budget)``.
    divergence_bound : float
        Status ``"diverged"`` when any parameter exceeds this in magnitude (angles ran off).

    Returns
    -------
    OptimizationResult
    """
    x0, budget, max_iterations, record_every = _validate_run(optimizer, objective, x0, budget,
                                                             max_iterations, record_every)
    gen = as_generator(rng)
    d = objective.n_params
    t0 = time.perf_counter()
    trace: list[TracePoint] = []

    def record(state: OptState) -> None:
        sol = optimizer.solution(state)
        exact = float(np.asarray(objective.exact(sol[None, :]))[0])
        trace.append(TracePoint(state.iteration, state.ledger.shots, state.ledger.circuits,
                                state.ledger.evaluations, float(state.energy), float(state.energy_se),
                                exact, float(state.grad_norm), time.perf_counter() - t0))

    # the iteration cap that the budget allows with the first step's cost (Spall's A uses it)
    first = max(1, optimizer.next_cost(None, d))
    cap = (budget - optimizer.init_cost(d)) // first
    if max_iterations is not None:
        cap = min(cap, max_iterations)
    state = OptState(x0.copy(), 0, ShotLedger())
    status, message = "budget_spent", ""
    try:
        state = optimizer.init(x0, objective, rng=gen, max_iterations=int(cap))
    except EvaluationFailed as exc:
        status, message = "failed", str(exc)
        if exc.ledger is not None:
            state = state.replace(ledger=exc.ledger)
    if status != "failed":
        record(state)
        while True:
            if max_iterations is not None and state.iteration >= max_iterations:
                status, message = "max_iterations", f"stopped after {state.iteration} iterations"
                break
            cost = optimizer.next_cost(state, d)
            if state.ledger.shots + cost > budget:
                status = "budget_spent"
                message = (f"{state.ledger.shots} of {budget} shots used; the next step needs {cost}")
                break
            try:
                new = optimizer.step(state, objective, rng=gen)
            except EvaluationFailed as exc:
                status, message = "failed", str(exc)
                if exc.ledger is not None:
                    state = state.replace(ledger=exc.ledger)
                break
            if not np.all(np.isfinite(new.params)) or np.max(np.abs(new.params)) > divergence_bound:
                # keep the last finite iterate; its ledger includes the diverging step's shots
                state = state.replace(ledger=new.ledger)
                status = "diverged"
                message = f"parameters left [-{divergence_bound:g}, {divergence_bound:g}] at iteration {new.iteration}"
                break
            state = new
            if state.iteration % record_every == 0:
                record(state)
            if progress is not None:
                progress(min(state.ledger.shots, budget), budget)
            if optimizer.converged(state):
                status, message = "converged", f"convergence test held at iteration {state.iteration}"
                break
    if not trace or trace[-1].iteration != state.iteration or trace[-1].shots != state.ledger.shots:
        record(state)
    params = optimizer.solution(state)
    exact = trace[-1].energy_exact if trace else float(np.asarray(objective.exact(params[None, :]))[0])
    return OptimizationResult(optimizer.name, params, status, message, state.ledger, tuple(trace),
                              float(state.energy), float(state.energy_se), exact, budget,
                              time.perf_counter() - t0)
