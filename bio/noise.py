"""Readout-noise models: how one cell reads the concentration around it (DESIGN §3.2).

A model is a callable ``model(c, *, rng) -> readouts`` acting elementwise on an array of true
concentrations (molecules/µm³); readouts are in the same units.  The built-in models also give

- ``sample(c, *, rng, n=1)``: the mean of ``n`` independent readouts, drawn exactly (Poisson:
  one Poisson of mean ``n c V``; Gaussian models: one Gaussian of variance/n);
- ``variance(c, n=1)``: the variance of that mean, :math:`\\sigma_c^2/n`;
- ``sf(theta, c, n=1)``: :math:`P(\\text{readout} > \\theta)`, the chance a cell takes the
  high fate.

Any other callable with ``rng=`` works in :mod:`crossnoise.bio.patterning` (averages are then
drawn readout by readout, and predictions that need ``variance`` are skipped).

Models
------
- :class:`NoNoise` — a perfect readout.
- :class:`PoissonCounting` — molecules counted in a volume V: :math:`N \\sim \\mathrm{Poisson}(cV)`,
  readout N/V, :math:`\\sigma_c^2 = c/V` (Gregor et al. 2007, Cell 130, 153).
- :class:`Multiplicative` — lognormal with mean c and coefficient of variation ``cv``:
  :math:`c\\,e^{sZ - s^2/2}`, :math:`s^2 = \\ln(1 + \\mathrm{cv}^2)`, so :math:`\\sigma_c = \\mathrm{cv}\\,c`
  exactly and a readout is never negative.
- :class:`BergPurcell` — a sensor of size a averaging for a time T:
  :math:`(\\delta c/c)^2 = 1/(D a c T)` (Berg & Purcell 1977, Biophys. J. 20, 193), Gaussian;
  averaging n windows is a window nT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from scipy import stats as _st

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import InputError, check_positive_float, check_positive_int

__all__ = ["ReadoutNoise", "NoNoise", "PoissonCounting", "Multiplicative", "BergPurcell", "parse_noise",
           "NOISE_SPECS"]

NOISE_SPECS = "none, poisson, cv:<CV> (e.g. cv:0.1), berg-purcell:<T seconds> (e.g. berg-purcell:60)"


class ReadoutNoise(Protocol):
    def __call__(self, c: np.ndarray, *, rng: RNGLike = None) -> np.ndarray: ...


def _conc(c: Any) -> np.ndarray:
    arr = np.asarray(c, dtype=float)
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr < 0)):
        raise InputError("`c` must hold finite, non-negative concentrations.")
    return arr


def _n(n: Any) -> int:
    return check_positive_int(n, "n")


@dataclass(frozen=True, slots=True)
class NoNoise:
    """The readout equals the concentration."""

    def __call__(self, c: Any, *, rng: RNGLike = None) -> np.ndarray:
        return self.sample(c, rng=rng)

    def sample(self, c: Any, *, rng: RNGLike = None, n: int = 1) -> np.ndarray:
        _n(n)
        as_generator(rng)
        return _conc(c).copy()

    def variance(self, c: Any, n: int = 1) -> np.ndarray:
        return np.zeros_like(_conc(c))

    def sf(self, theta: float, c: Any, n: int = 1) -> np.ndarray:
        return (_conc(c) > theta).astype(float)

    @property
    def spec(self) -> str:
        return "none"


@dataclass(frozen=True, slots=True)
class PoissonCounting:
    """Counting molecules in a volume ``volume`` (µm³): readout N/V with N ~ Poisson(cV).

    .. math:: \\sigma_c^2 = c/V,\\qquad \\mathrm{CV} = 1/\\sqrt{cV}

    Examples
    --------
    >>> m = PoissonCounting(volume=100.0)
    >>> float(m.variance(2.0))
    0.02
    """

    volume: float

    def __post_init__(self) -> None:
        check_positive_float(self.volume, "volume")

    def __call__(self, c: Any, *, rng: RNGLike = None) -> np.ndarray:
        return self.sample(c, rng=rng)

    def sample(self, c: Any, *, rng: RNGLike = None, n: int = 1) -> np.ndarray:
        n = _n(n)
        g = as_generator(rng)
        lam = _conc(c) * self.volume * n
        return g.poisson(lam) / (self.volume * n)

    def variance(self, c: Any, n: int = 1) -> np.ndarray:
        return _conc(c) / (self.volume * _n(n))

    def sf(self, theta: float, c: Any, n: int = 1) -> np.ndarray:
        n = _n(n)
        cut = np.floor(theta * self.volume * n)  # readout > θ  ⇔  N > θVn  ⇔  N > floor(θVn)
        return _st.poisson.sf(cut, _conc(c) * self.volume * n)

    @property
    def spec(self) -> str:
        return "poisson"


@dataclass(frozen=True, slots=True)
class Multiplicative:
    """Lognormal readout with mean c and coefficient of variation ``cv``.

    .. math:: r = c\\,e^{sZ - s^2/2},\\quad s^2 = \\ln(1+\\mathrm{cv}^2),\\quad \\sigma_c = \\mathrm{cv}\\cdot c

    The mean of n readouts is drawn readout by readout (no closed form).
    """

    cv: float

    def __post_init__(self) -> None:
        check_positive_float(self.cv, "cv")

    @property
    def _s(self) -> float:
        return math.sqrt(math.log1p(self.cv**2))

    def __call__(self, c: Any, *, rng: RNGLike = None) -> np.ndarray:
        return self.sample(c, rng=rng)

    def sample(self, c: Any, *, rng: RNGLike = None, n: int = 1) -> np.ndarray:
        n = _n(n)
        g = as_generator(rng)
        cc = _conc(c)
        s = self._s
        if n == 1:
            return cc * np.exp(s * g.standard_normal(cc.shape) - 0.5 * s * s)
        acc = np.zeros_like(cc)
        for _ in range(n):
            acc += np.exp(s * g.standard_normal(cc.shape) - 0.5 * s * s)
        return cc * acc / n

    def variance(self, c: Any, n: int = 1) -> np.ndarray:
        return (self.cv * _conc(c)) ** 2 / _n(n)

    def sf(self, theta: float, c: Any, n: int = 1) -> np.ndarray:
        cc = _conc(c)
        if _n(n) == 1:
            s = self._s
            with np.errstate(divide="ignore"):
                return _st.norm.sf((math.log(theta) - np.log(cc) + 0.5 * s * s) / s)
        # mean of n lognormals: Fenton–Wilkinson (lognormal with the same mean and variance)
        s_n = math.sqrt(math.log1p(self.cv**2 / n))
        with np.errstate(divide="ignore"):
            return _st.norm.sf((math.log(theta) - np.log(cc) + 0.5 * s_n * s_n) / s_n)

    @property
    def spec(self) -> str:
        return f"cv:{self.cv:g}"


@dataclass(frozen=True, slots=True)
class BergPurcell:
    """Time-averaged sensing by a sensor of size ``a`` (µm) for a window ``T`` (s).

    .. math:: \\left(\\frac{\\delta c}{c}\\right)^2 = \\frac{1}{D\\,a\\,c\\,T},\\qquad
              \\sigma_c^2 = \\frac{c}{D a T}

    Gaussian readout; averaging n windows is one window nT.
    """

    D: float
    a: float
    T: float

    def __post_init__(self) -> None:
        check_positive_float(self.D, "D")
        check_positive_float(self.a, "sensor_size")
        check_positive_float(self.T, "T")

    def __call__(self, c: Any, *, rng: RNGLike = None) -> np.ndarray:
        return self.sample(c, rng=rng)

    def sample(self, c: Any, *, rng: RNGLike = None, n: int = 1) -> np.ndarray:
        g = as_generator(rng)
        cc = _conc(c)
        return cc + np.sqrt(self.variance(cc, n)) * g.standard_normal(cc.shape)

    def variance(self, c: Any, n: int = 1) -> np.ndarray:
        return _conc(c) / (self.D * self.a * self.T * _n(n))

    def sf(self, theta: float, c: Any, n: int = 1) -> np.ndarray:
        cc = _conc(c)
        sd = np.sqrt(self.variance(cc, n))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(sd > 0, _st.norm.sf((theta - cc) / np.where(sd > 0, sd, 1.0)), (cc > theta) * 1.0)

    @property
    def spec(self) -> str:
        return f"berg-purcell:{self.T:g}"


def parse_noise(spec: str, *, cell_volume: float, D: float, sensor_size: float) -> Any:
    """A readout-noise model from its text form: ``none``, ``poisson``, ``cv:0.1``, ``berg-purcell:60``.

    ``cell_volume`` (µm³) is the Poisson counting volume; ``D`` (µm²/s) and ``sensor_size`` (µm)
    enter Berg–Purcell.
    """
    if not isinstance(spec, str):
        raise InputError(f"`noise` must be one of {NOISE_SPECS}; got {spec!r}.")
    s = spec.strip().lower()
    head, _, arg = s.partition(":")
    try:
        if head == "none" and not arg:
            return NoNoise()
        if head == "poisson" and not arg:
            return PoissonCounting(check_positive_float(cell_volume, "cell_volume"))
        if head == "cv" and arg:
            return Multiplicative(check_positive_float(float(arg), "cv"))
        if head in ("berg-purcell", "bp") and arg:
            return BergPurcell(D, sensor_size, check_positive_float(float(arg), "T"))
    except ValueError as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"`noise` must be one of {NOISE_SPECS}; got {spec!r}.") from None
    raise InputError(f"`noise` must be one of {NOISE_SPECS}; got {spec!r}.")
