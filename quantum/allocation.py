"""Shot allocation across measurement groups: pluggable strategies.

With :math:`N` shots per energy evaluation split as :math:`N_k` over the groups,
:math:`\\operatorname{Var}(\\hat E) = \\sum_k \\operatorname{Var}_k/N_k`.  Minimising under
:math:`\\sum_k N_k = N` (Lagrange) gives :math:`N_k \\propto \\sqrt{\\operatorname{Var}_k}` and the
minimum :math:`(\\sum_k \\sqrt{\\operatorname{Var}_k})^2/N`; the coefficient-weighted proxy
:math:`N_k \\propto \\sum_{i\\in k}|c_i|` needs no variances (Rubin, Babbush & McClean, NJP 20,
053020 (2018); Wecker, Hastings & Troyer, PRA 92, 042303 (2015)).

A strategy is a callable ``strategy(total, grouped) -> (K,) int array`` summing to ``total`` with
every group receiving at least one shot; rounding is by largest remainder (deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from crossnoise.quantum.measurement import GroupedHamiltonian
from crossnoise.validation import InputError, check_finite_array, check_positive_int

__all__ = ["Allocation", "Uniform", "CoefficientWeighted", "VarianceOptimal", "apportion", "get_allocation"]


class Allocation(Protocol):
    name: str

    def __call__(self, total: int, grouped: GroupedHamiltonian) -> np.ndarray: ...


def apportion(total: int, weights: Any) -> np.ndarray:
    """Integer shots ∝ ``weights`` with every entry ≥ 1 and Σ = ``total`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    k = len(w)
    total = check_positive_int(total, "shots")
    if total < k:
        raise InputError(f"`shots` must be at least the number of measurement groups ({k}); got {total}.")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError("`weights` must be finite and non-negative.")
    if w.sum() <= 0:
        w = np.ones(k)
    spare = total - k  # one shot per group first, the rest by weight
    ideal = spare * w / w.sum()
    base = np.floor(ideal).astype(np.int64)
    rem = spare - int(base.sum())
    if rem:
        order = np.argsort(-(ideal - base), kind="stable")
        base[order[:rem]] += 1
    return base + 1


@dataclass(frozen=True, slots=True)
class Uniform:
    """N_k = N/K."""

    name: str = "uniform"

    def __call__(self, total: int, grouped: GroupedHamiltonian) -> np.ndarray:
        return apportion(total, np.ones(grouped.n_groups))


@dataclass(frozen=True, slots=True)
class CoefficientWeighted:
    """N_k ∝ Σ_{i∈k} |c_i| (the default: no variances needed)."""

    name: str = "coefficient"

    def __call__(self, total: int, grouped: GroupedHamiltonian) -> np.ndarray:
        return apportion(total, [g.abs_weight for g in grouped.groups])


@dataclass(frozen=True, slots=True)
class VarianceOptimal:
    """N_k ∝ √Var_k with group variances from a pilot run (see :meth:`EnergyObjective.pilot_variances`)."""

    variances: np.ndarray = field(default_factory=lambda: np.zeros(0))
    name: str = "variance"

    def __post_init__(self) -> None:
        v = check_finite_array(self.variances, "variances", ndim=1)
        if np.any(v < 0):
            raise InputError("`variances` must be non-negative.")

    def __call__(self, total: int, grouped: GroupedHamiltonian) -> np.ndarray:
        v = np.asarray(self.variances, dtype=float)
        if len(v) != grouped.n_groups:
            raise InputError(f"`variances` must have one entry per group ({grouped.n_groups}); got {len(v)}.")
        return apportion(total, np.sqrt(v))


def get_allocation(name: str | Allocation) -> Allocation:
    """``"uniform"`` or ``"coefficient"`` by name, or a strategy passed through."""
    if callable(name) and not isinstance(name, str):
        return name
    table = {"uniform": Uniform(), "coefficient": CoefficientWeighted()}
    if name not in table:
        raise InputError(f"`allocation` must be one of uniform, coefficient (or a VarianceOptimal from a pilot); "
                         f"got {name!r}.")
    return table[name]
