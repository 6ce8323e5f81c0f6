"""Experiment f — transfer: fine-tuning a pretrained body vs training from scratch (digits).

An MLP (64-64-64-5) is pretrained on digits 0–4.  For digits 5–9 (relabelled 0–4) two models
start: *fine-tune* (the pretrained hidden layers and a freshly initialised head) and *scratch*
(a fresh initialisation of the whole network; its head is the same fresh head).  Both are trained
with the same SGD steps, batches and learning rate.  At checkpoints, over all 5–9 examples, the
per-example gradients give tr Σ, |G|² (unbiased) and B_simple = tr Σ/|G|², each with its
jackknife SE, and the loss.  Repeated over independent seeds (initialisations and batch order).

All three quantities are reported, because a change in B_simple can come from the noise (tr Σ),
the signal (|G|²) or both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import check_nonnegative_int, check_positive_float, check_positive_int

from .experiment import ExperimentResult, estimate_row, mean_se, new_figure, pick, save_figure, single_thread
from .noise_scale import gradient_noise_scale
from .tasks import digits_mlp, load_digits, torch_generator
from .training import full_loss, train_sgd

__all__ = ["run_transfer", "plot_transfer"]

STARTS = ("fine-tune", "scratch")


def run_transfer(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    pretrain_steps: int | None = None,
    steps: int | None = None,
    batch_size: int = 32,
    lr: float = 0.1,
    seeds: int | None = None,
    checkpoints: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """tr Σ, |G|² and B_simple at the start and along fine-tuning, vs from scratch.

    Rows: (seed, start, step).  ``summary`` averages each quantity over seeds at each checkpoint
    (mean ± SE over seeds).
    """
    pre = check_nonnegative_int(pretrain_steps if pretrain_steps is not None else (300 if quick else 1500),
                                "pretrain_steps")
    n_steps = check_nonnegative_int(steps if steps is not None else (100 if quick else 300), "steps")
    b = check_positive_int(batch_size, "batch_size")
    eta = check_positive_float(lr, "lr")
    n_seeds = check_positive_int(seeds if seeds is not None else (1 if quick else 3), "seeds")
    marks = sorted(set(checkpoints) if checkpoints is not None else {0, 10, n_steps // 4, n_steps // 2, n_steps})
    gen = as_generator(rng)
    t0 = time.perf_counter()
    xa, ya = load_digits(classes=(0, 1, 2, 3, 4))
    xb, yb = load_digits(classes=(5, 6, 7, 8, 9))
    rows: list[dict] = []
    pretrain_loss = []
    with single_thread():
        for si, sgen in enumerate(gen.spawn(n_seeds)):
            pre_seed, head_seed, body_seed, *train_seeds = sgen.spawn(3 + len(STARTS) + 1)
            source = digits_mlp(n_out=5, gen=torch_generator(pre_seed))
            train_sgd(source, F.cross_entropy, xa, ya, batch_size=b, lr=eta, steps=pre, rng=train_seeds[-1])
            pretrain_loss.append(full_loss(source, F.cross_entropy, xa, ya))
            head = digits_mlp(n_out=5, gen=torch_generator(head_seed)).state_dict()
            fresh = digits_mlp(n_out=5, gen=torch_generator(body_seed)).state_dict()
            for ci, start in enumerate(STARTS):
                model = digits_mlp(n_out=5, gen=torch_generator(0))
                body = source.state_dict() if start == "fine-tune" else fresh
                model.load_state_dict({k: (head[k] if k.startswith("4.") else body[k]) for k in head})

                def measure(m: torch.nn.Module, step: int) -> dict:
                    est = gradient_noise_scale(m, F.cross_entropy, xb, yb, batch_size=b)
                    return {"loss": full_loss(m, F.cross_entropy, xb, yb)} | estimate_row(est)

                res = train_sgd(model, F.cross_entropy, xb, yb, batch_size=b, lr=eta, steps=n_steps,
                                rng=train_seeds[ci], measure_at=marks, measure=measure)
                for step, vals in res.measurements:
                    rows.append({"seed": si, "start": start, "step": step} | vals | {"status": res.status})
            if progress is not None:
                progress(si + 1, n_seeds)
    summary: dict = {"pretrain_loss_0_4": mean_se(pretrain_loss)[0], "by_checkpoint": []}
    for step in marks:
        entry: dict = {"step": step}
        for start in STARTS:
            r = pick(rows, start=start, step=step)
            for q in ("loss", "trace_sigma", "grad_norm_sq", "b_simple"):
                m, se = mean_se([x[q] for x in r])
                entry[f"{start}_{q}"] = m
                entry[f"{start}_{q}_seed_se"] = se
        summary["by_checkpoint"].append(entry)
    cfg = {"pretrain_steps": pre, "steps": n_steps, "batch_size": b, "lr": eta, "seeds": n_seeds, "checkpoints": marks,
           "quick": quick, "model": "digits MLP 64-64-64-5; pretrain 0-4, fine-tune 5-9"}
    return ExperimentResult("transfer", tuple(rows), summary, cfg, time.perf_counter() - t0)


def plot_transfer(result: ExperimentResult, path: str | Path) -> Path:
    """tr Σ, |G|² and B_simple along fine-tuning (mean over seeds ± SE over seeds)."""
    fig, axes = new_figure(3, width=4.2)
    by = result.summary["by_checkpoint"]
    steps = [max(e["step"], 0.5) for e in by]
    for ax, q, title in zip(axes, ("trace_sigma", "grad_norm_sq", "b_simple"), ("tr Σ", "|G|²", "B_simple")):
        for start, color in zip(STARTS, ("C2", "C7")):
            vals = [e[f"{start}_{q}"] for e in by]
            err = [e[f"{start}_{q}_seed_se"] for e in by]
            ax.errorbar(steps, vals, yerr=[0 if e != e else e for e in err], fmt="o-", color=color, label=start)
        ax.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="SGD step on digits 5–9", title=title)
    axes[0].legend(fontsize=7)
    return save_figure(fig, path)
