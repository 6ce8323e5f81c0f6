"""A noise-scale tracker that plugs into any PyTorch training loop.

Each training batch of size B is split into k micro-batches of size b = B/k; their mean-loss
gradients :math:`g_1..g_k` give, at no extra forward/backward work,

.. math::

    |G_b|^2 \\approx \\frac1k\\sum_j |g_j|^2,\\qquad G_B = \\frac1k\\sum_j g_j ,

and the two-size estimator (DESIGN §4) turns each step's pair into unbiased
:math:`|G|^2_{est}` and :math:`S_{est}` (tr Σ).  As McCandlish et al. (2018) recommend, the two
are smoothed separately with an exponential moving average (:class:`crossnoise.stats.RatioEMA`)
and divided only at the end: B_simple ≈ EMA(S)/EMA(|G|²).  The optimiser sees the full-batch
gradient G_B in ``.grad`` exactly as after one ``loss.backward()`` on the whole batch.

Usage::

    tracker = NoiseScaleTracker(model, n_micro=4)
    for x, y in batches:
        opt.zero_grad()
        loss = tracker.backward(lambda xb, yb: F.cross_entropy(model(xb), yb), x, y)
        opt.step()
    tracker.noise_scale, tracker.estimate()

For loops that already have two gradient sizes (per-device and all-reduced), call
:meth:`NoiseScaleTracker.observe` with the two squared norms instead.

With BatchNorm, micro-batches normalise over b examples ("ghost batch norm"): the tracker then
measures the noise of that training procedure.

Reference: McCandlish, Kaplan, Amodei et al., arXiv:1812.06162 (2018), appendix A.1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from crossnoise.snr import SignalNoise
from crossnoise.stats import RatioEMA
from crossnoise.validation import InputError, check_positive_int, check_probability

from .noise_scale import NoiseScaleEstimate

__all__ = ["NoiseScaleTracker"]


class NoiseScaleTracker:
    """Track B_simple during training with the two-size estimator and separate EMAs.

    Parameters
    ----------
    model : nn.Module
        The model being trained (its trainable parameters are tracked).
    n_micro : int
        Micro-batches per training batch, k ≥ 2 (b = B/k).
    beta : float
        EMA factor in [0, 1) for both numerator and denominator.
    every : int
        Measure on every ``every``-th call of :meth:`backward` (1 = every step); the other steps
        are one plain backward over the whole batch, so the overhead is amortised.

    Attributes
    ----------
    ema : RatioEMA
        Smoothed S_est (numerator) and |G|²_est (denominator).
    history : list of dict
        Per step: ``step``, ``loss``, ``norm_sq_small``, ``norm_sq_big``, ``b_small``, ``b_big``,
        ``trace_sigma``, ``grad_norm_sq`` (single-step estimates) and ``b_simple_ema``.
    status : str
        ``"ok"``, or ``"nan_loss"`` once a non-finite loss was seen (nothing recorded for it).
    """

    def __init__(self, model: nn.Module, *, n_micro: int = 2, beta: float = 0.95, every: int = 1) -> None:
        if not isinstance(model, nn.Module):
            raise InputError(f"`model` must be a torch.nn.Module; got {type(model).__name__}.")
        self.model = model
        self.n_micro = check_positive_int(n_micro, "n_micro", minimum=2)
        check_probability(beta, "beta", open_interval=False)
        self.ema = RatioEMA(beta=beta)
        self.history: list[dict[str, float]] = []
        self.status = "ok"
        self.steps = 0
        self.calls = 0
        self.every = check_positive_int(every, "every")
        self.backward_examples = 0

    # ------------------------------------------------------------------ hooks
    def observe(self, norm_sq_small: float, norm_sq_big: float, b_small: int, b_big: int, *,
                loss: float = math.nan) -> None:
        """Record one step's squared gradient norms at sizes b < B (e.g. per-device and all-reduced)."""
        small, big = float(norm_sq_small), float(norm_sq_big)
        if not (b_big > b_small >= 1 and math.isfinite(small) and math.isfinite(big)):
            raise InputError(f"`observe` needs finite norms and 1 <= b_small < b_big; got b = {b_small}, B = {b_big}.")
        # The single-pair case of crossnoise.stats.two_size_estimate (the same linear map, inlined:
        # it runs every training step; tests check the two agree).
        g2 = (b_big * big - b_small * small) / (b_big - b_small)
        s = (small - big) / (1.0 / b_small - 1.0 / b_big)
        self.ema = self.ema.update(s, g2)
        self.steps += 1
        self.history.append({
            "step": self.steps, "loss": loss, "norm_sq_small": float(norm_sq_small), "norm_sq_big": float(norm_sq_big),
            "b_small": b_small, "b_big": b_big, "trace_sigma": s, "grad_norm_sq": g2, "b_simple_ema": self.ema.ratio,
        })

    def backward(self, batch_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                 targets: torch.Tensor) -> torch.Tensor:
        """Backward over ``n_micro`` micro-batches; leaves the full-batch mean gradient in ``.grad``.

        ``batch_loss(x, y)`` is the mean loss of a (micro-)batch.  The gradient is ADDED to
        ``.grad`` (zero it before, as with ``loss.backward()``).  Returns the full-batch mean loss
        (detached).  A non-finite loss sets ``status = "nan_loss"``, records nothing and leaves
        ``.grad`` untouched.
        """
        n = int(inputs.shape[0])
        self.calls += 1
        if (self.calls - 1) % self.every != 0:
            loss = batch_loss(inputs, targets)
            if not torch.isfinite(loss):
                self.status = "nan_loss"
                return loss.detach()
            loss.backward()
            self.backward_examples += n
            return loss.detach()
        k = self.n_micro
        if n % k != 0 or n // k < 1:
            raise InputError(f"the batch size must be a multiple of `n_micro` = {k}; got {n}.")
        b = n // k
        params = [p for p in self.model.parameters() if p.requires_grad]
        total: list[torch.Tensor] | None = None
        small_sq = 0.0
        loss_sum = 0.0
        for j in range(k):
            loss = batch_loss(inputs[j * b : (j + 1) * b], targets[j * b : (j + 1) * b])
            if not torch.isfinite(loss):
                self.status = "nan_loss"
                return loss.detach()
            gs = list(torch.autograd.grad(loss, params))
            # one fused norm per parameter; squares summed in float64
            small_sq += float(torch.stack(torch._foreach_norm(gs)).double().pow(2).sum())
            if total is None:
                total = gs  # fresh tensors from autograd.grad: safe to accumulate into
            else:
                torch._foreach_add_(total, gs)
            loss_sum += float(loss.detach())
        assert total is not None
        torch._foreach_div_(total, float(k))
        big_sq = float(torch.stack(torch._foreach_norm(total)).double().pow(2).sum())
        for p, g in zip(params, total):
            p.grad = g if p.grad is None else p.grad + g
        self.backward_examples += n
        mean_loss = loss_sum / k
        self.observe(small_sq / k, big_sq, b, n, loss=mean_loss)
        return torch.tensor(mean_loss)

    # ------------------------------------------------------------------ readouts
    @property
    def noise_scale(self) -> float:
        """EMA(S_est)/EMA(|G|²_est) (nan before the first step, inf if EMA(|G|²) ≤ 0)."""
        return self.ema.ratio

    def estimate(self, window: int | None = None, *, batch_size: int | None = None) -> NoiseScaleEstimate:
        """B_simple from the last ``window`` steps' pairs (all by default), with standard errors.

        Treats the steps as k paired repeats of the two-size measurement
        (:meth:`SignalNoise.from_two_sizes`): valid while the parameters move little over the
        window.  Needs ≥ 2 steps with one (b, B).
        """
        rows = self.history if window is None else self.history[-check_positive_int(window, "window"):]
        if len(rows) < 2:
            raise InputError(f"`window` must cover at least 2 tracked steps for a standard error; got {len(rows)}.")
        sizes = {(r["b_small"], r["b_big"]) for r in rows}
        if len(sizes) != 1:
            raise InputError(f"the steps in `window` must share one (b, B); got {sorted(sizes)}.")
        b, big = sizes.pop()
        small = np.array([r["norm_sq_small"] for r in rows])
        bigs = np.array([r["norm_sq_big"] for r in rows])
        record = SignalNoise.from_two_sizes(small, bigs, int(b), int(big), n_samples=batch_size or big,
                                            sample_unit="example", signal_unit="loss/param", label="tracker")
        d = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        return NoiseScaleEstimate(record, "two-size", len(rows) * int(big), d, self.backward_examples, 0.0)
