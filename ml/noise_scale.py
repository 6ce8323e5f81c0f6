"""The simple gradient noise scale B_simple from per-example gradients, with its standard error.

With per-example gradients :math:`g_i` (i.i.d. draws from the data distribution), the true
gradient :math:`G = E g_i` and the per-example covariance :math:`\\Sigma`, a mini-batch gradient
of size B satisfies :math:`E|G_B|^2 = |G|^2 + \\operatorname{tr}\\Sigma/B`, and

.. math::

    B_{simple} = \\frac{\\operatorname{tr}\\Sigma}{|G|^2}

is the batch size at which the gradient's signal-to-noise ratio is 1 (McCandlish et al. 2018).
From n rows: :math:`\\operatorname{tr}\\Sigma \\approx \\operatorname{tr}S` (ddof=1) and
:math:`|G|^2 \\approx |\\bar g|^2 - \\operatorname{tr}S/n` (unbiased), with their closed-form
jackknife covariance (:func:`crossnoise.stats.mean_norm_and_trace`); the standard error of the
ratio is the delta method of :class:`crossnoise.snr.SignalNoise`.

Mapping onto the core record: ``signal`` = :math:`\\bar g` (the full-batch gradient over the
rows), ``per_sample_variance`` = tr Σ, ``n_samples`` = the training batch size B,
``sample_unit`` = "example"; ``noise_scale`` is then B_simple and ``snr`` = B/B_simple.

Reference: McCandlish, Kaplan, Amodei et al., "An Empirical Model of Large-Batch Training",
arXiv:1812.06162 (2018).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from crossnoise.snr import SignalNoise
from crossnoise.stats import NormTraceEstimate, mean_norm_and_trace, norm_and_trace_from_centered
from crossnoise.validation import InputError, check_finite_array, check_positive_int, warn_degenerate

from .linear_norms import NotApplicable, linear_norms_and_dots
from .pergrad import LossFn, check_mean_loss, check_per_example_ok, per_example_grads

__all__ = ["NoiseScaleEstimate", "noise_scale_from_grads", "gradient_noise_scale"]


@dataclass(frozen=True, slots=True)
class NoiseScaleEstimate:
    """B_simple with its standard error, as a :class:`~crossnoise.snr.SignalNoise` plus cost.

    Attributes
    ----------
    record : SignalNoise
        signal = full-batch gradient, per_sample_variance = tr Σ, n_samples = batch size.
    method : str
        ``"per-example"`` or ``"two-size"``.
    n_examples : int
        Examples the statistics were computed from.
    n_params : int
        Dimension d of the gradient.
    backward_examples : int
        Cost: examples passed through forward + backward.
    wall_s : float
        Wall time of the estimate.
    """

    record: SignalNoise
    method: str
    n_examples: int
    n_params: int
    backward_examples: int
    wall_s: float

    @property
    def b_simple(self) -> float:
        return self.record.noise_scale

    @property
    def b_simple_se(self) -> float:
        se = self.record.noise_scale_se
        return math.nan if se is None else se

    @property
    def trace_sigma(self) -> float:
        return self.record.per_sample_variance

    @property
    def trace_sigma_se(self) -> float:
        se = self.record.per_sample_variance_se
        return math.nan if se is None else se

    @property
    def grad_norm_sq(self) -> float:
        return self.record.signal_norm_sq

    @property
    def grad_norm_sq_se(self) -> float:
        se = self.record.signal_norm_sq_se
        return math.nan if se is None else se

    @property
    def batch_size(self) -> float:
        return self.record.n_samples

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``crossnoise ml noise-scale`` plus standard errors and cost."""
        return {
            "b_simple": self.b_simple,
            "b_simple_se": self.b_simple_se,
            "trace_sigma": self.trace_sigma,
            "trace_sigma_se": self.trace_sigma_se,
            "grad_norm_sq": self.grad_norm_sq,
            "grad_norm_sq_se": self.grad_norm_sq_se,
            "batch_size": self.batch_size,
            "n_examples": self.n_examples,
            "n_params": self.n_params,
            "method": self.method,
            "backward_examples": self.backward_examples,
            "wall_s": self.wall_s,
        }


def _validate_grads(grads: Any, batch_size: Any) -> tuple[np.ndarray, int | None]:
    if isinstance(grads, torch.Tensor):
        grads = grads.detach().to(torch.float64).cpu().numpy()
    g = check_finite_array(grads, "grads", ndim=2)
    if g.shape[0] < 3:
        raise InputError(
            f"`grads` needs at least 3 per-example gradients (rows) for a variance and its standard error; "
            f"got {g.shape[0]}."
        )
    b = None if batch_size is None else check_positive_int(batch_size, "batch_size")
    return g, b


def noise_scale_from_grads(grads: Any, *, batch_size: int | None = None, label: str = "",
                           backward_examples: int | None = None, wall_s: float = 0.0,
                           population: bool = False) -> NoiseScaleEstimate:
    """B_simple = tr Σ / |G|² from per-example gradient rows (n ≥ 3), with standard errors.

    .. math::

        \\widehat{\\operatorname{tr}\\Sigma} = \\operatorname{tr}S,\\qquad
        \\widehat{|G|^2} = |\\bar g|^2 - \\operatorname{tr}S/n,\\qquad
        \\hat B_{simple} = \\widehat{\\operatorname{tr}\\Sigma}/\\widehat{|G|^2}

    ``batch_size`` (default: the number of rows) is the ``n_samples`` of the record, the batch
    whose gradient SNR the record describes.

    With ``population=True`` the rows ARE the population (a finite training set that batches
    are drawn from with replacement): then G = ḡ and Σ is the covariance with ddof=0 exactly,
    :math:`B_{simple} = \\operatorname{tr}\\Sigma_{data}/|\\bar g|^2`, and no standard error applies.  An undetectable signal (:math:`\\widehat{|G|^2} \\le 0`)
    gives B_simple = inf and a warning.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0).normal(loc=1.0, size=(500, 4))
    >>> est = noise_scale_from_grads(g, batch_size=32)
    >>> round(est.b_simple, 2), round(est.b_simple_se, 2), est.batch_size
    (1.06, 0.06, 32)
    """
    g, b = _validate_grads(grads, batch_size)
    n, d = g.shape
    if population:
        mean = g.mean(axis=0)
        trace = float(((g - mean) ** 2).sum() / n)
        record = SignalNoise(signal=mean, per_sample_variance=trace, n_samples=n if b is None else b,
                             sample_unit="example", signal_unit="loss/param", label=label)
        return NoiseScaleEstimate(record, "per-example (population)", n, d,
                                  n if backward_examples is None else backward_examples, wall_s)
    est = mean_norm_and_trace(g)
    if est.mean_norm_sq <= 0:
        warn_degenerate(
            f"the gradient signal is not detectable over {n} examples (|G|² estimate {est.mean_norm_sq:.3g} ≤ 0); "
            "B_simple is reported as inf."
        )
    record = SignalNoise(
        signal=est.mean,
        per_sample_variance=est.trace,
        n_samples=n if b is None else b,
        sample_unit="example",
        signal_unit="loss/param",
        signal_norm_sq_estimate=est.mean_norm_sq,
        signal_norm_sq_se=est.mean_norm_sq_se,
        per_sample_variance_se=est.trace_se,
        covariance=float(est.covariance[0, 1]),
        label=label,
    )
    return NoiseScaleEstimate(record, "per-example", n, d, n if backward_examples is None else backward_examples, wall_s)


def gradient_noise_scale(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    batch_size: int | None = None,
    chunk_size: int = 256,
    label: str = "",
    streaming: bool = True,
) -> NoiseScaleEstimate:
    """B_simple of ``model`` over the examples ``(inputs, targets)`` from per-example gradients.

    G and Σ are those of the examples given (pass the full data set for its exact G and Σ, or a
    random sample of it for an estimate).  ``batch_size`` is the training batch the record
    describes (default: the number of examples).  Deterministic: no randomness is used.

    With ``streaming`` (default) the n × d rows are never stored: a chunked backward gives ḡ and
    a chunked ``vmap`` pass keeps only |g_i|² and g_i·ḡ per example, from which the closed-form
    jackknife of :func:`crossnoise.stats.mean_norm_and_trace` follows (memory O(chunk·d + n)).
    ``streaming=False`` stacks the rows and calls :func:`noise_scale_from_grads` (the reference;
    both agree to rounding).  Cost: ``backward_examples`` counts both passes.

    Raises
    ------
    BatchStatisticsError
        For BatchNorm in train mode: use :func:`crossnoise.ml.two_size.two_size_noise_scale`.

    Examples
    --------
    >>> import torch, torch.nn.functional as F
    >>> from torch import nn
    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(200, 3, generator=gen); y = (x[:, 0] > 0).long()
    >>> est = gradient_noise_scale(nn.Linear(3, 2), F.cross_entropy, x, y, batch_size=32)
    >>> est.b_simple > 0
    True
    """
    t0 = time.perf_counter()
    n = _validate_inputs(model, loss_fn, inputs, targets, batch_size, chunk_size)
    if not streaming:
        grads = per_example_grads(model, loss_fn, inputs, targets, chunk_size=chunk_size)
        return noise_scale_from_grads(grads, batch_size=batch_size, label=label, backward_examples=n,
                                      wall_s=time.perf_counter() - t0)
    mean, est = _streaming_norm_and_trace(model, loss_fn, inputs, targets, chunk_size)
    if est.mean_norm_sq <= 0:
        warn_degenerate(
            f"the gradient signal is not detectable over {n} examples (|G|² estimate {est.mean_norm_sq:.3g} ≤ 0); "
            "B_simple is reported as inf."
        )
    record = SignalNoise(
        signal=mean, per_sample_variance=est.trace, n_samples=n if batch_size is None else batch_size,
        sample_unit="example", signal_unit="loss/param", signal_norm_sq_estimate=est.mean_norm_sq,
        signal_norm_sq_se=est.mean_norm_sq_se, per_sample_variance_se=est.trace_se,
        covariance=float(est.covariance[0, 1]), label=label,
    )
    return NoiseScaleEstimate(record, "per-example", n, int(mean.size), 2 * n, time.perf_counter() - t0)


def _validate_inputs(model: nn.Module, loss_fn: LossFn, inputs: Any, targets: Any, batch_size: Any,
                     chunk_size: Any) -> int:
    check_per_example_ok(model)
    check_positive_int(chunk_size, "chunk_size")
    if batch_size is not None:
        check_positive_int(batch_size, "batch_size")
    if not isinstance(inputs, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise InputError(
            f"`inputs` and `targets` must be torch tensors; got {type(inputs).__name__} and {type(targets).__name__}."
        )
    n = int(inputs.shape[0])
    if targets.shape[0] != n:
        raise InputError(f"`inputs` and `targets` must have the same number of rows; got {n} and {targets.shape[0]}.")
    if n < 3:
        raise InputError(
            f"`inputs` needs at least 3 examples for a variance and its standard error; got {n}."
        )
    check_mean_loss(model, loss_fn, inputs, targets)
    return n


def _streaming_norm_and_trace(model: nn.Module, loss_fn: LossFn, inputs: torch.Tensor, targets: torch.Tensor,
                              chunk_size: int) -> tuple[np.ndarray, NormTraceEstimate]:
    """The statistics of :func:`crossnoise.stats.mean_norm_and_trace` without storing the n × d rows.

    Pure ``nn.Linear`` stacks: one backward pass gives ḡ, |g_i|² and g_i·ḡ through the layer
    identities of :mod:`crossnoise.ml.linear_norms`.  Otherwise pass 1 (plain backward, chunked)
    gives the mean gradient v = ḡ and pass 2 (vmap, chunked) keeps per example only |g_i|² and
    g_i·v, so memory is O(chunk·d + n).  With
    :math:`c_i = g_i - \\bar g`: :math:`|c_i|^2 = |g_i|^2 - 2g_i\\cdot\\bar g + |\\bar g|^2` and
    :math:`c_i\\cdot\\bar g = g_i\\cdot\\bar g - |\\bar g|^2`, which is all the closed-form jackknife
    needs.  (v and the mean of the float32 rows agree to float32 rounding.)
    """
    n = int(inputs.shape[0])
    try:  # pure Linear stacks: |g_i|² and g_i·ḡ from one backward pass (ml.linear_norms)
        v, sq, dot = linear_norms_and_dots(model, loss_fn, inputs, targets, chunk_size=max(chunk_size, 1024))
        return _jackknife_from_scalars(v, sq, dot, n)
    except NotApplicable:
        pass
    params = [p for p in model.parameters() if p.requires_grad]
    v = torch.zeros(sum(p.numel() for p in params), dtype=torch.float64)
    for start in range(0, n, chunk_size):
        xb, yb = inputs[start : start + chunk_size], targets[start : start + chunk_size]
        gs = torch.autograd.grad(loss_fn(model(xb), yb), params)
        v += torch.cat([g.reshape(-1) for g in gs]).to(torch.float64) * (xb.shape[0] / n)
    sq = torch.empty(n, dtype=torch.float64)
    dot = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, chunk_size):
        # rows in the model's dtype: the two reductions below are the only per-row work
        rows = per_example_grads(model, loss_fn, inputs[start : start + chunk_size],
                                 targets[start : start + chunk_size], chunk_size=chunk_size, dtype=None)
        sq[start : start + rows.shape[0]] = (rows * rows).sum(1).to(torch.float64)
        dot[start : start + rows.shape[0]] = (rows @ v.to(rows.dtype)).to(torch.float64)
    return _jackknife_from_scalars(v, sq, dot, n)


def _jackknife_from_scalars(v: torch.Tensor, sq: torch.Tensor, dot: torch.Tensor, n: int
                            ) -> tuple[np.ndarray, NormTraceEstimate]:
    """The closed-form jackknife of :func:`crossnoise.stats.mean_norm_and_trace` from ḡ, |g_i|², g_i·ḡ."""
    mean = v.numpy()
    msq = float(mean @ mean)
    return mean, norm_and_trace_from_centered(mean, (sq - 2 * dot + msq).numpy(), (dot - msq).numpy())
