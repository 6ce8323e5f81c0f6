"""Experiment e — GraphSAGE neighbour sampling: gradient variance against fan-out s.

On an SBM graph (4 blocks, mean degree ≈ 30) a one-layer mean-aggregator GraphSAGE
(:mod:`crossnoise.ml.graphsage`) is briefly trained with full neighbourhoods, then, for a fixed
batch of target nodes and fixed parameters, the neighbour sample is redrawn R times at each
fan-out s.  Measured:

1. the sampling variance of the aggregated neighbour mean (summed over features, averaged over
   the batch) next to the formula :math:`\\frac{\\sigma_v^2}{s}\\frac{d_v - s}{d_v - 1}` (σ_v² the
   ddof-0 variance of v's neighbour features): their ratio should be 1 within its SE;
2. the trace of the covariance of the batch gradient over re-sampling (the noise neighbour
   sampling adds to SGD), and that trace divided by the formula's shape
   :math:`\\bar f(s) = \\mathrm{mean}_v\\,(d_v - s)/(s(d_v - 1))` — constant if the gradient
   responds linearly to the aggregation noise;
3. the wall time of one training step (sampling + forward + backward) at each s (median of
   repeats): the price of lower variance.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from crossnoise.rng import RNGLike, as_generator
from crossnoise.stats import mean_norm_and_trace
from crossnoise.validation import InputError, check_positive_int

from .experiment import ExperimentResult, new_figure, save_figure, single_thread
from .graphsage import GraphSAGE, aggregator_variance_formula, sample_neighbours, sampled_mean, sbm_graph
from .tasks import torch_generator
from .two_size import batch_grad

__all__ = ["run_graphsage", "plot_graphsage"]


class _Wrapped(torch.nn.Module):
    """GraphSAGE taking one (n, 2f) tensor so batch_grad's model(x) convention works."""

    def __init__(self, inner: GraphSAGE, f: int) -> None:
        super().__init__()
        self.inner = inner
        self.f = f

    def forward(self, xx: torch.Tensor) -> torch.Tensor:
        return self.inner(xx[:, : self.f], xx[:, self.f :])


def run_graphsage(
    *,
    quick: bool = False,
    rng: RNGLike = None,
    fanouts: Sequence[int] = (1, 2, 5, 10, 25),
    batch_nodes: int = 128,
    repeats: int | None = None,
    pretrain_steps: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> ExperimentResult:
    """Aggregator and gradient variance against fan-out, with the formula and the step time.

    A last row with ``fanout = "full"`` uses every neighbour (no sampling variance).
    """
    fos = sorted({check_positive_int(s, "fanouts") for s in fanouts})
    if not fos:
        raise InputError("`fanouts` must list at least one fan-out.")
    m = check_positive_int(batch_nodes, "batch_nodes", minimum=3)
    r_rep = check_positive_int(repeats if repeats is not None else (48 if quick else 200), "repeats", minimum=3)
    gen = as_generator(rng)
    g_seed, init_seed, batch_seed, samp_seed = gen.spawn(4)
    t0 = time.perf_counter()
    graph = sbm_graph(rng=g_seed)
    f = graph.features.shape[1]
    rows: list[dict] = []
    with single_thread():
        model = _Wrapped(GraphSAGE(f, 32, int(graph.labels.max()) + 1, gen=torch_generator(init_seed)), f)
        tgen = torch_generator(batch_seed)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        all_nodes = torch.arange(graph.n_nodes)
        full_idx, full_mask = sample_neighbours(graph, all_nodes, None, tgen)
        full_mean = sampled_mean(graph.features, full_idx, full_mask)
        xx_full = torch.cat([graph.features, full_mean], dim=1)
        for _ in range(pretrain_steps):  # a little training so the gradient is not that of random weights
            idx = torch.randint(0, graph.n_nodes, (64,), generator=tgen)
            opt.zero_grad()
            F.cross_entropy(model(xx_full[idx]), graph.labels[idx]).backward()
            opt.step()
        nodes = torch.randperm(graph.n_nodes, generator=tgen)[:m]
        deg = graph.degrees[nodes]
        # per-node ddof-0 variance of neighbour features, summed over features
        nb = graph.features[full_idx[nodes].clamp(min=0)]
        mask = full_mask[nodes][..., None].float()
        mu = (nb * mask).sum(1) / mask.sum(1)
        sigma2 = (((nb - mu[:, None, :]) ** 2) * mask).sum(1).sum(1) / mask.sum(1).squeeze(1)
        sgen = torch_generator(samp_seed)
        settings: list[int | None] = [*fos, None]
        for i, s in enumerate(settings):
            aggs, grads, times = [], [], []
            for _ in range(r_rep):
                t1 = time.perf_counter()
                idx, msk = sample_neighbours(graph, nodes, s, sgen)
                agg = sampled_mean(graph.features, idx, msk)
                gvec = batch_grad(model, F.cross_entropy, torch.cat([graph.features[nodes], agg], 1), graph.labels[nodes])
                times.append(time.perf_counter() - t1)
                aggs.append(agg.double())
                grads.append(gvec.numpy())
            a = torch.stack(aggs)  # (R, m, f)
            var_node = a.var(dim=0, unbiased=True).sum(dim=1)  # (m,) summed over features
            est = mean_norm_and_trace(np.stack(grads))
            if s is None:
                formula = torch.zeros(m, dtype=torch.float64)
                shape = 0.0
            else:
                formula = aggregator_variance_formula(sigma2.double(), deg, s)
                sv = torch.clamp(deg, max=s).double()
                shape = float(torch.where(deg > s, (deg - sv) / (sv * (deg - 1).clamp(min=1)), torch.zeros(m)).mean())
            measured, predicted = float(var_node.mean()), float(formula.mean())
            # SE of the batch-mean sample variance: each node's ddof-1 variance from R Gaussian-ish
            # draws has relative SD ≈ sqrt(2/(R−1)); the spread over nodes is taken as measured.
            var_se = float(torch.sqrt((var_node**2).mean() * 2 / (r_rep - 1) / m))
            rows.append({
                "fanout": "full" if s is None else s,
                "agg_var_measured": measured, "agg_var_measured_se": var_se, "agg_var_formula": predicted,
                "agg_ratio": measured / predicted if predicted > 0 else float("nan"),
                "grad_var_trace": est.trace, "grad_var_trace_se": est.trace_se,
                "formula_shape": shape, "grad_var_over_shape": est.trace / shape if shape > 0 else float("nan"),
                "step_ms": 1e3 * statistics.median(times),
            })
            if progress is not None:
                progress(i + 1, len(settings))
    ratios = [r["agg_ratio"] for r in rows if r["fanout"] != "full" and r["agg_var_formula"] > 0]
    over = [r["grad_var_over_shape"] for r in rows if r["fanout"] != "full" and r["formula_shape"] > 0]
    summary = {"agg_ratio_range": [min(ratios), max(ratios)] if ratios else None,
               "grad_var_over_shape_range": [min(over), max(over)] if over else None,
               "mean_degree": float(graph.degrees.double().mean()), "min_degree": int(graph.degrees.min()),
               "max_degree": int(graph.degrees.max())}
    cfg = {"fanouts": fos, "batch_nodes": m, "repeats": r_rep, "pretrain_steps": pretrain_steps, "quick": quick,
           "graph": "SBM 4×150, p_in 0.15, p_out 0.02, 16 features (block mean + N(0,1))",
           "model": "GraphSAGE mean aggregator, 1 layer, hidden 32"}
    return ExperimentResult("graphsage", tuple(rows), summary, cfg, time.perf_counter() - t0)


def plot_graphsage(result: ExperimentResult, path: str | Path) -> Path:
    """Left: aggregator variance vs s with the formula; right: gradient variance vs step time."""
    fig, (a1, a2) = new_figure(2)
    r = [q for q in result.rows if q["fanout"] != "full"]
    s = [q["fanout"] for q in r]
    a1.errorbar(s, [q["agg_var_measured"] for q in r], yerr=[q["agg_var_measured_se"] for q in r], fmt="o",
                label="aggregator: measured")
    a1.plot(s, [q["agg_var_formula"] for q in r], "-", label="(σ²/s)(d−s)/(d−1)")
    k = r[0]["grad_var_over_shape"]
    a1.errorbar(s, [q["grad_var_trace"] for q in r], yerr=[q["grad_var_trace_se"] for q in r], fmt="s",
                label="tr Cov(batch gradient)")
    a1.plot(s, [k * q["formula_shape"] for q in r], "--", label="formula shape, scaled at s=1")
    a1.set(xscale="log", yscale="log", xlabel="fan-out s", ylabel="variance", title="sampling variance vs fan-out")
    a1.legend(fontsize=7)
    a2.plot([q["step_ms"] for q in result.rows], [max(q["grad_var_trace"], 1e-12) for q in result.rows], "o-")
    for q in result.rows:
        a2.annotate(str(q["fanout"]), (q["step_ms"], max(q["grad_var_trace"], 1e-12)), fontsize=7)
    a2.set(yscale="log", xlabel="ms per step (sample + forward + backward)", ylabel="tr Cov(batch gradient)",
           title="variance against time")
    return save_figure(fig, path)
