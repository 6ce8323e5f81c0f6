"""``crossnoise quantum`` — molecules, finite-shot energies and the gradient-variance study.

Domain modules are imported inside the commands so that ``crossnoise --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from crossnoise.cli.common import common_options, emit, out_dir, print_table, progress_reporter
from crossnoise.validation import InputError


@click.group(name="quantum", help="VQE shot noise: molecules, energies, gradient variance, optimizers.")
def group() -> None:
    """VQE shot noise: molecules, energies, gradient variance, optimizers."""


def _int_list(text: str, name: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"`{name}` must be a comma-separated list of integers, e.g. 1,2,4; got {text!r}.") from None


@group.command("molecules")
@click.option("--names", default="H2,LiH,BeH2,H2O", show_default=True, help="Comma-separated built-in molecules.")
@common_options
def molecules(names: str, seed: int, as_json: bool, out: str | None) -> None:
    """Built-in molecules: qubits, Pauli terms, QWC groups, HF and exact energies (cached on disk)."""
    from crossnoise.quantum.hamiltonian import build_hamiltonian
    from crossnoise.quantum.molecules import molecule

    specs = [molecule(n.strip()) for n in names.split(",") if n.strip()]
    rows = []
    with progress_reporter("building Hamiltonians", len(specs)) as progress:
        for i, spec in enumerate(specs):
            h = build_hamiltonian(spec)
            rows.append({"name": spec.name, "n_qubits": h.n_qubits, "n_terms": h.n_terms, "n_groups": h.n_groups,
                         "n_electrons": h.n_electrons, "active_space": f"{spec.n_active_electrons}e/{spec.n_active_orbitals}o",
                         "e_hf": h.e_hf, "e_exact": h.e_exact, "correlation": h.e_exact - h.e_hf})
            progress(i + 1, len(specs))
    emit({"molecules": rows}, as_json,
         lambda p: print_table("Molecules (STO-3G, Jordan–Wigner; e_exact = ground energy of this qubit Hamiltonian "
                               "in the active-electron sector, Ha)", p["molecules"],
                               ["name", "n_qubits", "n_terms", "n_groups", "active_space", "e_hf", "e_exact"]))


@group.command("energy")
@click.option("--molecule", "molecule_name", default=None, help="Built-in molecule (H2, LiH, BeH2, H2O).")
@click.option("--geometry", default=None, help='User geometry in Å, e.g. "H 0 0 0; H 0 0 0.735".')
@click.option("--charge", type=int, default=None)
@click.option("--multiplicity", type=int, default=None)
@click.option("--basis", default=None, help="Basis set (default sto-3g).")
@click.option("--active-electrons", type=int, default=None)
@click.option("--active-orbitals", type=int, default=None)
@click.option("--ansatz", type=click.Choice(["hea", "uccsd"]), default="hea", show_default=True)
@click.option("--layers", type=int, default=1, show_default=True, help="HEA layers (RY+RZ, linear CZ).")
@click.option("--theta", "theta_kind", type=click.Choice(["hf", "random"]), default="hf", show_default=True,
              help="θ = 0 (Hartree–Fock) or uniform in [−π, π] from --seed.")
@click.option("--shots", type=str, required=True, help="Total shots per energy evaluation.")
@click.option("--engine", type=click.Choice(["statevector", "aer", "pennylane"]), default="statevector",
              show_default=True)
@click.option("--device", type=click.Choice(["CPU", "GPU"]), default="CPU", show_default=True, help="Aer device.")
@click.option("--pennylane-device", type=click.Choice(["default.qubit", "lightning.qubit"]), default="default.qubit",
              show_default=True, help="PennyLane device of --engine pennylane.")
@click.option("--method", type=click.Choice(["dhf", "pyscf"]), default=None,
              help="Hartree–Fock backend of PennyLane qchem (default dhf; pyscf needs PySCF).")
@click.option("--allocation", type=click.Choice(["coefficient", "uniform"]), default="coefficient", show_default=True)
@click.option("--exact", "want_exact", is_flag=True, help="Compute e_exact for a custom geometry too.")
@common_options
def energy(molecule_name: str | None, geometry: str | None, charge: int | None, multiplicity: int | None,
           basis: str | None, active_electrons: int | None, active_orbitals: int | None, ansatz: str, layers: int,
           theta_kind: str, shots: str, engine: str, device: str, pennylane_device: str, method: str | None,
           allocation: str, want_exact: bool, seed: int,
           as_json: bool, out: str | None) -> None:
    """One finite-shot energy estimate at θ with its standard error and cost."""
    import numpy as np

    from crossnoise.quantum.ansatz import hardware_efficient, random_theta, uccsd
    from crossnoise.quantum.engines import get_engine
    from crossnoise.quantum.hamiltonian import build_hamiltonian
    from crossnoise.quantum.molecules import custom_molecule, molecule, parse_geometry
    from crossnoise.quantum.objective import EnergyObjective
    from crossnoise.rng import spawn
    from crossnoise.validation import check_positive_int

    try:
        n_shots = int(shots)
    except ValueError:
        raise InputError(f"`shots` must be a positive integer; got {shots!r}.") from None
    n_shots = check_positive_int(n_shots, "shots")
    if (molecule_name is None) == (geometry is None):
        raise InputError("give exactly one of `--molecule` (H2, LiH, BeH2, H2O) or `--geometry`.")
    overrides: dict[str, Any] = {k: v for k, v in {"charge": charge, "multiplicity": multiplicity, "basis": basis,
                                 "active_electrons": active_electrons, "active_orbitals": active_orbitals,
                                 "method": method}.items()
                                 if v is not None}
    if molecule_name is not None:
        spec = molecule(molecule_name, **overrides)
        exact = True
    else:
        symbols, coords = parse_geometry(geometry)
        spec = custom_molecule(symbols, coords, **overrides)
        exact = want_exact
    eng = get_engine(engine, device=device, **({"device_name": pennylane_device} if engine == "pennylane" else {}))
    h = build_hamiltonian(spec, exact=exact)
    a = hardware_efficient(h.n_qubits, h.n_electrons, check_positive_int(layers, "layers"), rz=True) \
        if ansatz == "hea" else uccsd(h.n_qubits, h.n_electrons)
    obj = EnergyObjective(h, a, engine=eng, allocation=allocation)
    theta_rng, shot_rng = spawn(seed, 2)
    theta = np.zeros(a.n_params) if theta_kind == "hf" else random_theta(a, rng=theta_rng)
    batch = obj.evaluate(theta[None, :], n_shots, rng=shot_rng)
    payload = {
        "estimate": float(batch.values[0]), "standard_error": float(batch.standard_errors[0]),
        "shots": batch.shots, "circuits": batch.circuits, "e_exact": h.e_exact if exact else None, "e_hf": h.e_hf,
        "n_qubits": h.n_qubits, "energy_at_theta": float(obj.exact(theta[None, :])[0]),
        "molecule": spec.name, "ansatz": a.name, "n_params": a.n_params, "n_groups": obj.n_groups,
        "engine": {"aer": f"aer-{device}", "pennylane": f"pennylane-{pennylane_device}"}.get(engine, engine),
        "seed": seed,
    }
    emit(payload, as_json)


@group.command("variance")
@click.option("--molecule", "molecule_name", default="H2", show_default=True)
@click.option("--budget", type=str, default="100000", show_default=True, help="Shots per gradient (fixed across d).")
@click.option("--repeats", type=int, default=200, show_default=True, help="Gradient estimates per estimator and d.")
@click.option("--layers", default="1,2,4,8,16", show_default=True, help="HEA layers; d = 2·n_qubits·L.")
@click.option("--c", "c", type=float, default=0.2, show_default=True, help="SPSA perturbation size.")
@click.option("--points", default="random,hf", show_default=True, help="θ points: random, hf.")
@common_options
def variance(molecule_name: str, budget: str, repeats: int, layers: str, c: float, points: str, seed: int,
             as_json: bool, out: str | None) -> None:
    """Per-component gradient variance of parameter shift and SPSA against d at a fixed shot budget."""
    from crossnoise.quantum.variance import check_variance_inputs, plot_variance_study, summarize, variance_study

    try:
        b = int(budget)
    except ValueError:
        raise InputError(f"`budget` must be a positive integer; got {budget!r}.") from None
    ls = _int_list(layers, "layers")
    pts = tuple(p.strip() for p in points.split(",") if p.strip())
    check_variance_inputs(molecule_name, budget=b, repeats=repeats, layers=ls, c=c, points=pts)
    with progress_reporter("variance study", len(ls) * len(pts)) as progress:
        study = variance_study(molecule_name, budget=b, repeats=repeats, layers=ls, c=c, points=pts, rng=seed,
                               progress=progress)
    folder = out_dir(out)
    plot = plot_variance_study(study, folder / f"variance_{study.molecule}_B{study.budget}.png")
    main = "random" if "random" in study.slopes else pts[0]
    rows = [r.to_dict() for r in study.rows]
    payload = {
        "molecule": study.molecule, "budget": study.budget, "repeats": study.repeats, "c": study.c,
        "rows": rows,
        "ps_slope": study.slopes[main]["ps"][0], "spsa_slope": study.slopes[main]["spsa"][0],
        "spsa_shot_slope": study.slopes[main]["spsa_shot"][0],
        "slopes": {p: {k: {"slope": v[0], "se": v[1]} for k, v in s.items()} for p, s in study.slopes.items()},
        "slopes_point": main, "shots": study.shots, "circuits": study.circuits, "wall_s": study.wall_s,
        "plot": str(plot), "seed": seed, "reading": summarize(study),
    }

    def render(p: Any) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(width=max(Console().width, 210))
        cols = [("point", "point"), ("d", "d"), ("ps_var_per_component", "PS var"),
                ("ps_theory_per_component", "PS theory"), ("spsa_var_per_component", "SPSA var"),
                ("spsa_shot_var_per_component", "SPSA shot"), ("spsa_shot_theory_per_component", "shot theory"),
                ("spsa_direction_var_per_component", "SPSA dir"),
                ("spsa_direction_theory_per_component", "dir theory"), ("grad_norm_sq", "|g|²"),
                ("ps_bias_norm", "|PS bias|"), ("ps_bias_noise", "PS noise"), ("spsa_bias_norm", "|SPSA bias|"),
                ("spsa_bias_noise", "SPSA noise")]
        table = Table(title=f"{p['molecule']}: per-component gradient variance (Ha²/rad²) at {p['budget']} shots per "
                            f"gradient, R = {p['repeats']}, c = {p['c']} (bias: |mean − exact| vs its noise "
                            f"√(tr Var/R))")
        for _, label in cols:
            table.add_column(label, justify="right")
        for r in p["rows"]:
            cells = []
            for key, _ in cols:
                v = r[key]
                if key in ("point", "d"):
                    cells.append(str(v))
                else:
                    se = r.get(key.replace("_per_component", "_se"))
                    cells.append(f"{v:.3g}" + (f"±{se:.1g}" if se is not None and key.endswith("var_per_component")
                                               and v else ""))
            table.add_row(*cells)
        console.print(table)
        slopes = Table(title="log-log slope of variance per component vs d (theory: PS 1, SPSA shot part 0)")
        for c in ("point", "ps", "spsa", "spsa_shot", "spsa_direction"):
            slopes.add_column(c, justify="right")
        for pt, sl in p["slopes"].items():
            slopes.add_row(pt, *[("exactly 0 at every d" if k == "spsa_direction" and v["slope"] != v["slope"]
                                  else f"{v['slope']:.3f} ± {v['se']:.3f}")
                                 for k, v in sl.items()])
        console.print(slopes)
        console.print(f"plot: {p['plot']}  (shots {p['shots']:,}, circuits {p['circuits']:,}, {p['wall_s']:.1f} s)")
        console.print(p["reading"])

    emit(payload, as_json, render)


from crossnoise.cli.quantum_vqe import compare, scan  # noqa: E402

group.add_command(compare)
group.add_command(scan)
