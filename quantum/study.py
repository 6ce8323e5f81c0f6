"""The quantum domain's contribution to the cross-domain report: gradient SNR per shot.

At a fixed random θ of a hardware-efficient ansatz, R gradient estimates of each estimator at a
budget of B shots per gradient give the trace of the estimator's covariance, tr Cov(ĝ).  In the
:class:`~crossnoise.snr.SignalNoise` language (DESIGN §1, quantum row):

.. math::

    s = \\nabla E(\\theta)\\ \\text{(exact)},\\qquad V = B\\,\\operatorname{tr}\\operatorname{Cov}(\\hat g),
    \\qquad n = B\\ \\text{shots},

so SNR = |∇E|²·n/V and the noise scale V/|∇E|² is the number of shots per gradient that brings
the gradient SNR to 1.  For parameter shift V is the single-shot variance of the estimator
(σ²d² in the notation of :mod:`crossnoise.quantum.variance`); for SPSA it also contains the
direction part (d−1)|g|²·B, which does not shrink with shots — reading SPSA's "per shot" variance
at B shots is exactly what a user pays at that budget.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from crossnoise.quantum.ansatz import hardware_efficient
from crossnoise.quantum.gradients import exact_gradient, parameter_shift_plan, spsa_plan
from crossnoise.quantum.hamiltonian import build_hamiltonian
from crossnoise.quantum.molecules import molecule
from crossnoise.quantum.objective import EnergyObjective
from crossnoise.quantum.variance import component_variance
from crossnoise.rng import as_generator, spawn
from crossnoise.snr import SignalNoise
from crossnoise.study import DomainStudy, ProgressCallback
from crossnoise.validation import InputError

__all__ = ["report_study", "gradient_snr"]

# (molecule, HEA layers, budget per gradient, repeats) — default and quick
_CASES = {False: [("H2", 2, 20_000, 400), ("LiH", 2, 160_000, 200)], True: [("H2", 2, 20_000, 200)]}
_C = 0.2


def _values(obj: EnergyObjective, angles: np.ndarray, shots: int, rng: np.random.Generator, repeats: int
            ) -> np.ndarray:
    dist = obj.distributions_angles(angles)
    means, _ = dist.sample(obj.shots_per_group(shots), rng, repeats)
    return obj.grouped.constant + means.sum(axis=2)


def gradient_snr(name: str, layers: int, budget: int, repeats: int, *, rng: Any = None
                 ) -> tuple[list[SignalNoise], dict[str, Any]]:
    """SignalNoise records of parameter shift and SPSA gradients at one random θ.

    Returns the two records and a dict of details (d, θ seed stream, shots, circuits, the SPSA
    direction share of its variance).
    """
    spec = molecule(name)
    h = build_hamiltonian(spec)
    ansatz = hardware_efficient(h.n_qubits, h.n_electrons, layers, rz=True)
    obj = EnergyObjective(h, ansatz)
    d = ansatz.n_params
    if budget < 2 * d * obj.n_groups:
        raise InputError(f"`budget` must be at least {2 * d * obj.n_groups} shots for {name}; got {budget}.")
    g_theta, g_ps, g_sp = spawn(rng, 3)
    theta = g_theta.uniform(-np.pi, np.pi, d)
    g = exact_gradient(obj, theta)
    # parameter shift: B/(2d) shots on each of the 2d points, R repeats
    n_ps = budget // (2 * d)
    plan = parameter_shift_plan(ansatz, theta, n_ps)
    ps = plan.apply(_values(obj, ansatz.angles(plan.points), n_ps, g_ps, repeats))
    ps_var, ps_se = component_variance(ps)
    # SPSA: B/2 shots on θ ± cΔ, a fresh Δ per repeat; its direction part from exact energies
    n_sp = budget // 2
    splan = spsa_plan(theta, n_sp, c=_C, resamplings=repeats, rng=g_sp)
    ang = ansatz.angles(splan.points)
    vals = _values(obj, ang, n_sp, g_sp, 1)[0]
    sp = ((vals[0::2] - vals[1::2]) / (2 * _C))[:, None] * splan.directions
    sp_var, sp_se = component_variance(sp)
    ex = obj.exact_angles(ang)
    dir_var, _ = component_variance(((ex[0::2] - ex[1::2]) / (2 * _C))[:, None] * splan.directions)
    v_pts = obj.variance_angles(ang, n_sp)  # exact Var(Ê) at each SPSA point
    shot_var_theory = float(np.mean(v_pts[0::2] + v_pts[1::2]) / (4 * _C * _C))
    unit = {"sample_unit": "shot", "signal_unit": "Ha/rad"}
    records = [
        SignalNoise(g, budget * d * ps_var, budget, per_sample_variance_se=budget * d * ps_se,
                    label=f"{name} parameter-shift gradient (HEA d={d}, {budget} shots)", **unit),
        SignalNoise(g, budget * d * sp_var, budget, per_sample_variance_se=budget * d * sp_se,
                    label=f"{name} SPSA gradient (HEA d={d}, c={_C}, {budget} shots)", **unit),
    ]
    details = {
        "molecule": name, "d": d, "n_qubits": h.n_qubits, "n_groups": obj.n_groups, "budget": budget,
        "repeats": repeats, "grad_norm_sq": float(np.sum(g**2)),
        "spsa_direction_share": float(dir_var / sp_var) if sp_var > 0 else float("nan"),
        "spsa_direction_trace": float(d * dir_var), "spsa_shot_trace_theory": float(d * shot_var_theory), "spsa_trace": float(d * sp_var), "ps_trace": float(d * ps_var),
        "shots": repeats * plan.shots + splan.shots,
        "circuits": (repeats * plan.n_points + splan.n_points) * obj.n_groups,
    }
    return records, details


def _plot(records: list[SignalNoise], details: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    shots = np.logspace(1, 8, 200)
    for i, rec in enumerate(records):
        color = f"C{i}"
        det = details[i // 2]
        if i % 2 == 0:  # parameter shift: all of V is shot noise, SNR ∝ n
            snr = shots * rec.signal_norm_sq / rec.per_sample_variance
            label = f"{rec.label}: SNR 1 at {rec.noise_scale:.3g} shots"
        else:  # SPSA: the direction part does not shrink with shots
            shot_trace = det["spsa_shot_trace_theory"] * det["budget"]  # exact shot part, ∝ 1/n
            snr = rec.signal_norm_sq / (shot_trace / shots + det["spsa_direction_trace"])
            label = f"{rec.label}: SNR → {rec.signal_norm_sq / det['spsa_direction_trace']:.3g} (direction-limited)"
        feasible = shots >= (2 * det["d"] if i % 2 == 0 else 2) * det["n_groups"]  # ≥ 1 shot per group and point
        ax.plot(shots[feasible], snr[feasible], color=color, label=label)
        ax.errorbar([rec.n_samples], [rec.snr], yerr=[2 * (rec.snr_se or 0.0)], fmt="o", color=color)
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("shots per gradient")
    ax.set_ylabel("gradient SNR  |∇E|²·n / V")
    ax.set_title("VQE gradient signal-to-noise per shot (random θ, HEA)")
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report_study(*, quick: bool = False, rng: Any = None, out_dir: Path,
                 progress: ProgressCallback | None = None) -> DomainStudy:
    """Gradient SNR per shot for parameter shift and SPSA on H2 (and LiH unless ``quick``).

    Default ≈ 1.5 min on 2 cores; ``quick`` ≈ 20 s (H2 only).
    """
    t0 = time.perf_counter()
    gen = as_generator(rng)
    seed_state = gen.bit_generator.state if rng is None else None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = _CASES[bool(quick)]
    records: list[SignalNoise] = []
    details = []
    for i, (name, layers, budget, repeats) in enumerate(cases):
        recs, det = gradient_snr(name, layers, budget, repeats, rng=gen)
        records.extend(recs)
        details.append(det)
        if progress is not None:
            progress(i + 1, len(cases))
    figure = _plot(records, details, out / "quantum_gradient_snr.png")
    sentences = []
    for det, (ps, sp) in zip(details, zip(records[0::2], records[1::2])):
        ratio = sp.noise_scale / ps.noise_scale
        sentences.append(
            f"On {det['molecule']} ({det['n_qubits']} qubits, d = {det['d']}, {det['n_groups']} measurement groups) "
            f"at a random θ, a parameter-shift gradient reaches SNR 1 with {ps.noise_scale:.3g} ± "
            f"{ps.noise_scale_se:.2g} shots; for SPSA the same ratio V/|∇E|² is {sp.noise_scale:.3g} ± "
            f"{sp.noise_scale_se:.2g} (×{ratio:.3g}), and about {100 * det['spsa_direction_share']:.0f}% of SPSA's "
            f"variance at {det['budget']} shots comes from its random direction, not from shot noise."
        )
    sentences.append(
        "SPSA's shot-noise part is small and independent of d, but its direction part (about |∇E|² per component) "
        "does not shrink with shots, so one SPSA gradient's SNR saturates near 1/(d−1) however many shots it gets "
        "(its 'shots for SNR 1' is a formal V/|∇E|² at this budget, not reachable); SPSA's variance averages down "
        "over iterations instead, each costing 2 circuits per group rather than 2d."
    )
    return DomainStudy(
        domain="quantum",
        records=tuple(records),
        localization_unit="gradient norms",
        figure=figure,
        reading=" ".join(sentences),
        cost={"shots": sum(d["shots"] for d in details), "circuits": sum(d["circuits"] for d in details),
              "wall_s": time.perf_counter() - t0},
        config={"quick": bool(quick), "seed": rng if isinstance(rng, int) else None, "cases": [
            {"molecule": n, "layers": L, "budget": b, "repeats": r, "ansatz": "hea(RY+RZ, linear CZ)", "c": _C}
            for n, L, b, r in cases], "details": details, **({"rng_state": str(seed_state)} if seed_state else {})},
    )
