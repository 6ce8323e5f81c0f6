"""Analytic steady states of synthesis–diffusion–degradation (SDD) gradients.

A morphogen enters the tissue as a flux :math:`j_0` at :math:`x = 0`, diffuses with coefficient
:math:`D` and is degraded at rate :math:`k`:

.. math::

    \\partial_t c = D\\,\\partial_x^2 c - k c,\\qquad -D\\,\\partial_x c(0, t) = j_0,\\qquad
    \\lambda = \\sqrt{D/k}.

Steady states (Wartlick, Kicheva & González-Gaitán 2009, Cold Spring Harb. Perspect. Biol. 1,
a001255):

- semi-infinite tissue: :math:`c(x) = (j_0\\lambda/D)\\,e^{-x/\\lambda}`;
- finite tissue :math:`[0, L]`, no flux at :math:`L`:
  :math:`c(x) = (j_0\\lambda/D)\\cosh((L-x)/\\lambda)/\\sinh(L/\\lambda)`;
- self-enhanced (quadratic) degradation :math:`D c'' = \\alpha c^2` on a half line:
  :math:`c(x) = 6D/(\\alpha(x+\\varepsilon)^2)` with :math:`\\varepsilon = (12D^2/(\\alpha j_0))^{1/3}`
  fixed by the source flux (Eldar et al. 2003, Dev. Cell 5, 635).

The local accumulation time :math:`\\tau(x) = \\int_0^\\infty (1 - c(x,t)/c_s(x))\\,dt` of the
semi-infinite SDD model is :math:`(1 + x/\\lambda)/(2k)` (Berezhkovskii, Sample & Shvartsman 2010,
Biophys. J. 99, L59).

Units used throughout :mod:`crossnoise.bio`: µm, s, molecules/µm³ for concentrations and
molecules/(µm²·s) for the source flux.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from crossnoise.validation import InputError, check_finite_array, check_positive_float

__all__ = [
    "decay_length",
    "amplitude",
    "steady_state",
    "steady_slope",
    "accumulation_time",
    "threshold_position",
    "self_enhanced_steady_state",
    "hindered_decay_length",
]


def _check_kinetics(D: Any, k: Any, j0: Any = 1.0, L: Any = None) -> tuple[float, float, float, float | None]:
    D = check_positive_float(D, "D")
    k = check_positive_float(k, "k")
    j0 = check_positive_float(j0, "j0")
    L = None if L is None else check_positive_float(L, "L")
    return D, k, j0, L


def _check_x(x: Any, L: float | None) -> np.ndarray:
    xs = check_finite_array(x, "x", ndim=(0, 1))
    if np.any(xs < 0) or (L is not None and np.any(xs > L * (1 + 1e-12))):
        upper = "inf" if L is None else f"{L:g}"
        raise InputError(f"`x` must lie in [0, {upper}] µm; got values in [{xs.min():g}, {xs.max():g}].")
    return xs


def decay_length(D: float, k: float) -> float:
    """:math:`\\lambda = \\sqrt{D/k}` in µm.

    Examples
    --------
    >>> round(decay_length(0.1, 2.52e-4), 2)   # Dpp (Kicheva et al. 2007)
    19.92
    """
    D, k, _, _ = _check_kinetics(D, k)
    return math.sqrt(D / k)


def amplitude(D: float, k: float, j0: float, L: float | None = None) -> float:
    """Concentration at the source, :math:`c(0)`: :math:`j_0\\lambda/D` (times :math:`\\coth(L/\\lambda)` if finite)."""
    D, k, j0, L = _check_kinetics(D, k, j0, L)
    lam = math.sqrt(D / k)
    c0 = j0 * lam / D
    return c0 if L is None else c0 / math.tanh(L / lam)


def steady_state(x: Any, D: float, k: float, j0: float, L: float | None = None) -> np.ndarray:
    """Steady SDD profile at positions ``x`` (µm); semi-infinite if ``L`` is None.

    .. math::

        c(x) = \\frac{j_0\\lambda}{D}\\,e^{-x/\\lambda}\\quad\\text{or}\\quad
        c(x) = \\frac{j_0\\lambda}{D}\\,\\frac{\\cosh((L-x)/\\lambda)}{\\sinh(L/\\lambda)}.

    Examples
    --------
    >>> float(steady_state(0.0, D=1.0, k=1.0, j0=2.0))
    2.0
    """
    D, k, j0, L = _check_kinetics(D, k, j0, L)
    xs = _check_x(x, L)
    lam = math.sqrt(D / k)
    c0 = j0 * lam / D
    if L is None:
        return c0 * np.exp(-xs / lam)
    # cosh((L-x)/λ)/sinh(L/λ) written with exponentials that cannot overflow
    a = np.exp(-xs / lam)
    b = np.exp(-(2 * L - xs) / lam)
    return c0 * (a + b) / (1.0 - math.exp(-2 * L / lam))


def steady_slope(x: Any, D: float, k: float, j0: float, L: float | None = None) -> np.ndarray:
    """:math:`dc/dx` of :func:`steady_state` (negative: the gradient decays away from the source)."""
    D, k, j0, L = _check_kinetics(D, k, j0, L)
    xs = _check_x(x, L)
    lam = math.sqrt(D / k)
    c0 = j0 * lam / D
    if L is None:
        return -c0 / lam * np.exp(-xs / lam)
    a = np.exp(-xs / lam)
    b = np.exp(-(2 * L - xs) / lam)
    return -c0 / lam * (a - b) / (1.0 - math.exp(-2 * L / lam))


def accumulation_time(x: Any, D: float, k: float) -> np.ndarray:
    """Local accumulation time of the semi-infinite SDD model (s).

    .. math:: \\tau(x) = \\frac{1 + x/\\lambda}{2k}

    (Berezhkovskii et al. 2010).  For a finite tissue use
    :func:`crossnoise.bio.solver.accumulation_time_numeric`.

    Examples
    --------
    >>> round(float(accumulation_time(0.0, 0.1, 2.52e-4)) / 60, 1)   # Dpp at the source, minutes
    33.1
    """
    D, k, _, _ = _check_kinetics(D, k)
    xs = _check_x(x, None)
    return (1.0 + xs / math.sqrt(D / k)) / (2.0 * k)


def threshold_position(theta: float, D: float, k: float, j0: float, L: float | None = None) -> float:
    """Position where the steady profile equals ``theta``: :math:`x_\\theta = \\lambda\\ln(c_0/\\theta)`.

    For a finite tissue the cosh profile is inverted exactly.  A threshold outside the
    gradient's range has no boundary: the error says so and gives the range.
    """
    D, k, j0, L = _check_kinetics(D, k, j0, L)
    theta = check_positive_float(theta, "threshold")
    lam = math.sqrt(D / k)
    c0 = amplitude(D, k, j0, L)
    cmin = 0.0 if L is None else float(steady_state(L, D, k, j0, L))
    if not (cmin < theta < c0):
        raise InputError(
            f"`threshold` must lie inside the gradient's range ({cmin:.4g}, {c0:.4g}) molecules/µm³ "
            f"(no boundary otherwise); got {theta:.4g}."
        )
    if L is None:
        return lam * math.log(c0 / theta)
    # θ = A cosh((L-x)/λ) with A = j0 λ/(D sinh(L/λ))
    A = j0 * lam / D / math.sinh(L / lam) if L / lam < 700 else None
    if A is None:  # extremely long tissue: exponential limit
        return lam * math.log(j0 * lam / D / theta)
    return L - lam * math.acosh(theta / A)


def self_enhanced_steady_state(x: Any, D: float, alpha: float, j0: float) -> np.ndarray:
    """Steady state of :math:`\\partial_t c = D c'' - \\alpha c^2` on a half line with source flux ``j0``.

    .. math::

        c(x) = \\frac{6D}{\\alpha (x + \\varepsilon)^2},\\qquad
        \\varepsilon = \\left(\\frac{12 D^2}{\\alpha j_0}\\right)^{1/3},

    from :math:`-D c'(0) = 12D^2/(\\alpha\\varepsilon^3) = j_0` (Eldar et al. 2003).  ``alpha`` in
    µm³/(molecule·s).
    """
    D = check_positive_float(D, "D")
    alpha = check_positive_float(alpha, "alpha")
    j0 = check_positive_float(j0, "j0")
    xs = _check_x(x, None)
    eps = (12.0 * D**2 / (alpha * j0)) ** (1.0 / 3.0)
    return 6.0 * D / (alpha * (xs + eps) ** 2)


def hindered_decay_length(D: float, k: float, receptors: float, kd: float) -> float:
    """Decay length with fast reversible receptor binding: :math:`\\sqrt{(D/k)/(R/K_d + 1)}`."""
    D, k, _, _ = _check_kinetics(D, k)
    r = check_positive_float(receptors, "receptors", allow_zero=True)
    kd = check_positive_float(kd, "kd")
    return math.sqrt((D / k) / (r / kd + 1.0))
