"""Experiment a — learning-rate scaling with batch size: linear (η ∝ B) vs square-root (η ∝ √B).

An SGD step :math:`\\Delta\\theta = -\\eta\\,\\hat g_B` has :math:`\\operatorname{Cov}(\\Delta\\theta) = \\eta^2\\Sigma/B`
(batches drawn with replacement), so

.. math:: \\operatorname{tr}\\operatorname{Cov}(\\Delta\\theta) = \\eta^2\\operatorname{tr}\\Sigma/B :

the square-root rule :math:`\\eta = \\eta_0\\sqrt{B/B_0}` keeps it constant, the linear rule
:math:`\\eta = \\eta_0 B/B_0` makes it grow ∝ B, while keeping the distance travelled per epoch
(Krizhevsky 2014; Hoffer et al. 2017; Goyal et al. 2017).

Measured on the digits MLP at its initialisation: tr Cov(Δθ) from K independent batch gradients
at each B (the sample covariance of the K updates, with the jackknife SE of
:func:`crossnoise.stats.mean_norm_and_trace`), next to the prediction η² tr Σ/B with tr Σ from
per-example gradients over the whole data set.  Then, for each rule and B, SGD for a fixed
number of examples E (E/B steps) from the same initialisation; the full-data loss at the end,
mean ± SE over independent seeds (batch order).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from crossnoise.rng import RNGLike, as_generator
from crossnoise.stats import mean_norm_and_trace
from crossnoise.validation import InputError, check_positive_float, check_positive_int

from .experiment import ExperimentResult, mean_se, new_figure, pick, save_figure, single_thread
from .noise_scale import gradient_noise_scale
from .tasks import digits_mlp, load_digits, torch_generator
from .training import full_loss, train_sgd
from .two_size import batch_grad

__all__ = ["run_scaling", "plot_scaling"]

RULES = ("linear", "sqrt")


def _validate(batch_sizes: Sequence[int], base_lr: float, base_batch: int, examples: int, repeats: int,
              seeds: int) -> tuple[list[int], float, int, int, int, int]:
    bs = sorted({check_positive_int(b, "batch_sizes") for b in batch_sizes})
    if len(bs) < 2:
        raise InputError(f"`batch_sizes` must hold at least 2 distinct sizes; got {list(batch_sizes)}.")
    ex = check_positive_int(examples, "examples")
    if ex < max(bs):
        raise InputError(f"`examples` must be at least the largest batch size {max(bs)}; got {ex}.")
    return (bs, check_positive_float(base_lr, "base_lr"), check_positive_int(base_batch, "base_batch"), ex,
            check_positive_int(repeats, "repeats", minimum=3), check_positive_int(seeds, "seeds", minimum=2))


def run_scaling(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    batch_sizes: Sequence[int] = (8, 16, 32, 64, 128, 256, 512),
    base_lr: float = 0.1,
    base_batch: int = 32,
    examples: int | None = None,
    repeats: int | None = None,
    seeds: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """Measure tr Cov(Δθ) per step and the loss after a fixed number of examples under both rules.

    Parameters
    ----------
    batch_sizes : sizes B; base_lr η0 at base_batch B0: η = η0·B/B0 (linear) or η0·√(B/B0) (sqrt).
    examples : examples per training run (default 16384; quick 4096).
    repeats : batch gradients K per B for the covariance (default 32; quick 16).
    seeds : independent training runs per (rule, B) (default 3; quick 2).

    Examples
    --------
    >>> res = run_scaling(quick=True, rng=0, batch_sizes=(16, 64))  # doctest: +SKIP
    """
    examples = examples or (4096 if quick else 16384)
    repeats = repeats or (16 if quick else 32)
    seeds = seeds or (2 if quick else 3)
    bs, eta0, b0, ex, k, n_seeds = _validate(batch_sizes, base_lr, base_batch, examples, repeats, seeds)
    gen_np = as_generator(rng)
    t0 = time.perf_counter()
    init_seed, cov_seed, *train_seeds = gen_np.spawn(2 + n_seeds)
    x, y = load_digits()
    rows: list[dict] = []
    total = len(bs) * (1 + 2 * n_seeds)
    done = 0
    with single_thread():
        model0 = digits_mlp(gen=torch_generator(init_seed))
        init_state = {k_: v.clone() for k_, v in model0.state_dict().items()}
        full = gradient_noise_scale(model0, torch.nn.functional.cross_entropy, x, y)
        tr_sigma = full.trace_sigma
        loss0 = full_loss(model0, torch.nn.functional.cross_entropy, x, y)
        tgen = torch_generator(cov_seed)
        for b in bs:
            grads = []
            for _ in range(k):
                idx = torch.randint(0, x.shape[0], (b,), generator=tgen)
                grads.append(batch_grad(model0, torch.nn.functional.cross_entropy, x[idx], y[idx]).numpy())
            est = mean_norm_and_trace(np.stack(grads))  # tr of Cov(ĝ_B) with its jackknife SE
            for rule in RULES:
                eta = eta0 * (b / b0 if rule == "linear" else math.sqrt(b / b0))
                losses, statuses = [], []
                for s in range(n_seeds):
                    model = digits_mlp(gen=torch_generator(0))
                    model.load_state_dict(init_state)
                    res = train_sgd(model, torch.nn.functional.cross_entropy, x, y, batch_size=b, lr=eta,
                                    steps=ex // b, rng=train_seeds[s].spawn(1)[0])
                    statuses.append(res.status)
                    losses.append(full_loss(model, torch.nn.functional.cross_entropy, x, y)
                                  if res.status == "ok" else math.nan)
                    done += 1
                    if progress is not None:
                        progress(done, total)
                lm, lse = mean_se(losses)
                rows.append({
                    "batch_size": b, "rule": rule, "lr": eta,
                    "tr_cov_update": eta**2 * est.trace, "tr_cov_update_se": eta**2 * est.trace_se,
                    "tr_cov_update_predicted": eta**2 * tr_sigma / b,
                    "steps": ex // b, "final_loss": lm, "final_loss_se": lse,
                    "diverged": sum(st != "ok" for st in statuses),
                })
            done += 1
            if progress is not None:
                progress(done, total)
    summary = _summarise(rows, bs)
    summary |= {"initial_loss": loss0, "trace_sigma_init": tr_sigma, "b_simple_init": full.b_simple,
                "b_simple_init_se": full.b_simple_se}
    cfg = {"batch_sizes": bs, "base_lr": eta0, "base_batch": b0, "examples": ex, "repeats": k, "seeds": n_seeds,
           "quick": quick, "model": "digits MLP 64-64-64-10", "sampling": "with replacement"}
    return ExperimentResult("scaling", tuple(rows), summary, cfg, time.perf_counter() - t0)


def _summarise(rows: list[dict], bs: list[int]) -> dict:
    out: dict = {}
    for rule in RULES:
        r = pick(rows, rule=rule)
        vals = np.array([q["tr_cov_update"] for q in r])
        out[f"{rule}_tr_cov_ratio_max_over_min_batch"] = float(vals[-1] / vals[0])
        out[f"{rule}_predicted_ratio"] = float(r[-1]["tr_cov_update_predicted"] / r[0]["tr_cov_update_predicted"])
        out[f"{rule}_final_loss_at_max_batch"] = r[-1]["final_loss"]
        out[f"{rule}_final_loss_at_min_batch"] = r[0]["final_loss"]
    out["batch_range"] = [bs[0], bs[-1]]
    return out


def plot_scaling(result: ExperimentResult, path: str | Path) -> Path:
    """Left: tr Cov(Δθ) per step vs B (measured ± SE, predicted); right: final loss vs B."""
    fig, (a1, a2) = new_figure(2)
    for rule, color in zip(RULES, ("C3", "C0")):
        r = pick(result.rows, rule=rule)
        b = [q["batch_size"] for q in r]
        a1.errorbar(b, [q["tr_cov_update"] for q in r], yerr=[q["tr_cov_update_se"] for q in r], fmt="o",
                    color=color, label=f"{rule}: measured")
        a1.plot(b, [q["tr_cov_update_predicted"] for q in r], "-", color=color, alpha=0.6, label=f"{rule}: η² trΣ/B")
        a2.errorbar(b, [q["final_loss"] for q in r], yerr=[q["final_loss_se"] for q in r], fmt="o-", color=color,
                    label=rule)
    a1.set(xscale="log", yscale="log", xlabel="batch size B", ylabel="tr Cov(Δθ) per step",
           title="update noise per step")
    a2.set(xscale="log", xlabel="batch size B", ylabel=f"loss after {result.config['examples']} examples",
           title="loss at a fixed example budget")
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    return save_figure(fig, path)
