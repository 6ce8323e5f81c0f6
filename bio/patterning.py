"""Threshold patterning of an embryo ensemble: boundaries, positional error and information.

Every cell takes the high fate when its readout exceeds θ.  From an ensemble of embryos
(:mod:`crossnoise.bio.ensemble`) this module measures

- the **boundary** of each embryo, :math:`x_b = \\Delta x\\,\\#\\{i: r_i > \\theta\\}` — where the
  boundary would be if the embryo's fates were sorted (it counts every misassigned cell, so it is
  defined however noisy the readout is); its mean, its SD with a confidence interval, and the
  prediction

  .. math::

      \\sigma_b^2 = \\sigma_{emb}^2 + \\Delta x^2 \\sum_i p_i(1 - p_i),\\qquad
      \\sigma_{emb}^2 = \\Big(\\frac{\\partial x_\\theta}{\\partial\\ln A}\\Big)^2\\sigma^2_{\\ln A}
      + \\Big(\\frac{\\partial x_\\theta}{\\partial\\ln\\lambda}\\Big)^2\\sigma^2_{\\ln\\lambda}

  (:math:`p_i` = chance that cell i reads above θ; for an exponential
  :math:`\\sigma_{emb}^2 = \\lambda^2\\sigma^2_{\\ln c_0} + x^2\\sigma^2_{\\ln\\lambda}`);
- the **positional-error profile** straight from the ensemble (no fitted exponential),

  .. math:: \\sigma_x(x_i) = \\frac{\\operatorname{SD}_e[r_{ei}]}{|d\\bar r/dx|(x_i)},

  with the slope a central difference of the ensemble mean, and its value at the boundary
  beside the local prediction :math:`\\sigma_c/|dc/dx|` (⊕ the embryo-to-embryo term);
- **positional information** (Gaussian approximation),
  :math:`I = \\log_2\\big(L/(\\sqrt{2\\pi e}\\,\\sigma_x)\\big)` at the boundary (Tkačik et al. 2015,
  Genetics 199, 39);
- the **boundary width**: misassigned cells per embryo, those on the wrong side of its own
  sorted boundary.

References: Gregor et al. 2007 (Cell 130, 153); Houchmandzadeh et al. 2002 (Nature 415, 798).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crossnoise.bio.ensemble import (
    Profiles,
    _log_interp_crossing,
    cell_threshold,
    effective_readouts,
    embryo_profiles,
    mean_profile,
    read_out,
)
from crossnoise.bio.noise import parse_noise
from crossnoise.bio.presets import Preset
from crossnoise.rng import RNGLike, as_generator
from crossnoise.snr import SignalNoise
from crossnoise.study import ProgressCallback
from crossnoise.validation import (
    InputError,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
    warn_degenerate,
)

__all__ = ["PositionalErrorProfile", "PatternResult", "pattern", "positional_error_profile",
           "joint_positional_error", "positional_information_bits", "CHUNK"]

CHUNK = 5000
"""Embryos per chunk; each chunk draws from its own spawned stream (results depend on it)."""

_Z95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class PositionalErrorProfile:
    """σx(x) from an ensemble: ``x`` (interior cells), ``sigma_x`` and its standard error (µm).

    Also the per-cell readout SD ``sigma_r``, mean ``mean_r``, slope ``slope`` of the mean, and the
    standard errors ``var_se`` of the readout variance and ``slope_se``, and ``var_slope_cov``,
    the covariance of the two estimates (for :class:`~crossnoise.snr.SignalNoise`).
    """

    x: np.ndarray
    sigma_x: np.ndarray
    sigma_x_se: np.ndarray
    sigma_r: np.ndarray
    mean_r: np.ndarray
    slope: np.ndarray
    var_se: np.ndarray
    slope_se: np.ndarray
    var_slope_cov: np.ndarray
    n_embryos: int

    def at(self, x0: float) -> tuple[float, float]:
        """σx and its SE at ``x0``, linear interpolation between the two cells around it."""
        return float(np.interp(x0, self.x, self.sigma_x)), float(np.interp(x0, self.x, self.sigma_x_se))


def positional_error_profile(x: Any, r: Any) -> PositionalErrorProfile:
    """σx at every interior cell of readouts ``r`` (embryos × cells) on cell centres ``x``.

    .. math::

        \\sigma_x = \\frac{\\sqrt{\\bar u}}{|\\bar v|},\\quad u_e = (r_{ei} - \\bar r_i)^2,\\quad
        v_e = \\frac{r_{e,i+1} - r_{e,i-1}}{x_{i+1} - x_{i-1}},\\qquad
        \\operatorname{Var}\\ln\\sigma_x \\approx \\frac{1}{N}\\Big[\\frac{s_u^2}{4\\bar u^2}
        + \\frac{s_v^2}{\\bar v^2} - \\frac{s_{uv}}{\\bar u\\bar v}\\Big]

    (delta method on the per-embryo pairs (u, v); :math:`\\bar u` uses ddof = 1).
    """
    xs = np.asarray(x, dtype=float)
    rr = np.asarray(r, dtype=float)
    if rr.ndim != 2 or rr.shape[1] != xs.size or rr.shape[0] < 3 or xs.size < 3:
        raise InputError(f"`r` must be (embryos ≥ 3, cells = {xs.size} ≥ 3); got shape {rr.shape}.")
    N = rr.shape[0]
    mean = rr.mean(axis=0)
    u = (rr[:, 1:-1] - mean[1:-1]) ** 2 * (N / (N - 1))
    v = (rr[:, 2:] - rr[:, :-2]) / (xs[2:] - xs[:-2])
    ub, vb = u.mean(axis=0), v.mean(axis=0)
    su2, sv2 = u.var(axis=0, ddof=1), v.var(axis=0, ddof=1)
    suv = ((u - ub) * (v - vb)).sum(axis=0) / (N - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sig = np.sqrt(ub) / np.abs(vb)
        var_log = (su2 / (4 * ub**2) + sv2 / vb**2 - suv / (ub * vb)) / N
        se = sig * np.sqrt(np.maximum(var_log, 0.0))
    return PositionalErrorProfile(xs[1:-1], sig, se, np.sqrt(ub), mean[1:-1], vb, np.sqrt(su2 / N),
                                  np.sqrt(sv2 / N), suv / N, N)


def joint_positional_error(x: Any, readouts: Any) -> np.ndarray:
    """σx(x) when several genes (or readouts) are decoded together (Tkačik et al. 2015).

    .. math:: \\sigma_x^{-2}(x) = \\chi^T C^{-1} \\chi

    with :math:`\\chi` the vector of the genes' mean slopes (central differences of the ensemble
    means) and :math:`C` their covariance across embryos at x (ddof = 1).  ``readouts`` is
    (genes, embryos, cells); returns σx at the interior cells ``x[1:-1]``.  One gene gives
    :func:`positional_error_profile`'s σx; independent genes add in inverse variance.
    """
    xs = np.asarray(x, dtype=float)
    r = np.asarray(readouts, dtype=float)
    if r.ndim != 3 or r.shape[2] != xs.size or r.shape[1] < r.shape[0] + 2 or xs.size < 3:
        raise InputError(f"`readouts` must be (genes, embryos > genes + 1, cells = {xs.size} ≥ 3); "
                         f"got shape {r.shape}.")
    mean = r.mean(axis=1)  # (G, N)
    chi = (mean[:, 2:] - mean[:, :-2]) / (xs[2:] - xs[:-2])  # (G, N-2)
    dev = r[:, :, 1:-1] - mean[:, None, 1:-1]  # (G, E, N-2)
    cov = np.einsum("gen,hen->ngh", dev, dev) / (r.shape[1] - 1)  # (N-2, G, G)
    info = np.einsum("ng,ngh,nh->n", chi.T, np.linalg.inv(cov), chi.T)
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(info)


def positional_information_bits(L: float, sigma_x: float) -> float:
    """:math:`I = \\log_2(L/(\\sqrt{2\\pi e}\\,\\sigma_x))` bits (Gaussian approximation, may be < 0)."""
    return math.log2(L / (math.sqrt(2 * math.pi * math.e) * sigma_x)) if sigma_x > 0 else math.inf


@dataclass(frozen=True, slots=True)
class PatternResult:
    """What a threshold readout of an embryo ensemble gives.

    Lengths in µm, concentrations in molecules/µm³.  ``boundary_sd_ci`` is a 95% normal interval
    from the SD's standard error (kurtosis-corrected); ``sigma_x_measured_ci`` likewise from the
    delta-method SE of :func:`positional_error_profile`.  Predictions are None where the model
    has no closed form (cell-based kinetics, a custom noise callable, neighbour averaging for the
    boundary SD).
    """

    preset: str
    noise: str
    theta: float
    n_embryos: int
    n_readouts: int
    cell_diameter: float
    L: float
    boundary_mean: float
    boundary_mean_se: float
    boundary_sd: float
    boundary_sd_se: float
    boundary_sd_predicted: float | None
    x_boundary: float
    sigma_x_measured: float
    sigma_x_measured_se: float
    sigma_x_predicted: float | None
    sigma_x_local_predicted: float | None
    sigma_x_embryo_predicted: float | None
    positional_information_bits: float
    boundary_width_cells: float
    boundary_width_cells_se: float
    profile: PositionalErrorProfile
    record: SignalNoise
    cost: dict[str, Any] = field(default_factory=dict)

    @property
    def boundary_sd_ci(self) -> tuple[float, float]:
        return (self.boundary_sd - _Z95 * self.boundary_sd_se, self.boundary_sd + _Z95 * self.boundary_sd_se)

    @property
    def sigma_x_measured_ci(self) -> tuple[float, float]:
        return (self.sigma_x_measured - _Z95 * self.sigma_x_measured_se,
                self.sigma_x_measured + _Z95 * self.sigma_x_measured_se)

    @property
    def sigma_x_cells(self) -> float:
        return self.sigma_x_measured / self.cell_diameter

    def to_dict(self) -> dict[str, Any]:
        return {
            "preset": self.preset, "noise": self.noise, "threshold": self.theta, "embryos": self.n_embryos,
            "readouts_averaged": self.n_readouts,
            "boundary_mean_um": self.boundary_mean, "boundary_mean_se_um": self.boundary_mean_se,
            "boundary_sd_um": self.boundary_sd, "boundary_sd_ci_um": list(self.boundary_sd_ci),
            "boundary_sd_predicted_um": self.boundary_sd_predicted,
            "x_boundary_um": self.x_boundary,
            "sigma_x_measured_um": self.sigma_x_measured, "sigma_x_measured_ci_um": list(self.sigma_x_measured_ci),
            "sigma_x_predicted_um": self.sigma_x_predicted,
            "sigma_x_local_predicted_um": self.sigma_x_local_predicted,
            "sigma_x_embryo_predicted_um": self.sigma_x_embryo_predicted,
            "sigma_x_cells": self.sigma_x_cells,
            "positional_information_bits": self.positional_information_bits,
            "boundary_width_cells": self.boundary_width_cells,
            "boundary_width_cells_se": self.boundary_width_cells_se,
            "wall_s": self.cost.get("wall_s"),
        }

    def __repr__(self) -> str:
        pred = "n/a" if self.sigma_x_predicted is None else f"{self.sigma_x_predicted:.3g}"
        return (f"PatternResult({self.preset}, noise={self.noise}, n={self.n_readouts}, embryos={self.n_embryos}: "
                f"boundary {self.boundary_mean:.4g} ± {self.boundary_sd:.3g} µm, σx {self.sigma_x_measured:.3g} "
                f"± {self.sigma_x_measured_se:.2g} µm (predicted {pred}), "
                f"width {self.boundary_width_cells:.3g} cells)")


def _sd_with_se(a: np.ndarray) -> tuple[float, float]:
    n = a.size
    sd = float(a.std(ddof=1))
    if sd == 0:
        return 0.0, 0.0
    m4 = float(np.mean((a - a.mean()) ** 4))
    var_s2 = (m4 - sd**4 * (n - 3) / (n - 1)) / n
    return sd, math.sqrt(max(var_s2, 0.0)) / (2 * sd)


def _validate(preset: Any, n_embryos: Any, noise: Any, threshold: Any, production_scale: Any,
              n_time: Any, neighbours: Any) -> tuple[Preset, int, Any, float, float, int, int]:
    if not isinstance(preset, Preset):
        raise InputError(f"`preset` must be a crossnoise.bio.presets.Preset; got {type(preset).__name__}.")
    E = check_positive_int(n_embryos, "embryos")
    if E < 3:
        raise InputError(f"`embryos` must be at least 3 for a standard deviation; got {E}.")
    if noise is None:
        noise = preset.noise
    if isinstance(noise, str):
        noise = parse_noise(noise, cell_volume=preset.cell_volume, D=preset.D, sensor_size=preset.sensor_size)
    elif not callable(noise):
        raise InputError(f"`noise` must be a noise spec string or a callable(c, *, rng); got {noise!r}.")
    scale = check_positive_float(production_scale, "production_scale")
    if preset.cell_diameter > preset.lambda_um / 2:
        warn_degenerate(f"cells too coarse for the gradient: Δx = {preset.cell_diameter:g} µm > λ/2 = "
                        f"{preset.lambda_um / 2:.3g} µm; central-difference slopes are biased by "
                        f"≈ (Δx/λ)²/6.", stacklevel=4)
    n_t = check_positive_int(n_time, "n_time")
    m = check_nonnegative_int(neighbours, "neighbours")
    if threshold is not None:
        theta = check_positive_float(threshold, "threshold")
    else:
        theta = cell_threshold(preset) if preset.kinetic_cv > 0 else preset.theta
    return preset, E, noise, theta, scale, n_t, m


def _embryo_sd_prediction(p: Preset, theta: float, scale: float) -> float:
    """σ_emb from finite-difference derivatives of the analytic crossing (continuum model)."""
    lam, L = p.lambda_um, p.L

    def crossing(log_a: float, log_lam: float) -> float:
        lam_e = lam * math.exp(log_lam)
        xs = np.linspace(0.0, L, 20001)
        c = scale * p.c0 * math.exp(log_a) * (np.exp(-xs / lam_e) + np.exp(-(2 * L - xs) / lam_e)) / (
            1.0 + math.exp(-2 * L / lam_e))
        return _log_interp_crossing(xs, c, theta)

    h = 1e-3
    dA = (crossing(h, 0.0) - crossing(-h, 0.0)) / (2 * h)
    dL = (crossing(0.0, h) - crossing(0.0, -h)) / (2 * h)
    s2a, s2l = math.log1p(p.cv_amplitude**2), math.log1p(p.cv_lambda**2)
    return math.sqrt(dA**2 * s2a + dL**2 * s2l)


def _boundary_sd_prediction(p: Preset, model: Any, x: np.ndarray, theta: float, scale: float, n_t: int) -> float:
    """SD of the sorted-fate boundary :math:`x_b = \\Delta x\\sum_i f_i` (continuum model, independent cells).

    Given the embryo (amplitude A, decay length λ_e) the fates are independent Bernoullis with
    :math:`p_i = P(r_i > \\theta)`, so by the law of total variance

    .. math:: \\operatorname{Var}x_b = E_e\\big[\\Delta x^2\\textstyle\\sum_i p_i(1-p_i)\\big]
              + \\operatorname{Var}_e\\big[\\Delta x\\textstyle\\sum_i p_i\\big],

    the outer moments taken by quadrature over the lognormal embryo parameters on a fine uniform
    grid in the standard-normal variables (it resolves the Δx-staircase that a noiseless readout
    gives, which adds ≈ Δx²/12).
    """
    dx = p.cell_diameter
    s_a, s_l = math.sqrt(math.log1p(p.cv_amplitude**2)), math.sqrt(math.log1p(p.cv_lambda**2))
    z = np.linspace(-7.0, 7.0, 601 if s_a > 0 and s_l > 0 else 1401)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    za, wa = (z, w) if s_a > 0 else (np.zeros(1), np.ones(1))
    zl, wl = (z, w) if s_l > 0 else (np.zeros(1), np.ones(1))
    m1 = m2 = v_in = 0.0
    for zj, wj in zip(zl, wl):
        lam_e = p.lambda_um * math.exp(s_l * zj - 0.5 * s_l * s_l)
        shape = (np.exp(-x / lam_e) + np.exp(-(2 * p.L - x) / lam_e)) / (1.0 + math.exp(-2 * p.L / lam_e))
        amp = np.exp(s_a * za - 0.5 * s_a * s_a)[:, None]
        pi = model.sf(theta, scale * p.c0 * amp * shape[None, :], n_t)  # (n_a, cells)
        xb = dx * pi.sum(axis=1)
        m1 += wj * float(wa @ xb)
        m2 += wj * float(wa @ xb**2)
        v_in += wj * float(wa @ (dx**2 * (pi * (1 - pi)).sum(axis=1)))
    return math.sqrt(max(v_in + m2 - m1 * m1, 0.0))


def pattern(preset: Preset, *, n_embryos: int = 10_000, noise: Any = None, threshold: float | None = None,
            production_scale: float = 1.0, n_time: int = 1, neighbours: int = 0, rng: RNGLike = None,
            progress: ProgressCallback | None = None) -> PatternResult:
    """Simulate ``n_embryos`` embryos of ``preset``, read them out and pattern them with θ.

    Parameters
    ----------
    preset : Preset
        From :func:`crossnoise.bio.presets.get_preset` (with any overrides).
    n_embryos : int
        Ensemble size (≥ 3; 10⁴ gives SDs to ≈ 1%).
    noise : str or callable, optional
        Readout noise: a spec (``"poisson"``, ``"cv:0.1"``, ``"berg-purcell:60"``, ``"none"``) or
        a model / callable ``noise(c, *, rng)``; default the preset's.
    threshold : float, optional
        θ (molecules/µm³); default the steady concentration at ``preset.boundary_um``.
    production_scale : float
        Multiplies the source (2 = doubled production), θ unchanged: the boundary moves by
        :math:`\\lambda\\ln s` in a long tissue.
    n_time, neighbours : int
        Readouts averaged in time, and neighbours on each side averaged in space.
    rng : RNGLike
        Random stream (keyword-only); chunks of :data:`CHUNK` embryos get spawned streams.
    progress : callable, optional
        ``progress(done, total)`` in embryos.

    Examples
    --------
    >>> from crossnoise.bio.presets import get_preset
    >>> res = pattern(get_preset("bicoid"), n_embryos=2000, noise="cv:0.1", rng=0)
    >>> 9 < res.sigma_x_measured < 11.5
    True
    """
    p, E, model, theta, scale, n_t, m = _validate(preset, n_embryos, noise, threshold, production_scale,
                                                  n_time, neighbours)
    g = as_generator(rng)
    start = time.perf_counter()
    chunks = [min(CHUNK, E - i) for i in range(0, E, CHUNK)]
    streams = g.spawn(len(chunks))
    reads, x = [], None
    done = 0
    for size, stream in zip(chunks, streams):
        prof: Profiles = embryo_profiles(p, size, production_scale=scale, rng=stream)
        x = prof.x
        reads.append(read_out(prof.c, model, n_time=n_t, neighbours=m, rng=stream))
        done += size
        if progress is not None:
            progress(done, E)
    r = np.concatenate(reads, axis=0)
    assert x is not None
    dx = p.cell_diameter
    mean_r = r.mean(axis=0)
    lo, hi = float(mean_r.min()), float(mean_r.max())
    if not lo < theta < hi:
        raise InputError(f"`threshold` must lie inside the gradient's range ({lo:.4g}, {hi:.4g}) molecules/µm³ "
                         f"of the mean readout (no boundary otherwise); got {theta:.4g}.")
    # --- boundary of each embryo: its sorted-fate position
    high = r > theta
    count = high.sum(axis=1)
    xb = dx * count
    b_mean = float(xb.mean())
    b_sd, b_sd_se = _sd_with_se(xb.astype(float))
    # misassigned cells: low fates among its first `count` cells, twice (as many highs lie beyond)
    low_cum = np.concatenate([np.zeros((E, 1), dtype=np.int64), np.cumsum(~high, axis=1)], axis=1)
    mis = 2 * low_cum[np.arange(E), count]
    width = float(mis.mean())
    width_se = float(mis.std(ddof=1) / math.sqrt(E))
    # --- positional error profile and its value at the boundary of the mean readout
    prof_err = positional_error_profile(x, r)
    x_b = _log_interp_crossing(x, mean_r, theta)
    if not math.isfinite(x_b) or x_b < prof_err.x[0] or x_b > prof_err.x[-1]:
        warn_degenerate(f"the mean readout crosses θ = {theta:.4g} at the edge of the tissue; σx there is an "
                        "extrapolation.", stacklevel=3)
        x_b = float(np.clip(x_b if math.isfinite(x_b) else x[1], prof_err.x[0], prof_err.x[-1]))
    sx, sx_se = prof_err.at(x_b)
    # --- predictions (continuum model with a model that knows its variance)
    n_eff = effective_readouts(n_t, m)
    local = emb = pred = b_pred = None
    if p.kinetic_cv == 0:
        emb = _embryo_sd_prediction(p, theta, scale)
        if hasattr(model, "variance"):
            x_det = _log_interp_crossing(np.linspace(0, p.L, 20001),
                                         mean_profile(p, np.linspace(0, p.L, 20001), production_scale=scale), theta)
            c_b = float(mean_profile(p, x_det, production_scale=scale))
            lam = p.lambda_um
            slope = scale * p.c0 / lam * (math.exp(-x_det / lam) - math.exp(-(2 * p.L - x_det) / lam)) / (
                1.0 + math.exp(-2 * p.L / lam))
            local = math.sqrt(float(model.variance(c_b, n_t)) / (2 * m + 1)) / slope
            pred = math.sqrt(local**2 + emb**2)
        if hasattr(model, "sf") and m == 0:
            b_pred = _boundary_sd_prediction(p, model, x, theta, scale, n_t)
    # --- the SignalNoise record at the boundary: signal |dr/dx|·Δx, V = n·Var(r), n readouts
    s = float(np.interp(x_b, prof_err.x, prof_err.slope))
    var_r = float(np.interp(x_b, prof_err.x, prof_err.sigma_r**2))
    var_se = float(np.interp(x_b, prof_err.x, prof_err.var_se))
    s_se = float(np.interp(x_b, prof_err.x, prof_err.slope_se))
    cov = float(np.interp(x_b, prof_err.x, prof_err.var_slope_cov))
    record = SignalNoise(
        signal=abs(s) * dx, per_sample_variance=var_r * n_eff, n_samples=n_eff, sample_unit="cell readout",
        signal_unit="molecules/µm³ per cell", signal_norm_sq_se=2 * abs(s) * s_se * dx**2,
        per_sample_variance_se=var_se * n_eff, covariance=2 * s * cov * dx**2 * n_eff,
        label=f"{p.name} boundary, {getattr(model, 'spec', 'custom noise')}, n = {n_eff}",
    )
    return PatternResult(
        preset=p.name, noise=getattr(model, "spec", "custom"), theta=theta, n_embryos=E, n_readouts=n_eff,
        cell_diameter=dx, L=p.L, boundary_mean=b_mean, boundary_mean_se=b_sd / math.sqrt(E), boundary_sd=b_sd,
        boundary_sd_se=b_sd_se, boundary_sd_predicted=b_pred, x_boundary=float(x_b), sigma_x_measured=sx,
        sigma_x_measured_se=sx_se, sigma_x_predicted=pred, sigma_x_local_predicted=local,
        sigma_x_embryo_predicted=emb, positional_information_bits=positional_information_bits(p.L, sx),
        boundary_width_cells=width, boundary_width_cells_se=width_se, profile=prof_err, record=record,
        cost={"embryos": E, "cells": int(x.size), "readouts": int(E * x.size * n_t),
              "wall_s": time.perf_counter() - start},
    )
