"""The one signal-to-noise record that every crossnoise domain produces (DESIGN §1).

A reading of a signal (a gradient, a slope) through noise that shrinks as ``n`` samples are
averaged is described by the signal, the variance of ONE sample and ``n``.  Everything else is
derived:

.. math::

    \\sigma^2_{noise} = V/n,\\qquad \\mathrm{SNR} = |s|^2 n / V,\\qquad
    B_{noise} = V/|s|^2,\\qquad \\ell = \\sqrt{V/n}/|s|,

with :math:`V` the per-sample variance (the trace of the per-sample covariance for a vector) and
:math:`|s|^2` the squared signal.  ``noise_scale`` is the number of samples that brings the SNR to 1
(B_simple of McCandlish et al. 2018 in ml; shots for a gradient SNR of 1 in quantum) and
``localization_error`` is noise over slope (σx/Δx in bio, Gregor et al. 2007).

Standard errors come from the delta method when the inputs carry them: with
:math:`R = V/|s|^2`,

.. math::

    (\\mathrm{SE}_R/R)^2 = (\\mathrm{SE}_V/V)^2 + (\\mathrm{SE}_{s^2}/|s|^2)^2
                           - 2\\,\\mathrm{Cov}(V, |s|^2)/(V|s|^2),

SNR = n/R has the same relative error and ℓ = √(R/n) half of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from crossnoise.stats import mean_norm_and_trace, two_size_estimate
from crossnoise.validation import (
    InputError,
    check_finite_array,
    check_positive_float,
    check_probability,
    warn_degenerate,
)

__all__ = ["SignalNoise"]

_QUANTITIES = ("noise_variance", "snr", "noise_scale", "localization_error")


def _validate_signal_noise(sn: SignalNoise) -> None:
    signal = np.asarray(sn.signal, dtype=float)
    if signal.ndim > 1 or not np.all(np.isfinite(signal)):
        raise InputError(f"`signal` must be a finite scalar or 1-D vector; got {sn.signal!r}.")
    check_positive_float(sn.per_sample_variance, "per_sample_variance", allow_zero=True)
    check_positive_float(sn.n_samples, "n_samples")
    for name in ("signal_norm_sq_estimate", "signal_norm_sq_se", "per_sample_variance_se", "covariance"):
        value = getattr(sn, name)
        if value is not None and not math.isfinite(float(value)) and name != "signal_norm_sq_se":
            raise InputError(f"`{name}` must be finite or None; got {value}.")
    for name in ("signal_norm_sq_se", "per_sample_variance_se"):
        value = getattr(sn, name)
        if value is not None and (math.isnan(float(value)) is False and float(value) < 0):
            raise InputError(f"`{name}` must be a non-negative number or None; got {value}.")


@dataclass(frozen=True, slots=True)
class SignalNoise:
    """A signal read through noise that averages down over ``n_samples`` samples.

    Parameters
    ----------
    signal : float or (d,) array
        The mean quantity: a gradient, one gradient component, or the concentration change across
        one resolution step.
    per_sample_variance : float
        Variance of ONE sample; for a vector, the trace of the per-sample covariance (ddof=1 when
        estimated).
    n_samples : float
        Samples averaged in one reading (batch size, shots, readouts).
    sample_unit, signal_unit : str
        E.g. ``"example"``, ``"shot"``, ``"cell readout"``; ``"Ha/rad"``, ``"molecules/cell"``.
    signal_norm_sq_estimate : float, optional
        An estimate of :math:`|s|^2` to use instead of ``|signal|²``: when ``signal`` is itself a
        sample mean, :math:`|\\bar x|^2` is biased up by V/n and the unbiased
        :math:`|\\bar x|^2 - V/n` belongs here.  It may be ≤ 0 (no detectable signal).
    signal_norm_sq_se, per_sample_variance_se : float, optional
        Standard errors of the two inputs.
    covariance : float
        Covariance of the two input estimates (0 when independent).
    label : str
        What is read (e.g. ``"H2 SPSA gradient"``).

    Examples
    --------
    >>> sn = SignalNoise(signal=2.0, per_sample_variance=16.0, n_samples=4)
    >>> sn.snr, sn.noise_scale, sn.localization_error
    (1.0, 4.0, 1.0)
    """

    signal: Any
    per_sample_variance: float
    n_samples: float
    sample_unit: str = "sample"
    signal_unit: str = ""
    signal_norm_sq_estimate: float | None = None
    signal_norm_sq_se: float | None = None
    per_sample_variance_se: float | None = None
    covariance: float = 0.0
    label: str = ""

    def __post_init__(self) -> None:
        _validate_signal_noise(self)

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_samples(cls, samples: Any, *, n_samples: float | None = None, **units: str) -> SignalNoise:
        """From raw per-sample data: rows are samples, columns the vector components.

        The signal is the sample mean, its squared norm the unbiased :math:`|\\bar x|^2 - \\operatorname{tr}S/n`,
        the per-sample variance :math:`\\operatorname{tr}S` (ddof=1); standard errors and their
        covariance are the closed-form jackknife of :func:`crossnoise.stats.mean_norm_and_trace`.
        ``n_samples`` defaults to the number of rows (the reading is their mean).

        Examples
        --------
        >>> import numpy as np
        >>> x = np.random.default_rng(1).normal(loc=1.0, size=(400, 2))
        >>> sn = SignalNoise.from_samples(x, sample_unit="example")
        >>> round(sn.noise_scale, 1)
        1.1
        """
        est = mean_norm_and_trace(samples)
        n = est.n_samples if n_samples is None else n_samples
        signal = est.mean if est.mean.size > 1 else float(est.mean[0])
        return cls(
            signal=signal,
            per_sample_variance=est.trace,
            n_samples=n,
            signal_norm_sq_estimate=est.mean_norm_sq,
            signal_norm_sq_se=est.mean_norm_sq_se,
            per_sample_variance_se=est.trace_se,
            covariance=float(est.covariance[0, 1]),
            **units,
        )

    @classmethod
    def from_moments(
        cls, mean: Any, trace_covariance: float, n: float, *, debias: bool = True, **kwargs: Any
    ) -> SignalNoise:
        """From a sample mean, the trace of the per-sample covariance and the sample count.

        With ``debias`` (the mean was computed from those same ``n`` samples) the squared signal is
        :math:`|\\bar x|^2 - \\operatorname{tr}S/n`; otherwise ``|mean|²``.
        """
        m = check_finite_array(mean, "mean", ndim=(0, 1))
        v = check_positive_float(trace_covariance, "trace_covariance", allow_zero=True)
        n = check_positive_float(n, "n")
        norm_sq = float(np.sum(m**2)) - (v / n if debias else 0.0)
        return cls(signal=m if m.ndim else float(m), per_sample_variance=v, n_samples=n,
                   signal_norm_sq_estimate=norm_sq, **kwargs)

    @classmethod
    def from_two_sizes(
        cls,
        norm_sq_small: Any,
        norm_sq_big: Any,
        b_small: int,
        b_big: int,
        *,
        n_samples: float | None = None,
        **kwargs: Any,
    ) -> SignalNoise:
        """From squared norms of mean vectors at two sample sizes b < B (DESIGN §4).

        See :func:`crossnoise.stats.two_size_estimate`; with k ≥ 2 paired repeats the result carries
        standard errors.  The scalar signal is :math:`\\sqrt{\\max(|G|^2_{est}, 0)}` and
        ``n_samples`` defaults to ``b_big``.
        """
        est = two_size_estimate(norm_sq_small, norm_sq_big, b_small, b_big)
        g2 = est.grad_norm_sq.value
        trace = est.trace_sigma.value
        if trace < 0:
            warn_degenerate(f"two-size estimate of the per-sample variance is negative ({trace:.3g}); clipped to 0.")
            trace = 0.0

        def _se(x: float) -> float | None:
            return None if math.isnan(x) else x

        return cls(
            signal=math.sqrt(max(g2, 0.0)),
            per_sample_variance=trace,
            n_samples=est.b_big if n_samples is None else n_samples,
            signal_norm_sq_estimate=g2,
            signal_norm_sq_se=_se(est.grad_norm_sq.standard_error),
            per_sample_variance_se=_se(est.trace_sigma.standard_error),
            covariance=0.0 if math.isnan(est.covariance) else est.covariance,
            **kwargs,
        )

    def with_n_samples(self, n_samples: float) -> SignalNoise:
        """The same per-sample statistics read with another number of samples."""
        return SignalNoise(
            self.signal, self.per_sample_variance, n_samples, self.sample_unit, self.signal_unit,
            self.signal_norm_sq_estimate, self.signal_norm_sq_se, self.per_sample_variance_se,
            self.covariance, self.label,
        )

    # ------------------------------------------------------------------ derived quantities
    @property
    def signal_norm_sq(self) -> float:
        """|s|²: the stored estimate if given, else the squared norm of ``signal``."""
        if self.signal_norm_sq_estimate is not None:
            return float(self.signal_norm_sq_estimate)
        return float(np.sum(np.asarray(self.signal, dtype=float) ** 2))

    @property
    def _detectable(self) -> bool:
        return self.signal_norm_sq > 0

    @property
    def noise_variance(self) -> float:
        """V/n, the variance of the averaged reading."""
        return self.per_sample_variance / self.n_samples

    @property
    def snr(self) -> float:
        """|s|² n / V (inf for a noiseless reading; 0 when no signal is detectable)."""
        if not self._detectable:
            return 0.0
        return self.signal_norm_sq / self.noise_variance if self.per_sample_variance > 0 else math.inf

    @property
    def noise_scale(self) -> float:
        """V/|s|², the samples needed for SNR = 1 (inf when no signal is detectable)."""
        return self.per_sample_variance / self.signal_norm_sq if self._detectable else math.inf

    @property
    def localization_error(self) -> float:
        """√(V/n)/|s|, noise over slope in units of the signal's step (inf when undetectable)."""
        return math.sqrt(self.noise_variance / self.signal_norm_sq) if self._detectable else math.inf

    # ------------------------------------------------------------------ standard errors
    def _noise_scale_rel_se(self) -> float | None:
        if self.signal_norm_sq_se is None and self.per_sample_variance_se is None:
            return None
        if not self._detectable or self.per_sample_variance == 0:
            return math.nan
        s2, v = self.signal_norm_sq, self.per_sample_variance
        rel = ((self.per_sample_variance_se or 0.0) / v) ** 2 + ((self.signal_norm_sq_se or 0.0) / s2) ** 2
        rel -= 2 * self.covariance / (v * s2)
        return math.sqrt(max(rel, 0.0))

    @property
    def noise_variance_se(self) -> float | None:
        se = self.per_sample_variance_se
        return None if se is None else se / self.n_samples

    @property
    def noise_scale_se(self) -> float | None:
        rel = self._noise_scale_rel_se()
        return None if rel is None else rel * self.noise_scale

    @property
    def snr_se(self) -> float | None:
        rel = self._noise_scale_rel_se()
        return None if rel is None else rel * self.snr

    @property
    def localization_error_se(self) -> float | None:
        rel = self._noise_scale_rel_se()
        return None if rel is None else 0.5 * rel * self.localization_error

    def confidence_interval(self, quantity: str, level: float = 0.95) -> tuple[float, float]:
        """Normal (delta-method) interval for one of noise_variance, snr, noise_scale, localization_error."""
        if quantity not in _QUANTITIES:
            raise InputError(f"`quantity` must be one of {', '.join(_QUANTITIES)}; got {quantity!r}.")
        check_probability(level, "level")
        se = getattr(self, f"{quantity}_se")
        if se is None:
            raise InputError(f"`{quantity}` has no standard error: the inputs carry none.")
        value = getattr(self, quantity)
        z = float(_st.norm.ppf(0.5 + level / 2))
        return value - z * se, value + z * se

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary (floats, lists, strings), e.g. for JSON or the results store."""
        signal = np.asarray(self.signal, dtype=float)
        out: dict[str, Any] = {
            "label": self.label,
            "signal_norm": math.sqrt(max(self.signal_norm_sq, 0.0)),
            "signal_norm_sq": self.signal_norm_sq,
            "signal_norm_sq_se": self.signal_norm_sq_se,
            "signal_dim": int(signal.size),
            "per_sample_variance": self.per_sample_variance,
            "per_sample_variance_se": self.per_sample_variance_se,
            "n_samples": self.n_samples,
            "sample_unit": self.sample_unit,
            "signal_unit": self.signal_unit,
        }
        for q in _QUANTITIES:
            out[q] = getattr(self, q)
            out[f"{q}_se"] = getattr(self, f"{q}_se")
        return out

    def __repr__(self) -> str:
        def fmt(q: str) -> str:
            se = getattr(self, f"{q}_se")
            v = getattr(self, q)
            return f"{v:.4g}" if se is None else f"{v:.4g} ± {se:.2g}"

        head = f"{self.label}: " if self.label else ""
        return (
            f"SignalNoise({head}|s|²={self.signal_norm_sq:.4g} {self.signal_unit}², "
            f"V={self.per_sample_variance:.4g}, n={self.n_samples:g} {self.sample_unit}, "
            f"snr={fmt('snr')}, noise_scale={fmt('noise_scale')} {self.sample_unit}, "
            f"localization_error={fmt('localization_error')})"
        )
