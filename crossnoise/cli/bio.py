"""``crossnoise bio`` — morphogen gradients, readout noise and the positional error of patterning.

Commands: ``gradient`` (λ, amplitude, accumulation times), ``pattern`` (an embryo ensemble read
out with a threshold), ``profile`` (σx(x) along the axis, table + PNG) and ``stochastic`` (the
lattice master equation and its Fano factors).  Every preset parameter can be overridden.
The domain is imported inside the commands so ``crossnoise --help`` stays fast.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import click

from crossnoise.cli.common import common_options, emit, out_dir, print_table, progress_reporter

_PRESET_FIELDS = {
    "D": "D", "k": "k", "L": "L", "j0": "j0", "cell_diameter": "cell_diameter", "boundary": "boundary_um",
    "threshold": "threshold", "cell_volume": "cell_volume", "sensor_size": "sensor_size",
    "readout_interval": "readout_interval_s", "cv_amplitude": "cv_amplitude", "cv_lambda": "cv_lambda",
    "kinetic_cv": "kinetic_cv", "source_cells": "source_cells",
}


def preset_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--preset`` and one override option per preset field (None = keep the preset's value)."""
    opts = [
        click.option("--preset", default="bicoid", show_default=True,
                     help="dpp, bicoid, ra-hindbrain or shh-neural-tube."),
        click.option("--D", "D", type=float, default=None, help="Diffusion coefficient (µm²/s)."),
        click.option("--k", "k", type=float, default=None, help="Degradation rate (1/s)."),
        click.option("--L", "L", type=float, default=None, help="Tissue length (µm)."),
        click.option("--j0", type=float, default=None, help="Source flux (molecules/(µm²·s))."),
        click.option("--cell-diameter", type=float, default=None, help="Cell diameter Δx (µm)."),
        click.option("--boundary", type=float, default=None, help="Nominal boundary position (µm) setting θ."),
        click.option("--threshold", type=float, default=None, help="Readout threshold θ (molecules/µm³)."),
        click.option("--cell-volume", type=float, default=None, help="Poisson counting volume (µm³)."),
        click.option("--sensor-size", type=float, default=None, help="Berg–Purcell sensor size a (µm)."),
        click.option("--readout-interval", type=float, default=None, help="Seconds between independent readouts."),
        click.option("--cv-amplitude", type=float, default=None, help="Embryo-to-embryo CV of the amplitude."),
        click.option("--cv-lambda", type=float, default=None, help="Embryo-to-embryo CV of the decay length."),
        click.option("--kinetic-cv", type=float, default=None, help="Cell-to-cell CV of p, k, D (cell-based model)."),
        click.option("--source-cells", type=int, default=None, help="Producing cells (cell-based model)."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def ensemble_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The ensemble's options, shared by ``pattern`` and ``profile``."""
    opts = [
        click.option("--embryos", type=int, default=10_000, show_default=True, help="Embryos in the ensemble."),
        click.option("--noise", default=None, help="none, poisson, cv:<CV>, berg-purcell:<T s>; default: the preset's."),
        click.option("--production-scale", type=float, default=1.0, show_default=True, help="Multiply the source flux."),
        click.option("--n-time", type=int, default=1, show_default=True, help="Independent readouts averaged in time."),
        click.option("--neighbours", type=int, default=0, show_default=True, help="Neighbours averaged on each side."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _preset(kwargs: dict[str, Any]) -> Any:
    from crossnoise.bio.presets import get_preset

    name = kwargs.pop("preset")
    overrides = {field: kwargs.pop(opt) for opt, field in _PRESET_FIELDS.items()}
    return get_preset(name, **overrides)


def _forward_warnings(func: Callable[..., Any]) -> Callable[..., Any]:
    """Show the library's RuntimeWarnings (degenerate input) as one stderr line each."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            out = func(*args, **kwargs)
        seen = set()
        for w in caught:
            msg = str(w.message)
            if issubclass(w.category, RuntimeWarning) and msg not in seen:
                seen.add(msg)
                click.echo(f"Warning: {msg}", err=True)
        return out

    return wrapper


def _render_with_intervals(payload: dict[str, Any]) -> None:
    """Key/value table that also shows 2-element intervals as [lo, hi]."""
    rows = []
    for key, value in payload.items():
        if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, float) for v in value):
            value = f"[{value[0]:.4g}, {value[1]:.4g}]"
        elif isinstance(value, (list, dict)):
            continue
        rows.append({"quantity": key, "value": value})
    print_table("", rows)


@click.group(name="bio")
def group() -> None:
    """Morphogen gradients (SDD), readout noise and the positional error of threshold patterning."""


@group.command()
@preset_options
@click.option("--n-cells", type=int, default=400, show_default=True, help="Finite volumes for the numerical solve.")
@common_options
@_forward_warnings
def gradient(n_cells: int, seed: int, as_json: bool, out: str | None, **kwargs: Any) -> None:
    """Decay length, amplitude and local accumulation times of a preset's gradient."""
    import numpy as np

    from crossnoise.bio.solver import accumulation_time_numeric, steady_state_numeric
    from crossnoise.bio.steady import accumulation_time, steady_state

    p = _preset(kwargs)
    lam = p.lambda_um
    tau = accumulation_time([0.0, lam], p.D, p.k)
    x, tau_num = accumulation_time_numeric(p.D, p.k, p.L, n_cells=n_cells)
    # cell centres start at h/2: extrapolate linearly to the source
    tau_num_0 = float(tau_num[0] - (tau_num[1] - tau_num[0]) / (x[1] - x[0]) * x[0])
    tau_num_lam = float(np.interp(lam, x, tau_num)) if lam <= x[-1] else math.nan
    xs, c_num = steady_state_numeric(p.D, p.k, p.j0, p.L, n_cells=n_cells)
    err = float(np.max(np.abs(c_num - steady_state(xs, p.D, p.k, p.j0, p.L))) / p.c0)
    payload = {
        "preset": p.name, "D": p.D, "k": p.k, "L": p.L, "j0": p.j0,
        "lambda_um": lam, "c0": p.c0, "threshold": p.theta, "boundary_um": p.boundary_um,
        "accumulation_time_s_source": float(tau[0]), "accumulation_time_s_lambda": float(tau[1]),
        "accumulation_time_min_source": float(tau[0]) / 60, "accumulation_time_min_lambda": float(tau[1]) / 60,
        "accumulation_time_s_source_numeric": tau_num_0, "accumulation_time_s_lambda_numeric": tau_num_lam,
        "n_cells": n_cells, "numeric_steady_state_max_rel_error": err,
    }
    emit(payload, as_json)


@group.command()
@preset_options
@ensemble_options
@common_options
@_forward_warnings
def pattern(embryos: int, noise: str | None, production_scale: float, n_time: int, neighbours: int, seed: int,
            as_json: bool, out: str | None, **kwargs: Any) -> None:
    """Pattern an embryo ensemble with a threshold: boundary SD, σx, positional information, width."""
    from crossnoise.bio.patterning import pattern as run_pattern

    p = _preset(kwargs)
    with progress_reporter("embryos", embryos, enabled=embryos > 50_000) as prog:
        res = run_pattern(p, n_embryos=embryos, noise=noise, production_scale=production_scale, n_time=n_time,
                          neighbours=neighbours, rng=seed, progress=prog)
    payload = res.to_dict()
    payload["lambda_um"] = p.lambda_um
    payload["production_scale"] = production_scale
    payload["averaging_time_s"] = n_time * p.readout_interval_s  # readouts one interval apart
    payload["seed"] = seed
    emit(payload, as_json, _render_with_intervals)


@group.command()
@preset_options
@ensemble_options
@common_options
@_forward_warnings
def profile(embryos: int, noise: str | None, production_scale: float, n_time: int, neighbours: int, seed: int,
            as_json: bool, out: str | None, **kwargs: Any) -> None:
    """σx(x) along the axis from the ensemble (table, and a PNG under --out)."""
    import numpy as np

    from crossnoise.bio.ensemble import mean_profile
    from crossnoise.bio.patterning import pattern as run_pattern
    from crossnoise.bio.study import plot_profiles

    p = _preset(kwargs)
    with progress_reporter("embryos", embryos, enabled=embryos > 50_000) as prog:
        res = run_pattern(p, n_embryos=embryos, noise=noise, production_scale=production_scale, n_time=n_time,
                          neighbours=neighbours, rng=seed, progress=prog)
    pr = res.profile
    rows = []
    model = None
    if p.kinetic_cv == 0:
        from crossnoise.bio.noise import parse_noise

        model = parse_noise(noise or p.noise, cell_volume=p.cell_volume, D=p.D, sensor_size=p.sensor_size)
    for i, x in enumerate(pr.x):
        local = None
        if model is not None:
            c = float(mean_profile(p, x, production_scale=production_scale))
            lam = p.lambda_um
            slope = production_scale * p.c0 / lam * (math.exp(-x / lam) - math.exp(-(2 * p.L - x) / lam)) / (
                1.0 + math.exp(-2 * p.L / lam))
            local = math.sqrt(float(model.variance(c, n_time)) / (2 * neighbours + 1)) / slope if slope > 0 else None
        sx = float(pr.sigma_x[i])
        rows.append({"x_um": float(x), "sigma_x_um": sx if np.isfinite(sx) else None,
                     "sigma_x_se_um": float(pr.sigma_x_se[i]) if np.isfinite(pr.sigma_x_se[i]) else None,
                     "sigma_x_cells": sx / p.cell_diameter if np.isfinite(sx) else None,
                     "sigma_x_local_predicted_um": local})
    folder = out_dir(out)
    plot = plot_profiles([(f"{res.noise}, n = {res.n_readouts}", res)], folder / f"bio_profile_{p.name}.png",
                         x_boundary=res.x_boundary, cell_diameter=p.cell_diameter,
                         title=f"{p.name}: positional error from {embryos:,} embryos")
    payload = {"preset": p.name, "noise": res.noise, "embryos": embryos, "readouts_averaged": res.n_readouts,
               "x_boundary_um": res.x_boundary, "sigma_x_boundary_um": res.sigma_x_measured,
               "profile": rows, "plot": str(plot), "seed": seed}
    if as_json:
        emit(payload, True)
        return
    print_table(f"{p.name}: σx(x) from {embryos:,} embryos ({res.noise}, n = {res.n_readouts})", rows)
    click.echo(f"plot: {plot}")


@group.command()
@click.option("--sites", type=int, default=20, show_default=True, help="Lattice sites.")
@click.option("--embryos", type=int, default=2000, show_default=True, help="Independent lattices.")
@click.option("--method", type=click.Choice(["ssa", "particle", "tau"]), default="ssa", show_default=True,
              help="ssa: Gillespie direct; particle: exact independent-molecule SSA; tau: binomial tau-leaping.")
@click.option("--production", type=float, default=10.0, show_default=True, help="Births at site 0 (1/s).")
@click.option("--degradation", type=float, default=0.1, show_default=True, help="Per-molecule degradation (1/s).")
@click.option("--hop", type=float, default=1.0, show_default=True, help="Per-molecule hop rate to each side (1/s).")
@click.option("--t-end", type=float, default=None, help="Simulated time (s); default 15/degradation.")
@click.option("--tau", type=float, default=None, help="Tau-leap step (s); default 0.05/(degradation + 2·hop).")
@common_options
def stochastic(sites: int, embryos: int, method: str, production: float, degradation: float, hop: float,
               t_end: float | None, tau: float | None, seed: int, as_json: bool, out: str | None) -> None:
    """Stationary Fano factors of the lattice master equation (1 at every site in theory)."""
    from crossnoise.bio.lattice import Lattice, fano_test

    lat = Lattice(sites, production, degradation, hop)
    with progress_reporter(f"{method} lattices", None) as prog:
        res = fano_test(lat, n_embryos=embryos, method=method, t_end=t_end, tau=tau, rng=seed, progress=prog)
    payload = res.to_dict()
    payload["seed"] = seed
    if as_json:
        emit(payload, True)
        return
    emit({k: v for k, v in payload.items() if k != "per_site"}, False)
