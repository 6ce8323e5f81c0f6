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
