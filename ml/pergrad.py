"""Per-example gradients with :mod:`torch.func`, computed in chunks so memory stays bounded.

For a model :math:`f_\\theta` and a per-example loss :math:`\\ell_i(\\theta) = \\ell(f_\\theta(x_i), y_i)`
the training loss is the mean :math:`L = \\frac1n\\sum_i \\ell_i` and the per-example gradients are

.. math:: g_i = \\nabla_\\theta\\, \\ell_i(\\theta) \\in \\mathbb{R}^d,

computed as ``vmap(grad(ℓ))`` over the examples with ``functional_call`` (no Python loop).  The
rows are returned flattened in the order of ``model.named_parameters()``.

Layers whose output for one example depends on the other examples of the batch (BatchNorm in
train mode) have no per-example gradient: :func:`check_per_example_ok` refuses them and points to
the two-size estimator (:mod:`crossnoise.ml.two_size`, :class:`crossnoise.ml.tracker.NoiseScaleTracker`).

Reference: the torch.func "per-sample gradients" tutorial; Dangel, Kunstner & Hennig, "BackPACK:
Packing more into backprop", ICLR 2020 (the same quantities from extended backprop).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from crossnoise.validation import InputError, check_positive_int

__all__ = [
    "BatchStatisticsError",
    "check_per_example_ok",
    "check_mean_loss",
    "trainable_params",
    "flatten",
    "unflatten",
    "per_example_grads",
    "per_example_grads_fn",
    "per_example_grads_loop",
]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class BatchStatisticsError(InputError):
    """A per-example quantity was asked of a model whose layers use batch statistics."""


def check_per_example_ok(model: nn.Module) -> None:
    """Raise :class:`BatchStatisticsError` if a layer of ``model`` uses batch statistics.

    BatchNorm in train mode normalises each example by the mean and variance of its batch, so the
    loss of one example depends on all others and "the gradient of example i" is undefined.
    """
    if not isinstance(model, nn.Module):
        raise InputError(f"`model` must be a torch.nn.Module; got {type(model).__name__}.")
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and (m.training or not m.track_running_stats):
            raise BatchStatisticsError(
                f"`model` layer {name or type(m).__name__!r} ({type(m).__name__} in train mode) uses batch "
                "statistics, so per-example gradients are undefined; use the two-size estimator "
                "(crossnoise.ml.two_size.two_size_noise_scale or crossnoise.ml.tracker.NoiseScaleTracker), "
                "or call model.eval() to measure with frozen statistics."
            )


def check_mean_loss(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor) -> None:
    """Raise :class:`InputError` unless ``loss_fn`` is a mean over the examples of a batch.

    A mean loss gives the same value for one example and for that example twice; a sum doubles.
    (Checked in eval mode, so dropout does not interfere.)
    """
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            one = loss_fn(model(inputs[:1]), targets[:1])
            two = loss_fn(model(torch.cat([inputs[:1], inputs[:1]])), torch.cat([targets[:1], targets[:1]]))
    finally:
        model.train(was)
    # float32 batches of 1 and 2 take different BLAS paths (~1e-5 relative); a sum doubles: 1% separates them
    if one.numel() != 1 or not torch.allclose(one, two, rtol=1e-2, atol=1e-12):
        raise InputError(
            "`loss_fn` must return the MEAN loss over the batch (a scalar, e.g. F.cross_entropy with the default "
            f"reduction='mean'); got {float(two.reshape(-1)[0]):.6g} for one example twice vs "
            f"{float(one.reshape(-1)[0]):.6g} for it once."
        )


def trainable_params(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable parameters of ``model`` as a detached name → tensor dict."""
    return {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}


def flatten(tree: Mapping[str, torch.Tensor], batch_dims: int = 0) -> torch.Tensor:
    """Concatenate a name → tensor dict into vectors (keeping ``batch_dims`` leading dims)."""
    parts = [t.reshape(*t.shape[:batch_dims], -1) for t in tree.values()]
    return torch.cat(parts, dim=batch_dims)


def unflatten(vec: torch.Tensor, like: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Split a flat vector into tensors shaped like the values of ``like`` (inverse of :func:`flatten`)."""
    total = sum(t.numel() for t in like.values())
    if vec.ndim != 1 or vec.numel() != total:
        raise InputError(f"`vec` must be a vector of {total} entries; got shape {tuple(vec.shape)}.")
    out: dict[str, torch.Tensor] = {}
    i = 0
    for k, t in like.items():
        out[k] = vec[i : i + t.numel()].reshape(t.shape)
        i += t.numel()
    return out


def _validate(model: nn.Module, inputs: Any, targets: Any, chunk_size: int) -> int:
    check_per_example_ok(model)
    check_positive_int(chunk_size, "chunk_size")
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise InputError(
            f"`inputs` and `targets` must be torch tensors; got {type(inputs).__name__} and {type(targets).__name__}."
        )
    if inputs.shape[0] != targets.shape[0] or inputs.shape[0] == 0:
        raise InputError(
            f"`inputs` and `targets` must have the same, non-zero number of rows; got {inputs.shape[0]} and "
            f"{targets.shape[0]}."
        )
    if not any(p.requires_grad for p in model.parameters()):
        raise InputError("`model` must have trainable parameters; got none with requires_grad.")
    return int(inputs.shape[0])


def per_example_grads_fn(
    loss_of_example: Callable[..., torch.Tensor],
    params: Mapping[str, torch.Tensor],
    batch: tuple[torch.Tensor, ...],
    *,
    chunk_size: int = 256,
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    """Per-example gradients of a functional loss, ``vmap(grad(loss_of_example))`` in chunks.

    Parameters
    ----------
    loss_of_example : callable
        ``loss_of_example(params, *example) -> scalar`` for ONE example (tensors without the
        batch dimension).
    params : dict
        name → tensor, the point at which gradients are taken.
    batch : tuple of tensors
        The examples, batch dimension first.
    chunk_size : int
        Examples per ``vmap`` call; peak memory ∝ chunk_size × (activations + d).
    dtype : torch.dtype or None
        The rows are cast to this dtype per chunk (float64 by default, for the variance sums).

    Returns
    -------
    (n, d) tensor, rows :math:`g_i` flattened in the order of ``params``.
    """
    check_positive_int(chunk_size, "chunk_size")
    n = int(batch[0].shape[0])
    g = vmap(grad(loss_of_example), in_dims=(None, *([0] * len(batch))))
    out: torch.Tensor | None = None
    for start in range(0, n, chunk_size):
        part = g(params, *(b[start : start + chunk_size] for b in batch))
        rows = [t.reshape(t.shape[0], -1) for t in part.values()]
        if out is None:
            d = sum(r.shape[1] for r in rows)
            out = torch.empty((n, d), dtype=dtype if dtype is not None else rows[0].dtype)
        col = 0
        for r in rows:  # write each block straight into the preallocated (n, d) result
            out[start : start + r.shape[0], col : col + r.shape[1]] = r
            col += r.shape[1]
    assert out is not None
    return out


def _example_loss(model: nn.Module, loss_fn: LossFn) -> Callable[..., torch.Tensor]:
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (dict(p), buffers), (x.unsqueeze(0),))
        return loss_fn(out, y.unsqueeze(0))

    return loss_one


def per_example_grads(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    chunk_size: int = 256,
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    """Per-example gradients :math:`g_i = \\nabla_\\theta \\ell(f_\\theta(x_i), y_i)` of a module.

    ``loss_fn(output, target)`` is a mean-reduction loss (e.g. ``F.cross_entropy``); called on
    one example it is that example's loss, so the mean of the rows is the gradient of the mean
    training loss over ``inputs``.

    Raises
    ------
    BatchStatisticsError
        If the model has BatchNorm in train mode (use the two-size estimator).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> import torch.nn.functional as F
    >>> model = nn.Linear(3, 2)
    >>> g = per_example_grads(model, F.cross_entropy, torch.ones(5, 3), torch.zeros(5, dtype=torch.long))
    >>> tuple(g.shape)
    (5, 8)
    """
    _validate(model, inputs, targets, chunk_size)
    return per_example_grads_fn(
        _example_loss(model, loss_fn), trainable_params(model), (inputs, targets), chunk_size=chunk_size, dtype=dtype
    )


def per_example_grads_loop(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The obvious reference: one ``backward`` per example in a Python loop (float64 rows)."""
    _validate(model, inputs, targets, 1)
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for i in range(inputs.shape[0]):
        loss = loss_fn(model(inputs[i : i + 1]), targets[i : i + 1])
        gs = torch.autograd.grad(loss, params)
        rows.append(torch.cat([g.reshape(-1) for g in gs]).to(torch.float64))
    return torch.stack(rows)
