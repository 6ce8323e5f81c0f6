"""The critical batch size of the digits MLP, measured by training, next to its noise scale.

For each batch size B the MLP is trained with SGD from one initialisation at each learning rate of
a grid; S(B) is the fewest steps (over the grid) at which the full-data loss first reaches the
target — McCandlish et al. (2018) tune the step size per batch size in the same way.  Repeats on
independent batch orders give S(B) ± SE, and :func:`crossnoise.ml.critical.fit_critical_batch`
fits :math:`S = S_{min} + E_{min}/B`, i.e. :math:`(S/S_{min} - 1)(E/E_{min} - 1) = 1`, giving
:math:`B_{crit} = E_{min}/S_{min}`.  For comparison, B_simple (per-example gradients over the
data set) is measured on a run at B = 32 when its loss first reaches the target; the paper finds
:math:`B_{crit} \\approx B_{noise}`, of the order of B_simple.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import InputError, check_positive_float, check_positive_int

from .critical import fit_critical_batch, steps_to_target
from .experiment import ExperimentResult, new_figure, save_figure, single_thread
from .noise_scale import gradient_noise_scale
from .tasks import digits_mlp, load_digits, torch_generator
from .training import full_loss, train_sgd

__all__ = ["run_critical", "plot_critical"]


def run_critical(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    batch_sizes: Sequence[int] | None = None,
    lrs: Sequence[float] | None = None,
    target_loss: float = 0.5,
    max_steps: int = 600,
    eval_every: int = 5,
    repeats: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """S(B) to reach ``target_loss`` (best lr per B), the fit, and B_simple at the target."""
    bs = sorted({check_positive_int(b, "batch_sizes") for b in (batch_sizes or
                 ((8, 32, 128, 512) if quick else (8, 16, 32, 64, 128, 256, 512)))})
    if len(bs) < 3:
        raise InputError(f"`batch_sizes` must hold at least 3 distinct sizes for the fit; got {bs}.")
    grid = [check_positive_float(lr, "lrs") for lr in (lrs or ((0.2, 0.4, 0.8) if quick else (0.2, 0.4, 0.8, 1.6)))]
    target = check_positive_float(target_loss, "target_loss")
    k = check_positive_int(repeats if repeats is not None else 2, "repeats", minimum=2)
    every = check_positive_int(eval_every, "eval_every")
    cap = check_positive_int(max_steps, "max_steps")
    gen = as_generator(rng)
    init_seed, run_seed, meas_seed = gen.spawn(3)
    t0 = time.perf_counter()
    x, y = load_digits()
    init_state = digits_mlp(gen=torch_generator(init_seed)).state_dict()
    best_lr: dict[int, list[float]] = {b: [] for b in bs}
    total = len(bs) * k
    done = [0]

    def steps_for(b: int, lr: float, g: np.random.Generator, limit: int) -> int | None:
        model = digits_mlp(gen=torch_generator(0))
        model.load_state_dict(init_state)
        hit: list[int] = []

        def measure(m: torch.nn.Module, step: int) -> float:
            if not hit and full_loss(m, F.cross_entropy, x, y) <= target:
                hit.append(step)
            return 0.0

        marks = range(every, limit + 1, every)
        # train in blocks, stop at the first hit or at ``limit`` (a run that cannot beat the best
        # learning rate so far for this B is not finished)
        for start in range(0, limit, 500):
            n = min(500, limit - start)
            res = train_sgd(model, F.cross_entropy, x, y, batch_size=b, lr=lr, steps=n, rng=g,
                            measure_at=[s - start for s in marks if start < s <= start + n], measure=measure)
            if res.status != "ok":
                return None
            if hit:
                return start + hit[0]
        return None

    def train(b: int, *, rng: np.random.Generator) -> list[float]:
        best = math.inf
        best_eta = math.nan
        for lr in sorted(grid, reverse=True):  # large steps first: they set a tight limit early
            limit = cap if not math.isfinite(best) else int(best)
            s = steps_for(b, lr, rng.spawn(1)[0], limit)
            if s is not None and s < best:
                best, best_eta = s, lr
        best_lr[b].append(best_eta)
        done[0] += 1
        if progress is not None:
            progress(done[0], total)
        # steps_to_target takes a loss curve: 1.0 until the hit, then 0 (target 0.5 in those units)
        n = int(best) if math.isfinite(best) else cap + 1
        return [1.0] * (n - 1) + [0.0] if n <= cap else [1.0] * cap

    with single_thread():
        means, ses = steps_to_target(train, bs, 0.5, repeats=k, rng=run_seed, resolution=every)
        fit = fit_critical_batch(bs, means, ses)
        # B_simple along a B = 32 run at the moment its loss first reaches the target
        model = digits_mlp(gen=torch_generator(0))
        model.load_state_dict(init_state)
        lr32 = float(np.nanmedian(best_lr.get(32, [0.1]))) if 32 in best_lr else 0.1
        measured = None
        for _ in range(cap // every):
            train_sgd(model, F.cross_entropy, x, y, batch_size=32, lr=lr32, steps=every, rng=meas_seed)
            if full_loss(model, F.cross_entropy, x, y) <= target:
                measured = gradient_noise_scale(model, F.cross_entropy, x, y, batch_size=32)
                break
    rows = [{"batch_size": b, "steps": float(m), "steps_se": float(s), "examples": float(m * b),
             "best_lr": float(np.nanmedian(best_lr[b])), "fit_steps": fit.steps_at(b)}
            for b, m, s in zip(bs, means, ses)]
    summary = {"s_min": fit.s_min, "s_min_se": fit.s_min_se, "e_min": fit.e_min, "e_min_se": fit.e_min_se,
               "b_crit": fit.b_crit, "b_crit_se": fit.b_crit_se, "fit_chi2": fit.residual_chi2, "fit_dof": fit.dof,
               "b_simple_at_target": measured.b_simple if measured else None,
               "b_simple_at_target_se": measured.b_simple_se if measured else None}
    cfg = {"batch_sizes": bs, "lrs": grid, "target_loss": target, "max_steps": cap, "eval_every": every,
           "repeats": k, "quick": quick, "model": "digits MLP 64-64-64-10", "rule": "best lr of the grid per B"}
    return ExperimentResult("critical", tuple(rows), summary, cfg, time.perf_counter() - t0)


def plot_critical(result: ExperimentResult, path: str | Path) -> Path:
    """S(B) with the fit, and E = B·S against S (the trade-off curve)."""
    fig, (a1, a2) = new_figure(2)
    b = np.array([r["batch_size"] for r in result.rows], dtype=float)
    s = np.array([r["steps"] for r in result.rows])
    se = np.array([r["steps_se"] for r in result.rows])
    a1.errorbar(b, s, yerr=se, fmt="o", label="measured (best lr)")
    bb = np.geomspace(b.min(), b.max(), 100)
    sm, em = result.summary["s_min"], result.summary["e_min"]
    a1.plot(bb, sm + em / bb, "-", label=f"S_min + E_min/B, B_crit = {result.summary['b_crit']:.3g}")
    a1.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="steps to target S",
           title=f"loss ≤ {result.config['target_loss']}")
    a1.legend(fontsize=7)
    a2.plot(s, s * b, "o")
    ss = sm + em / bb
    a2.plot(ss, ss * bb, "-")
    a2.set(xscale="log", yscale="log", xlabel="steps S", ylabel="examples E = B·S", title="(S/S_min − 1)(E/E_min − 1) = 1")
    return save_figure(fig, path)
