"""Intrinsic noise: the linear SDD model as a reaction–diffusion master equation on a 1-D lattice.

``n_sites`` compartments; molecules are produced at site 0 with rate ``production`` (molecules/s),
each molecule is degraded with rate ``degradation`` and hops to each neighbour with rate ``hop``
(:math:`= D/h^2`), the ends reflecting.  The mean obeys the discretised SDD model
(:func:`crossnoise.bio.solver.sdd_operator`) and, because every reaction is zero- or first-order,
the stationary distribution is a product of Poissons around it (Gardiner 2009, §7.7; Jahnke &
Huisinga 2007, J. Math. Biol. 54, 1): the Fano factor is 1 at every site.

Simulators, all vectorised over embryos:

- :func:`ssa_direct` — Gillespie's direct method (Gillespie 1977, J. Phys. Chem. 81, 2340):
  every embryo advances one reaction per sweep; reaction class then site are chosen with
  cumulative sums.
- :func:`ssa_particles` — an exact, event-by-event simulation of the same chain that uses the
  independence of molecules in a first-order network: every molecule is born at a uniformly
  distributed time of the Poisson production process and then jumps with exponential waiting
  times (hop or death) until it dies or the run ends; all molecules of all embryos advance one
  event per sweep.  The joint process is the CME process, so its statistics equal the direct
  method's (tested), at a fraction of the cost.
- :func:`tau_leap` — binomial tau-leaping (Tian & Burrage 2004, J. Chem. Phys. 121, 10356): in a
  step τ each molecule leaves its site with probability :math:`1 - e^{-(k + h_l + h_r)\\tau}`, split
  between death and the two hops in proportion to their rates; births are Poisson(pτ).
  Populations never go negative; the stationary law is still a product of Poissons (independent
  molecules), with O(τ) error in the means.

States are recorded at ``record_times``: array (n_embryos, len(record_times), n_sites).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.sparse.linalg import spsolve

from crossnoise.bio.solver import Grid, sdd_operator
from crossnoise.rng import RNGLike, as_generator
from crossnoise.study import ProgressCallback
from crossnoise.validation import (
    InputError,
    check_choice,
    check_finite_array,
    check_positive_float,
    check_positive_int,
)

__all__ = ["Lattice", "LatticeRun", "lattice_mean", "ssa_direct", "ssa_particles", "tau_leap", "FanoResult",
           "fano_test", "METHODS", "MIN_MEAN"]

METHODS = ("ssa", "particle", "tau")
MIN_MEAN = 1.0
"""Sites with fewer molecules than this on average are left out of the Fano summaries."""


@dataclass(frozen=True, slots=True)
class Lattice:
    """Rates of the lattice model: production at site 0 (1/s), per-molecule degradation and hop (1/s)."""

    n_sites: int
    production: float
    degradation: float
    hop: float

    def __post_init__(self) -> None:
        check_positive_int(self.n_sites, "sites", minimum=2)
        check_positive_float(self.production, "production")
        check_positive_float(self.degradation, "degradation")
        check_positive_float(self.hop, "hop")


def lattice_mean(lat: Lattice) -> np.ndarray:
    """Stationary mean molecules per site: :math:`0 = A m + p e_0` with A of the SDD scheme (h = 1, D = hop)."""
    A = sdd_operator(Grid(float(lat.n_sites), lat.n_sites), lat.hop, lat.degradation)
    b = np.zeros(lat.n_sites)
    b[0] = lat.production
    return spsolve(A, -b)


@dataclass(frozen=True, slots=True)
class LatticeRun:
    """States (n_embryos, n_times, n_sites) at ``record_times``; cost: events, sweeps, wall time."""

    record_times: np.ndarray
    states: np.ndarray
    method: str
    cost: dict[str, Any] = field(default_factory=dict)


def _validate(lat: Any, t_end: Any, n_embryos: Any, record_times: Any) -> tuple[Lattice, float, int, np.ndarray]:
    if not isinstance(lat, Lattice):
        raise InputError(f"`lattice` must be a crossnoise.bio.lattice.Lattice; got {type(lat).__name__}.")
    t_end = check_positive_float(t_end, "t_end")
    M = check_positive_int(n_embryos, "embryos")
    rec = np.array([t_end]) if record_times is None else check_finite_array(record_times, "record_times", ndim=1,
                                                                             min_rows=1)
    if np.any(rec < 0) or np.any(rec > t_end) or np.any(np.diff(rec) <= 0):
        raise InputError(f"`record_times` must increase within [0, t_end = {t_end:g}]; got {rec[:5].tolist()}...")
    return lat, t_end, M, rec


def ssa_direct(lat: Lattice, t_end: float, *, n_embryos: int = 1, record_times: Any = None,
               rng: RNGLike = None, progress: ProgressCallback | None = None) -> LatticeRun:
    """Gillespie's direct method for ``n_embryos`` independent lattices, started empty.

    .. math::

        a_0 = p + kS + h(S - X_{N-1}) + h(S - X_0),\\quad S = \\textstyle\\sum_i X_i,\\qquad
        \\Delta t \\sim \\mathrm{Exp}(a_0)

    The reaction class (birth, death, hop right, hop left) is chosen with probability
    proportional to its total propensity, then the site with probability proportional to its
    molecules (excluding the last/first site for right/left hops).
    """
    lat, t_end, M, rec = _validate(lat, t_end, n_embryos, record_times)
    g = as_generator(rng)
    start = time.perf_counter()
    N, p, k, h = lat.n_sites, lat.production, lat.degradation, lat.hop
    X = np.zeros((M, N), dtype=np.int64)
    t = np.zeros(M)
    ridx = np.zeros(M, dtype=np.int64)
    K = rec.size
    out = np.zeros((M, K, N), dtype=np.int64)
    rows = np.arange(M)
    active = np.ones(M, dtype=bool)
    events = sweeps = 0
    while active.any():
        idx = np.nonzero(active)[0]
        Xa = X[idx]
        S = Xa.sum(axis=1)
        a_r = h * (S - Xa[:, -1])
        a_l = h * (S - Xa[:, 0])
        a0 = p + k * S + a_r + a_l
        t_new = t[idx] + g.exponential(size=idx.size) / a0
        # record the current state at every record time passed by this waiting time
        while True:
            ri = ridx[idx]
            hit = ri < K
            hit[hit] = rec[ri[hit]] < t_new[hit]
            if not hit.any():
                break
            out[idx[hit], ri[hit]] = Xa[hit]
            ridx[idx[hit]] += 1
        go = t_new <= t_end
        t[idx] = t_new
        active[idx[~go]] = False
        idx, Xa, S, a_r, a_l, a0 = idx[go], Xa[go], S[go], a_r[go], a_l[go], a0[go]
        if idx.size == 0:
            break
        u = g.random(idx.size) * a0
        birth = u < p
        death = ~birth & (u < p + k * S)
        right = ~birth & ~death & (u < p + k * S + a_r)
        left = ~birth & ~death & ~right
        # site choice: proportional to X (death), X[:-1] (right), X[1:] (left)
        w = Xa.astype(float)
        w[right, -1] = 0.0
        w[left, 0] = 0.0
        cw = np.cumsum(w, axis=1)
        v = g.random(idx.size) * cw[:, -1]
        site = (cw <= v[:, None]).sum(axis=1)
        site = np.minimum(site, N - 1)
        site[birth] = 0
        Xa = Xa.copy()
        r = np.arange(idx.size)
        Xa[r[birth], 0] += 1
        Xa[r[death], site[death]] -= 1
        Xa[r[right], site[right]] -= 1
        Xa[r[right], site[right] + 1] += 1
        Xa[r[left], site[left]] -= 1
        Xa[r[left], site[left] - 1] += 1
        X[idx] = Xa
        events += int(idx.size)
        sweeps += 1
        if progress is not None and sweeps % 1000 == 0:
            progress(int(min(t.min(), t_end) / t_end * 1000), 1000)
    # record times at exactly t_end (or never passed) get the final state
    for j in range(K):
        pending = ridx <= j
        out[rows[pending], j] = X[pending]
    if progress is not None:
        progress(1000, 1000)
    return LatticeRun(rec, out, "ssa", {"events": events, "sweeps": sweeps, "wall_s": time.perf_counter() - start})


def _record_index(rec: np.ndarray) -> Any:
    """A function v -> index of the first record time ≥ v (arithmetic on a uniform grid)."""
    K = rec.size
    if K == 1:
        r0 = float(rec[0])
        return lambda v: (v > r0).astype(np.int64)
    step = float(rec[1] - rec[0])
    if np.allclose(np.diff(rec), step, rtol=1e-12, atol=0.0):
        r0 = float(rec[0])
        return lambda v: np.clip(np.ceil((v - r0) / step), 0, K).astype(np.int64)
    return lambda v: np.searchsorted(rec, v, side="left")


def ssa_particles(lat: Lattice, t_end: float, *, n_embryos: int = 1, record_times: Any = None,
                  rng: RNGLike = None, progress: ProgressCallback | None = None) -> LatticeRun:
    """Exact event-by-event simulation with independent molecules, started empty.

    Births: :math:`B_e \\sim \\mathrm{Poisson}(p\\,t_{end})` per embryo at i.i.d. uniform times in
    :math:`[0, t_{end}]` (a Poisson process).  Each molecule at site i then waits
    :math:`\\mathrm{Exp}(k + h_{l,i} + h_{r,i})` (:math:`h_{l,0} = h_{r,N-1} = 0`) and dies or hops in
    proportion to the rates.  Occupancy of every record time is accumulated with difference
    arrays along time.

    Examples
    --------
    >>> run = ssa_particles(Lattice(5, 10.0, 0.5, 1.0), 30.0, n_embryos=400, rng=0)
    >>> run.states.shape
    (400, 1, 5)
    >>> bool(18 < run.states[:, -1].sum(axis=1).mean() < 22)   # Poisson total, mean p/k = 20
    True
    """
    lat, t_end, M, rec = _validate(lat, t_end, n_embryos, record_times)
    g = as_generator(rng)
    start = time.perf_counter()
    N, p, k, h = lat.n_sites, lat.production, lat.degradation, lat.hop
    K = rec.size
    births = g.poisson(p * t_end, size=M)
    emb = np.repeat(np.arange(M), births)
    t = g.uniform(0.0, t_end, size=emb.size)
    site = np.zeros(emb.size, dtype=np.int64)
    plus: list[np.ndarray] = []
    minus: list[np.ndarray] = []
    events = sweeps = 0
    total = max(1, emb.size)
    first_at_or_after = _record_index(rec)
    k_lo = first_at_or_after(t)
    t_cap = np.nextafter(t_end, np.inf)
    h_left = np.full(N, h)
    h_left[0] = 0.0
    h_right = np.full(N, h)
    h_right[-1] = 0.0
    rate_tab = k + h_left + h_right
    left_tab = k + h_left  # u·rate below k: death; below k + h_left: hop left; else hop right
    cid = emb * ((K + 1) * N) + site  # flat (embryo, time 0, site) index, moves with the molecule
    while cid.size:
        rate = rate_tab[site]
        t_next = t + g.exponential(size=cid.size) / rate
        k_hi = first_at_or_after(np.minimum(t_next, t_cap))
        occ = k_hi > k_lo
        c_occ = cid[occ]
        plus.append(c_occ + k_lo[occ] * N)
        minus.append(c_occ + k_hi[occ] * N)
        go = t_next <= t_end
        cid, t, site, rate, k_lo = cid[go], t_next[go], site[go], rate[go], k_hi[go]
        u = g.random(cid.size) * rate
        alive = u >= k
        step = 2 * (u >= left_tab[site]) - 1
        events += int(cid.size)
        cid, t, site, k_lo, step = cid[alive], t[alive], site[alive], k_lo[alive], step[alive]
        site += step
        cid += step
        sweeps += 1
        if progress is not None:
            progress(total - cid.size, total)
    size = M * (K + 1) * N
    diff = np.bincount(np.concatenate(plus), minlength=size) if plus else np.zeros(size, dtype=np.int64)
    if minus:
        diff = diff - np.bincount(np.concatenate(minus), minlength=size)
    out = np.cumsum(diff.reshape(M, K + 1, N), axis=1)[:, :K, :]
    births_total = int(births.sum())
    return LatticeRun(rec, out, "particle", {"events": events + births_total, "sweeps": sweeps,
                                             "wall_s": time.perf_counter() - start})


def tau_leap(lat: Lattice, t_end: float, *, tau: float, n_embryos: int = 1, record_times: Any = None,
             rng: RNGLike = None, progress: ProgressCallback | None = None) -> LatticeRun:
    """Binomial tau-leaping with step ``tau`` (s), started empty; states at the step ≤ each record time.

    Per step and site: leaving :math:`L \\sim \\mathrm{Bin}(X, 1 - e^{-r\\tau})`, deaths
    :math:`\\sim \\mathrm{Bin}(L, k/r)`, the rest hop left or right in proportion to
    :math:`h_l, h_r`; births :math:`\\sim \\mathrm{Poisson}(p\\tau)` at site 0.
    """
    lat, t_end, M, rec = _validate(lat, t_end, n_embryos, record_times)
    tau = check_positive_float(tau, "tau")
    if tau * (lat.degradation + 2 * lat.hop) > 0.5:
        raise InputError(f"`tau` must keep (k + 2·hop)·τ ≤ 0.5 for a meaningful leap; got τ = {tau:g} s "
                         f"(limit {0.5 / (lat.degradation + 2 * lat.hop):.3g} s).")
    g = as_generator(rng)
    start = time.perf_counter()
    N, p, k, h = lat.n_sites, lat.production, lat.degradation, lat.hop
    hl = np.full(N, h)
    hl[0] = 0.0
    hr = np.full(N, h)
    hr[-1] = 0.0
    rate = k + hl + hr
    p_leave = -np.expm1(-rate * tau)
    p_die = k / rate
    p_left = hl / (hl + hr)
    steps = int(math.floor(t_end / tau + 1e-9))
    X = np.zeros((M, N), dtype=np.int64)
    K = rec.size
    out = np.zeros((M, K, N), dtype=np.int64)
    rec_steps = np.floor(rec / tau + 1e-9).astype(np.int64)
    j = 0
    while j < K and rec_steps[j] == 0:
        out[:, j] = X
        j += 1
    for s in range(1, steps + 1):
        leave = g.binomial(X, p_leave)
        die = g.binomial(leave, p_die)
        hop = leave - die
        go_left = g.binomial(hop, p_left)
        go_right = hop - go_left
        X = X - leave
        X[:, :-1] += go_left[:, 1:]
        X[:, 1:] += go_right[:, :-1]
        X[:, 0] += g.poisson(p * tau, size=M)
        while j < K and rec_steps[j] == s:
            out[:, j] = X
            j += 1
        if progress is not None and s % 100 == 0:
            progress(s, steps)
    while j < K:
        out[:, j] = X
        j += 1
    return LatticeRun(rec, out, "tau", {"steps": steps, "tau": tau, "wall_s": time.perf_counter() - start})


@dataclass(frozen=True, slots=True)
class FanoResult:
    """Per-site stationary statistics across embryos and their comparison with theory.

    ``fano`` = variance/mean (ddof = 1) per site, ``fano_se`` = √(2/M) (Poisson: to leading order
    :math:`\\operatorname{Var}(s^2/\\bar x) = 2/M` whatever the mean).  Summaries use the sites
    that hold at least :data:`MIN_MEAN` molecules on average (``used``; below that a site is mostly
    empty and its Fano factor is a ratio of few counts): ``mean_rel_error`` =
    :math:`\\sum|\\bar x_i - m_i| / \\sum m_i` over them, ``mean_z`` the largest
    :math:`|\\bar x_i - m_i|/\\sqrt{m_i/M}` over all sites.
    """

    method: str
    n_embryos: int
    mean: np.ndarray
    variance: np.ndarray
    expected_mean: np.ndarray
    fano: np.ndarray
    fano_se: float
    used: np.ndarray
    mean_rel_error: float
    mean_z: float
    cost: dict[str, Any] = field(default_factory=dict)

    @property
    def fano_z(self) -> np.ndarray:
        """(F − 1)/SE on the ``used`` sites."""
        return (self.fano[self.used] - 1.0) / self.fano_se

    def to_dict(self) -> dict[str, Any]:
        f = self.fano[self.used]
        return {"method": self.method, "embryos": self.n_embryos, "sites": int(self.mean.size),
                "sites_used": int(self.used.sum()),
                "fano_mean": float(f.mean()), "fano_min": float(f.min()),
                "fano_max": float(f.max()), "fano_se": self.fano_se,
                "fano_max_abs_z": float(np.max(np.abs(self.fano_z))),
                "mean_rel_error": self.mean_rel_error, "mean_max_abs_z": self.mean_z,
                "per_site": {"mean": self.mean.tolist(), "expected_mean": self.expected_mean.tolist(),
                             "fano": self.fano.tolist()},
                "wall_s": self.cost.get("wall_s"),
                "cost": {k: v for k, v in self.cost.items() if k != "wall_s"}}


def fano_test(lat: Lattice, *, n_embryos: int, method: str = "ssa", t_end: float | None = None,
              tau: float | None = None, rng: RNGLike = None, progress: ProgressCallback | None = None) -> FanoResult:
    """Run ``n_embryos`` lattices from empty to ``t_end`` (default 15/k: the slowest mode, rate ≥ k,
    has decayed by e⁻¹⁵) and compare the per-site statistics with the product-of-Poissons law.

    .. math:: F_i = s_i^2/\\bar x_i \\to 1,\\qquad \\bar x_i \\to m_i

    Examples
    --------
    >>> res = fano_test(Lattice(6, 20.0, 0.5, 1.0), n_embryos=1000, method="particle", rng=1)
    >>> bool(abs(res.fano.mean() - 1) < 0.1)
    True
    """
    if not isinstance(lat, Lattice):
        raise InputError(f"`lattice` must be a crossnoise.bio.lattice.Lattice; got {type(lat).__name__}.")
    method = check_choice(method, "method", METHODS)
    M = check_positive_int(n_embryos, "embryos")
    if M < 10:
        raise InputError(f"`embryos` must be at least 10 for per-site variances; got {M}.")
    t_end = 15.0 / lat.degradation if t_end is None else check_positive_float(t_end, "t_end")
    if method == "ssa":
        run = ssa_direct(lat, t_end, n_embryos=M, rng=rng, progress=progress)
    elif method == "particle":
        run = ssa_particles(lat, t_end, n_embryos=M, rng=rng, progress=progress)
    else:
        tau_ = 0.05 / (lat.degradation + 2 * lat.hop) if tau is None else tau
        run = tau_leap(lat, t_end, tau=tau_, n_embryos=M, rng=rng, progress=progress)
    x = run.states[:, -1, :].astype(float)
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    m = lattice_mean(lat)
    with np.errstate(divide="ignore", invalid="ignore"):
        fano = np.where(mean > 0, var / mean, np.nan)
    used = m >= MIN_MEAN
    if not used.any():
        raise InputError(f"no site holds {MIN_MEAN} molecule(s) on average (largest mean {m.max():.3g}); "
                         "raise `production` or lower `degradation`.")
    rel = float(np.abs(mean - m)[used].sum() / m[used].sum())
    return FanoResult(method, M, mean, var, m, fano, math.sqrt(2.0 / M), used, rel,
                      float(np.max(np.abs(mean - m) / np.sqrt(m / M))), run.cost)
