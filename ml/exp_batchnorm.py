"""Experiment c — with and without BatchNorm (digits MLP): noise scale along training, scale invariance.

1. *Noise scale along training.*  Both MLPs (64-64-64-10, with BatchNorm1d after each hidden
   linear layer or without) are trained with SGD at the same step and batch.  At checkpoints
   B_simple is measured with the two-size estimator (paired batch gradients at b and B, k repeats,
   :func:`crossnoise.ml.two_size.two_size_noise_scale`; BN in train mode, its running statistics
   untouched) for both models, and from per-example gradients for the model without BN (a
   cross-check of the two estimators).  The training loop also runs the
   :class:`~crossnoise.ml.tracker.NoiseScaleTracker` (micro-batches of B/2; for the BN model
   these normalise over B/2 examples), whose EMA is reported.
2. *Scale invariance.*  Under BN the loss is invariant to scaling the weight and bias of the
   layer before it, :math:`L(\\alpha W, \\alpha b) = L(W, b)`, so differentiating,
   :math:`\\nabla L(\\alpha W) = \\nabla L(W)/\\alpha`: the gradient norm ∝ 1/|w|.  Measured for
   α ∈ {¼, ½, 1, 2, 4} on the first layer of both models (same batch of examples).

Reference: Ioffe & Szegedy, ICML 2015; van Laarhoven, "L2 regularization versus batch and weight
normalization", arXiv:1706.05350 (2017); Hoffer et al., NeurIPS 2018.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import check_nonnegative_int, check_positive_int

from .experiment import ExperimentResult, estimate_row, new_figure, pick, save_figure, single_thread
from .noise_scale import gradient_noise_scale
from .tasks import digits_mlp, load_digits, torch_generator
from .tracker import NoiseScaleTracker
from .training import full_loss, train_sgd
from .two_size import batch_grad, preserve_buffers, two_size_noise_scale

__all__ = ["run_batchnorm", "plot_batchnorm"]

MODELS = ("no-bn", "bn")
ALPHAS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _scale_rows(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor, when: str) -> list[dict]:
    rows = []
    for alpha in ALPHAS:
        row: dict = {"when": when, "alpha": alpha}
        for name, model in models.items():
            first = model[0]
            saved = (first.weight.detach().clone(), first.bias.detach().clone())
            with torch.no_grad():
                first.weight.mul_(alpha)
                first.bias.mul_(alpha)
            with preserve_buffers(model):
                loss = float(F.cross_entropy(model(x), y).detach())
                g = torch.autograd.grad(F.cross_entropy(model(x), y), [first.weight, first.bias])
            with torch.no_grad():
                first.weight.copy_(saved[0])
                first.bias.copy_(saved[1])
            norm = float(torch.sqrt(sum((t.double() ** 2).sum() for t in g)))
            row |= {f"{name}_loss": loss, f"{name}_grad_norm_layer1": norm, f"{name}_grad_norm_x_alpha": norm * alpha}
        rows.append(row)
    return rows


def run_batchnorm(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    steps: int | None = None,
    batch_size: int = 64,
    lr: float = 0.1,
    b_small: int = 16,
    b_big: int = 128,
    repeats: int | None = None,
    checkpoints: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """Noise scale along training with and without BN, and the 1/α gradient scaling under BN.

    Rows: one per (model, checkpoint).  ``extra["scale_invariance"]``: rows per α, at
    initialisation and after training.
    """
    n_steps = check_nonnegative_int(steps if steps is not None else (150 if quick else 600), "steps")
    b = check_positive_int(batch_size, "batch_size")
    k = check_positive_int(repeats if repeats is not None else (8 if quick else 24), "repeats", minimum=2)
    marks = sorted(set(checkpoints) if checkpoints is not None else
                   {0, n_steps // 10, n_steps // 4, n_steps // 2, n_steps})
    gen = as_generator(rng)
    init_seed, *run_seeds = gen.spawn(1 + 2 * len(MODELS))
    t0 = time.perf_counter()
    x, y = load_digits()
    probe = torch.randint(0, x.shape[0], (256,), generator=torch_generator(init_seed))
    rows: list[dict] = []
    models: dict[str, nn.Module] = {}
    with single_thread():
        init_gen = torch_generator(init_seed)
        state = digits_mlp(gen=init_gen).state_dict()
        for name in MODELS:
            m = digits_mlp(batchnorm=(name == "bn"), gen=torch_generator(0))
            # the same initial linear weights for both models (BN layers start at weight 1, bias 0)
            missing = m.load_state_dict(_remap(state, name), strict=False)
            assert not missing.unexpected_keys
            models[name] = m
        scale_rows = _scale_rows(models, x[probe], y[probe], "init")
        for mi, name in enumerate(MODELS):
            model = models[name]
            tracker = NoiseScaleTracker(model, n_micro=2, beta=0.9)
            meas_seed = run_seeds[2 * mi + 1]

            def measure(m: nn.Module, step: int, name: str = name, tracker: NoiseScaleTracker = tracker) -> dict:
                two = two_size_noise_scale(m, F.cross_entropy, x, y, b_small=b_small, b_big=b_big, repeats=k,
                                           rng=meas_seed.spawn(1)[0], batch_size=b)
                row = {"loss": full_loss(m, F.cross_entropy, x, y)} | estimate_row(two, "two_size_")
                if name == "no-bn":
                    row |= {k_: v for k_, v in estimate_row(gradient_noise_scale(m, F.cross_entropy, x, y,
                                                                                 batch_size=b), "per_example_").items()
                            if "b_simple" in k_}
                row["tracker_ema_b_simple"] = tracker.noise_scale if tracker.steps else float("nan")
                return row

            res = train_sgd(model, F.cross_entropy, x, y, batch_size=b, lr=lr, steps=n_steps, rng=run_seeds[2 * mi],
                            measure_at=marks, measure=measure, backward=tracker.backward)
            for step, vals in res.measurements:
                rows.append({"model": name, "step": step} | vals | {"status": res.status})
            if progress is not None:
                progress(mi + 1, len(MODELS))
        scale_rows += _scale_rows(models, x[probe], y[probe], "trained")
    bn_trained = [r for r in scale_rows if r["when"] == "trained"]
    gx = [r["bn_grad_norm_x_alpha"] for r in bn_trained]
    gx_nobn = [r["no-bn_grad_norm_x_alpha"] for r in bn_trained]
    summary = {
        "bn_grad_norm_x_alpha_spread": (max(gx) - min(gx)) / (sum(gx) / len(gx)),
        "no_bn_grad_norm_x_alpha_spread": (max(gx_nobn) - min(gx_nobn)) / (sum(gx_nobn) / len(gx_nobn)),
        "final_loss": {m: pick(rows, model=m)[-1]["loss"] for m in MODELS},
        "final_two_size_b_simple": {m: pick(rows, model=m)[-1]["two_size_b_simple"] for m in MODELS},
    }
    cfg = {"steps": n_steps, "batch_size": b, "lr": lr, "b_small": b_small, "b_big": b_big, "repeats": k,
           "checkpoints": marks, "quick": quick, "model": "digits MLP 64-64-64-10 (+BatchNorm1d)"}
    return ExperimentResult("batchnorm", tuple(rows), summary, cfg, time.perf_counter() - t0,
                            extra={"scale_invariance": scale_rows})


def _remap(state: dict, name: str) -> dict:
    """Map the plain MLP's Sequential indices (0, 2, 4) onto the BN model's (0, 3, 6)."""
    if name == "no-bn":
        return state
    index = {"0": "0", "2": "3", "4": "6"}
    return {index[k.split(".")[0]] + "." + k.split(".", 1)[1]: v for k, v in state.items()}


def plot_batchnorm(result: ExperimentResult, path: str | Path) -> Path:
    """Left: B_simple along training (two-size, per-example); right: |∇W1|·α against α."""
    fig, (a1, a2) = new_figure(2)
    for name, color in zip(MODELS, ("C0", "C3")):
        r = pick(result.rows, model=name)
        steps = [max(q["step"], 0.5) for q in r]
        a1.errorbar(steps, [q["two_size_b_simple"] for q in r], yerr=[q["two_size_b_simple_se"] for q in r],
                    fmt="o-", color=color, label=f"{name}: two-size")
        if name == "no-bn":
            a1.errorbar(steps, [q["per_example_b_simple"] for q in r], yerr=[q["per_example_b_simple_se"] for q in r],
                        fmt="s--", color=color, alpha=0.6, label=f"{name}: per-example")
    a1.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="SGD step", ylabel="B_simple", title="noise scale along training")
    a1.legend(fontsize=7)
    scale = result.extra["scale_invariance"]
    for when, ls in (("init", ":"), ("trained", "-")):
        r = [q for q in scale if q["when"] == when]
        al = [q["alpha"] for q in r]
        for name, color in zip(MODELS, ("C0", "C3")):
            a2.plot(al, [q[f"{name}_grad_norm_x_alpha"] for q in r], "o" + ls, color=color, label=f"{name} ({when})")
    a2.set(xscale="log", yscale="log", xlabel="scale α of layer-1 weights", ylabel="|∇_{W1} L| · α",
           title="BN: gradient norm ∝ 1/|w|")
    a2.legend(fontsize=7)
    return save_figure(fig, path)
