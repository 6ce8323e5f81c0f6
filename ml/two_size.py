"""The two-size estimator of the noise scale: batch gradients only, no per-example gradients.

Mean-loss gradients over b and B > b examples satisfy :math:`E|G_b|^2 = |G|^2 + \\operatorname{tr}\\Sigma/b`,
so (McCandlish et al. 2018, appendix A; DESIGN §4)

.. math::

    |G|^2_{est} = \\frac{B|G_B|^2 - b|G_b|^2}{B - b},\\qquad
    S_{est} = \\frac{|G_b|^2 - |G_B|^2}{1/b - 1/B},

each unbiased; k paired repeats give their standard errors
(:func:`crossnoise.stats.two_size_estimate`, :meth:`crossnoise.snr.SignalNoise.from_two_sizes`).
This works for any model, including BatchNorm in train mode, where "the gradient of one
example" does not exist: there the estimate describes the noise of the batch gradient as the
model computes it (with its batch statistics at size b and B), not a per-example Σ.

Reference: McCandlish, Kaplan, Amodei et al., arXiv:1812.06162 (2018), appendix A.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from crossnoise.rng import RNGLike, as_generator, derive_seed
from crossnoise.snr import SignalNoise
from crossnoise.validation import InputError, check_positive_int

from .noise_scale import NoiseScaleEstimate
from .pergrad import LossFn

__all__ = ["batch_grad", "two_size_noise_scale", "preserve_buffers"]


class preserve_buffers:
    """Context manager: restore a module's buffers (BatchNorm running statistics) on exit.

    Measuring a gradient in train mode must not move the running statistics of the model being
    trained.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.saved: dict[str, torch.Tensor] = {}

    def __enter__(self) -> nn.Module:
        self.saved = {k: v.detach().clone() for k, v in self.model.named_buffers()}
        return self.model

    def __exit__(self, *exc: object) -> None:
        with torch.no_grad():
            for k, v in self.model.named_buffers():
                v.copy_(self.saved[k])


def batch_grad(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The gradient of the mean loss over a batch, flattened (float64); no ``.grad`` is touched."""
    params = [p for p in model.parameters() if p.requires_grad]
    loss = loss_fn(model(inputs), targets)
    if not torch.isfinite(loss):
        raise InputError(f"the loss must be finite to measure a gradient; got {float(loss)}.")
    gs = torch.autograd.grad(loss, params)
    return torch.cat([g.reshape(-1) for g in gs]).to(torch.float64)


def _validate(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, b_small: int, b_big: int,
              repeats: int) -> tuple[int, int, int]:
    if not isinstance(model, nn.Module):
        raise InputError(f"`model` must be a torch.nn.Module; got {type(model).__name__}.")
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor) or inputs.shape[0] != targets.shape[0]:
        raise InputError("`inputs` and `targets` must be torch tensors with the same number of rows.")
    b = check_positive_int(b_small, "b_small")
    big = check_positive_int(b_big, "b_big")
    if big <= b:
        raise InputError(f"`b_big` must be larger than `b_small` = {b}; got {big}.")
    k = check_positive_int(repeats, "repeats", minimum=2)
    return b, big, k


def two_size_noise_scale(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    b_small: int,
    b_big: int,
    repeats: int = 8,
    batch_size: int | None = None,
    rng: RNGLike = None,
    label: str = "",
    sampler: Callable[[torch.Generator, int], torch.Tensor] | None = None,
) -> NoiseScaleEstimate:
    """B_simple from mean-batch gradients at two sizes, k paired repeats (k ≥ 2).

    Each repeat draws ``b_big`` example indices uniformly with replacement (the data set is the
    population); the small batch is the first ``b_small`` of them (a paired draw, as per-device
    and all-reduced gradients are).  BatchNorm running statistics are left unchanged.

    Parameters
    ----------
    batch_size : int, optional
        ``n_samples`` of the record (default ``b_big``).
    sampler : callable, optional
        ``sampler(generator, size) -> index tensor`` to replace uniform sampling.

    Returns
    -------
    NoiseScaleEstimate with ``method="two-size"``; a negative S_est (possible by chance) is
    clipped to 0 with a warning.

    Examples
    --------
    >>> import torch, torch.nn.functional as F
    >>> from torch import nn
    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(500, 3, generator=gen); y = (x[:, 0] > 0).long()
    >>> est = two_size_noise_scale(nn.Linear(3, 2), F.cross_entropy, x, y, b_small=8, b_big=64, rng=0)
    >>> est.method
    'two-size'
    """
    b, big, k = _validate(model, inputs, targets, b_small, b_big, repeats)
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(derive_seed(as_generator(rng)))
    n = inputs.shape[0]
    small_sq = np.empty(k)
    big_sq = np.empty(k)
    with preserve_buffers(model):
        for r in range(k):
            idx = sampler(gen, big) if sampler is not None else torch.randint(0, n, (big,), generator=gen)
            gb = batch_grad(model, loss_fn, inputs[idx], targets[idx])
            gs = batch_grad(model, loss_fn, inputs[idx[:b]], targets[idx[:b]])
            small_sq[r] = float(gs @ gs)
            big_sq[r] = float(gb @ gb)
            d = gb.numel()
    record = SignalNoise.from_two_sizes(small_sq, big_sq, b, big, n_samples=batch_size or big,
                                        sample_unit="example", signal_unit="loss/param", label=label)
    return NoiseScaleEstimate(record, "two-size", k * (b + big), d, k * (b + big), time.perf_counter() - t0)
