"""The interface between the shot-noise engines and the optimizers (DESIGN §3.5–3.6).

An engine-backed objective evaluates the energy at MANY parameter points in one batch with an
honest finite-shot estimate; optimizers only ever call :meth:`NoisyObjective.evaluate`, so every
shot they spend is counted in the returned :class:`EnergyBatch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["EnergyBatch", "NoisyObjective"]


@dataclass(frozen=True, slots=True)
class EnergyBatch:
    """Finite-shot energy estimates at P parameter points.

    Attributes
    ----------
    values, standard_errors : (P,) arrays
        Estimates and their standard errors (√ Σ_k Var_k/N_k per point).
    shots : int
        Total shots drawn for the whole batch (all points, all measurement groups).
    circuits : int
        Circuit executions for the whole batch (points × measurement groups).
    """

    values: np.ndarray
    standard_errors: np.ndarray
    shots: int
    circuits: int


@runtime_checkable
class NoisyObjective(Protocol):
    """A finite-shot energy E(θ) that counts what it spends."""

    n_params: int

    def evaluate(self, thetas: np.ndarray, shots: int, *, rng: np.random.Generator) -> EnergyBatch:
        """Estimate E at each row of ``thetas`` (P, n_params) with ``shots`` total shots PER POINT."""
        ...

    def exact(self, thetas: np.ndarray) -> np.ndarray:
        """Exact energies (simulator side, no shots), shape (P,)."""
        ...


# ---------------------------------------------------------------------------------------------
# The engine-backed implementation (issue "Quantum 1").
# ---------------------------------------------------------------------------------------------
from typing import Any  # noqa: E402

from crossnoise.rng import as_generator  # noqa: E402
from crossnoise.validation import InputError, check_positive_int  # noqa: E402

__all__ += ["EnergyObjective", "energy_objective"]


class EnergyObjective:
    """A finite-shot VQE energy: Hamiltonian + ansatz + engine + shot allocation.

    Implements :class:`NoisyObjective`.  One evaluation at a point spends ``shots`` shots split over
    the K measurement groups by the allocation strategy (N_k, Σ_k N_k = shots) and returns

    .. math::

        \\hat E = c_0 + \\sum_k \\bar f_k,\\qquad
        \\mathrm{SE} = \\Big(\\sum_k s_k^2 / N_k\\Big)^{1/2},

    with :math:`s_k^2` the sample variance (ddof=1) of group k's one-shot values — the standard
    error an experiment would report (NaN if some N_k = 1).  The exact variance
    :math:`\\sum_k \\operatorname{Var}_k/N_k` is :meth:`variance` (simulator side).

    Parameters
    ----------
    hamiltonian : QubitHamiltonian
    ansatz : Ansatz
    engine : str or engine object
        ``"statevector"`` (default), ``"aer"``, ``"pennylane"`` or an engine from
        :mod:`crossnoise.quantum.engines`.
    allocation : str or strategy
        ``"coefficient"`` (default), ``"uniform"`` or a :class:`~crossnoise.quantum.allocation.VarianceOptimal`.

    Examples
    --------
    >>> from crossnoise.quantum.molecules import molecule
    >>> from crossnoise.quantum.hamiltonian import build_hamiltonian
    >>> from crossnoise.quantum.ansatz import hardware_efficient
    >>> h = build_hamiltonian(molecule("H2"))
    >>> obj = EnergyObjective(h, hardware_efficient(4, 2, 1))
    >>> batch = obj.evaluate(np.zeros((2, 4)), 1000, rng=1)
    >>> batch.shots, batch.circuits
    (2000, 10)
    """

    def __init__(self, hamiltonian: Any, ansatz: Any, *, engine: Any = "statevector",
                 allocation: Any = "coefficient") -> None:
        from crossnoise.quantum.allocation import get_allocation
        from crossnoise.quantum.engines import get_engine
        from crossnoise.quantum.measurement import group_hamiltonian

        if ansatz.n_qubits != hamiltonian.n_qubits:
            raise InputError(f"`ansatz` acts on {ansatz.n_qubits} qubits but the Hamiltonian on "
                             f"{hamiltonian.n_qubits}.")
        self.hamiltonian = hamiltonian
        self.ansatz = ansatz
        self.engine = get_engine(engine)
        self.allocation = get_allocation(allocation)
        self.grouped = group_hamiltonian(hamiltonian.operator, hamiltonian.groups)
        self.n_params = ansatz.n_params
        self._exact_engine = None

    # -------------------------------------------------------------- bookkeeping
    @property
    def n_groups(self) -> int:
        return self.grouped.n_groups

    @property
    def n_rotations(self) -> int:
        return self.ansatz.n_rotations

    def shots_per_group(self, shots: int) -> np.ndarray:
        """The allocation N_k of ``shots`` per evaluation over the groups."""
        return self.allocation(shots, self.grouped)

    def _check(self, points: Any, shots: int | None, width: int, name: str) -> tuple[np.ndarray, int | None]:
        from crossnoise.validation import check_finite_array

        pts = check_finite_array(points, name, ndim=(1, 2))
        if pts.shape[-1] != width:
            what = "d" if name == "thetas" else "the number of rotations"
            raise InputError(f"`{name}` must have length {what} = {width}; got {pts.shape[-1]}.")
        if shots is None:
            return pts.reshape(-1, width), None
        n = check_positive_int(shots, "shots")
        if n < self.n_groups:
            raise InputError(f"`shots` must be at least the number of measurement groups ({self.n_groups}); got {n}.")
        return pts.reshape(-1, width), n

    # -------------------------------------------------------------- NoisyObjective
    def evaluate(self, thetas: np.ndarray, shots: int, *, rng: Any = None) -> EnergyBatch:
        """Finite-shot energies at each row of ``thetas`` (P, d), ``shots`` total shots PER POINT."""
        t, n = self._check(thetas, shots, self.n_params, "thetas")
        return self.evaluate_angles(self.ansatz.angles(t), n, rng=rng)

    def exact(self, thetas: np.ndarray) -> np.ndarray:
        """Exact energies ⟨ψ(θ)|H|ψ(θ)⟩ (numpy statevector), shape (P,)."""
        t, _ = self._check(thetas, None, self.n_params, "thetas")
        return self.exact_angles(self.ansatz.angles(t))

    # -------------------------------------------------------------- rotation-angle space
    def evaluate_angles(self, angles: np.ndarray, shots: int, *, rng: Any = None, repeats: int | None = None
                        ) -> EnergyBatch | list[EnergyBatch]:
        """Like :meth:`evaluate` with rotation angles φ (P, n_rotations) instead of θ.

        With ``repeats`` = R, the same points are measured R independent times (probabilities are
        computed once on probability engines) and a list of R batches is returned.
        """
        a, n = self._check(angles, shots, self.n_rotations, "angles")
        gen = as_generator(rng)
        alloc = self.shots_per_group(n)
        r = 1 if repeats is None else check_positive_int(repeats, "repeats")
        means, var = self.engine.sample(self.ansatz, a, self.grouped, alloc, gen, r)
        values = self.grouped.constant + means.sum(axis=2)
        se = np.sqrt(np.sum(var / alloc, axis=2))
        batches = [EnergyBatch(values[i], se[i], int(n * a.shape[0]), int(a.shape[0] * self.n_groups))
                   for i in range(r)]
        return batches[0] if repeats is None else batches

    def distributions_angles(self, angles: np.ndarray) -> Any:
        """Exact per-group value distributions at rotation angles (numpy statevector)."""
        from crossnoise.quantum.engines import StatevectorEngine

        a, _ = self._check(angles, None, self.n_rotations, "angles")
        return StatevectorEngine().distributions(self.ansatz, a, self.grouped)

    def exact_angles(self, angles: np.ndarray) -> np.ndarray:
        return self.distributions_angles(angles).energies()

    def variance(self, thetas: np.ndarray, shots: int) -> np.ndarray:
        """Exact Var(Ê) = Σ_k Var_k/N_k at each point for ``shots`` per evaluation, shape (P,)."""
        t, n = self._check(thetas, shots, self.n_params, "thetas")
        return self.variance_angles(self.ansatz.angles(t), n)

    def variance_angles(self, angles: np.ndarray, shots: int) -> np.ndarray:
        alloc = self.shots_per_group(shots)
        return (self.distributions_angles(angles).variances() / alloc).sum(axis=1)

    def single_shot_variance(self, thetas: np.ndarray, shots: int = 10**6) -> np.ndarray:
        """σ² = N·Var(Ê) for the allocation's proportions (large N removes rounding), shape (P,)."""
        return shots * self.variance(thetas, shots)

    def pilot_variances(self, theta: np.ndarray, shots_per_group: int, *, rng: Any = None) -> tuple[Any, EnergyBatch]:
        """Estimate Var_k with ``shots_per_group`` shots on every group at θ → a VarianceOptimal allocation.

        The pilot's cost is returned as an :class:`EnergyBatch` so that it can be counted.
        """
        from crossnoise.quantum.allocation import VarianceOptimal

        t, _ = self._check(theta, None, self.n_params, "theta")
        m = check_positive_int(shots_per_group, "shots_per_group", minimum=2)
        alloc = np.full(self.n_groups, m, dtype=np.int64)
        means, var = self.engine.sample(self.ansatz, self.ansatz.angles(t[:1]), self.grouped, alloc,
                                        as_generator(rng), 1)
        batch = EnergyBatch(self.grouped.constant + means[0].sum(axis=1), np.sqrt(np.sum(var[0] / alloc, axis=1)),
                            int(m * self.n_groups), self.n_groups)
        return VarianceOptimal(var[0, 0]), batch


def energy_objective(molecule_name: str = "H2", *, ansatz: str = "hea", layers: int = 1, rz: bool = True,
                     engine: Any = "statevector", allocation: Any = "coefficient", **molecule_kwargs: Any
                     ) -> EnergyObjective:
    """Convenience: a built-in molecule's objective with an HEA (L layers) or UCCSD ansatz."""
    from crossnoise.quantum.ansatz import hardware_efficient, uccsd
    from crossnoise.quantum.hamiltonian import build_hamiltonian
    from crossnoise.quantum.molecules import molecule
    from crossnoise.validation import check_choice

    check_choice(ansatz, "ansatz", ("hea", "uccsd"))
    h = build_hamiltonian(molecule(molecule_name, **molecule_kwargs))
    a = hardware_efficient(h.n_qubits, h.n_electrons, layers, rz=rz) if ansatz == "hea" else uccsd(h.n_qubits,
                                                                                                      h.n_electrons)
    return EnergyObjective(h, a, engine=engine, allocation=allocation)
