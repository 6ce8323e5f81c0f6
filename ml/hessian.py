"""B_noise, the Hessian-weighted noise scale, through Hessian-vector products (small models).

For an SGD step :math:`-\\epsilon G_B` on a locally quadratic loss, the expected improvement is
largest at :math:`\\epsilon_{max}/(1 + B_{noise}/B)` with (McCandlish et al. 2018, eq. 2.6)

.. math::

    B_{noise} = \\frac{\\operatorname{tr}(H\\Sigma)}{G^T H G}.

From n per-example gradients :math:`g_i` and the products :math:`Hg_i` (one Hessian-vector
product each, ``vmap(jvp(grad L))``, H the Hessian of the mean loss over the same examples):

.. math::

    \\widehat{\\operatorname{tr}(H\\Sigma)} = \\frac{1}{n-1}\\Big(\\sum_i g_i^T H g_i - n\\,\\bar g^T H \\bar g\\Big),\\qquad
    \\widehat{G^T H G} = \\bar g^T H \\bar g - \\widehat{\\operatorname{tr}(H\\Sigma)}/n ,

both unbiased for fixed H (the second as :math:`E\\,\\bar g^T H\\bar g = G^THG + \\operatorname{tr}(H\\Sigma)/n`).
Standard errors: leave-one-out jackknife over the examples in closed form (O(nd), H held
fixed; cf. :func:`crossnoise.stats.jackknife`).  The record maps onto
:class:`~crossnoise.snr.SignalNoise` with per_sample_variance = tr(HΣ) and |signal|² = GᵀHG, so
``noise_scale`` is B_noise.

Reference: McCandlish, Kaplan, Amodei et al., arXiv:1812.06162 (2018), §2.2.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, jvp, vmap

from crossnoise.snr import SignalNoise
from crossnoise.validation import InputError, check_positive_int

from .pergrad import LossFn, check_per_example_ok, per_example_grads, trainable_params, unflatten

__all__ = ["BNoiseEstimate", "hessian_vector_products", "b_noise"]


@dataclass(frozen=True, slots=True)
class BNoiseEstimate:
    """B_noise with its jackknife standard error; ``record.noise_scale`` is B_noise.

    ``b_simple`` is computed from the same rows for comparison; ``hvps`` counts the
    Hessian-vector products (the cost), ``wall_s`` the time.
    """

    record: SignalNoise
    b_simple: float
    n_examples: int
    n_params: int
    hvps: int
    wall_s: float

    @property
    def b_noise(self) -> float:
        return self.record.noise_scale

    @property
    def b_noise_se(self) -> float:
        se = self.record.noise_scale_se
        return math.nan if se is None else se

    @property
    def trace_h_sigma(self) -> float:
        return self.record.per_sample_variance

    @property
    def gt_h_g(self) -> float:
        return self.record.signal_norm_sq


def hessian_vector_products(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                            vectors: torch.Tensor, *, chunk_size: int = 64) -> torch.Tensor:
    """Rows :math:`H v_j` for the Hessian H of the mean loss over ``(inputs, targets)``.

    Forward-over-reverse: ``jvp(grad(L), (θ,), (v,))``, vmapped over the rows of ``vectors``
    (shape (m, d), flattened like :func:`crossnoise.ml.pergrad.flatten`).
    """
    check_positive_int(chunk_size, "chunk_size")
    params = trainable_params(model)
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    d = sum(p.numel() for p in params.values())
    if vectors.ndim != 2 or vectors.shape[1] != d:
        raise InputError(f"`vectors` must have shape (m, {d}); got {tuple(vectors.shape)}.")

    def loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss_fn(functional_call(model, (p, buffers), (inputs,)), targets)

    dtype = next(iter(params.values())).dtype

    def hvp(v: torch.Tensor) -> torch.Tensor:
        tangent = unflatten(v.to(dtype), params)
        _, out = jvp(grad(loss), (params,), (tangent,))
        return torch.cat([t.reshape(-1) for t in out.values()])

    rows = [vmap(hvp)(vectors[i : i + chunk_size]).to(torch.float64) for i in range(0, vectors.shape[0], chunk_size)]
    return torch.cat(rows, dim=0)


def _loo_stats(g: np.ndarray, hg: np.ndarray) -> tuple[float, float, np.ndarray]:
    """tr(HΣ), GᵀHG and their 2×2 jackknife covariance, leave-one-out values in closed form.

    With :math:`p_i = g_i^T Hg_i`, :math:`P = \\sum_i p_i` and :math:`q = \\bar g^T H \\bar g`:
    :math:`q_{(i)} = (n^2 q - n\\,\\bar g^T Hg_i - n\\,g_i^T H\\bar g + p_i)/(n-1)^2` and
    :math:`\\operatorname{tr}(H\\Sigma)_{(i)} = (P - p_i - (n-1)\\,q_{(i)})/(n-2)`.
    """
    n = g.shape[0]
    gbar, hgbar = g.mean(axis=0), hg.mean(axis=0)
    q = float(gbar @ hgbar)
    p = np.einsum("ij,ij->i", g, hg)
    big_p = float(p.sum())
    tr_hs = (big_p - n * q) / (n - 1)
    quad = q - tr_hs / n
    q_loo = (n * n * q - n * (hg @ gbar) - n * (g @ hgbar) + p) / (n - 1) ** 2
    tr_loo = (big_p - p - (n - 1) * q_loo) / (n - 2)
    quad_loo = q_loo - tr_loo / (n - 1)
    theta = np.stack([tr_loo, quad_loo])
    dev = theta - theta.mean(axis=1, keepdims=True)
    return tr_hs, quad, (n - 1) / n * (dev @ dev.T)


def b_noise(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor, *,
            batch_size: int | None = None, chunk_size: int = 64, label: str = "") -> BNoiseEstimate:
    """B_noise = tr(HΣ)/(GᵀHG) over the examples given, with jackknife standard errors.

    Costs n per-example gradients and n Hessian-vector products: meant for small models.  Same
    restrictions as per-example gradients (no BatchNorm in train mode).  Deterministic.

    Examples
    --------
    >>> import torch, torch.nn.functional as F
    >>> from torch import nn
    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(100, 3, generator=gen); y = (x[:, 0] > 0).long()
    >>> est = b_noise(nn.Linear(3, 2), F.cross_entropy, x, y)
    >>> est.hvps
    100
    """
    check_per_example_ok(model)
    n = int(inputs.shape[0])
    if n < 4:
        raise InputError(f"`inputs` needs at least 4 examples for B_noise and its standard error; got {n}.")
    b = None if batch_size is None else check_positive_int(batch_size, "batch_size")
    t0 = time.perf_counter()
    g = per_example_grads(model, loss_fn, inputs, targets, chunk_size=chunk_size)
    hg = hessian_vector_products(model, loss_fn, inputs, targets, g, chunk_size=chunk_size)
    d = g.shape[1]
    gn, hgn = g.cpu().numpy(), hg.cpu().numpy()
    tr_hs, quad, cov = _loo_stats(gn, hgn)
    gbar = gn.mean(axis=0)
    tr_s = float(((gn - gbar) ** 2).sum() / (n - 1))
    g2 = float(gbar @ gbar) - tr_s / n
    record = SignalNoise(
        signal=math.sqrt(max(quad, 0.0)), per_sample_variance=max(tr_hs, 0.0), n_samples=b or n,
        sample_unit="example", signal_unit="H-norm", signal_norm_sq_estimate=quad,
        signal_norm_sq_se=float(math.sqrt(cov[1, 1])), per_sample_variance_se=float(math.sqrt(cov[0, 0])),
        covariance=float(cov[0, 1]), label=label or "B_noise",
    )
    return BNoiseEstimate(record, tr_s / g2 if g2 > 0 else math.inf, n, d, n, time.perf_counter() - t0)
