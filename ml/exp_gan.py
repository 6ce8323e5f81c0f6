"""Experiment g — noisy games: bilinear GDA against its closed form, the Dirac-GAN, a 2-D mixture GAN.

1. f(x, y) = x·y, r0 = (1, 0), η = 0.1, σ = 0.5: E r_t² over many independent runs (mean ± SE,
   95% band) against :math:`(1+\\eta^2)^t r_0^2 + 2\\sigma^2((1+\\eta^2)^t - 1)` (simultaneous) and
   :math:`E Q_t = Q_0 + 2\\eta^2\\sigma^2 t` (alternating), with the z-score of each checkpoint.
2. The Dirac-GAN with the same noise: r² over time for simultaneous and alternating GDA, next to
   the linearised law (valid while h'(ψθ) ≈ ½).
3. The 2-D mixture GAN: B_simple of discriminator and generator (per-example gradients, SEs)
   along training, with mode coverage.

Formulas and derivations: :mod:`crossnoise.ml.gan`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import check_nonnegative_int, check_positive_float, check_positive_int

from .experiment import ExperimentResult, new_figure, save_figure, single_thread
from .gan import (
    MixtureGAN,
    bilinear_alt_closed_form,
    bilinear_gda,
    bilinear_sim_closed_form,
    dirac_gan,
    dirac_linearised,
)
from .tasks import torch_generator

__all__ = ["run_gan", "plot_gan"]


def run_gan(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    eta: float = 0.1,
    sigma: float = 0.5,
    steps: int = 100,
    runs: int | None = None,
    gan_steps: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """The three parts; rows = bilinear/Dirac checkpoints, ``extra["mixture"]`` = the mixture GAN rows."""
    e = check_positive_float(eta, "eta")
    s = check_positive_float(sigma, "sigma", allow_zero=True)
    t_max = check_positive_int(steps, "steps")
    k = check_positive_int(runs if runs is not None else (1000 if quick else 4000), "runs", minimum=2)
    g_steps = check_nonnegative_int(gan_steps if gan_steps is not None else (400 if quick else 2000), "gan_steps")
    gen = as_generator(rng)
    seeds = gen.spawn(6)
    t0 = time.perf_counter()
    marks = sorted({0, t_max // 4, t_max // 2, 3 * t_max // 4, t_max})
    sim = bilinear_gda(mode="simultaneous", eta=e, sigma=s, steps=t_max, runs=k, rng=seeds[0])
    alt = bilinear_gda(mode="alternating", eta=e, sigma=s, steps=t_max, runs=k, rng=seeds[1])
    dsim = dirac_gan(mode="simultaneous", eta=e, sigma=s, steps=t_max, runs=k, rng=seeds[2])
    dalt = dirac_gan(mode="alternating", eta=e, sigma=s, steps=t_max, runs=k, rng=seeds[3])
    t = np.arange(t_max + 1)
    cf_sim = bilinear_sim_closed_form(t, e, s, 1.0)
    cf_alt = bilinear_alt_closed_form(t, e, s, 1.0)
    lin = dirac_linearised(t, e, s, 1.0)
    rows = []
    for m in marks:
        rows.append({
            "step": m,
            "sim_r2": sim.r2_mean[m], "sim_r2_se": sim.r2_se[m], "sim_r2_closed_form": cf_sim[m],
            "sim_z": _z(sim.r2_mean[m], cf_sim[m], sim.r2_se[m]),
            "alt_Q": alt.q_mean[m], "alt_Q_se": alt.q_se[m], "alt_Q_closed_form": cf_alt[m],
            "alt_z": _z(alt.q_mean[m], cf_alt[m], alt.q_se[m]),
            "alt_r2": alt.r2_mean[m],
            "dirac_sim_r2": dsim.r2_mean[m], "dirac_sim_r2_se": dsim.r2_se[m], "dirac_linearised": lin[m],
            "dirac_alt_r2": dalt.r2_mean[m], "dirac_alt_r2_se": dalt.r2_se[m],
        })
    if progress is not None:
        progress(1, 2)
    with single_thread():
        tg = torch_generator(seeds[4])
        gan = MixtureGAN(gen=tg)
        gmarks = tuple(sorted({0, g_steps // 8, g_steps // 4, g_steps // 2, g_steps}))
        mix_rows, status = gan.train(g_steps, tg, measure_at=gmarks, n_measure=256 if quick else 1024,
                                     measure_gen=torch_generator(seeds[5]))
    if progress is not None:
        progress(2, 2)
    zs = [r["sim_z"] for r in rows if r["step"] > 0] + [r["alt_z"] for r in rows if r["step"] > 0]
    summary = {"max_abs_z": max(abs(z) for z in zs), "n_runs": k,
               "sim_r2_final": rows[-1]["sim_r2"], "alt_Q_final": rows[-1]["alt_Q"],
               "dirac_sim_r2_final": rows[-1]["dirac_sim_r2"], "dirac_alt_r2_final": rows[-1]["dirac_alt_r2"],
               "mixture_status": status}
    cfg = {"eta": e, "sigma": s, "steps": t_max, "runs": k, "gan_steps": g_steps, "quick": quick,
           "mixture": "8 Gaussians (sd 0.05) on a circle of radius 2; G, D MLPs 2-64-64; Adam 1e-3 (0.5, 0.9); batch 64"}
    curves = {"t": t.tolist(), "sim_r2": sim.r2_mean.tolist(), "sim_r2_se": sim.r2_se.tolist(),
              "sim_closed_form": cf_sim.tolist(), "alt_Q": alt.q_mean.tolist(), "alt_Q_se": alt.q_se.tolist(),
              "alt_closed_form": cf_alt.tolist(), "dirac_sim_r2": dsim.r2_mean.tolist(),
              "dirac_alt_r2": dalt.r2_mean.tolist(), "dirac_linearised": lin.tolist()}
    return ExperimentResult("gan", tuple(rows), summary, cfg, time.perf_counter() - t0,
                            extra={"mixture": mix_rows, "curves": curves})


def _z(value: float, expected: float, se: float) -> float:
    return float((value - expected) / se) if se > 0 else math.nan


def plot_gan(result: ExperimentResult, path: str | Path) -> Path:
    """Bilinear E r² and E Q with 95% bands vs closed forms; Dirac-GAN r²; mixture-GAN B_simple."""
    fig, (a1, a2, a3) = new_figure(3, width=4.3)
    c = result.extra["curves"]
    t = np.array(c["t"])
    for key, cf, color, label in (("sim_r2", "sim_closed_form", "C3", "simultaneous E r²"),
                                  ("alt_Q", "alt_closed_form", "C0", "alternating E Q")):
        m, se = np.array(c[key]), np.array(c[key + "_se"])
        a1.fill_between(t, m - 1.96 * se, m + 1.96 * se, color=color, alpha=0.3, label=f"{label} (95%)")
        a1.plot(t, c[cf], "--", color="k", lw=1)
    a1.set(xlabel="step", ylabel="E r² / E Q", title="noisy GDA on x·y (dashed: closed form)")
    a1.legend(fontsize=7)
    a2.plot(t, c["dirac_sim_r2"], color="C3", label="simultaneous")
    a2.plot(t, c["dirac_alt_r2"], color="C0", label="alternating")
    a2.plot(t, c["dirac_linearised"], "--", color="k", lw=1, label="linearised (sim.)")
    a2.set(xlabel="step", ylabel="E(θ² + ψ²)", title="Dirac-GAN with gradient noise")
    a2.legend(fontsize=7)
    mix = result.extra["mixture"]
    st = [max(r["step"], 0.5) for r in mix]
    a3.errorbar(st, [r["d_b_simple"] for r in mix], yerr=[r["d_b_simple_se"] for r in mix], fmt="o-", label="D")
    a3.errorbar(st, [r["g_b_simple"] for r in mix], yerr=[r["g_b_simple_se"] for r in mix], fmt="s-", label="G")
    a3.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="step", ylabel="B_simple", title="2-D mixture GAN")
    a3.legend(fontsize=7)
    return save_figure(fig, path)
