"""Experiment b — raw vs standardized features (breast cancer): where the gradient noise sits.

Logistic regression (weights and bias) with the mean binary cross-entropy.  At w = 0 the model
predicts p = ½ for every example, so the per-example gradient is

.. math:: g_i = (\\tfrac12 - y_i)\\,(x_i, 1),

and G = E g_i and Σ = Cov g_i over the full data set (569 examples, taken as the population:
G = ḡ, Σ with ddof 0) are fixed numbers: tr Σ, |G|² and B_simple = tr Σ/|G|² for raw and for
standardized features.  Next to them, the estimator that treats the 569 examples as a sample of
the data distribution (unbiased |G|², ddof 1, jackknife SE), ``*_est``.  The *anisotropy* of the
noise is the spread of the per-coordinate variances :math:`\\Sigma_{jj}`: reported as
max/min and as the share of tr Σ carried by the largest coordinate.  Raw features span ~1e-3 to
~4e3, so nearly all of the raw noise sits in a few coordinates.

Along training: SGD (batch 32) with the step η = 1/λ_max(H₀), H₀ = ¼ E[x̃x̃ᵀ] the Hessian at
w = 0 (x̃ = (x, 1)), the largest stable-ish step for each feature scaling; the same statistics
over the full data at checkpoints (per-example gradients, jackknife SEs).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from crossnoise.rng import RNGLike, as_generator
from crossnoise.validation import check_nonnegative_int, check_positive_int

from .experiment import ExperimentResult, estimate_row, new_figure, pick, save_figure, single_thread
from .noise_scale import noise_scale_from_grads
from .pergrad import per_example_grads
from .tasks import binary_loss, load_cancer
from .training import full_loss, train_sgd

__all__ = ["run_standardize", "plot_standardize", "anisotropy"]

CONDITIONS = ("raw", "standardized")


def anisotropy(grads: np.ndarray) -> dict[str, float]:
    """Spread of the per-coordinate gradient variances Σ_jj (ddof=1).

    ``var_max_over_min`` = max_j Σ_jj / min_j Σ_jj; ``top_share`` = max_j Σ_jj / tr Σ (1/d when
    isotropic, 1 when one coordinate carries all the noise).
    """
    v = np.var(grads, axis=0, ddof=1)
    return {"var_max_over_min": float(v.max() / v.min()) if v.min() > 0 else math.inf,
            "top_share": float(v.max() / v.sum()) if v.sum() > 0 else math.nan}


def _data(condition: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = load_cancer(standardize=(condition == "standardized"))
    return x.double(), y.double()


def _logreg_at_zero() -> nn.Module:
    model = nn.Linear(30, 1).double()
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    return model


def _measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    g = per_example_grads(model, binary_loss, x, y).numpy()
    exact = noise_scale_from_grads(g, population=True)
    with warnings.catch_warnings():  # an undetectable signal is reported as inf in the table
        warnings.simplefilter("ignore", RuntimeWarning)
        est = noise_scale_from_grads(g)
    return ({"trace_sigma": exact.trace_sigma, "grad_norm_sq": exact.grad_norm_sq, "b_simple": exact.b_simple}
            | {k + "_est" if "_se" not in k else k.replace("_se", "_est_se"): v
               for k, v in estimate_row(est).items() if k.startswith("b_simple")}
            | anisotropy(g))


def run_standardize(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    steps: int | None = None,
    batch_size: int = 32,
    checkpoints: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """tr Σ, |G|², B_simple and the anisotropy of the noise, raw vs standardized.

    ``extra["logreg_w0"]`` holds the w = 0 values (the JSON contract of ``crossnoise ml
    standardize``); rows are the training checkpoints (step 0 is w = 0).
    """
    n_steps = check_nonnegative_int(steps if steps is not None else (200 if quick else 1000), "steps")
    b = check_positive_int(batch_size, "batch_size")
    marks = sorted(set(checkpoints) if checkpoints is not None else
                   {0, n_steps // 20, n_steps // 5, n_steps // 2, n_steps})
    gen = as_generator(rng)
    t0 = time.perf_counter()
    w0: dict[str, dict[str, float]] = {}
    rows: list[dict] = []
    seeds = gen.spawn(len(CONDITIONS))
    with single_thread():
        for ci, cond in enumerate(CONDITIONS):
            x, y = _data(cond)
            xt = torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
            lam_max = float(torch.linalg.eigvalsh(0.25 * xt.T @ xt / x.shape[0]).max())
            lr = 1.0 / lam_max
            model = _logreg_at_zero()
            m0 = _measure(model, x, y)
            w0[cond] = {"b_simple": m0["b_simple"], "b_simple_est": m0["b_simple_est"],
                        "b_simple_est_se": m0["b_simple_est_se"], "trace_sigma": m0["trace_sigma"],
                        "grad_norm_sq": m0["grad_norm_sq"], "var_max_over_min": m0["var_max_over_min"],
                        "top_share": m0["top_share"], "lr": lr, "hessian_lambda_max": lam_max}

            def measure(m: nn.Module, step: int, x: torch.Tensor = x, y: torch.Tensor = y) -> dict[str, float]:
                return {"loss": full_loss(m, binary_loss, x, y)} | _measure(m, x, y)

            res = train_sgd(model, binary_loss, x, y, batch_size=b, lr=lr, steps=n_steps, rng=seeds[ci],
                            measure_at=marks, measure=measure)
            for step, vals in res.measurements:
                rows.append({"features": cond, "step": step, "lr": lr} | vals | {"status": res.status})
            if progress is not None:
                progress(ci + 1, len(CONDITIONS))
    summary = {
        "b_simple_w0_raw_over_standardized": w0["raw"]["b_simple"] / w0["standardized"]["b_simple"],
        "top_share_w0": {c: w0[c]["top_share"] for c in CONDITIONS},
        "final_loss": {c: pick(rows, features=c)[-1]["loss"] for c in CONDITIONS},
        "final_b_simple": {c: pick(rows, features=c)[-1]["b_simple"] for c in CONDITIONS},
    }
    cfg = {"steps": n_steps, "batch_size": b, "checkpoints": marks, "quick": quick,
           "model": "logistic regression (30 weights + bias)", "lr_rule": "1/lambda_max(H at w=0)"}
    return ExperimentResult("standardize", tuple(rows), summary, cfg, time.perf_counter() - t0,
                            extra={"logreg_w0": w0})


def plot_standardize(result: ExperimentResult, path: str | Path) -> Path:
    """Left: B_simple along training for both feature scalings; right: top-coordinate noise share."""
    fig, (a1, a2) = new_figure(2)
    for cond, color in zip(CONDITIONS, ("C3", "C0")):
        r = pick(result.rows, features=cond)
        steps = [max(q["step"], 0.5) for q in r]
        a1.plot(steps, [q["b_simple"] for q in r], "o-", color=color, label=f"{cond}: over the data set")
        a2.plot(steps, [q["top_share"] for q in r], "o-", color=color, label=cond)
    a1.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="SGD step", ylabel="B_simple = tr Σ/|G|²",
           title="noise scale (full data)")
    a2.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="SGD step", ylabel="max_j Σ_jj / tr Σ",
           title="anisotropy: top coordinate's share")
    a2.axhline(1 / 31, color="grey", ls=":", label="isotropic (1/d)")
    a1.legend(fontsize=7)
    a2.legend(fontsize=7)
    return save_figure(fig, path)
