"""Cell-based SDD model: every cell has its own production, degradation and diffusion.

The tissue is a row of cells of diameter Δx: ``source_cells`` cells at :math:`x < 0` produce the
morphogen, the patterning cells cover :math:`[0, L]`.  Cell :math:`i` has production
:math:`p_i` (source cells only), degradation :math:`k_i` and diffusion :math:`D_i`, each drawn
independently from a lognormal with the given mean and CV (Vetter & Iber 2022, Nat. Commun. 13,
1145).  Between neighbours the diffusion coefficient is the harmonic mean (resistances in
series), and both ends are closed.  The steady state solves, for every embryo,

.. math::

    0 = \\frac{D_{i+1/2}(c_{i+1} - c_i) - D_{i-1/2}(c_i - c_{i-1})}{\\Delta x^2} - k_i c_i + p_i,
    \\qquad D_{i+1/2} = \\frac{2D_iD_{i+1}}{D_i + D_{i+1}},

a tridiagonal system solved for all embryos at once (the Thomas algorithm vectorised over the
ensemble, O(embryos × cells)).  The mean source production is :math:`\\bar p = j_0/(n_s\\Delta x)`,
so the total production per unit area is the flux :math:`j_0` of the continuum model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import check_positive_float, check_positive_int

__all__ = ["CellProfiles", "cell_based_profiles", "lognormal_factors", "solve_tridiagonal_batched"]


def lognormal_factors(cv: float, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Lognormal factors with mean 1 and coefficient of variation ``cv`` (ones when cv = 0).

    .. math:: f = e^{sZ - s^2/2},\\quad s^2 = \\ln(1 + \\mathrm{cv}^2)
    """
    if cv == 0:
        return np.ones(shape)
    s = math.sqrt(math.log1p(cv * cv))
    return np.exp(s * rng.standard_normal(shape) - 0.5 * s * s)


def solve_tridiagonal_batched(lower: np.ndarray, diag: np.ndarray, upper: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve many tridiagonal systems at once (rows = systems), Thomas algorithm.

    ``lower[:, i]`` multiplies :math:`x_{i-1}` in row i (``lower[:, 0]`` unused), ``upper[:, i]``
    multiplies :math:`x_{i+1}` (``upper[:, -1]`` unused).  Stable for the diagonally dominant
    matrices of diffusion with degradation.
    """
    m, n = diag.shape
    cp = np.empty((m, n))
    dp = np.empty((m, n))
    cp[:, 0] = upper[:, 0] / diag[:, 0]
    dp[:, 0] = rhs[:, 0] / diag[:, 0]
    for i in range(1, n):
        den = diag[:, i] - lower[:, i] * cp[:, i - 1]
        cp[:, i] = upper[:, i] / den
        dp[:, i] = (rhs[:, i] - lower[:, i] * dp[:, i - 1]) / den
    x = np.empty((m, n))
    x[:, -1] = dp[:, -1]
    for i in range(n - 2, -1, -1):
        x[:, i] = dp[:, i] - cp[:, i] * x[:, i + 1]
    return x


@dataclass(frozen=True, slots=True)
class CellProfiles:
    """Steady profiles of an ensemble of cell-based embryos.

    ``x`` (n_cells,) centres of the patterning cells (µm); ``c`` (n_embryos, n_cells);
    ``c_source`` (n_embryos, source_cells) the source cells' concentrations.
    """

    x: np.ndarray
    c: np.ndarray
    c_source: np.ndarray


def _validate(D: Any, k: Any, j0: Any, L: Any, cell_diameter: Any, kinetic_cv: Any, source_cells: Any,
              n_embryos: Any) -> tuple[float, float, float, float, float, float, int, int]:
    return (check_positive_float(D, "D"), check_positive_float(k, "k"), check_positive_float(j0, "j0"),
            check_positive_float(L, "L"), check_positive_float(cell_diameter, "cell_diameter"),
            check_positive_float(kinetic_cv, "kinetic_cv", allow_zero=True),
            check_positive_int(source_cells, "source_cells"), check_positive_int(n_embryos, "embryos"))


def cell_based_profiles(D: float, k: float, j0: float, L: float, *, cell_diameter: float,
                        kinetic_cv: float, source_cells: int = 1, n_embryos: int = 1,
                        rng: RNGLike = None) -> CellProfiles:
    """Steady profiles of ``n_embryos`` tissues whose cells have lognormal kinetics.

    Parameters
    ----------
    D, k, j0, L : float
        Mean diffusion (µm²/s), mean degradation (1/s), source flux (molecules/(µm²·s)), length (µm).
    cell_diameter : float
        Δx (µm); the patterning domain has round(L/Δx) cells.
    kinetic_cv : float
        CV of p, k and D of every cell (0: every cell identical, the discretised continuum model).
    source_cells : int
        Producing cells at x < 0.
    rng : RNGLike
        Random stream (keyword-only).

    Examples
    --------
    >>> prof = cell_based_profiles(0.1, 2.5e-4, 1.0, 100.0, cell_diameter=5.0, kinetic_cv=0.3,
    ...                            n_embryos=3, rng=0)
    >>> prof.c.shape
    (3, 20)
    """
    D, k, j0, L, dx, cv, ns, E = _validate(D, k, j0, L, cell_diameter, kinetic_cv, source_cells, n_embryos)
    g = as_generator(rng)
    n = max(2, int(round(L / dx)))
    m = ns + n
    p = np.zeros((E, m))
    p[:, :ns] = j0 / (ns * dx) * lognormal_factors(cv, (E, ns), g)
    kk = k * lognormal_factors(cv, (E, m), g)
    dd = D * lognormal_factors(cv, (E, m), g)
    face = 2.0 * dd[:, :-1] * dd[:, 1:] / (dd[:, :-1] + dd[:, 1:]) / dx**2  # (E, m-1)
    lower = np.zeros((E, m))
    upper = np.zeros((E, m))
    lower[:, 1:] = -face
    upper[:, :-1] = -face
    diag = kk.copy()
    diag[:, 1:] += face
    diag[:, :-1] += face
    c = solve_tridiagonal_batched(lower, diag, upper, p)
    x = (np.arange(n) + 0.5) * dx
    return CellProfiles(x, c[:, ns:], c[:, :ns])
