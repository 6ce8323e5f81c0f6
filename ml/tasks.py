"""Tasks that ship offline: scikit-learn digits and breast cancer, with their models.

- ``digits-mlp``: 8×8 digits (1797 images, pixels /16), MLP 64-64-64-10, cross-entropy.
- ``digits-cnn``: the same images as (1, 8, 8), conv 8 → conv 16 → pool → linear 10.
- ``cancer-logreg``: breast cancer (569 × 30), standardized features, logistic regression
  (weights and bias) with binary cross-entropy.
- ``cancer-mlp``: the same data, MLP 30-32-1.

No download happens: the data sets are files inside scikit-learn.  Models are built on the
``meta`` device and initialised from a ``torch.Generator`` (PyTorch's default initialisation:
U(−1/√fan_in, 1/√fan_in) for weights and biases, i.e. kaiming_uniform with a = √5), so no global
random state is read or advanced.

Reference: Pedregosa et al., "Scikit-learn: Machine Learning in Python", JMLR 12 (2011);
He et al., ICCV 2015 (initialisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.rng import RNGLike, as_generator, derive_seed
from crossnoise.validation import check_choice

__all__ = [
    "TASKS",
    "Task",
    "torch_generator",
    "init_module",
    "load_digits",
    "load_cancer",
    "digits_mlp",
    "digits_cnn",
    "make_task",
    "binary_loss",
]

TASKS = ("digits-mlp", "digits-cnn", "cancer-logreg", "cancer-mlp")


def torch_generator(rng: RNGLike = None) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from the project's stream (:func:`crossnoise.rng.derive_seed`)."""
    return torch.Generator().manual_seed(derive_seed(as_generator(rng)))


def init_module(module: nn.Module, gen: torch.Generator) -> nn.Module:
    """Materialise ``module`` (possibly on ``meta``) on the CPU and initialise it from ``gen``.

    Linear and Conv layers: U(−1/√fan_in, 1/√fan_in) for weight and bias (PyTorch's default);
    BatchNorm: weight 1, bias 0, running statistics reset.
    """
    module = module.to_empty(device="cpu")
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            fan_in = m.weight[0].numel()
            bound = 1.0 / math.sqrt(fan_in)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=gen)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.reset_parameters()
    return module


@dataclass(frozen=True, slots=True)
class Task:
    """A model with its data and per-example loss (mean reduction).

    ``inputs``/``targets`` are the whole data set (the population that batches are drawn from);
    ``lr`` is a learning rate that trains it stably with plain SGD at batch 32.
    """

    name: str
    model: nn.Module
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    inputs: torch.Tensor
    targets: torch.Tensor
    lr: float

    @property
    def n_examples(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)


def load_digits(*, images: bool = False, classes: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn digits as float32 pixels in [0, 1] (flat (n, 64) or images (n, 1, 8, 8)).

    ``classes`` keeps only those digits and relabels them 0..k−1 in the order given.
    """
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    x = torch.tensor(d.data / 16.0, dtype=torch.float32)
    y = torch.tensor(d.target, dtype=torch.long)
    if classes is not None:
        keep = torch.isin(y, torch.tensor(classes))
        x, y = x[keep], y[keep]
        remap = torch.full((10,), -1, dtype=torch.long)
        remap[torch.tensor(classes)] = torch.arange(len(classes))
        y = remap[y]
    if images:
        x = x.reshape(-1, 1, 8, 8)
    return x, y


def load_cancer(*, standardize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn breast cancer (569 × 30) as float32; labels float {0, 1} (1 = benign).

    Raw features span ~1e-3 to ~4e3; ``standardize`` subtracts the mean and divides by the
    standard deviation of each feature over the whole set.
    """
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    x = np.asarray(d.data, dtype=np.float64)
    if standardize:
        x = (x - x.mean(axis=0)) / x.std(axis=0)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(d.target, dtype=torch.float32)


def binary_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy with logits; ``output`` (n, 1) or (n,), ``target`` (n,) in {0, 1}."""
    return F.binary_cross_entropy_with_logits(output.reshape(-1), target.reshape(-1).to(output.dtype))


def digits_mlp(*, hidden: int = 64, batchnorm: bool = False, n_out: int = 10, gen: torch.Generator) -> nn.Module:
    """MLP 64-h-h-n_out with ReLU (optionally BatchNorm1d after each hidden linear layer)."""
    layers: list[nn.Module] = []
    width = 64
    for _ in range(2):
        layers.append(nn.Linear(width, hidden, device="meta"))
        if batchnorm:
            layers.append(nn.BatchNorm1d(hidden, device="meta"))
        layers.append(nn.ReLU())
        width = hidden
    layers.append(nn.Linear(width, n_out, device="meta"))
    return init_module(nn.Sequential(*layers), gen)


def digits_cnn(*, gen: torch.Generator) -> nn.Module:
    """Conv(1→8, 3×3, pad 1) → ReLU → Conv(8→16, 3×3, pad 1) → ReLU → MaxPool 2 → Linear(256→10)."""
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, device="meta"), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1, device="meta"), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10, device="meta"),
    )
    return init_module(model, gen)


def make_task(name: str, *, rng: RNGLike = None) -> Task:
    """Build one of :data:`TASKS` with its model initialised from ``rng``.

    Examples
    --------
    >>> t = make_task("cancer-logreg", rng=0)
    >>> t.n_examples, t.n_params
    (569, 31)
    """
    check_choice(name, "task", TASKS)
    gen = torch_generator(rng)
    if name == "digits-mlp":
        x, y = load_digits()
        return Task(name, digits_mlp(gen=gen), F.cross_entropy, x, y, 0.1)
    if name == "digits-cnn":
        x, y = load_digits(images=True)
        return Task(name, digits_cnn(gen=gen), F.cross_entropy, x, y, 0.05)
    x, y = load_cancer(standardize=True)
    if name == "cancer-logreg":
        return Task(name, init_module(nn.Linear(30, 1, device="meta"), gen), binary_loss, x, y, 0.1)
    model = nn.Sequential(nn.Linear(30, 32, device="meta"), nn.ReLU(), nn.Linear(32, 1, device="meta"))
    return Task(name, init_module(model, gen), binary_loss, x, y, 0.1)
