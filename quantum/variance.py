"""The variance study: SPSA vs parameter shift at a FIXED shot budget per gradient, as d grows.

For one molecule and a hardware-efficient ansatz with L layers (RY+RZ, d = 2·n·L), at a fixed θ
(a random point and the Hartree–Fock point θ = 0) and a budget of B shots per gradient:

- parameter shift: 2d points with ⌊B/(2d)⌋ shots each, repeated R times (same points);
- SPSA: 2 points θ ± cΔ with ⌊B/2⌋ shots each, a fresh Rademacher Δ per repeat (R repeats);
- SPSA shot part: Δ held fixed (J fixed directions, R repeats each): the variance from shots only;
- SPSA direction part: the R directions of the full run with EXACT energies: the variance from Δ.

Reported per d: the mean per-component variance of each (with its standard error), the bias
against the exact gradient, and the theory side by side (σ² the single-shot variance of the
energy estimator, :math:`V_m` the exact variance of the estimate at point m):

.. math::

    \\operatorname{Var}_{PS}(\\hat g_i) = \\tfrac14\\,[V(\\theta + \\tfrac{\\pi}{2}e_i) + V(\\theta - \\tfrac{\\pi}{2}e_i)]
        \\approx \\sigma^2 d / B,\\qquad
    \\operatorname{Var}_{shot}(\\hat g_i) = \\frac{V(\\theta + c\\Delta) + V(\\theta - c\\Delta)}{4c^2}
        \\approx \\frac{\\sigma^2}{c^2 B},

    \\operatorname{Var}_{dir}(\\hat g_i) = |g|^2 - g_i^2 + O(c^2)\\quad(\\text{mean over } i:\\ (d-1)|g|^2/d).

The "theory" columns use the exact :math:`V_m` at the points actually measured (so they are the
exact expectations, not the approximations), and the approximations are shown in the docs.
Slopes of log(variance per component) against log d come from a weighted least-squares fit
(weights from the standard errors); theory: 1 for parameter shift, 0 for SPSA's shot part.

References: Spall, IEEE TAC 37, 332 (1992); Harrow & Napp, PRL 126, 140502 (2021).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crossnoise.quantum.ansatz import hardware_efficient
from crossnoise.quantum.gradients import exact_gradient, parameter_shift_plan, spsa_plan
from crossnoise.quantum.hamiltonian import build_hamiltonian
from crossnoise.quantum.molecules import molecule
from crossnoise.quantum.objective import EnergyObjective
from crossnoise.rng import as_generator
from crossnoise.study import ProgressCallback
from crossnoise.validation import InputError, check_positive_float, check_positive_int

__all__ = ["VarianceRow", "VarianceStudy", "variance_study", "check_variance_inputs", "plot_variance_study", "fit_slope",
           "component_variance", "summarize"]


@dataclass(frozen=True, slots=True)
class VarianceRow:
    """One (d, θ) cell of the study.  Every variance is per component (mean over the d components)."""

    point: str
    layers: int
    d: int
    ps_shots_per_point: int
    spsa_shots_per_point: int
    ps_var_per_component: float
    ps_var_se: float
    spsa_var_per_component: float
    spsa_var_se: float
    spsa_shot_var_per_component: float
    spsa_shot_var_se: float
    spsa_direction_var_per_component: float
    spsa_direction_var_se: float
    ps_theory_per_component: float
    spsa_shot_theory_per_component: float
    spsa_direction_theory_per_component: float
    sigma2: float
    grad_norm_sq: float
    ps_bias_norm: float
    ps_bias_noise: float
    spsa_bias_norm: float
    spsa_bias_noise: float
    shots: int
    circuits: int

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class VarianceStudy:
    """All rows, the fitted slopes (value, SE) per θ point, and the cost."""

    molecule: str
    budget: int
    repeats: int
    c: float
    rows: tuple[VarianceRow, ...]
    slopes: dict[str, dict[str, tuple[float, float]]]
    shots: int
    circuits: int
    wall_s: float
    config: dict[str, Any] = field(default_factory=dict)

    def rows_for(self, point: str) -> list[VarianceRow]:
        return [r for r in self.rows if r.point == point]


def component_variance(samples: np.ndarray) -> tuple[float, float]:
    """Mean per-component variance (ddof=1) of R vector samples (R, d), and its standard error.

    With :math:`y_s = \\frac{1}{d}\\sum_i (x_{si} - \\bar x_i)^2`, the estimate is
    :math:`\\frac{R}{R-1}\\bar y` and its SE :math:`\\frac{R}{R-1}\\,\\mathrm{sd}(y)/\\sqrt R` — valid
    when the components are correlated (SPSA's share Δ), unlike a per-component χ² formula.
    """
    x = np.asarray(samples, dtype=float)
    r = x.shape[0]
    y = np.mean((x - x.mean(axis=0)) ** 2, axis=1)
    scale = r / (r - 1)
    return float(scale * y.mean()), float(scale * y.std(ddof=1) / math.sqrt(r))


def fit_slope(d: Any, var: Any, se: Any) -> tuple[float, float]:
    """Weighted least-squares slope of log(var) on log(d) and its standard error.

    σ(log var) = SE/var (delta method); the slope SE is from the weighted normal equations.
    Entries with var ≤ 0 are dropped; fewer than 2 points → (nan, nan).
    """
    d, v, s = (np.asarray(a, dtype=float) for a in (d, var, se))
    ok = (v > 0) & np.isfinite(v) & (s > 0)
    if ok.sum() < 2:
        return math.nan, math.nan
    x, y, w = np.log(d[ok]), np.log(v[ok]), (v[ok] / s[ok]) ** 2
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * (y - np.sum(w * y) / np.sum(w))) / sxx)
    return slope, float(1 / math.sqrt(sxx))


def _check(name: str, budget: Any, repeats: Any, layers: Any, c: Any, directions: Any) -> tuple:
    spec = molecule(name)
    b = check_positive_int(budget, "budget")
    r = check_positive_int(repeats, "repeats", minimum=3)
    if isinstance(layers, (int, np.integer)):
        layers = [layers]
    ls = [check_positive_int(v, "layers") for v in layers]
    if not ls or len(set(ls)) != len(ls):
        raise InputError(f"`layers` must be distinct positive integers; got {layers!r}.")
    c = check_positive_float(c, "c")
    j = check_positive_int(directions, "shot_directions")
    return spec, b, r, sorted(ls), c, j


def check_variance_inputs(molecule_name: str, *, budget: Any, repeats: Any, layers: Any, c: Any = 0.2,
                          points: Any = ("random", "hf"), shot_directions: Any = 4) -> tuple:
    """Validate the study's inputs (the Hamiltonian is built to know the number of groups)."""
    spec, b, r, ls, c, j = _check(molecule_name, budget, repeats, layers, c, shot_directions)
    if not points:
        raise InputError("`points` must name at least one of 'random', 'hf'; got none.")
    for p in points:
        if p not in ("random", "hf"):
            raise InputError(f"`points` entries must be 'random' or 'hf'; got {p!r}.")
    h = build_hamiltonian(spec)
    d_max = 2 * h.n_qubits * ls[-1]
    need = 2 * d_max * h.n_groups
    if b < need:
        raise InputError(
            f"`budget` must be at least {need} shots: one parameter-shift gradient at d = {d_max} has {2 * d_max} "
            f"points, each needing ≥ {h.n_groups} shots (one per measurement group); got {b}."
        )
    return spec, b, r, ls, c, j, h


def _values(obj: EnergyObjective, angles: np.ndarray, shots: int, rng: np.random.Generator, repeats: int
            ) -> np.ndarray:
    dist = obj.distributions_angles(angles)
    means, _ = dist.sample(obj.shots_per_group(shots), rng, repeats)
    return obj.grouped.constant + means.sum(axis=2)  # (repeats, P)


def variance_study(
    molecule_name: str = "H2",
    *,
    budget: int = 100_000,
    repeats: int = 200,
    layers: Any = (1, 2, 4, 8, 16),
    points: tuple[str, ...] = ("random", "hf"),
    c: float = 0.2,
    shot_directions: int = 4,
    rng: Any = None,
    progress: ProgressCallback | None = None,
) -> VarianceStudy:
    """Measure gradient-estimator variances against d at a fixed shot budget per gradient.

    Parameters
    ----------
    molecule_name : str
        A built-in molecule.
    budget : int
        Shots per gradient B (parameter shift: ⌊B/(2d)⌋ per point; SPSA: ⌊B/2⌋ per point).
    repeats : int
        R gradient estimates per estimator and d.
    layers : sequence of int
        HEA layers (RY+RZ, linear CZ): d = 2·n_qubits·L.
    points : tuple of {"random", "hf"}
        θ uniform in [−π, π]^d (drawn per L from ``rng``) and/or θ = 0 (Hartree–Fock).
    c : float
        SPSA perturbation size.
    shot_directions : int
        J fixed directions for SPSA's shot part (R repeats each).

    Raises
    ------
    InputError
        A budget below one parameter-shift gradient's cost at the largest d (2d points, each
        needing ≥ one shot per measurement group): the message gives the minimum.

    Examples
    --------
    >>> s = variance_study("H2", budget=4000, repeats=20, layers=[1, 2], points=("random",), rng=0)
    >>> [r.d for r in s.rows]
    [8, 16]
    """
    spec, b, r, ls, c, j, h = check_variance_inputs(molecule_name, budget=budget, repeats=repeats, layers=layers,
                                                     c=c, points=points, shot_directions=shot_directions)
    gen = as_generator(rng)
    k_groups = h.n_groups
    t0 = time.perf_counter()
    rows: list[VarianceRow] = []
    total = len(ls) * len(points)
    done = 0
    for L in ls:
        ansatz = hardware_efficient(h.n_qubits, h.n_electrons, L, rz=True)
        obj = EnergyObjective(h, ansatz)
        d = ansatz.n_params
        theta_random = gen.uniform(-np.pi, np.pi, d)
        for point in points:
            theta = theta_random if point == "random" else np.zeros(d)
            g = exact_gradient(obj, theta)
            # --- parameter shift: same 2d points, R independent shot draws
            n_ps = b // (2 * d)
            plan = parameter_shift_plan(ansatz, theta, n_ps)
            ang = ansatz.angles(plan.points)
            ps = plan.apply(_values(obj, ang, n_ps, gen, r))
            ps_var, ps_se = component_variance(ps)
            ps_theory = float(np.mean((plan.combine**2) @ obj.variance_angles(ang, n_ps)))
            # --- SPSA: a fresh Δ per repeat
            n_sp = b // 2
            splan = spsa_plan(theta, n_sp, c=c, resamplings=r, rng=gen)
            sang = ansatz.angles(splan.points)
            vals = _values(obj, sang, n_sp, gen, 1)[0]
            diffs = (vals[0::2] - vals[1::2]) / (2 * c)
            spsa = diffs[:, None] * splan.directions  # Rademacher: Δ⁻¹ = Δ
            sp_var, sp_se = component_variance(spsa)
            # direction part: the same Δs with exact energies
            ex = obj.exact_angles(sang)
            dex = ex[0::2] - ex[1::2]
            dex[np.abs(dex) < 1e-12 * max(1.0, float(np.max(np.abs(ex))))] = 0.0  # round-off of an exact zero
            sdir = (dex / (2 * c))[:, None] * splan.directions
            dir_var, dir_se = component_variance(sdir)
            dir_theory = float(np.sum(g**2) * (d - 1) / d)
            # shot part: J fixed directions, R shot draws each
            shot_vars, shot_ses, shot_theory = [], [], []
            for s in range(min(j, r)):
                a2 = sang[2 * s:2 * s + 2]
                v2 = _values(obj, a2, n_sp, gen, r)
                est = ((v2[:, 0] - v2[:, 1]) / (2 * c))[:, None] * splan.directions[s]
                sv, sse = component_variance(est)
                shot_vars.append(sv)
                shot_ses.append(sse)
                shot_theory.append(float(np.sum(obj.variance_angles(a2, n_sp)) / (4 * c * c)))
            shot_var = float(np.mean(shot_vars))
            shot_se = float(np.sqrt(np.sum(np.square(shot_ses))) / len(shot_ses))
            sigma2 = float(obj.single_shot_variance(theta[None, :])[0])
            ps_bias = float(np.linalg.norm(ps.mean(0) - g))
            sp_bias = float(np.linalg.norm(spsa.mean(0) - g))
            shots = r * plan.shots + splan.shots + len(shot_vars) * r * 2 * n_sp
            circuits = (r * plan.n_points + splan.n_points + len(shot_vars) * r * 2) * k_groups
            rows.append(VarianceRow(
                point, L, d, n_ps, n_sp, ps_var, ps_se, sp_var, sp_se, shot_var, shot_se, dir_var, dir_se,
                ps_theory, float(np.mean(shot_theory)), dir_theory, sigma2, float(np.sum(g**2)),
                ps_bias, float(math.sqrt(ps_var * d / r)), sp_bias, float(math.sqrt(sp_var * d / r)),
                int(shots), int(circuits),
            ))
            done += 1
            if progress is not None:
                progress(done, total)
    slopes: dict[str, dict[str, tuple[float, float]]] = {}
    for point in points:
        sel = [row for row in rows if row.point == point]
        ds = [row.d for row in sel]
        slopes[point] = {
            name: fit_slope(ds, [getattr(row, f"{name}_var_per_component") for row in sel],
                            [getattr(row, f"{name}_var_se") for row in sel])
            for name in ("ps", "spsa", "spsa_shot", "spsa_direction")
        }
    return VarianceStudy(
        spec.name, b, r, c, tuple(rows), slopes, sum(row.shots for row in rows), sum(row.circuits for row in rows),
        time.perf_counter() - t0,
        {"molecule": spec.name, "budget": b, "repeats": r, "layers": ls, "c": c, "points": list(points),
         "shot_directions": j, "ansatz": "hea(RY+RZ, linear CZ)", "allocation": "coefficient"},
    )


def plot_variance_study(study: VarianceStudy, path: Any) -> Any:
    """Log-log plot of per-component variance vs d (one panel per θ point), theory dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = list(study.slopes)
    fig, axes = plt.subplots(1, len(points), figsize=(6 * len(points), 4.5), squeeze=False)
    styles = [("ps", "parameter shift", "C0", "ps_theory_per_component"),
              ("spsa", "SPSA (total)", "C1", None),
              ("spsa_shot", "SPSA shot part (Δ fixed)", "C2", "spsa_shot_theory_per_component"),
              ("spsa_direction", "SPSA direction part", "C3", "spsa_direction_theory_per_component")]
    for ax, point in zip(axes[0], points):
        rows = study.rows_for(point)
        d = np.array([r.d for r in rows])
        for key, label, color, theory in styles:
            v = np.array([getattr(r, f"{key}_var_per_component") for r in rows])
            se = np.array([getattr(r, f"{key}_var_se") for r in rows])
            slope, sse = study.slopes[point][key]
            pos = v > 0
            if not pos.any():
                ax.text(0.02, 0.02, f"{label}: exactly 0 at every d", transform=ax.transAxes, fontsize=7, color=color)
                continue
            ax.errorbar(d[pos], v[pos], yerr=2 * se[pos], fmt="o-" if key != "spsa" else "s:", color=color,
                        capsize=3, markersize=8 if key == "spsa" else 5, mfc="none" if key == "spsa" else color,
                        label=f"{label}: slope {slope:.2f} ± {sse:.2f}")
            if theory is not None:
                tv = np.array([getattr(r, theory) for r in rows])
                if np.all(tv > 0):
                    ax.plot(d, tv, "--", color=color, alpha=0.7)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("parameters d (HEA layers × 2n)")
        ax.set_ylabel("variance per gradient component (Ha²/rad²)")
        name = "random θ" if point == "random" else "Hartree–Fock point θ = 0"
        ax.set_title(f"{study.molecule}, {name}\nbudget {study.budget} shots/gradient, R = {study.repeats}")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
    fig.text(0.5, 0.005, "dashed: exact theory at the measured points; bars: ±2 SE", ha="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def summarize(study: VarianceStudy) -> str:
    """Plain sentences stating what the study measured, including the parts that disagree."""
    out = []
    for point, rows in ((p, study.rows_for(p)) for p in study.slopes):
        sl = study.slopes[point]
        where = "a random θ" if point == "random" else "the Hartree–Fock point θ = 0"
        z_ps = max(abs(r.ps_var_per_component - r.ps_theory_per_component) / r.ps_var_se for r in rows)
        z_sh = max(abs(r.spsa_shot_var_per_component - r.spsa_shot_theory_per_component) / r.spsa_shot_var_se
                   for r in rows)
        out.append(
            f"At {where}: parameter shift's per-component variance grows as d^{sl['ps'][0]:.2f}±{sl['ps'][1]:.2f} "
            f"(theory d^1) and SPSA's shot part as d^{sl['spsa_shot'][0]:.2f}±{sl['spsa_shot'][1]:.2f} (theory d^0 at "
            f"fixed σ²); both match the exact theory at the measured points (max |z| {z_ps:.1f} and {z_sh:.1f}), so the "
            f"shot part's residual growth comes from σ² at θ±cΔ changing with d, not from d itself."
        )
        big = rows[-1]
        if big.grad_norm_sq > 0:
            share = big.spsa_direction_var_per_component / big.spsa_var_per_component
            ratio = big.spsa_var_per_component / big.ps_var_per_component
            lin = big.spsa_direction_var_per_component / big.spsa_direction_theory_per_component
            out.append(
                f"There SPSA's total is dominated by its direction part ({100 * share:.0f}% at d = {big.d}), so SPSA is "
                f"{ratio:.3g}× noisier per component than parameter shift at d = {big.d} and its total grows as "
                f"d^{sl['spsa'][0]:.2f}±{sl['spsa'][1]:.2f}. The direction part is {lin:.2f}× the linear prediction "
                f"(d−1)|g|²/d at d = {big.d}: with c√d = {study.c * math.sqrt(big.d):.2f} rad the difference quotient "
                f"is no longer linear, and SPSA's bias is {big.spsa_bias_norm:.3g} against a noise of "
                f"{big.spsa_bias_noise:.3g} (parameter shift: {big.ps_bias_norm:.3g} vs {big.ps_bias_noise:.3g})."
            )
        else:
            cross = [r.d for r in rows if r.spsa_var_per_component < r.ps_var_per_component]
            out.append(
                f"There the exact gradient is 0, SPSA has no direction part and its variance is its shot part; it is "
                f"below parameter shift's from d = {cross[0] if cross else 'never'} on "
                f"({big.ps_var_per_component / big.spsa_var_per_component:.3g}× at d = {big.d})."
            )
    out.append(
        "Verdict on 'SPSA's gradient variance is nearly independent of d, parameter shift's grows with it': true of the "
        "shot-noise parts measured here; SPSA's TOTAL variance is small and nearly d-independent only where the "
        "gradient vanishes — elsewhere its random-direction part (≈|g|² per component, not reduced by shots) dominates."
    )
    return " ".join(out)
