"""The optimizer comparison under one shot budget, and the dissociation-curve scan.

:func:`compare_optimizers` runs every (optimizer, seed) pair of VQE on one molecule, in process
(the seeds share the start point and the seed tree, so optimizers are compared on equal terms),
and summarises per optimizer across seeds:

- the final error E(θ_final) − e_exact: median and interquartile range (25th–75th percentile);
- the fraction of seeds within chemical accuracy (1.6 mHa) of e_exact, with its binomial
  standard error :math:`\\sqrt{p(1-p)/K}`;
- the shots to chemical accuracy (first trace point after which the error stays ≤ 1.6 mHa):
  the median over seeds, counting a seed that never gets there as +∞ (so the median exists only
  when at least half the seeds get there);
- circuits and wall time (medians).

:func:`plot_comparison` draws the error against shots used (median and IQR band across seeds on
a common log grid, log scales, chemical accuracy marked).  :func:`scan_bond_lengths` runs one
optimizer along a bond-length scan and :func:`plot_scan` draws the curve against exact and HF.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossnoise.quantum.vqe import (
    CHEMICAL_ACCURACY,
    OPTIMIZERS,
    VQEResult,
    check_bond_lengths,
    make_optimizer,
    make_problem,
    run_vqe,
)
from crossnoise.quantum.optim_base import check_budget
from crossnoise.rng import RNGLike, spawn_seeds
from crossnoise.validation import InputError, check_choice, check_positive_int, warn_degenerate

__all__ = ["OptimizerSummary", "Comparison", "compare_optimizers", "plot_comparison", "ScanPoint",
           "scan_bond_lengths", "plot_scan", "parse_optimizers", "check_seeds"]


@dataclass(frozen=True, slots=True)
class OptimizerSummary:
    """One optimizer's results across seeds (errors in Hartree)."""

    optimizer: str
    n_seeds: int
    shots_per_evaluation: int
    final_error_median: float
    final_error_iqr: tuple[float, float]
    chem_acc_fraction: float
    chem_acc_fraction_se: float
    shots_to_chem_acc_median: float | None
    shots_used_median: float
    iterations_median: float
    circuits_median: float
    wall_s_median: float
    statuses: tuple[tuple[str, int], ...]

    def row(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer, "final_error_median": self.final_error_median,
                "final_error_iqr": list(self.final_error_iqr), "chem_acc_fraction": self.chem_acc_fraction,
                "chem_acc_fraction_se": self.chem_acc_fraction_se,
                "shots_to_chem_acc_median": self.shots_to_chem_acc_median,
                "shots_used_median": self.shots_used_median, "iterations_median": self.iterations_median,
                "circuits_median": self.circuits_median, "wall_s_median": self.wall_s_median,
                "shots_per_evaluation": self.shots_per_evaluation, "statuses": dict(self.statuses)}


@dataclass(frozen=True, slots=True)
class Comparison:
    """All runs of a comparison and their per-optimizer summaries."""

    molecule: str
    ansatz: str
    engine: str
    n_qubits: int
    n_params: int
    e_exact: float
    e_hf: float
    budget: int
    seeds: int
    runs: tuple[VQEResult, ...]
    summaries: tuple[OptimizerSummary, ...]
    wall_s: float


def parse_optimizers(value: Any) -> list[str]:
    """``"spsa,ps-gd"`` or a list → validated names (the error lists the known ones)."""
    names = [s.strip() for s in value.split(",")] if isinstance(value, str) else list(value)
    names = [n for n in names if n]
    if not names:
        raise InputError(f"`optimizers` must name at least one of {', '.join(OPTIMIZERS)}; got none.")
    for n in names:
        check_choice(n, "optimizer", OPTIMIZERS)
    if len(set(names)) != len(names):
        raise InputError(f"`optimizers` must not repeat a name; got {','.join(names)}.")
    return names


def check_seeds(seeds: Any) -> list[int]:
    """An int K (seeds 0 … K−1) or a non-empty list of non-negative ints."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        k = check_positive_int(seeds, "seeds")
        return list(range(k))
    vals = list(seeds) if seeds is not None else []
    if not vals:
        raise InputError("`seeds` must be a positive count or a non-empty list of seeds; got an empty list.")
    return [check_positive_int(v, "seeds", minimum=0) for v in vals]


def _summarise(name: str, runs: list[VQEResult]) -> OptimizerSummary:
    err = np.array([r.final_error for r in runs])
    hits = np.array([r.within_chemical_accuracy for r in runs], dtype=float)
    p = float(hits.mean())
    to_ca = np.array([np.inf if r.shots_to_chemical_accuracy is None else r.shots_to_chemical_accuracy
                      for r in runs], dtype=float)
    med_ca = float(np.median(to_ca))
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    return OptimizerSummary(
        name, len(runs), runs[0].shots_per_evaluation, float(np.median(err)),
        (float(np.percentile(err, 25)), float(np.percentile(err, 75))), p, math.sqrt(p * (1 - p) / len(runs)),
        med_ca if math.isfinite(med_ca) else None,
        float(np.median([r.result.ledger.shots for r in runs])), float(np.median([r.result.iterations for r in runs])),
        float(np.median([r.result.ledger.circuits for r in runs])), float(np.median([r.result.wall_s for r in runs])),
        tuple(sorted(statuses.items())))


def compare_optimizers(molecule: Any = "H2", optimizers: Any = ("spsa", "ps-gd"), *, budget: int, seeds: Any = 5,
                       ansatz: str = "uccsd", layers: int = 4, engine: str = "statevector", device: str = "CPU",
                       shots: int | str = "auto", record_every: int = 1, rng: RNGLike = None,
                       progress: Callable[[int, int], None] | None = None) -> Comparison:
    """Run VQE with every optimizer and seed under the same shot budget.

    Parameters
    ----------
    molecule : str or MoleculeSpec
    optimizers : str or sequence of str
        Names from :data:`~crossnoise.quantum.vqe.OPTIMIZERS` (``"spsa,ps-gd"`` accepted).
    budget : int
        Total shots per run (calibration, blocking, line searches included).
    seeds : int or sequence of int
        K (seeds 0 … K−1) or explicit seeds; seed s gives every optimizer the same start point
        and the same root stream, spawned from ``(rng, s)``.
    rng : int or None
        Root of the seed tree; seed s runs from ``SeedSequence([rng, s])`` (None: fresh entropy).
    progress : callable, optional
        ``progress(runs_done, runs_total)``.

    Returns
    -------
    Comparison
    """
    names = parse_optimizers(optimizers)
    seed_list = check_seeds(seeds)
    if len(seed_list) == 1:
        warn_degenerate("one seed: the interquartile ranges are zero and the chemical-accuracy fraction is 0 or 1.")
    budget = check_positive_int(budget, "budget")
    problem = make_problem(molecule, ansatz=ansatz, layers=layers, engine=engine, device=device)
    for n in names:  # fail fast, before any run: the budget must pay for one iteration of each
        check_budget(make_optimizer(n, problem, budget=budget, shots=shots), problem.n_params, budget)
    root = np.random.SeedSequence().entropy if rng is None else rng
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)):
        raise InputError(f"`rng` of a comparison must be an int seed (the root of the seed tree); got {type(rng).__name__}.")
    t0 = time.perf_counter()
    total = len(names) * len(seed_list)
    runs: list[VQEResult] = []
    by_name: dict[str, list[VQEResult]] = {n: [] for n in names}
    done = 0
    for s in seed_list:
        for n in names:
            # a fresh SeedSequence per run: spawning from a shared one would advance its child
            # counter, making a run's stream depend on which optimizers ran before it
            seed_seq = np.random.SeedSequence([int(root), int(s)])
            r = run_vqe(problem, n, budget=budget, shots=shots, rng=np.random.default_rng(seed_seq),
                        record_every=record_every)
            runs.append(r)
            by_name[n].append(r)
            done += 1
            if progress is not None:
                progress(done, total)
    summaries = tuple(_summarise(n, by_name[n]) for n in names)
    return Comparison(problem.molecule, problem.ansatz.name, engine, problem.hamiltonian.n_qubits, problem.n_params,
                      problem.e_exact, problem.e_hf, budget, len(seed_list), tuple(runs), summaries,
                      time.perf_counter() - t0)


def _error_on_grid(run: VQEResult, grid: np.ndarray) -> np.ndarray:
    """Error of the latest trace point with shots ≤ grid value (NaN before the first point)."""
    shots = np.array([p.shots for p in run.trace], dtype=float)
    err = np.array([p.energy_exact for p in run.trace]) - run.e_exact
    idx = np.searchsorted(shots, grid, side="right") - 1
    out = np.where(idx >= 0, err[np.clip(idx, 0, None)], np.nan)
    return out


def plot_comparison(comparison: Comparison, path: str | Path) -> Path:
    """PNG: energy error vs shots used, median and IQR band across seeds, log–log, 1.6 mHa marked.

    Errors below 1e-7 Ha are drawn at 1e-7 (log scale); an HEA, which does not conserve the
    electron number, can dip below the sector's e_exact — such points are drawn at the floor too.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    first = [r.trace[1].shots for r in comparison.runs if len(r.trace) > 1 and r.trace[1].shots > 0]
    lo_shots = max(1.0, 0.5 * min(first)) if first else 1.0
    grid = np.unique(np.geomspace(lo_shots, comparison.budget, 300).astype(int)).astype(float)
    names = [s.optimizer for s in comparison.summaries]
    for name in names:
        runs = [r for r in comparison.runs if r.optimizer == name]
        curves = np.stack([_error_on_grid(r, grid) for r in runs])
        ok = np.sum(np.isfinite(curves), axis=0) == len(runs)
        if not ok.any():
            continue
        c = np.clip(curves[:, ok], 1e-7, None)
        med = np.median(c, axis=0)
        lo, hi = np.percentile(c, 25, axis=0), np.percentile(c, 75, axis=0)
        line, = ax.plot(grid[ok], med, label=name, lw=1.6)
        ax.fill_between(grid[ok], lo, hi, color=line.get_color(), alpha=0.18, lw=0)
    ax.axhline(CHEMICAL_ACCURACY, color="k", ls="--", lw=1, label="chemical accuracy (1.6 mHa)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("shots used")
    ax.set_ylabel("E(θ) − E_exact  [Ha]")
    ax.set_title(f"{comparison.molecule} ({comparison.n_qubits} qubits, {comparison.ansatz}, d = {comparison.n_params}), "
                 f"budget {comparison.budget:.0e}, {comparison.seeds} seeds: median and IQR", fontsize=9)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@dataclass(frozen=True, slots=True)
class ScanPoint:
    """One bond length of a scan: references and the VQE result (exact energy at θ_final)."""

    bond_length: float
    e_exact: float
    e_hf: float
    e_vqe: float
    e_vqe_estimate: float
    e_vqe_estimate_se: float
    error: float
    status: str
    shots_used: int


def scan_bond_lengths(molecule: str, optimizer: str, *, budget: int, bond_lengths: Any, ansatz: str = "uccsd",
                      layers: int = 4, engine: str = "statevector", shots: int | str = "auto", rng: RNGLike = None,
                      progress: Callable[[int, int], None] | None = None) -> list[ScanPoint]:
    """VQE along a bond-length scan (Quantum 1's ``bond_scan``), one run per length.

    Each length gets an independent stream spawned from ``rng``.  ``e_vqe`` is the exact
    energy at the returned θ; ``e_vqe_estimate`` the optimizer's last finite-shot estimate
    (NaN for methods that never estimate E(θ) itself).
    """
    from crossnoise.quantum.molecules import bond_scan

    check_choice(optimizer, "optimizer", OPTIMIZERS)
    budget = check_positive_int(budget, "budget")
    lengths = check_bond_lengths(bond_lengths)
    specs = bond_scan(molecule, lengths)
    seeds = spawn_seeds(rng, len(specs))
    out = []
    for i, (r, spec, ss) in enumerate(zip(lengths, specs, seeds)):
        problem = make_problem(spec, ansatz=ansatz, layers=layers, engine=engine)
        res = run_vqe(problem, optimizer, budget=budget, shots=shots, rng=np.random.default_rng(ss))
        out.append(ScanPoint(float(r), problem.e_exact, problem.e_hf, res.result.energy_exact, res.result.energy,
                             res.result.energy_se, res.final_error, res.status, res.result.ledger.shots))
        if progress is not None:
            progress(i + 1, len(specs))
    return out


def plot_scan(points: Sequence[ScanPoint], path: str | Path, *, title: str = "") -> Path:
    """PNG: the dissociation curve — exact, Hartree–Fock and VQE (with its error on a second axis)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    r = np.array([p.bond_length for p in points])
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(6.5, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    ax.plot(r, [p.e_exact for p in points], "k-", label="exact (qubit Hamiltonian)")
    ax.plot(r, [p.e_hf for p in points], "C7--", label="Hartree–Fock")
    ax.plot(r, [p.e_vqe for p in points], "C0o", label="VQE: E(θ_final)")
    est = np.array([p.e_vqe_estimate for p in points])
    if np.any(np.isfinite(est)):
        ax.errorbar(r, est, yerr=[2 * p.e_vqe_estimate_se for p in points], fmt="C1x", label="VQE estimate ± 2 SE")
    ax.set_ylabel("energy [Ha]")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    ax2.semilogy(r, np.clip([p.error for p in points], 1e-7, None), "C0o-")
    ax2.axhline(CHEMICAL_ACCURACY, color="k", ls="--", lw=1)
    ax2.set_ylabel("E(θ) − E_exact [Ha]")
    ax2.set_xlabel("bond length [Å]")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
