"""Experiment d — data augmentation as a source of gradient noise (digits CNN).

Augmentation draws a fresh random transform of each example every time it is used, so the
per-example gradient :math:`g(\\theta; T(x_i))` has a second source of variance.  By the law of
total variance

.. math::

    \\operatorname{tr}\\Sigma_{aug} = E_i\\,\\operatorname{tr}\\operatorname{Cov}_T[g(T(x_i))]
    + \\operatorname{tr}\\operatorname{Cov}_i\\big[E_T\\,g(T(x_i))\\big],

and the mean gradient G changes too (it is that of the augmented distribution).  Augmentation
here: a random integer shift of up to ±1 pixel in each direction, a rotation uniform in ±15°
(bilinear ``grid_sample``), and Gaussian pixel noise of s.d. 0.05 — all drawn from a
``torch.Generator``.

The CNN is trained with and without augmentation (same initialisation, steps, lr, batch) on a
train split; at checkpoints tr Σ, |G|² and B_simple are measured from per-example gradients over
the train split with clean inputs and with one augmented draw per example, and the held-out
accuracy is reported.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.rng import RNGLike, as_generator, derive_seed
from crossnoise.validation import InputError, check_nonnegative_int, check_positive_float, check_positive_int

from .experiment import ExperimentResult, estimate_row, new_figure, pick, save_figure, single_thread
from .noise_scale import gradient_noise_scale
from .tasks import digits_cnn, load_digits, torch_generator
from .training import full_loss, train_sgd

__all__ = ["augment_images", "run_augment", "plot_augment"]

TRAININGS = ("clean", "augmented")


def augment_images(x: torch.Tensor, gen: torch.Generator, *, max_shift: int = 1, max_degrees: float = 15.0,
                   noise_sd: float = 0.05) -> torch.Tensor:
    """Randomly shift (±max_shift px), rotate (±max_degrees) and add pixel noise to (n, 1, H, W) images.

    Shift and rotation are one affine ``grid_sample`` (bilinear, zero padding); every random
    number comes from ``gen``.
    """
    if x.ndim != 4:
        raise InputError(f"`x` must be (n, C, H, W); got shape {tuple(x.shape)}.")
    n, _, h, w = x.shape
    ang = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(max_degrees)
    shifts = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=gen).to(x.dtype)
    cos, sin = torch.cos(ang).to(x.dtype), torch.sin(ang).to(x.dtype)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 1], theta[:, 1, 0], theta[:, 1, 1] = cos, -sin, sin, cos
    # normalised coordinates span 2 units over the image: one pixel is 2/W (x) and 2/H (y)
    theta[:, 0, 2] = shifts[:, 0] * 2.0 / w
    theta[:, 1, 2] = shifts[:, 1] * 2.0 / h
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + noise_sd * torch.randn(out.shape, generator=gen, dtype=x.dtype)


def _split(n: int, n_test: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    perm = torch.randperm(n, generator=gen)
    return perm[n_test:], perm[:n_test]


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def run_augment(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    steps: int | None = None,
    batch_size: int = 32,
    lr: float = 0.05,
    n_measure: int | None = None,
    checkpoints: Sequence[int] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """tr Σ and B_simple with and without augmentation, at initialisation and along training.

    Rows: (trained with, step, measured on) with tr Σ, |G|², B_simple and SEs, the train loss and
    the held-out accuracy (500 held-out images).
    """
    n_steps = check_nonnegative_int(steps if steps is not None else (150 if quick else 800), "steps")
    b = check_positive_int(batch_size, "batch_size")
    eta = check_positive_float(lr, "lr")
    n_meas = check_positive_int(n_measure if n_measure is not None else (256 if quick else 640), "n_measure", minimum=3)
    marks = sorted(set(checkpoints) if checkpoints is not None else {0, n_steps // 4, n_steps // 2, n_steps})
    gen = as_generator(rng)
    split_seed, init_seed, meas_seed, *train_seeds = gen.spawn(3 + len(TRAININGS))
    t0 = time.perf_counter()
    x, y = load_digits(images=True)
    tr_idx, te_idx = _split(x.shape[0], 500, torch_generator(split_seed))
    xtr, ytr, xte, yte = x[tr_idx], y[tr_idx], x[te_idx], y[te_idx]
    sub = tr_idx[:n_meas] if n_meas < tr_idx.numel() else tr_idx
    xm, ym = x[sub], y[sub]
    rows: list[dict] = []
    meas_torch_seed = derive_seed(meas_seed)
    with single_thread():
        init_state = digits_cnn(gen=torch_generator(init_seed)).state_dict()
        for ti, training in enumerate(TRAININGS):
            model = digits_cnn(gen=torch_generator(0))
            model.load_state_dict(init_state)
            mgen = torch.Generator().manual_seed(meas_torch_seed)  # the same augmentation draws for both trainings

            def measure(m: nn.Module, step: int) -> list[dict]:
                out = []
                for on in ("clean", "augmented"):
                    xin = xm if on == "clean" else augment_images(xm, mgen)
                    est = gradient_noise_scale(m, F.cross_entropy, xin, ym, batch_size=b)
                    out.append({"measured_on": on} | estimate_row(est))
                common = {"train_loss": full_loss(m, F.cross_entropy, xtr, ytr), "test_acc": _accuracy(m, xte, yte)}
                return [r | common for r in out]

            res = train_sgd(model, F.cross_entropy, xtr, ytr, batch_size=b, lr=eta, steps=n_steps,
                            rng=train_seeds[ti], measure_at=marks, measure=measure,
                            augment=(augment_images if training == "augmented" else None))
            for step, vals in res.measurements:
                for v in vals:
                    rows.append({"trained": training, "step": step} | v | {"status": res.status})
            if progress is not None:
                progress(ti + 1, len(TRAININGS))
    summary = {}
    for training in TRAININGS:
        last = pick(rows, trained=training, step=marks[-1])
        for r in last:
            summary[f"{training}_trained_on_{r['measured_on']}_b_simple"] = r["b_simple"]
            summary[f"{training}_trained_on_{r['measured_on']}_trace_sigma"] = r["trace_sigma"]
        summary[f"{training}_test_acc"] = last[0]["test_acc"]
    cfg = {"steps": n_steps, "batch_size": b, "lr": eta, "n_measure": int(xm.shape[0]), "checkpoints": marks,
           "quick": quick, "augmentation": "shift ±1 px, rotation ±15°, pixel noise s.d. 0.05",
           "model": "digits CNN conv8-conv16-pool-linear"}
    return ExperimentResult("augment", tuple(rows), summary, cfg, time.perf_counter() - t0)


def plot_augment(result: ExperimentResult, path: str | Path) -> Path:
    """tr Σ (left) and B_simple (right) along training, for each training × measurement."""
    fig, (a1, a2) = new_figure(2)
    styles = {("clean", "clean"): ("C0", "o-"), ("clean", "augmented"): ("C0", "s--"),
              ("augmented", "clean"): ("C3", "o-"), ("augmented", "augmented"): ("C3", "s--")}
    for (training, on), (color, fmt) in styles.items():
        r = pick(result.rows, trained=training, measured_on=on)
        steps = [max(q["step"], 0.5) for q in r]
        label = f"trained {training}, measured {on}"
        a1.errorbar(steps, [q["trace_sigma"] for q in r], yerr=[q["trace_sigma_se"] for q in r], fmt=fmt, color=color,
                    label=label)
        a2.errorbar(steps, [q["b_simple"] for q in r], yerr=[q["b_simple_se"] for q in r], fmt=fmt, color=color,
                    label=label)
    a1.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="SGD step", ylabel="tr Σ", title="per-example gradient variance")
    a2.set(xscale="symlog", xlim=(0, None), yscale="log", xlabel="SGD step", ylabel="B_simple", title="noise scale")
    a1.legend(fontsize=6)
    return save_figure(fig, path)
