"""GraphSAGE in plain torch, with its own neighbour sampler, on a stochastic-block-model graph.

PyG's ``NeighborLoader`` needs pyg-lib or torch-sparse (not installable here), so the sampler is
written directly: the graph is a padded neighbour table (n × d_max, −1 for padding); sampling s
of the d_v neighbours of v *without replacement* gives every neighbour an i.i.d. uniform key and
keeps the s smallest (``topk``) — a uniformly random s-subset.  Nodes with d_v ≤ s keep all.

Mean aggregator (Hamilton, Ying & Leskovec, NeurIPS 2017):
:math:`h_v = \\mathrm{ReLU}(W_{self}x_v + W_{nb}\\,\\frac1s\\sum_{u\\in S(v)} x_u)`, then a
linear classifier.  For s of d neighbours drawn without replacement, the sampled mean of a
neighbour feature with (population, ddof 0) variance σ² over the d neighbours has

.. math:: \\operatorname{Var} = \\frac{\\sigma^2}{s}\\,\\frac{d - s}{d - 1}

(the finite-population correction; Cochran, *Sampling Techniques*, 1977, thm 2.2).

Graph: a stochastic block model (networkx ``stochastic_block_model``) with k blocks; node
features are the block's mean vector plus Gaussian noise; the label is the block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.rng import RNGLike, as_generator, derive_seed
from crossnoise.validation import InputError, check_positive_float, check_positive_int

from .tasks import init_module

__all__ = ["Graph", "sbm_graph", "sample_neighbours", "sampled_mean", "GraphSAGE", "aggregator_variance_formula"]


@dataclass(frozen=True, slots=True)
class Graph:
    """Node features (n, f), labels (n,), padded neighbour table (n, d_max) and degrees (n,)."""

    features: torch.Tensor
    labels: torch.Tensor
    neighbours: torch.Tensor
    degrees: torch.Tensor

    @property
    def n_nodes(self) -> int:
        return int(self.features.shape[0])


def sbm_graph(*, sizes: tuple[int, ...] = (150, 150, 150, 150), p_in: float = 0.15, p_out: float = 0.02,
              n_features: int = 16, feature_noise: float = 1.0, rng: RNGLike = None) -> Graph:
    """A stochastic-block-model graph with noisy block-mean features (isolated nodes removed).

    Examples
    --------
    >>> g = sbm_graph(sizes=(20, 20), p_in=0.5, p_out=0.05, rng=0)
    >>> g.features.shape[1], int(g.labels.max()) + 1
    (16, 2)
    """
    import networkx as nx

    if len(sizes) < 2:
        raise InputError(f"`sizes` must list at least 2 blocks; got {sizes!r}.")
    for s in sizes:
        check_positive_int(s, "sizes")
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0 <= p <= 1:
            raise InputError(f"`{name}` must be a probability in [0, 1]; got {p}.")
    check_positive_int(n_features, "n_features")
    check_positive_float(feature_noise, "feature_noise", allow_zero=True)
    gen = as_generator(rng)
    k = len(sizes)
    probs = [[p_in if i == j else p_out for j in range(k)] for i in range(k)]
    g = nx.stochastic_block_model(list(sizes), probs, seed=derive_seed(gen) % 2**32)
    labels = np.concatenate([np.full(s, i) for i, s in enumerate(sizes)])
    keep = np.array([g.degree(v) > 0 for v in range(g.number_of_nodes())])
    index = -np.ones(len(keep), dtype=int)
    index[keep] = np.arange(keep.sum())
    adj = [[index[u] for u in g.neighbors(v)] for v in range(len(keep)) if keep[v]]
    deg = np.array([len(a) for a in adj])
    table = -np.ones((len(adj), deg.max()), dtype=np.int64)
    for i, a in enumerate(adj):
        table[i, : len(a)] = a
    means = gen.normal(size=(k, n_features))
    feats = means[labels[keep]] + feature_noise * gen.normal(size=(int(keep.sum()), n_features))
    return Graph(torch.tensor(feats, dtype=torch.float32), torch.tensor(labels[keep], dtype=torch.long),
                 torch.tensor(table), torch.tensor(deg))


def sample_neighbours(graph: Graph, nodes: torch.Tensor, fanout: int | None, gen: torch.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """Uniform s-subsets of each node's neighbours without replacement (all when d_v ≤ s or s None).

    Returns (index (m, s_eff) with −1 padding, mask (m, s_eff) of valid entries).
    """
    table = graph.neighbours[nodes]
    valid = table >= 0
    if fanout is None or fanout >= table.shape[1]:
        return table, valid
    check_positive_int(fanout, "fanout")
    keys = torch.rand(table.shape, generator=gen)
    keys = torch.where(valid, keys, torch.full_like(keys, 2.0))  # padding sorts last
    pos = torch.topk(keys, fanout, dim=1, largest=False).indices
    idx = torch.gather(table, 1, pos)
    return idx, idx >= 0


def sampled_mean(features: torch.Tensor, idx: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``features`` over the valid sampled neighbours of each row."""
    f = features[idx.clamp(min=0)] * mask[..., None].to(features.dtype)
    return f.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1).to(features.dtype)


class GraphSAGE(nn.Module):
    """One mean-aggregator GraphSAGE layer and a linear classifier.

    ``forward(x_self, x_neigh_mean)`` takes the node's features and the (sampled) neighbour
    mean, so per-example gradients (one node = one example) work with ``torch.func``.
    """

    def __init__(self, n_features: int, hidden: int, n_classes: int, *, gen: torch.Generator) -> None:
        super().__init__()
        self.self_lin = nn.Linear(n_features, hidden, device="meta")
        self.neigh_lin = nn.Linear(n_features, hidden, bias=False, device="meta")
        self.out = nn.Linear(hidden, n_classes, device="meta")
        init_module(self, gen)

    def forward(self, x_self: torch.Tensor, x_neigh: torch.Tensor) -> torch.Tensor:
        return self.out(F.relu(self.self_lin(x_self) + self.neigh_lin(x_neigh)))


def aggregator_variance_formula(sigma2: torch.Tensor, degree: torch.Tensor, fanout: int) -> torch.Tensor:
    """(σ²/s)(d − s)/(d − 1) per node (0 where s ≥ d; s replaced by min(s, d))."""
    s = torch.clamp(degree, max=fanout).to(sigma2.dtype)
    d = degree.to(sigma2.dtype)
    out = sigma2 / s * (d - s) / (d - 1).clamp(min=1)
    return torch.where(degree > fanout, out, torch.zeros_like(out))
