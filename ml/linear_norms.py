"""Per-example squared gradient norms and projections for ``nn.Linear`` models, from ONE backward pass.

For a linear layer z = W a + b applied to example i, the per-example gradient of ℓ_i is
:math:`\\nabla_W \\ell_i = \\delta_i a_i^T` and :math:`\\nabla_b \\ell_i = \\delta_i` with
:math:`\\delta_i = \\partial\\ell_i/\\partial z_i`.  Hence, without ever forming a d-vector per
example (Goodfellow 2015, "Efficient per-example gradient computations"; the same identities
BackPACK's ``BatchL2Grad`` uses),

.. math::

    |g_i|^2 = \\sum_{\\text{layers}} |\\delta_i|^2\\,(|a_i|^2 + 1),\\qquad
    g_i\\cdot v = \\sum_{\\text{layers}} \\delta_i^T V_W a_i + \\delta_i\\cdot v_b ,

(the +1 and :math:`v_b` only where the layer has a bias).  With a mean loss over n examples the
backward pass delivers :math:`\\delta_i/n`.  Activations a_i and δ_i are captured with module
hooks during the ordinary backward pass that also yields the mean gradient; memory is that of one
forward pass.

Applies when every trainable parameter belongs to an ``nn.Linear`` that is called once per
forward on 2-D input (n, features); otherwise :class:`NotApplicable` is raised and callers fall
back to ``torch.func`` per-example gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .pergrad import check_mean_loss

__all__ = ["NotApplicable", "linear_norms_and_dots"]


class NotApplicable(Exception):
    """The model is not a pure stack of once-applied ``nn.Linear`` layers on 2-D inputs."""


def _linear_layers(model: nn.Module) -> list[tuple[nn.Linear, int, int | None]]:
    """Each Linear with the offsets of its weight and bias in the flattened parameter vector."""
    offsets: dict[int, int] = {}
    i = 0
    for p in model.parameters():
        if p.requires_grad:
            offsets[id(p)] = i
            i += p.numel()
    owned = set()
    layers = []
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if not m.weight.requires_grad:
                if m.bias is not None and m.bias.requires_grad:
                    raise NotApplicable("a Linear with a frozen weight and a trainable bias")
                continue
            wb = offsets[id(m.weight)]
            bb = offsets[id(m.bias)] if (m.bias is not None and m.bias.requires_grad) else None
            layers.append((m, wb, bb))
            owned.add(id(m.weight))
            if bb is not None:
                owned.add(id(m.bias))
    if set(offsets) != owned:
        raise NotApplicable("trainable parameters outside nn.Linear layers")
    return layers


def linear_norms_and_dots(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    chunk_size: int = 1024,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean gradient v (d,), |g_i|² (n,), g_i·v (n,)) in float64, one backward per chunk.

    Raises :class:`NotApplicable` when the model is not a pure stack of once-applied Linear
    layers on 2-D inputs.
    """
    layers = _linear_layers(model)
    check_mean_loss(model, loss_fn, inputs, targets)
    params = [p for p in model.parameters() if p.requires_grad]
    d = sum(p.numel() for p in params)
    n = int(inputs.shape[0])
    store: dict[int, dict[str, list[torch.Tensor]]] = {id(m): {"a": [], "g": []} for m, _, _ in layers}
    calls: dict[int, int] = {}

    def fwd_hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        a = args[0]
        if a.ndim != 2:
            raise NotApplicable("a Linear layer sees input that is not 2-D (n, features)")
        calls[id(m)] = calls.get(id(m), 0) + 1
        store[id(m)]["a"].append(a.detach())
        # δ/n_chunk arrives as the gradient of the layer's output
        out.register_hook(lambda g, key=id(m): store[key]["g"].append(g.detach()))

    handles = [m.register_forward_hook(fwd_hook) for m, _, _ in layers]
    v = torch.zeros(d, dtype=torch.float64)
    try:
        for start in range(0, n, chunk_size):
            xb, yb = inputs[start : start + chunk_size], targets[start : start + chunk_size]
            calls.clear()
            loss = loss_fn(model(xb), yb)
            if any(c != 1 for c in calls.values()) or len(calls) != len(layers):
                raise NotApplicable("a Linear layer is applied more or less than once per forward")
            gs = torch.autograd.grad(loss, params)
            v += torch.cat([g.reshape(-1) for g in gs]).to(torch.float64) * (xb.shape[0] / n)
    finally:
        for h in handles:
            h.remove()
    sq = torch.zeros(n, dtype=torch.float64)
    dot = torch.zeros(n, dtype=torch.float64)
    for m, wb, bb in layers:
        a = torch.cat(store[id(m)]["a"]).to(torch.float64)
        # the backward hook sees δ_i/n_chunk for each chunk of a mean loss: undo the chunk scaling
        gparts = store[id(m)]["g"]
        sizes = [t.shape[0] for t in store[id(m)]["a"]]
        delta = torch.cat([g.to(torch.float64) * s for g, s in zip(gparts, sizes)])
        # self-check of the mean-loss scaling: (1/n) Σ_i δ_i a_iᵀ must be the layer's mean gradient
        vw_check = delta.T @ a / n
        vw_true = v[wb : wb + m.weight.numel()].reshape(m.weight.shape)
        if not torch.allclose(vw_check, vw_true, rtol=1e-3, atol=1e-6 * float(vw_true.abs().max()) + 1e-30):
            raise NotApplicable("the loss is not a mean of per-example losses over the batch")
        dn = (delta * delta).sum(1)
        sq += dn * (a * a).sum(1)
        vw = v[wb : wb + m.weight.numel()].reshape(m.weight.shape)
        dot += ((delta @ vw) * a).sum(1)
        if bb is not None:
            sq += dn
            dot += delta @ v[bb : bb + m.bias.numel()]
    return v, sq, dot
