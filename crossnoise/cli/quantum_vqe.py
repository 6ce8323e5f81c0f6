"""``crossnoise quantum compare`` and ``crossnoise quantum scan``: optimizers under a shot budget.

Registered into the ``crossnoise quantum`` group by :mod:`crossnoise.cli.quantum`.  The domain
modules are imported inside the commands so that ``crossnoise --help`` stays fast.
"""

from __future__ import annotations

import json
import math
from typing import Any

import click

from crossnoise.cli.common import common_options, emit, out_dir, print_table, progress_reporter, to_jsonable
from crossnoise.validation import InputError

ALL_OPTIMIZERS = "spsa,qnspsa,2spsa,ps-gd,ps-adam,icans,cobyla,nelder-mead,powell"


def parse_count(value: str, name: str) -> int:
    """``"1e6"`` or ``"1000000"`` → 1000000; anything not a positive integer → InputError."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"`{name}` must be a positive integer (1e6 accepted); got {value!r}.") from None
    if not math.isfinite(x) or x < 1 or not float(x).is_integer():
        raise InputError(f"`{name}` must be a positive integer (1e6 accepted); got {value!r}.")
    return int(x)


def parse_floats(value: str, name: str) -> list[float]:
    try:
        vals = [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"`{name}` must be comma-separated numbers, e.g. 0.5,0.735,1.0; got {value!r}.") from None
    if not vals:
        raise InputError(f"`{name}` must list at least one number; got {value!r}.")
    return vals


def parse_seeds(value: str) -> Any:
    """``--seeds 5`` (seeds 0…4) or ``--seeds 3,7,11``; empty → InputError."""
    if not value.strip() or not value.strip(", "):
        raise InputError("`seeds` must be a positive count or a comma-separated list of seeds; got an empty list.")
    if "," in value:
        out = []
        for v in value.split(","):
            if v.strip():
                try:
                    out.append(int(v))
                except ValueError:
                    raise InputError(f"`seeds` must be integers; got {v!r}.") from None
        return out
    return parse_count(value, "seeds")


def _shots(value: str) -> Any:
    return "auto" if value == "auto" else parse_count(value, "shots")


def _fmt_err(x: float | None) -> str:
    return "—" if x is None else f"{1e3 * x:.3g}"


@click.command(name="compare")
@click.option("--molecule", default="H2", show_default=True, help="Built-in molecule (H2, LiH, BeH2, H2O).")
@click.option("--optimizers", default=ALL_OPTIMIZERS, show_default=True, help="Comma-separated optimizer names.")
@click.option("--budget", required=True, help="Total shots per run (e.g. 1e6), calibration and blocking included.")
@click.option("--seeds", default="5", show_default=True, help="A count K (seeds 0..K-1) or a list 3,7,11.")
@click.option("--engine", default="statevector", show_default=True, type=click.Choice(["statevector", "aer", "pennylane"]))
@click.option("--device", default="CPU", show_default=True, help="Aer device (CPU or GPU).")
@click.option("--ansatz", default="uccsd", show_default=True, type=click.Choice(["uccsd", "hea"]))
@click.option("--layers", default=4, show_default=True, type=int, help="HEA layers.")
@click.option("--shots", default="auto", show_default=True, help="Shots per energy evaluation, or auto.")
@click.option("--record-every", default=1, show_default=True, type=int, help="Trace every N-th iteration.")
@common_options
def compare(molecule: str, optimizers: str, budget: str, seeds: str, engine: str, device: str, ansatz: str,
            layers: int, shots: str, record_every: int, seed: int, as_json: bool, out: str | None) -> None:
    """Compare optimizers on one molecule under the same total shot budget (every seed, in process)."""
    from crossnoise.quantum.compare import check_seeds, compare_optimizers, parse_optimizers, plot_comparison

    names = parse_optimizers(optimizers)
    b = parse_count(budget, "budget")
    seed_list = check_seeds(parse_seeds(seeds))
    with progress_reporter(f"{molecule}: {len(names)} optimizers × {len(seed_list)} seeds",
                           len(names) * len(seed_list), enabled=True) as prog:
        comp = compare_optimizers(molecule, names, budget=b, seeds=seed_list, ansatz=ansatz, layers=layers,
                                  engine=engine, device=device, shots=_shots(shots), record_every=record_every,
                                  rng=seed, progress=prog)
    folder = out_dir(out)
    stem = f"compare_{comp.molecule}_{comp.ansatz.split('(')[0]}_{b:.0e}".replace("+", "")
    plot = plot_comparison(comp, folder / f"{stem}.png")
    traces = folder / f"{stem}_traces.json"
    traces.write_text(json.dumps(to_jsonable([{"optimizer": r.optimizer, "status": r.status,
                                                "shots_per_evaluation": r.shots_per_evaluation,
                                                "trace": r.trace_rows()} for r in comp.runs]), allow_nan=False))
    payload = {"molecule": comp.molecule, "e_exact": comp.e_exact, "e_hf": comp.e_hf, "n_qubits": comp.n_qubits,
               "ansatz": comp.ansatz, "n_params": comp.n_params, "engine": comp.engine, "budget": comp.budget,
               "seeds": comp.seeds, "seed": seed, "results": [s.row() for s in comp.summaries], "plot": str(plot),
               "traces": str(traces), "wall_s": comp.wall_s}

    def render(p: Any) -> None:
        rows = [{"optimizer": s.optimizer, "shots/eval": s.shots_per_evaluation,
                 "final err mHa (median)": _fmt_err(s.final_error_median),
                 "IQR mHa": f"{_fmt_err(s.final_error_iqr[0])}–{_fmt_err(s.final_error_iqr[1])}",
                 "within 1.6 mHa": f"{round(s.chem_acc_fraction * s.n_seeds)}/{s.n_seeds}",
                 "shots to 1.6 mHa (median)": "—" if s.shots_to_chem_acc_median is None else f"{s.shots_to_chem_acc_median:.3g}",
                 "shots used": f"{s.shots_used_median:.3g}", "iterations": f"{s.iterations_median:g}",
                 "circuits": f"{s.circuits_median:.3g}", "wall s": f"{s.wall_s_median:.2f}",
                 "status": ", ".join(f"{k}×{v}" for k, v in s.statuses)} for s in comp.summaries]
        print_table(f"{comp.molecule} ({comp.n_qubits} qubits, {comp.ansatz}, d={comp.n_params}), E_exact = "
                    f"{comp.e_exact:.8f} Ha, budget {comp.budget:.0e} shots, {comp.seeds} seeds", rows)
        click.echo(f"plot: {plot}\ntraces: {traces}")

    emit(payload, as_json, render)


@click.command(name="scan")
@click.option("--molecule", default="H2", show_default=True, help="H2 or LiH (any built-in with one bond length).")
@click.option("--optimizer", default="spsa", show_default=True, help="One optimizer name.")
@click.option("--budget", required=True, help="Total shots per bond length (e.g. 1e6).")
@click.option("--bond-lengths", default="0.5,0.6,0.735,0.9,1.1,1.4,1.8,2.2", show_default=True,
              help="Comma-separated bond lengths in Å.")
@click.option("--engine", default="statevector", show_default=True, type=click.Choice(["statevector", "aer", "pennylane"]))
@click.option("--ansatz", default="uccsd", show_default=True, type=click.Choice(["uccsd", "hea"]))
@click.option("--layers", default=4, show_default=True, type=int, help="HEA layers.")
@click.option("--shots", default="auto", show_default=True, help="Shots per energy evaluation, or auto.")
@common_options
def scan(molecule: str, optimizer: str, budget: str, bond_lengths: str, engine: str, ansatz: str, layers: int,
         shots: str, seed: int, as_json: bool, out: str | None) -> None:
    """VQE along a bond-length scan: the dissociation curve against exact and Hartree–Fock."""
    from crossnoise.quantum.compare import plot_scan, scan_bond_lengths
    from crossnoise.quantum.vqe import OPTIMIZERS
    from crossnoise.validation import check_choice

    check_choice(optimizer, "optimizer", OPTIMIZERS)
    b = parse_count(budget, "budget")
    lengths = parse_floats(bond_lengths, "bond_lengths")
    with progress_reporter(f"{molecule} scan ({optimizer})", len(lengths)) as prog:
        points = scan_bond_lengths(molecule, optimizer, budget=b, bond_lengths=lengths, ansatz=ansatz, layers=layers,
                                   engine=engine, shots=_shots(shots), rng=seed, progress=prog)
    folder = out_dir(out)
    plot = plot_scan(points, folder / f"scan_{molecule}_{optimizer}_{b:.0e}.png".replace("+", ""),
                     title=f"{molecule}: {optimizer}, {ansatz}, {b:.0e} shots per bond length")
    rows = [{"bond_length": p.bond_length, "e_exact": p.e_exact, "e_hf": p.e_hf, "e_vqe": p.e_vqe,
             "e_vqe_estimate": p.e_vqe_estimate, "e_vqe_estimate_se": p.e_vqe_estimate_se, "error": p.error,
             "status": p.status, "shots_used": p.shots_used} for p in points]
    payload = {"molecule": molecule, "optimizer": optimizer, "ansatz": ansatz, "budget": b, "seed": seed,
               "points": rows, "plot": str(plot)}

    def render(p: Any) -> None:
        print_table(f"{molecule} dissociation curve: {optimizer}, {b:.0e} shots per point",
                    [{"R (Å)": r["bond_length"], "E_exact": r["e_exact"], "E_HF": r["e_hf"], "E_VQE(θ)": r["e_vqe"],
                      "error mHa": 1e3 * r["error"], "status": r["status"]} for r in rows])
        click.echo(f"plot: {plot}")

    emit(payload, as_json, render)
