"""The VQE driver: molecule + ansatz + engine + optimizer + ONE shot budget → a trace and a status.

:func:`make_problem` builds the qubit Hamiltonian (Quantum 1's :mod:`~crossnoise.quantum.hamiltonian`),
the ansatz and the engine-backed :class:`~crossnoise.quantum.objective.EnergyObjective`;
:func:`make_optimizer` configures an optimizer by name with shots per evaluation chosen from the
budget; :func:`run_vqe` runs it and returns a :class:`VQEResult` whose trace records, per
iteration, the shots and circuits used so far, the optimizer's energy estimate with its standard
error, the exact energy at the current θ (simulator side), the gradient-estimate norm and the
wall time.  The error of a run is measured against the exact ground energy *of the qubit
Hamiltonian used* (``e_exact``), in its electron-number sector; chemical accuracy is 1.6 mHa.

Shots per evaluation (``shots="auto"``) buy a fixed number of iterations from the budget:
:math:`N = \\lfloor B/(n_{init} + T\\,n_{iter})\\rfloor` evaluations' worth, with T = 200 steps for
the gradient methods and 100(d+1) evaluations for the gradient-free ones (iCANS starts from the minimum and adapts), and never fewer than
:func:`min_shots` (every measurement group gets ≥ 2 shots, so every estimate has a standard
error).  The budget beyond that buys precision, not iterations.

References
----------
Peruzzo et al., Nat. Commun. 5, 4213 (2014); Kandala et al., Nature 549, 242 (2017).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossnoise.quantum.objective import EnergyBatch
from crossnoise.quantum.optim_adaptive import ICANS
from crossnoise.quantum.optim_base import OptimizationResult, check_budget
from crossnoise.quantum.optim_gradient import EquidistantShift, ParameterShiftAdam, ParameterShiftGD
from crossnoise.quantum.optim_qnspsa import SecondOrderSPSA
from crossnoise.quantum.optim_scipy import ScipyOptimizer
from crossnoise.quantum.optim_spsa import SPSA
from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import (
    InputError,
    check_choice,
    check_finite_array,
    check_positive_float,
    check_positive_int,
    warn_degenerate,
)

__all__ = ["CHEMICAL_ACCURACY", "OPTIMIZERS", "VQEProblem", "VQEResult", "VQEObjective", "make_problem",
           "make_optimizer", "min_shots", "auto_shots", "run_vqe"]

CHEMICAL_ACCURACY = 1.6e-3
"""Chemical accuracy in Hartree (1 kcal/mol ≈ 1.6 mHa)."""

OPTIMIZERS = ("spsa", "qnspsa", "2spsa", "ps-gd", "ps-adam", "icans", "cobyla", "nelder-mead", "powell")
ITERATIONS = 200  # the step count that "auto" shots buy for the gradient methods


class VQEObjective:
    """An :class:`~crossnoise.quantum.objective.EnergyObjective` plus a finite-shot fidelity (QN-SPSA).

    :meth:`fidelity` estimates :math:`F = |\\langle\\psi(a)|\\psi(b)\\rangle|^2` as the all-zeros
    frequency of the compute–uncompute circuit :math:`U(b)^\\dagger U(a)`, whose count is exactly
    Binomial(shots, F); F comes from the statevector simulator.  One circuit per pair.
    """

    def __init__(self, energy: Any) -> None:
        self.energy = energy
        self.n_params = energy.n_params

    def evaluate(self, thetas: np.ndarray, shots: int, *, rng: np.random.Generator) -> EnergyBatch:
        return self.energy.evaluate(thetas, shots, rng=rng)

    def exact(self, thetas: np.ndarray) -> np.ndarray:
        return self.energy.exact(thetas)

    def fidelity(self, thetas_a: np.ndarray, thetas_b: np.ndarray, shots: int, *, rng: np.random.Generator
                 ) -> EnergyBatch:
        from crossnoise.quantum.statevector import statevectors

        a = self.energy.ansatz
        psi_a = statevectors(a, a.angles(np.atleast_2d(thetas_a)))
        psi_b = statevectors(a, a.angles(np.atleast_2d(thetas_b)))
        f = np.clip(np.abs(np.sum(np.conj(psi_a) * psi_b, axis=1)) ** 2, 0.0, 1.0)
        n = check_positive_int(shots, "shots")
        est = rng.binomial(n, f) / n
        return EnergyBatch(est, np.sqrt(est * (1 - est) / n), int(n * f.size), int(f.size))


@dataclass(frozen=True, slots=True)
class VQEProblem:
    """A molecule's qubit Hamiltonian, an ansatz, an engine-backed objective and a start point."""

    molecule: str
    hamiltonian: Any
    ansatz: Any
    objective: VQEObjective
    engine: str
    shift_rule: EquidistantShift
    start: str

    @property
    def e_exact(self) -> float:
        return float(self.hamiltonian.e_exact)

    @property
    def e_hf(self) -> float:
        return float(self.hamiltonian.e_hf)

    @property
    def n_params(self) -> int:
        return self.ansatz.n_params

    @property
    def lipschitz(self) -> float:
        """Σ|c_j| over the non-identity Pauli terms: a bound on the gradient's Lipschitz constant."""
        op = self.hamiltonian.operator
        labels = op.paulis.to_labels()
        return float(sum(abs(c) for lab, c in zip(labels, op.coeffs) if set(lab) != {"I"}))

    def x0(self, *, rng: RNGLike = None, scale: float = 0.5) -> np.ndarray:
        """θ = 0 (Hartree–Fock) for ``start="hf"``; uniform in [−scale, scale]^d for ``"random"``."""
        if self.start == "hf":
            return np.zeros(self.n_params)
        return as_generator(rng).uniform(-scale, scale, size=self.n_params)


def make_problem(molecule: Any = "H2", *, ansatz: str = "uccsd", layers: int = 4, engine: str = "statevector",
                 device: str = "CPU", allocation: str = "coefficient", start: str | None = None) -> VQEProblem:
    """Build a VQE problem from Quantum 1's molecules, ansätze and engines.

    Parameters
    ----------
    molecule : str or MoleculeSpec
        A built-in name (``H2``, ``LiH``, …) or a spec (e.g. from ``bond_scan``).
    ansatz : {"uccsd", "hea"}
        UCCSD from the HF state (particle-conserving; reaches the exact energy of H2 and LiH) or
        the hardware-efficient RY/CZ ansatz with ``layers`` layers (H2 needs ≥ 3–4; from θ = 0 it
        sits on the HF stationary point, so its default start is random).
    engine : {"statevector", "aer", "pennylane"}
    start : {"hf", "random"} or None
        None: ``"hf"`` for UCCSD, ``"random"`` for HEA.
    """
    from crossnoise.quantum.ansatz import hardware_efficient, uccsd
    from crossnoise.quantum.hamiltonian import build_hamiltonian
    from crossnoise.quantum.molecules import MoleculeSpec, molecule as get_molecule
    from crossnoise.quantum.objective import EnergyObjective

    check_choice(ansatz, "ansatz", ("uccsd", "hea"))
    layers = check_positive_int(layers, "layers")
    if start is None:
        start = "hf" if ansatz == "uccsd" else "random"
    check_choice(start, "start", ("hf", "random"))
    spec = molecule if isinstance(molecule, MoleculeSpec) else get_molecule(str(molecule))
    h = build_hamiltonian(spec)
    if ansatz == "uccsd":
        a, rule = uccsd(h.n_qubits, h.n_electrons), EquidistantShift(2)
    else:
        a, rule = hardware_efficient(h.n_qubits, h.n_electrons, layers), EquidistantShift(1)
    eng: Any = engine
    if engine == "aer":
        from crossnoise.quantum.engines import get_engine

        eng = get_engine("aer", device=device)
    energy = EnergyObjective(h, a, engine=eng, allocation=allocation)
    return VQEProblem(spec.name, h, a, VQEObjective(energy), engine, rule, start)


def min_shots(problem: VQEProblem) -> int:
    """The fewest shots per evaluation from which on EVERY larger total gives each group ≥ 2 shots.

    The allocations apportion N_k = 1 + ⌊(N − K) w_k/Σw⌋ (+ largest remainders); largest-remainder
    rounding is not monotone in N (the Alabama paradox), so the smallest N with min N_k ≥ 2 is not
    enough — an optimizer that raises its shots (iCANS) could fall back to one shot in a group and
    an undefined standard error.  ⌊(N − K) w_min/Σw⌋ ≥ 1 holds for all N ≥ K + Σw/w_min.
    """
    obj = problem.objective.energy
    k = obj.n_groups
    w = obj.shots_per_group(10**9).astype(float) - 1.0  # ∝ the allocation's weights
    n = k + int(math.ceil(w.sum() / w.min())) + 1
    while obj.shots_per_group(n).min() < 2:  # pragma: no cover — guarded by the bound above
        n += 1
    return max(n, 2 * k)


def _evals(name: str, d: int, rule: EquidistantShift) -> tuple[int, int]:
    """(evaluations to initialise, evaluations per step) of an optimizer at its defaults."""
    return {
        "spsa": (50, 2), "qnspsa": (51, 7), "2spsa": (51, 7),
        "ps-gd": (0, rule.n_points(d)), "ps-adam": (0, rule.n_points(d)), "icans": (0, rule.n_points(d)),
    }.get(name, (0, 1))


def auto_shots(name: str, problem: VQEProblem, budget: int) -> int:
    """Shots per evaluation that buy :data:`ITERATIONS` steps (gradient methods) or 100(d+1)
    evaluations (gradient-free) from ``budget``; never below :func:`min_shots`."""
    d = problem.n_params
    init, per = _evals(name, d, problem.shift_rule)
    if name == "icans":  # iCANS starts frugal and buys its own shots: its floor is the minimum
        return min_shots(problem)
    if name in ("cobyla", "nelder-mead", "powell"):
        total = 100 * (d + 1)
    else:
        total = init + ITERATIONS * per
    return max(min_shots(problem), budget // total)


def make_optimizer(name: str, problem: VQEProblem, *, budget: int, shots: int | str = "auto",
                   **options: Any) -> Any:
    """An optimizer by name, configured for ``problem`` (shift rule, Lipschitz bound, shots).

    ``options`` override the optimizer's fields (e.g. ``learning_rate=0.05``, ``blocking=True``).
    """
    check_choice(name, "optimizer", OPTIMIZERS)
    budget = check_positive_int(budget, "budget")
    floor = min_shots(problem)
    if shots == "auto":
        n = auto_shots(name, problem, budget)
    else:
        n = check_positive_int(shots, "shots")
        if n < floor:
            raise InputError(f"`shots` must be at least {floor} for {problem.molecule} (≥ 2 shots in each of "
                             f"{problem.objective.energy.n_groups} measurement groups); got {n}.")
    rule = problem.shift_rule
    if problem.ansatz.name.startswith("uccsd"):
        # UCCSD amplitudes from HF are small (|θ*| ≲ 0.1 for H2 and LiH) and most start at a zero
        # gradient (Brillouin): size the first step of the per-component methods (SPSA's calibrated
        # step, Adam's ±lr) to a NORM of 0.1 rad, i.e. 0.1/√d per component, instead of Qiskit's
        # 2π/10 per component, which is sized for hardware-efficient angles
        first = 0.1 / math.sqrt(problem.n_params)
        if name in ("spsa", "qnspsa", "2spsa"):
            options.setdefault("target_step", first)
        elif name == "ps-adam":
            options.setdefault("learning_rate", first)
    if name == "spsa":
        return SPSA(shots=n, **options)
    if name == "qnspsa":
        return SecondOrderSPSA(metric="fidelity", shots=n, **options)
    if name == "2spsa":
        return SecondOrderSPSA(metric="hessian", shots=n, name="2spsa", **options)
    if name == "ps-gd":
        return ParameterShiftGD(shots=n, rule=rule, **options)
    if name == "ps-adam":
        return ParameterShiftAdam(shots=n, rule=rule, **options)
    if name == "icans":
        return ICANS(lipschitz=options.pop("lipschitz", problem.lipschitz), min_shots=n, rule=rule, **options)
    return ScipyOptimizer(name, shots=n, **options)


@dataclass(frozen=True, slots=True)
class VQEResult:
    """One VQE run: the optimizer's result with the molecule's references.

    ``final_error`` = E(θ_final) − e_exact, the exact energy at the returned θ (simulator side)
    above the exact ground energy of the qubit Hamiltonian used.
    """

    molecule: str
    ansatz: str
    engine: str
    optimizer: str
    shots_per_evaluation: int
    e_exact: float
    e_hf: float
    result: OptimizationResult

    @property
    def status(self) -> str:
        return self.result.status

    @property
    def trace(self) -> tuple:
        return self.result.trace

    @property
    def final_error(self) -> float:
        return self.result.energy_exact - self.e_exact

    @property
    def within_chemical_accuracy(self) -> bool:
        return self.final_error <= CHEMICAL_ACCURACY

    @property
    def shots_to_chemical_accuracy(self) -> int | None:
        """Shots used when E(θ_k) came within 1.6 mHa of e_exact and stayed there (None if never)."""
        return self.result.shots_to_reach(CHEMICAL_ACCURACY, self.e_exact)

    def trace_rows(self) -> list[dict[str, Any]]:
        """The trace as dicts (JSON-ready)."""
        return [{"iteration": p.iteration, "shots": p.shots, "circuits": p.circuits, "energy": p.energy,
                 "energy_se": p.energy_se, "energy_exact": p.energy_exact, "error": p.energy_exact - self.e_exact,
                 "grad_norm": p.grad_norm, "wall_s": p.wall_s} for p in self.result.trace]


def _validate_run_vqe(problem: Any, optimizer: Any, budget: Any, x0: Any) -> tuple[int, np.ndarray | None]:
    if not isinstance(problem, VQEProblem):
        raise InputError(f"`problem` must be a VQEProblem (see make_problem); got {type(problem).__name__}.")
    if isinstance(optimizer, str):
        check_choice(optimizer, "optimizer", OPTIMIZERS)
    budget = check_positive_int(budget, "budget")
    if x0 is None:
        return budget, None
    x = check_finite_array(x0, "x0", ndim=1)
    if x.shape[0] != problem.n_params:
        raise InputError(f"`x0` must have length d = {problem.n_params}; got {x.shape[0]}.")
    return budget, x


def run_vqe(problem: VQEProblem, optimizer: str | Any = "spsa", *, budget: int, shots: int | str = "auto",
            x0: Any = None, rng: RNGLike = None, record_every: int = 1,
            progress: Callable[[int, int], None] | None = None, **options: Any) -> VQEResult:
    """Run VQE on ``problem`` with one optimizer under a total shot ``budget``.

    Parameters
    ----------
    problem : VQEProblem
    optimizer : str or optimizer object
        A name from :data:`OPTIMIZERS` (configured by :func:`make_optimizer`) or a configured object.
    budget : int
        Every shot of the run, calibration and blocking included.
    shots : int or "auto"
        Shots per energy evaluation.
    x0 : array, optional
        Start point; default :meth:`VQEProblem.x0` (HF, or random drawn from ``rng``).
    rng : RNGLike
        Drives the start point (random starts), perturbations and shot noise.
    progress : callable, optional
        ``progress(shots_used, budget)``.

    Returns
    -------
    VQEResult
        Status ``budget_spent``, ``converged``, ``max_iterations``, ``diverged`` or ``failed``
        (a NaN or failed evaluation stops the run and keeps the trace so far).

    Examples
    --------
    >>> p = make_problem("H2")
    >>> r = run_vqe(p, "spsa", budget=200_000, rng=1)
    >>> r.status, r.result.ledger.shots <= 200_000
    ('budget_spent', True)
    """
    budget, x = _validate_run_vqe(problem, optimizer, budget, x0)
    gen = as_generator(rng)
    x_rng, run_rng = gen.spawn(2)
    if x is None:
        x = problem.x0(rng=x_rng)
    opt = make_optimizer(optimizer, problem, budget=budget, shots=shots, **options) if isinstance(optimizer, str) \
        else optimizer
    check_budget(opt, problem.n_params, budget)
    steps = (budget - opt.init_cost(problem.n_params)) // max(1, opt.next_cost(None, problem.n_params))
    if steps < 5:
        warn_degenerate(f"the budget pays for only {steps} iteration(s) of {opt.name}; the run can barely move.")
    res = opt.minimize(problem.objective, x, budget=budget, rng=run_rng, record_every=record_every, progress=progress)
    return VQEResult(problem.molecule, problem.ansatz.name, problem.engine, opt.name, int(getattr(opt, "shots", 0)
                     or getattr(opt, "min_shots", 0)), problem.e_exact, problem.e_hf, res)


def check_bond_lengths(bond_lengths: Any) -> np.ndarray:
    """Bond lengths in Å: a non-empty 1-D array of positive numbers."""
    b = check_finite_array(bond_lengths, "bond_lengths", ndim=1, min_rows=1)
    for v in b:
        check_positive_float(v, "bond_lengths")
    return b
