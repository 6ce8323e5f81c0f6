"""Variance estimators shared by the quantum, bio and ml domains (DESIGN §4).

Contents
--------
- :class:`Estimate` — a value with its standard error, sample count and confidence interval.
- :class:`StreamingMoments` — vector streaming moments: Welford updates, the exact Chan et al.
  pairwise merge of partial results from different workers, and the trace of the covariance
  without storing a d×d matrix.
- :func:`unbiased_mean_norm_sq` — |x̄|² − tr(S)/n, unbiased for |E x|².
- :func:`mean_norm_and_trace` — that estimate and tr(S) with their closed-form jackknife
  covariance, in O(n·d).
- :func:`two_size_estimate` — |G|² and tr Σ from mean-vector norms at two sample sizes.
- :func:`bootstrap` (wraps :func:`scipy.stats.bootstrap`), :func:`jackknife`,
  :func:`ratio_of_means`, and :class:`RatioEMA` (numerator and denominator smoothed separately).

Normalisation: every variance here is the per-sample variance with ``ddof=1`` unless stated.

References
----------
Welford, Technometrics 4, 419 (1962).  Chan, Golub & LeVeque, "Updating formulae and a pairwise
algorithm for computing sample variances", Stanford CS-79-773 (1979).  McCandlish et al.,
"An Empirical Model of Large-Batch Training", arXiv:1812.06162 (2018), appendix A.
Efron & Stein, Ann. Stat. 9, 586 (1981) (jackknife).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _st

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import (
    InputError,
    check_finite_array,
    check_positive_int,
    check_probability,
)

__all__ = [
    "Estimate",
    "StreamingMoments",
    "unbiased_mean_norm_sq",
    "mean_norm_and_trace",
    "norm_and_trace_from_centered",
    "NormTraceEstimate",
    "two_size_estimate",
    "TwoSizeEstimate",
    "bootstrap",
    "jackknife",
    "ratio_of_means",
    "RatioEMA",
]


def _normal_interval(value: float, se: float, level: float) -> tuple[float, float]:
    z = float(_st.norm.ppf(0.5 + level / 2))
    return value - z * se, value + z * se


@dataclass(frozen=True, slots=True)
class Estimate:
    """A scalar estimate with its standard error.

    Attributes
    ----------
    value, standard_error : float
    n_samples : int
        Samples the estimate was computed from (its cost).
    interval : tuple of float or None
        A stored confidence interval (e.g. BCa from a bootstrap) at ``level``.
    level : float or None
    """

    value: float
    standard_error: float
    n_samples: int
    interval: tuple[float, float] | None = None
    level: float | None = None

    def confidence_interval(self, level: float = 0.95) -> tuple[float, float]:
        """The stored interval if it was made at ``level``, else value ± z·SE (normal)."""
        check_probability(level, "level")
        if self.interval is not None and self.level is not None and np.isclose(level, self.level):
            return self.interval
        return _normal_interval(self.value, self.standard_error, level)

    def __repr__(self) -> str:
        return f"Estimate({self.value:.6g} ± {self.standard_error:.2g}, n={self.n_samples})"


def _as_samples(samples: Any, name: str = "samples", min_rows: int = 1) -> np.ndarray:
    """(n,) or (n, d) finite data as a float (n, d) array."""
    x = check_finite_array(samples, name, ndim=(1, 2), min_rows=min_rows)
    return x[:, None] if x.ndim == 1 else x


@dataclass(frozen=True, slots=True)
class StreamingMoments:
    """Streaming first and second moments of vector samples, stored per coordinate.

    Holds the count ``n``, the running ``mean`` (d,) and ``m2`` (d,), the per-coordinate sum of
    squared deviations, so memory is O(d) and the trace of the covariance is ``sum(m2)/(n-1)``.
    Updates are Welford's; two partial results merge exactly with Chan et al.'s formula

    .. math::

        n = n_a + n_b,\\quad \\delta = \\bar x_b - \\bar x_a,\\quad
        \\bar x = \\bar x_a + \\delta\\, n_b/n,\\quad M_2 = M_{2,a} + M_{2,b} + \\delta^2 n_a n_b / n,

    so workers can reduce in any order and grouping.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(100, 3))
    >>> m = StreamingMoments.from_samples(x[:40]).merge(StreamingMoments.from_samples(x[40:]))
    >>> bool(np.isclose(m.trace_covariance, np.var(x, axis=0, ddof=1).sum()))
    True
    """

    n: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> StreamingMoments:
        """No samples yet, for vectors of length ``dim``."""
        dim = check_positive_int(dim, "dim")
        return cls(0, np.zeros(dim), np.zeros(dim))

    @classmethod
    def from_samples(cls, samples: Any) -> StreamingMoments:
        """Moments of a block of samples, rows = samples (two-pass, numerically stable)."""
        x = _as_samples(samples, min_rows=1)
        mean = x.mean(axis=0)
        return cls(x.shape[0], mean, ((x - mean) ** 2).sum(axis=0))

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def update(self, sample: Any) -> StreamingMoments:
        """Welford's update with ONE sample (a vector of length ``dim``)."""
        x = check_finite_array(sample, "sample", ndim=1)
        if x.shape[0] != self.dim:
            raise InputError(f"`sample` must have length {self.dim}; got length {x.shape[0]}.")
        n = self.n + 1
        delta = x - self.mean
        mean = self.mean + delta / n
        return StreamingMoments(n, mean, self.m2 + delta * (x - mean))

    def update_batch(self, samples: Any) -> StreamingMoments:
        """Add a block of samples (rows), via :meth:`from_samples` and :meth:`merge`."""
        return self.merge(StreamingMoments.from_samples(samples))

    def merge(self, other: StreamingMoments) -> StreamingMoments:
        """Exact Chan et al. merge with another partial result."""
        if not isinstance(other, StreamingMoments):
            raise InputError(f"`other` must be a StreamingMoments; got {type(other).__name__}.")
        if other.dim != self.dim:
            raise InputError(f"`other` must have dim {self.dim}; got dim {other.dim}.")
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.n * other.n / n)
        return StreamingMoments(n, mean, m2)

    def _need(self, k: int) -> None:
        if self.n < k:
            raise InputError(f"at least {k} samples are needed for a variance; got n = {self.n}.")

    @property
    def variance(self) -> np.ndarray:
        """Per-coordinate sample variance (ddof=1)."""
        self._need(2)
        return self.m2 / (self.n - 1)

    @property
    def trace_covariance(self) -> float:
        """tr S = Σ_j m2_j/(n − 1), the per-sample variance of a vector sample."""
        self._need(2)
        return float(self.m2.sum() / (self.n - 1))

    @property
    def mean_norm_sq(self) -> float:
        """|x̄|² (biased upwards by tr Σ/n)."""
        return float(self.mean @ self.mean)

    @property
    def mean_norm_sq_unbiased(self) -> float:
        """|x̄|² − tr(S)/n, unbiased for |E x|²."""
        return self.mean_norm_sq - self.trace_covariance / self.n


def unbiased_mean_norm_sq(samples: Any) -> float:
    """Unbiased estimate of the squared norm of the mean, :math:`|\\bar x|^2 - \\operatorname{tr}S/n`.

    Since :math:`E|\\bar x|^2 = |\\mu|^2 + \\operatorname{tr}\\Sigma/n` and :math:`E\\,\\operatorname{tr}S
    = \\operatorname{tr}\\Sigma` (ddof=1), the difference is unbiased for :math:`|\\mu|^2`; it can be
    negative when the mean is small against the noise.

    Examples
    --------
    >>> unbiased_mean_norm_sq([[1.0, 0.0], [3.0, 0.0]])
    2.0
    """
    return StreamingMoments.from_samples(_as_samples(samples, min_rows=2)).mean_norm_sq_unbiased


@dataclass(frozen=True, slots=True)
class NormTraceEstimate:
    """Unbiased |μ|² and tr Σ from one sample, with their jackknife covariance.

    ``covariance`` is the 2×2 jackknife covariance of (``mean_norm_sq``, ``trace``).
    """

    mean: np.ndarray
    mean_norm_sq: float
    trace: float
    covariance: np.ndarray
    n_samples: int

    @property
    def mean_norm_sq_se(self) -> float:
        return float(np.sqrt(self.covariance[0, 0]))

    @property
    def trace_se(self) -> float:
        return float(np.sqrt(self.covariance[1, 1]))


def mean_norm_and_trace(samples: Any) -> NormTraceEstimate:
    """Unbiased :math:`|\\mu|^2`, :math:`\\operatorname{tr}\\Sigma` and their jackknife covariance in O(n·d).

    With centred rows :math:`c_i = x_i - \\bar x` and :math:`C = \\sum_i |c_i|^2`, the leave-one-out
    statistics are closed-form (m = n − 1):

    .. math::

        |\\bar x_{(i)}|^2 = |\\bar x|^2 - 2\\bar x\\cdot c_i/m + |c_i|^2/m^2,\\qquad
        \\operatorname{tr}S_{(i)} = (C - |c_i|^2 n/m)/(m-1),

    and the jackknife covariance is :math:`\\frac{n-1}{n}\\sum_i (\\theta_{(i)}-\\bar\\theta)
    (\\theta_{(i)}-\\bar\\theta)^T`.  It captures both the :math:`4\\mu^T\\Sigma\\mu/n` and the
    :math:`2\\operatorname{tr}\\Sigma^2/n^2` parts of the variance of the norm estimate, which
    matters when d is large (Efron & Stein 1981).  Needs n ≥ 3.
    """
    x = _as_samples(samples, min_rows=3)
    mean = x.mean(axis=0)
    c = x - mean
    return norm_and_trace_from_centered(mean, np.einsum("ij,ij->i", c, c), c @ mean)


def norm_and_trace_from_centered(mean: Any, centered_sq: Any, centered_dot: Any) -> NormTraceEstimate:
    """:func:`mean_norm_and_trace` from per-sample scalars, without the samples themselves.

    ``centered_sq[i]`` = :math:`|x_i - \bar x|^2` and ``centered_dot[i]`` = :math:`(x_i - \bar x)\cdot\bar x`
    (n ≥ 3 entries each).  For streaming per-example gradients these follow from
    :math:`|g_i|^2` and :math:`g_i\cdot\bar g` alone: :math:`|c_i|^2 = |g_i|^2 - 2 g_i\cdot\bar g + |\bar g|^2`,
    :math:`c_i\cdot\bar g = g_i\cdot\bar g - |\bar g|^2`, so memory stays O(n + d).
    """
    mean = check_finite_array(mean, "mean", ndim=1)
    csq = check_finite_array(centered_sq, "centered_sq", ndim=1, min_rows=3)
    cdot = check_finite_array(centered_dot, "centered_dot", ndim=1)
    if cdot.shape != csq.shape:
        raise InputError(f"`centered_dot` must have the length of `centered_sq` ({csq.size}); got {cdot.size}.")
    n = csq.size
    m = n - 1
    msq = float(mean @ mean)
    total = csq.sum()
    trace = total / m
    norm_sq = msq - trace / n
    loo_mean_sq = msq - 2.0 * cdot / m + csq / m**2
    loo_trace = (total - csq * n / m) / (m - 1)
    loo_norm = loo_mean_sq - loo_trace / m
    theta = np.stack([loo_norm, loo_trace])
    dev = theta - theta.mean(axis=1, keepdims=True)
    cov = (n - 1) / n * (dev @ dev.T)
    return NormTraceEstimate(mean, float(norm_sq), float(trace), cov, n)


@dataclass(frozen=True, slots=True)
class TwoSizeEstimate:
    """|G|² and tr Σ from the two-size estimator, with standard errors and their covariance."""

    grad_norm_sq: Estimate
    trace_sigma: Estimate
    covariance: float
    b_small: int
    b_big: int

    @property
    def noise_scale(self) -> float:
        """tr Σ/|G|² (biased as a ratio of estimates: smooth both parts before dividing)."""
        g = self.grad_norm_sq.value
        return float(self.trace_sigma.value / g) if g > 0 else float("inf")


def two_size_estimate(norm_sq_small: Any, norm_sq_big: Any, b_small: int, b_big: int) -> TwoSizeEstimate:
    """Estimate :math:`|G|^2` and :math:`\\operatorname{tr}\\Sigma` from squared norms at two sizes.

    Mean vectors over b and B > b samples satisfy :math:`E|G_b|^2 = |G|^2 + \\operatorname{tr}\\Sigma/b`,
    so (McCandlish et al. 2018, appendix A)

    .. math::

        |G|^2_{est} = \\frac{B|G_B|^2 - b|G_b|^2}{B - b},\\qquad
        S_{est} = \\frac{|G_b|^2 - |G_B|^2}{1/b - 1/B},

    each unbiased.  ``norm_sq_small`` / ``norm_sq_big`` are one value each or k ≥ 2 paired repeated
    measurements; with repeats the standard errors and the covariance of the two estimates come
    from the sample covariance of the pairs (both estimates are linear in the pair means).
    """
    b = check_positive_int(b_small, "b_small")
    big = check_positive_int(b_big, "b_big")
    if big <= b:
        raise InputError(f"`b_big` must be larger than `b_small` = {b}; got {big}.")
    xs = np.atleast_1d(check_finite_array(norm_sq_small, "norm_sq_small", ndim=(0, 1)))
    xb = np.atleast_1d(check_finite_array(norm_sq_big, "norm_sq_big", ndim=(0, 1)))
    if xs.shape != xb.shape:
        raise InputError(
            f"`norm_sq_small` and `norm_sq_big` must have the same length; got {xs.shape[0]} and {xb.shape[0]}."
        )
    # Both estimates are linear maps of the pair (|G_b|², |G_B|²): rows of A.
    a = np.array([[-b / (big - b), big / (big - b)], [1.0 / (1.0 / b - 1.0 / big), -1.0 / (1.0 / b - 1.0 / big)]])
    pair_mean = np.array([xs.mean(), xb.mean()])
    g2, s = a @ pair_mean
    k = xs.shape[0]
    if k >= 2:
        cov_pair = np.cov(np.stack([xs, xb]), ddof=1) / k
        cov = a @ cov_pair @ a.T
    else:
        cov = np.full((2, 2), np.nan)
    return TwoSizeEstimate(
        Estimate(float(g2), float(np.sqrt(cov[0, 0])), k * (b + big)),
        Estimate(float(s), float(np.sqrt(cov[1, 1])), k * (b + big)),
        float(cov[0, 1]),
        b,
        big,
    )


def bootstrap(
    data: Any,
    statistic: Callable[..., Any],
    *,
    rng: RNGLike = None,
    n_resamples: int = 9999,
    confidence_level: float = 0.95,
    method: str = "BCa",
    vectorized: bool = False,
) -> Estimate:
    """Bootstrap standard error and confidence interval of ``statistic(data)`` over rows.

    Thin wrapper over :func:`scipy.stats.bootstrap` (one-sample, ``axis=0``) that draws from the
    project's Generator.  ``statistic(sample, axis)`` must reduce along ``axis`` when
    ``vectorized=True``; otherwise it is called once per resample on a (n, …) array.

    Examples
    --------
    >>> import numpy as np
    >>> e = bootstrap(np.arange(20.0), np.mean, rng=0, n_resamples=999, vectorized=True)
    >>> e.interval[0] < 9.5 < e.interval[1]
    True
    """
    x = check_finite_array(data, "data", min_rows=2)
    n_res = check_positive_int(n_resamples, "n_resamples")
    level = check_probability(confidence_level, "confidence_level")
    if method not in ("BCa", "percentile", "basic"):
        raise InputError(f"`method` must be one of BCa, percentile, basic; got {method!r}.")
    stat = statistic if vectorized else (lambda s, axis=0: statistic(np.moveaxis(s, axis, 0)))
    res = _st.bootstrap(
        (x,),
        stat,
        n_resamples=n_res,
        confidence_level=level,
        method=method,
        vectorized=vectorized,
        axis=0,
        rng=as_generator(rng),
    )
    value = float(statistic(x, axis=0) if vectorized else statistic(x))
    ci = (float(res.confidence_interval.low), float(res.confidence_interval.high))
    return Estimate(value, float(res.standard_error), x.shape[0], ci, level)


def jackknife(data: Any, statistic: Callable[[np.ndarray], float], *, confidence_level: float = 0.95) -> Estimate:
    """Leave-one-out jackknife standard error of ``statistic(data)`` (rows are samples).

    .. math:: \\widehat{SE}^2 = \\frac{n-1}{n}\\sum_i (\\theta_{(i)} - \\bar\\theta_{(\\cdot)})^2

    The interval is value ± t_{n−1}·SE.  Costs n calls of ``statistic``.
    """
    x = check_finite_array(data, "data", min_rows=3)
    level = check_probability(confidence_level, "confidence_level")
    n = x.shape[0]
    idx = np.arange(n)
    theta = np.array([float(statistic(x[idx != i])) for i in range(n)])
    se = float(np.sqrt((n - 1) / n * np.sum((theta - theta.mean()) ** 2)))
    value = float(statistic(x))
    t = float(_st.t.ppf(0.5 + level / 2, n - 1))
    return Estimate(value, se, n, (value - t * se, value + t * se), level)


def ratio_of_means(numerator: Any, denominator: Any, *, paired: bool = True) -> Estimate:
    """Ratio of two sample means, :math:`r = \\bar x/\\bar y`, with its delta-method standard error.

    .. math:: \\operatorname{Var} r \\approx \\frac{1}{\\bar y^2}\\Big(\\frac{s_x^2}{n_x}
              + r^2\\frac{s_y^2}{n_y} - 2r\\frac{s_{xy}}{n}\\Big)

    The covariance term is used when ``paired`` (equal lengths, row i of both from one draw).
    """
    x = check_finite_array(numerator, "numerator", ndim=1, min_rows=2)
    y = check_finite_array(denominator, "denominator", ndim=1, min_rows=2)
    if paired and x.shape != y.shape:
        raise InputError(
            f"`numerator` and `denominator` must have equal lengths when paired; got {x.shape[0]} and {y.shape[0]}."
        )
    ybar = y.mean()
    if ybar == 0:
        raise InputError("`denominator` must have a non-zero mean; got mean 0.")
    r = x.mean() / ybar
    var = x.var(ddof=1) / x.size + r**2 * y.var(ddof=1) / y.size
    if paired:
        var -= 2 * r * np.cov(x, y, ddof=1)[0, 1] / x.size
    return Estimate(float(r), float(np.sqrt(max(var, 0.0)) / abs(ybar)), int(x.size))


@dataclass(frozen=True, slots=True)
class RatioEMA:
    """Exponential moving averages of a numerator and a denominator, divided only at the end.

    A ratio of unbiased estimates is biased, and averaging noisy ratios is worse; McCandlish et al.
    (2018) smooth tr Σ and |G|² separately and take ``ratio = num_ema / den_ema``.  Both averages
    carry Adam-style bias correction :math:`1/(1-\\beta^t)` (which cancels in the ratio).

    Examples
    --------
    >>> e = RatioEMA(beta=0.5).update(2.0, 1.0).update(4.0, 2.0)
    >>> e.ratio
    2.0
    """

    beta: float = 0.95
    numerator_sum: float = 0.0
    denominator_sum: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        check_probability(self.beta, "beta", open_interval=False)
        if self.beta == 1.0:
            raise InputError("`beta` must be a number in [0, 1); got 1.0.")

    def update(self, numerator: float, denominator: float) -> RatioEMA:
        """A new average with one more (numerator, denominator) observation."""
        num = float(numerator)
        den = float(denominator)
        if not (np.isfinite(num) and np.isfinite(den)):
            raise InputError(f"`numerator` and `denominator` must be finite; got {num} and {den}.")
        b = self.beta
        return RatioEMA(b, b * self.numerator_sum + (1 - b) * num, b * self.denominator_sum + (1 - b) * den, self.count + 1)

    @property
    def numerator(self) -> float:
        """Bias-corrected EMA of the numerator."""
        return self.numerator_sum / (1 - self.beta**self.count) if self.count else float("nan")

    @property
    def denominator(self) -> float:
        """Bias-corrected EMA of the denominator."""
        return self.denominator_sum / (1 - self.beta**self.count) if self.count else float("nan")

    @property
    def ratio(self) -> float:
        """numerator EMA / denominator EMA (inf where the denominator average is ≤ 0)."""
        if not self.count:
            return float("nan")
        return self.numerator / self.denominator if self.denominator > 0 else float("inf")
