"""The ml domain's contribution to the cross-domain report: B_simple of a digits MLP along training.

The MLP (64-64-64-10) is trained with SGD (batch 32, η = 0.1) on scikit-learn digits.  At
initialisation and at checkpoints along training, per-example gradients over the data set give
one :class:`~crossnoise.snr.SignalNoise` each: signal = the full-batch gradient G,
per_sample_variance = tr Σ, n_samples = the batch size 32, sample_unit "example"; its
``noise_scale`` is B_simple = tr Σ/|G|² (McCandlish et al. 2018) and its ``snr`` = 32/B_simple,
the signal-to-noise ratio of one training batch's gradient.  ``localization_error`` is
√(tr Σ/32)/|G|: the batch gradient's noise in units of the gradient's own norm.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from crossnoise.rng import RNGLike, as_generator
from crossnoise.study import DomainStudy, ProgressCallback

from .experiment import new_figure, save_figure, single_thread
from .noise_scale import gradient_noise_scale
from .tasks import digits_mlp, load_digits, torch_generator
from .training import full_loss, train_sgd

__all__ = ["report_study"]

BATCH = 32
LR = 0.1


def report_study(*, quick: bool = False, rng: RNGLike = None, out_dir: Path,
                 progress: ProgressCallback | None = None) -> DomainStudy:
    """B_simple of a digits MLP at initialisation and along SGD training, with a headline PNG.

    Default: 4 independent runs (initialisation and batch order), checkpoints 0…3200 steps, G and
    Σ over all 1797 digits (≈ 30 s on 2 cores).  ``quick``: 1 run, checkpoints 0, 100, 400,
    600 examples (≈ 15 s).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = as_generator(rng)
    n_runs = 1 if quick else 4
    marks = (0, 100, 400) if quick else (0, 25, 50, 100, 200, 400, 800, 1600, 3200)
    t0 = time.perf_counter()
    x, y = load_digits()
    n_meas = 600 if quick else x.shape[0]
    perm = torch.randperm(x.shape[0], generator=torch_generator(gen))[:n_meas]
    xm, ym = x[perm], y[perm]
    records = []
    curves: list[list[tuple[float, ...]]] = []
    backward_examples = 0
    total = n_runs * len(marks)
    done = 0
    with single_thread():
        for run, rgen in enumerate(gen.spawn(n_runs)):
            init_seed, train_seed = rgen.spawn(2)
            model = digits_mlp(gen=torch_generator(init_seed))
            curve: list[tuple[float, ...]] = []

            def measure(m: torch.nn.Module, step: int, run: int = run, curve: list = curve) -> None:
                nonlocal backward_examples, done
                est = gradient_noise_scale(m, F.cross_entropy, xm, ym, batch_size=BATCH,
                                           label=f"digits MLP, step {step}, run {run}")
                backward_examples += est.backward_examples
                curve.append((step, est.b_simple, est.b_simple_se, full_loss(m, F.cross_entropy, xm, ym),
                              est.trace_sigma, est.grad_norm_sq, est.grad_norm_sq_se))
                records.append(est.record)
                done += 1
                if progress is not None:
                    progress(done, total)

            res = train_sgd(model, F.cross_entropy, x, y, batch_size=BATCH, lr=LR, steps=marks[-1], rng=train_seed,
                            measure_at=marks, measure=measure)
            backward_examples += res.examples_seen
            curves.append(curve)
    fig_path = _plot(curves, out / "ml-noise-scale-along-training.png")
    reading = _reading(curves, int(n_meas))
    cost = {"examples_forward_backward": backward_examples, "training_steps": n_runs * marks[-1],
            "wall_s": time.perf_counter() - t0}
    config = {"model": "digits MLP 64-64-64-10", "batch_size": BATCH, "lr": LR, "checkpoints": list(marks),
              "runs": n_runs, "examples_for_G_and_Sigma": int(n_meas), "quick": quick,
              "rng": rng if isinstance(rng, (int, type(None))) else repr(rng)}
    return DomainStudy("ml", tuple(records), "gradient norms", fig_path, reading, cost, config)


def _plot(curves: list, path: Path) -> Path:
    fig, (ax,) = new_figure(1, width=6.0, height=4.0)
    ax2 = ax.twinx()
    for i, c in enumerate(curves):
        steps = [s for s, *_ in c]
        bs = [r[1] if _resolved(r) else float("nan") for r in c]
        se = [r[2] if _resolved(r) else 0.0 for r in c]
        ax.errorbar(steps, bs, yerr=se, fmt="o-", color=f"C{i}", label=f"B_simple, run {i}")
        lower = [(r[0], r[4] / (max(r[5], 0.0) + 2 * r[6])) for r in c if not _resolved(r) and r[6] > 0]
        if lower:
            ax.plot(*zip(*lower), "^", color=f"C{i}", mfc="none", label="lower bound (|G|² unresolved)" if i == 0 else None)
        ax2.plot(steps, [r[3] for r in c], ":", color=f"C{i}", alpha=0.7)
    ax.axhline(BATCH, color="grey", ls="--", lw=1, label=f"training batch B = {BATCH}")
    ax.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="SGD step", ylabel="B_simple = tr Σ / |G|²  (examples)",
           title="Gradient noise scale of a digits MLP along training")
    ax2.set(ylabel="training loss (dotted)", yscale="log")
    ax.legend(fontsize=7, loc="lower left")
    return save_figure(fig, path)


def _resolved(r: tuple[float, ...]) -> bool:
    """B_simple is resolved when |G|² is positive by more than 2 SE (then its relative SE is < ½)."""
    return math.isfinite(r[1]) and r[5] > 2 * r[6]


def _fmt(r: tuple[float, ...]) -> str:
    if _resolved(r):
        return f"{r[1]:.0f} ± {r[2]:.0f}"
    # |G|² within 2 SE of zero: only a lower bound, tr Σ/(|G|² + 2 SE)
    bound = r[4] / (max(r[5], 0.0) + 2 * r[6]) if r[6] > 0 else math.inf
    return f"unresolved (|G|² = {r[5]:.2g} ± {r[6]:.1g}; B_simple ≳ {bound:.0f})"


def _reading(curves: list, n_examples: int) -> str:
    c = curves[0]
    first, last = c[0], c[-1]
    inits = [cv[0][1] for cv in curves if _resolved(cv[0])]
    parts = [
        f"At initialisation the digits MLP's noise scale B_simple = tr Σ/|G|² is {_fmt(first)} examples"
        + (f" (run 0; {len(curves)} runs span {min(inits):.0f}–{max(inits):.0f})" if len(curves) > 1 else "")
        + f": a batch of {BATCH} reads the "
        f"gradient with a signal-to-noise ratio of about {BATCH / first[1]:.2f}."
        if inits and _resolved(first) else "At initialisation no mean gradient was resolved.",
    ]
    resolved = [r for r in c if _resolved(r)]
    if len(resolved) > 1:
        low = min(resolved, key=lambda r: r[1])
        high = max(resolved, key=lambda r: r[1])
        parts.append(f"While training resolves it, it ranges from {low[1]:.0f} ± {low[2]:.0f} (step {low[0]:.0f}, "
                     f"loss {low[3]:.2g}) to {high[1]:.0f} ± {high[2]:.0f} (step {high[0]:.0f}, loss {high[3]:.2g}).")
    parts.append(f"After {last[0]:.0f} SGD steps (loss {first[3]:.2f} → {last[3]:.3g}) it is {_fmt(last)}.")
    if not _resolved(last):
        parts.append(f"Near the end the mean gradient over {n_examples} digits is lost in the per-example "
                     "noise, so only a lower bound is measured.")
    parts.append("The standard errors cover the sampling of examples (jackknife over the data set); the runs show the "
                 "run-to-run spread. McCandlish et al. (2018) report B_simple growing by an order of magnitude or more "
                 "as the loss falls, on much larger data sets.")
    return " ".join(parts)
