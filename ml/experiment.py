"""What every ml experiment returns, and the small helpers they share (threads, plotting).

An experiment is a function ``run_<name>(*, quick=False, rng=None, progress=None, ...)`` that
returns an :class:`ExperimentResult`: table rows (plain dicts of numbers and strings, each
quantity next to its standard error), a summary of what the numbers show, the configuration that
determines them (with the seed), and the cost.  ``plot_<name>(result, path)`` writes its PNG.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = ["ExperimentResult", "single_thread", "new_figure", "save_figure", "estimate_row"]


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    """Rows of a table with standard errors, a summary, its configuration and cost."""

    name: str
    rows: tuple[dict[str, Any], ...]
    summary: dict[str, Any]
    config: dict[str, Any]
    wall_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"experiment": self.name, "rows": [dict(r) for r in self.rows], "summary": dict(self.summary),
                "config": dict(self.config), "wall_s": self.wall_s, **self.extra}

    def columns(self) -> list[str]:
        cols: list[str] = []
        for r in self.rows:
            for k in r:
                if k not in cols:
                    cols.append(k)
        return cols


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (the machine is shared), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def new_figure(ncols: int = 1, *, width: float = 5.0, height: float = 3.8) -> tuple[Any, Any]:
    """A matplotlib figure on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def save_figure(fig: Any, path: str | Path) -> Path:
    """Save and close ``fig`` as PNG; returns the path."""
    import matplotlib.pyplot as plt

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, dpi=110)
    plt.close(fig)
    return p


def estimate_row(est: Any, prefix: str = "") -> dict[str, float]:
    """tr Σ, |G|², B_simple and their SEs of a NoiseScaleEstimate as table columns."""
    return {
        f"{prefix}trace_sigma": est.trace_sigma,
        f"{prefix}trace_sigma_se": est.trace_sigma_se,
        f"{prefix}grad_norm_sq": est.grad_norm_sq,
        f"{prefix}grad_norm_sq_se": est.grad_norm_sq_se,
        f"{prefix}b_simple": est.b_simple,
        f"{prefix}b_simple_se": est.b_simple_se,
    }


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (ddof=1) of finite values; nan when fewer than two."""
    v = [float(x) for x in values if math.isfinite(float(x))]
    if not v:
        return math.nan, math.nan
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, math.nan
    var = sum((x - m) ** 2 for x in v) / (len(v) - 1)
    return m, math.sqrt(var / len(v))


def pick(rows: Sequence[Mapping[str, Any]], **match: Any) -> list[Mapping[str, Any]]:
    """Rows whose fields equal ``match``."""
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]
