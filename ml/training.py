"""A small SGD training loop with measurement hooks, a status and NaN handling.

Batches of size B are drawn uniformly *with replacement* from the data set (the data set is the
population whose G and Σ the estimators measure; sampling with replacement keeps
:math:`\\operatorname{Cov}\\hat g_B = \\Sigma/B` exact, with no finite-population correction).
The update is plain SGD (optionally with momentum), :math:`\\theta \\leftarrow \\theta - \\eta\\,\\hat g_B`.

A non-finite loss stops the run with ``status = "nan_loss"``; everything measured before is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from crossnoise.rng import RNGLike
from crossnoise.validation import InputError, check_nonnegative_int, check_positive_float, check_positive_int

from .pergrad import LossFn
from .tasks import torch_generator

__all__ = ["TrainResult", "train_sgd", "full_loss"]


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What a training run did.

    ``losses`` are the mini-batch losses per step; ``measurements`` the callback's return values
    at ``measure_at`` steps as (step, value); ``status`` is ``"ok"`` or ``"nan_loss"``.
    """

    losses: tuple[float, ...]
    measurements: tuple[tuple[int, Any], ...]
    status: str
    steps_done: int
    examples_seen: int
    wall_s: float
    config: dict[str, Any] = field(default_factory=dict)


def full_loss(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean loss over the whole data set (eval mode for the forward pass, then restored)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        out = float(loss_fn(model(inputs), targets))
    model.train(was)
    return out


def train_sgd(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int,
    lr: float,
    steps: int,
    rng: RNGLike = None,
    momentum: float = 0.0,
    measure_at: Sequence[int] = (),
    measure: Callable[[nn.Module, int], Any] | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    backward: Callable[[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]
    | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place with SGD for ``steps`` steps of batch ``batch_size``.

    Parameters
    ----------
    measure_at, measure : steps (0 = before training) at which ``measure(model, step)`` is called
        and its value kept.
    augment : optional ``augment(x, generator) -> x`` applied to each batch.
    backward : optional replacement of ``loss.backward()``, e.g. ``NoiseScaleTracker.backward``:
        ``backward(batch_loss, x, y) -> loss`` must leave the gradient in ``.grad``.
    """
    b = check_positive_int(batch_size, "batch_size")
    eta = check_positive_float(lr, "lr")
    n_steps = check_nonnegative_int(steps, "steps")
    if not 0 <= momentum < 1:
        raise InputError(f"`momentum` must be a number in [0, 1); got {momentum}.")
    gen = torch_generator(rng)
    marks = sorted({check_nonnegative_int(s, "measure_at") for s in measure_at})
    if marks and measure is None:
        raise InputError("`measure` must be given when `measure_at` is not empty.")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=eta, momentum=momentum)
    n = inputs.shape[0]
    losses: list[float] = []
    measured: list[tuple[int, Any]] = []
    status = "ok"
    t0 = time.perf_counter()
    step = 0

    def batch_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(model(x), y)

    model.train()
    for step in range(n_steps + 1):
        if marks and step == marks[0]:
            marks.pop(0)
            measured.append((step, measure(model, step)))  # type: ignore[misc]
        if step == n_steps:
            break
        idx = torch.randint(0, n, (b,), generator=gen)
        x, y = inputs[idx], targets[idx]
        if augment is not None:
            x = augment(x, gen)
        opt.zero_grad(set_to_none=True)
        if backward is None:
            loss = batch_loss(x, y)
            if not torch.isfinite(loss):
                status = "nan_loss"
                break
            loss.backward()
        else:
            loss = backward(batch_loss, x, y)
            if not torch.isfinite(loss):
                status = "nan_loss"
                break
        if not all(torch.isfinite(p.grad).all() for p in params if p.grad is not None):
            status = "nan_loss"
            break
        opt.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(step + 1, n_steps)
    done = len(losses)
    return TrainResult(tuple(losses), tuple(measured), status, done, done * b, time.perf_counter() - t0,
                       {"batch_size": b, "lr": eta, "steps": n_steps, "momentum": momentum})


def finite_or_nan(x: float) -> float:
    """``x`` if finite, else nan (for tables of diverged runs)."""
    return x if math.isfinite(x) else math.nan
