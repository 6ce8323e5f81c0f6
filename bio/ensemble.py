"""Ensembles of embryos: their gradients and the cells' noisy readouts, vectorised.

Each embryo gets a steady profile on the centres :math:`x_i = (i + 1/2)\\Delta x` of its
patterning cells, from one of two sources of embryo-level variability:

- the continuum model with embryo-to-embryo variation of amplitude and decay length,

  .. math:: c_e(x) = s\\,A_e\\,c_0\\,\\frac{\\cosh((L - x)/\\lambda_e)}{\\cosh(L/\\lambda_e)},\\qquad
            A_e, \\lambda_e/\\lambda \\sim \\text{lognormal, mean 1},

  with :math:`s` the production scale (doubling production: s = 2), or
- the cell-based model (:mod:`crossnoise.bio.cells`) when the preset has a kinetic CV.

Every cell then reads its local concentration through a readout-noise model
(:mod:`crossnoise.bio.noise`): averaging ``n_time`` independent readouts in time, then
``neighbours`` cells on each side (a moving average over :math:`2m+1` cells, truncated at the
ends), so a readout is the mean of :math:`n = n_{time}(2m+1)` single readouts.

Everything is an array operation over (embryos × cells); :func:`read_out_loop` is the obvious
per-embryo reference used by the tests and the benchmark.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossnoise.bio.cells import cell_based_profiles, lognormal_factors
from crossnoise.bio.presets import Preset
from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import InputError, check_nonnegative_int, check_positive_float, check_positive_int

__all__ = ["Profiles", "embryo_profiles", "read_out", "read_out_loop", "mean_profile", "cell_threshold",
           "effective_readouts"]


@dataclass(frozen=True, slots=True)
class Profiles:
    """``x`` (n_cells,) cell centres (µm) and ``c`` (n_embryos, n_cells) concentrations."""

    x: np.ndarray
    c: np.ndarray
    model: str

    @property
    def n_embryos(self) -> int:
        return int(self.c.shape[0])


def _shape(x: np.ndarray, lam: np.ndarray, L: float) -> np.ndarray:
    """cosh((L-x)/λ)/cosh(L/λ) without overflow; ``lam`` (E, 1) broadcasts against ``x`` (N,)."""
    return (np.exp(-x / lam) + np.exp(-(2 * L - x) / lam)) / (1.0 + np.exp(-2 * L / lam))


def mean_profile(preset: Preset, x: Any, *, production_scale: float = 1.0) -> np.ndarray:
    """The deterministic profile of the continuum model (no embryo-level variation)."""
    xs = np.asarray(x, dtype=float)
    return production_scale * preset.c0 * _shape(xs, np.asarray(preset.lambda_um), preset.L)


def _validate(preset: Any, n_embryos: Any, production_scale: Any) -> tuple[int, float]:
    if not isinstance(preset, Preset):
        raise InputError(f"`preset` must be a crossnoise.bio.presets.Preset; got {type(preset).__name__}.")
    return check_positive_int(n_embryos, "embryos"), check_positive_float(production_scale, "production_scale")


def embryo_profiles(preset: Preset, n_embryos: int, *, production_scale: float = 1.0,
                    rng: RNGLike = None) -> Profiles:
    """Steady profiles of ``n_embryos`` embryos of ``preset`` on its cell grid.

    Uses the cell-based model when ``preset.kinetic_cv > 0``, else the continuum profile with the
    preset's embryo-to-embryo CVs of amplitude and decay length.

    Examples
    --------
    >>> from crossnoise.bio.presets import get_preset
    >>> prof = embryo_profiles(get_preset("bicoid", cv_amplitude=0.1), 4, rng=1)
    >>> prof.c.shape
    (4, 50)
    """
    E, scale = _validate(preset, n_embryos, production_scale)
    g = as_generator(rng)
    if preset.kinetic_cv > 0:
        cp = cell_based_profiles(preset.D, preset.k, preset.j0 * scale, preset.L,
                                 cell_diameter=preset.cell_diameter, kinetic_cv=preset.kinetic_cv,
                                 source_cells=preset.source_cells, n_embryos=E, rng=g)
        return Profiles(cp.x, cp.c, "cell-based")
    n = preset.n_cells
    x = (np.arange(n) + 0.5) * preset.cell_diameter
    amp = lognormal_factors(preset.cv_amplitude, (E, 1), g)
    lam = preset.lambda_um * lognormal_factors(preset.cv_lambda, (E, 1), g)
    c = scale * preset.c0 * amp * _shape(x, lam, preset.L)
    return Profiles(x, c, "continuum")


def cell_threshold(preset: Preset) -> float:
    """θ for the cell-based model: the uniform tissue's concentration at ``boundary_um``.

    Log-linear interpolation between the two cells around the boundary (the uniform cell-based
    tissue differs from the continuum model near its finite source).
    """
    if preset.threshold is not None:
        return preset.threshold
    cp = cell_based_profiles(preset.D, preset.k, preset.j0, preset.L, cell_diameter=preset.cell_diameter,
                             kinetic_cv=0.0, source_cells=preset.source_cells, n_embryos=1, rng=0)
    return float(np.exp(np.interp(preset.boundary_um, cp.x, np.log(cp.c[0]))))


def _check_averaging(n_time: Any, neighbours: Any) -> tuple[int, int]:
    return check_positive_int(n_time, "n_time"), check_nonnegative_int(neighbours, "neighbours")


def _neighbour_average(r: np.ndarray, m: int) -> np.ndarray:
    if m == 0:
        return r
    n = r.shape[-1]
    csum = np.concatenate([np.zeros(r.shape[:-1] + (1,)), np.cumsum(r, axis=-1)], axis=-1)
    lo = np.clip(np.arange(n) - m, 0, n)
    hi = np.clip(np.arange(n) + m + 1, 0, n)
    return (csum[..., hi] - csum[..., lo]) / (hi - lo)


def read_out(c: np.ndarray, noise: Any, *, n_time: int = 1, neighbours: int = 0, rng: RNGLike = None) -> np.ndarray:
    """Noisy readouts of concentrations ``c`` (embryos × cells), all embryos at once.

    .. math:: r_{ei} = \\frac{1}{|W_i|}\\sum_{j\\in W_i}\\frac{1}{n_t}\\sum_{t=1}^{n_t} r_{ejt},
              \\qquad W_i = \\{i-m,\\dots,i+m\\}\\cap\\text{tissue}

    ``noise`` is a model of :mod:`crossnoise.bio.noise` (its exact ``sample(..., n=n_time)`` is
    used) or any callable ``noise(c, *, rng)`` (then drawn ``n_time`` times and averaged).
    """
    n_time, m = _check_averaging(n_time, neighbours)
    g = as_generator(rng)
    c = np.asarray(c, dtype=float)
    if hasattr(noise, "sample"):
        r = noise.sample(c, rng=g, n=n_time)
    elif callable(noise):
        r = np.zeros_like(c)
        for _ in range(n_time):
            r += np.asarray(noise(c, rng=g), dtype=float)
        r /= n_time
    else:
        raise InputError(f"`noise` must be a readout-noise model or a callable(c, *, rng); got {noise!r}.")
    return _neighbour_average(r, m)


def read_out_loop(c: np.ndarray, noise: Any, *, n_time: int = 1, neighbours: int = 0,
                  rng: RNGLike = None) -> np.ndarray:
    """Reference implementation of :func:`read_out`: one embryo, one cell and one readout at a time.

    Same distribution, different stream order; O(embryos × cells × n_time) Python calls.
    """
    n_time, m = _check_averaging(n_time, neighbours)
    g = as_generator(rng)
    c = np.asarray(c, dtype=float)
    E, n = c.shape
    out = np.empty_like(c)
    for e in range(E):
        single = np.empty(n)
        for i in range(n):
            total = 0.0
            for _ in range(n_time):
                total += float(noise(np.asarray(c[e, i]), rng=g))
            single[i] = total / n_time
        for i in range(n):
            lo, hi = max(0, i - m), min(n, i + m + 1)
            out[e, i] = single[lo:hi].mean()
    return out


def effective_readouts(n_time: int, neighbours: int) -> int:
    """:math:`n = n_{time}(2m+1)`, single readouts averaged by an interior cell."""
    return int(n_time) * (2 * int(neighbours) + 1)


def _log_interp_crossing(x: np.ndarray, r: np.ndarray, theta: float) -> float:
    """Where a (mostly decreasing) positive profile first falls below θ, log-linear interpolation."""
    below = np.nonzero(r < theta)[0]
    if below.size == 0 or below[0] == 0:
        return math.nan
    i = int(below[0])
    l0, l1 = math.log(max(r[i - 1], 1e-300)), math.log(max(r[i], 1e-300))
    lt = math.log(theta)
    return float(x[i - 1] + (l0 - lt) / (l0 - l1) * (x[i] - x[i - 1]))
