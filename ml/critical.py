"""The critical batch size from training at several batch sizes.

McCandlish et al. (2018) find that the steps S and examples E = B·S needed to reach a given loss
trade off as

.. math::

    \\Big(\\frac{S}{S_{min}} - 1\\Big)\\Big(\\frac{E}{E_{min}} - 1\\Big) = 1
    \\quad\\Longleftrightarrow\\quad S(B) = S_{min} + \\frac{E_{min}}{B},

(substitute E = B·S), so S is linear in 1/B.  A weighted least-squares fit of S against 1/B gives
:math:`S_{min}` (intercept) and :math:`E_{min}` (slope); the critical batch size is
:math:`B_{crit} = E_{min}/S_{min}` (≈ B_noise), with a delta-method standard error from the fit's
covariance.  :func:`steps_to_target` measures S(B) by training.

Reference: McCandlish, Kaplan, Amodei et al., arXiv:1812.06162 (2018), §2.3 and eq. 2.11.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import InputError, check_finite_array, check_positive_float, check_positive_int

__all__ = ["CriticalBatchFit", "fit_critical_batch", "steps_to_target"]


@dataclass(frozen=True, slots=True)
class CriticalBatchFit:
    """Fit of S(B) = S_min + E_min/B with standard errors.

    ``b_crit = e_min / s_min``; ``residual_chi2`` is Σ((S − fit)/SE)² with ``dof`` = points − 2
    (when the step counts carry standard errors, else the unweighted residual sum of squares).
    """

    s_min: float
    s_min_se: float
    e_min: float
    e_min_se: float
    b_crit: float
    b_crit_se: float
    batch_sizes: tuple[int, ...]
    steps: tuple[float, ...]
    residual_chi2: float
    dof: int

    def steps_at(self, batch_size: float) -> float:
        """The fitted S(B)."""
        return self.s_min + self.e_min / batch_size


def fit_critical_batch(batch_sizes: Sequence[int], steps: Sequence[float], steps_se: Sequence[float] | None = None
                       ) -> CriticalBatchFit:
    """Fit :math:`S(B) = S_{min} + E_{min}/B` to steps-to-target at ≥ 3 batch sizes.

    With ``steps_se`` the fit is weighted by 1/SE² and the parameter covariance is
    :math:`(A^TWA)^{-1}`; without, it is unweighted and the covariance is scaled by the residual
    variance.  :math:`\\operatorname{Var} B_{crit} \\approx B_{crit}^2\\,[\\sigma_E^2/E^2 + \\sigma_S^2/S^2 - 2\\sigma_{SE}/(SE)]`.

    Examples
    --------
    >>> fit = fit_critical_batch([8, 32, 128, 512], [100 + 6400 / b for b in (8, 32, 128, 512)])
    >>> round(fit.b_crit, 6)
    64.0
    """
    b = check_finite_array(batch_sizes, "batch_sizes", ndim=1, min_rows=3)
    s = check_finite_array(steps, "steps", ndim=1, min_rows=3)
    if b.shape != s.shape:
        raise InputError(f"`batch_sizes` and `steps` must have the same length; got {b.size} and {s.size}.")
    if np.any(b <= 0) or np.any(s <= 0):
        raise InputError("`batch_sizes` and `steps` must be positive.")
    if np.unique(b).size < 2:
        raise InputError("`batch_sizes` must contain at least 2 distinct values.")
    a = np.stack([np.ones_like(b), 1.0 / b], axis=1)
    if steps_se is not None:
        se = check_finite_array(steps_se, "steps_se", ndim=1)
        if se.shape != s.shape or np.any(se <= 0):
            raise InputError("`steps_se` must be positive and as long as `steps`.")
        w = 1.0 / se**2
    else:
        w = np.ones_like(s)
    ata = a.T @ (a * w[:, None])
    coef = np.linalg.solve(ata, a.T @ (w * s))
    resid = s - a @ coef
    chi2 = float(np.sum(w * resid**2))
    dof = int(s.size - 2)
    cov = np.linalg.inv(ata)
    if steps_se is None:
        cov = cov * (chi2 / dof if dof > 0 else math.nan)
    s_min, e_min = float(coef[0]), float(coef[1])
    if s_min > 0 and e_min > 0:
        b_crit = e_min / s_min
        rel = cov[1, 1] / e_min**2 + cov[0, 0] / s_min**2 - 2 * cov[0, 1] / (e_min * s_min)
        b_crit_se = b_crit * math.sqrt(max(rel, 0.0))
    else:
        b_crit, b_crit_se = math.nan, math.nan
    return CriticalBatchFit(s_min, float(math.sqrt(max(cov[0, 0], 0.0))), e_min, float(math.sqrt(max(cov[1, 1], 0.0))),
                            b_crit, b_crit_se, tuple(int(x) for x in b), tuple(float(x) for x in s), chi2, dof)


def steps_to_target(
    train: Callable[..., Sequence[float]],
    batch_sizes: Sequence[int],
    target_loss: float,
    *,
    repeats: int = 3,
    rng: RNGLike = None,
    resolution: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the steps at which the loss first reaches ``target_loss``.

    ``train(batch_size, rng=Generator) -> sequence of losses`` (one per step, e.g. the full-data
    loss) is run ``repeats`` times per batch size on independent streams.  A run that never reaches
    the target raises :class:`InputError` (raise the step budget or the target).  ``resolution``
    is the step granularity at which the loss was looked at: the SE is floored at the rounding
    error resolution·√(1/12)/√k, so equal counts across repeats do not get an infinite weight.
    """
    bs = [check_positive_int(b, "batch_sizes") for b in batch_sizes]
    target = check_positive_float(target_loss, "target_loss")
    k = check_positive_int(repeats, "repeats", minimum=2)
    res = check_positive_int(resolution, "resolution")
    gens = as_generator(rng).spawn(len(bs) * k)
    means, ses = [], []
    for i, b in enumerate(bs):
        hits = []
        for r in range(k):
            losses: Any = np.asarray(train(b, rng=gens[i * k + r]), dtype=float)
            below = np.flatnonzero(losses <= target)
            if below.size == 0:
                raise InputError(
                    f"`target_loss` = {target} was not reached at batch size {b} within {losses.size} steps; "
                    f"lowest loss {np.nanmin(losses):.4g}."
                )
            hits.append(below[0] + 1)
            if progress is not None:
                progress(i * k + r + 1, len(bs) * k)
        h = np.asarray(hits, dtype=float)
        means.append(h.mean())
        # Step counts are multiples of the resolution: floor the SE at the rounding error.
        ses.append(max(h.std(ddof=1), res * math.sqrt(1 / 12)) / math.sqrt(k))
    return np.asarray(means), np.asarray(ses)
