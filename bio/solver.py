"""Time-dependent SDD gradients: finite volumes in space, BDF or Crank–Nicolson in time.

The tissue :math:`[0, L]` is cut into ``n_cells`` finite volumes of width :math:`h = L/N` with
centres :math:`x_i = (i + 1/2)h`.  With the source flux :math:`j_0` entering the first volume and
no flux leaving the last (method of lines),

.. math::

    \\frac{dc_i}{dt} = \\frac{D}{h^2}(c_{i-1} - 2c_i + c_{i+1}) - k c_i - \\alpha c_i^2
    + \\frac{j_0}{h}\\delta_{i0},\\qquad c_{-1} \\equiv c_0,\\; c_N \\equiv c_{N-1},

linear (``alpha = 0``) or with self-enhanced quadratic degradation.  The scheme is second order
in :math:`h` at the cell centres; :func:`convergence_order` measures that against
:mod:`crossnoise.bio.steady` and :func:`transient_semi_infinite`.

Time stepping: :func:`scipy.integrate.solve_ivp` with ``method="BDF"`` and the sparse
tridiagonal Jacobian (any degradation), or Crank–Nicolson with one sparse LU factorisation reused
for every step (linear only), started with four backward-Euler quarter steps (Rannacher 1984,
Numer. Math. 43, 309) so the switch-on of the source does not excite undamped oscillations.

The local accumulation time :math:`\\tau(x) = \\int_0^\\infty(1 - c(x,t)/c_s(x))\\,dt`
(Berezhkovskii et al. 2010) of the discretised linear model is exact linear algebra: with
:math:`\\dot c = Ac + b` and :math:`u = c_s - c`, :math:`\\int_0^\\infty u\\,dt = -A^{-1}c_s`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from scipy.sparse.linalg import splu, spsolve
from scipy.special import erfc

from crossnoise.validation import (
    InputError,
    check_choice,
    check_finite_array,
    check_positive_float,
    check_positive_int,
    warn_degenerate,
)

__all__ = [
    "Grid",
    "TimeSolution",
    "make_grid",
    "sdd_operator",
    "steady_state_numeric",
    "solve_sdd",
    "accumulation_time_numeric",
    "transient_semi_infinite",
    "ConvergenceResult",
    "convergence_order",
]


@dataclass(frozen=True, slots=True)
class Grid:
    """A uniform finite-volume grid on [0, L]: ``n_cells`` volumes of width ``h`` (µm)."""

    L: float
    n_cells: int

    @property
    def h(self) -> float:
        return self.L / self.n_cells

    @property
    def x(self) -> np.ndarray:
        """Cell centres (µm)."""
        return (np.arange(self.n_cells) + 0.5) * self.h


def make_grid(L: float, n_cells: int, *, decay_length: float | None = None) -> Grid:
    """A :class:`Grid`, warning when it has fewer than 4 volumes per decay length."""
    L = check_positive_float(L, "L")
    n = check_positive_int(n_cells, "n_cells", minimum=2)
    g = Grid(L, n)
    if decay_length is not None and g.h > decay_length / 4:
        warn_degenerate(
            f"grid too coarse for the decay length: h = {g.h:.3g} µm > λ/4 = {decay_length / 4:.3g} µm; "
            f"use n_cells ≥ {math.ceil(4 * L / decay_length)} for percent-level accuracy.", stacklevel=4)
    return g


def sdd_operator(grid: Grid, D: float, k: float) -> sp.csc_matrix:
    """The sparse linear operator A of :math:`\\dot c = Ac + b` (diffusion with no-flux ends, minus k)."""
    n, h = grid.n_cells, grid.h
    r = D / h**2
    main = np.full(n, -2.0 * r - k)
    main[0] += r
    main[-1] += r
    off = np.full(n - 1, r)
    return sp.diags([off, main, off], [-1, 0, 1], format="csc")


def _source(grid: Grid, j0: float) -> np.ndarray:
    b = np.zeros(grid.n_cells)
    b[0] = j0 / grid.h
    return b


def _validate(D: Any, k: Any, j0: Any, L: Any, n_cells: Any, alpha: Any) -> tuple[float, float, float, float, int, float]:
    D = check_positive_float(D, "D")
    k = check_positive_float(k, "k", allow_zero=alpha is not None and float(alpha) > 0)
    j0 = check_positive_float(j0, "j0")
    L = check_positive_float(L, "L")
    n = check_positive_int(n_cells, "n_cells", minimum=2)
    a = 0.0 if alpha is None else check_positive_float(alpha, "alpha", allow_zero=True)
    return D, k, j0, L, n, a


def steady_state_numeric(D: float, k: float, j0: float, L: float, *, n_cells: int,
                         alpha: float | None = None, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Steady state of the discretised model: ``(x, c)``.

    Linear: one sparse solve of :math:`Ac = -b`.  With quadratic degradation ``alpha``: Newton's
    method on :math:`F(c) = Ac - \\alpha c^2 + b` with Jacobian :math:`A - 2\\alpha\\,\\mathrm{diag}(c)`,
    started from the linear solution (or from the analytic power law when ``k = 0``).
    """
    D, k, j0, L, n, a = _validate(D, k, j0, L, n_cells, alpha)
    grid = make_grid(L, n, decay_length=math.sqrt(D / k) if k > 0 else None)
    A = sdd_operator(grid, D, k)
    b = _source(grid, j0)
    if a == 0.0:
        return grid.x, spsolve(A, -b)
    eps = (12.0 * D**2 / (a * j0)) ** (1.0 / 3.0)
    c = 6.0 * D / (a * (grid.x + eps) ** 2)
    for _ in range(100):
        F = A @ c - a * c**2 + b
        J = A - sp.diags(2.0 * a * c)
        step = spsolve(J.tocsc(), -F)
        c = np.maximum(c + step, 0.0)
        if np.max(np.abs(step)) <= tol * np.max(np.abs(c)):
            break
    else:  # pragma: no cover - Newton converges quadratically from the power-law start
        raise RuntimeError("Newton iteration for the self-enhanced steady state did not converge.")
    return grid.x, c


@dataclass(frozen=True, slots=True)
class TimeSolution:
    """c(x, t) on the grid.

    Attributes
    ----------
    x : (n_cells,) cell centres (µm); t : (n_t,) times (s); c : (n_t, n_cells) concentrations.
    method : "bdf" or "cn"; cost : right-hand-side / Jacobian evaluations, LU factorisations,
    steps and wall time.
    """

    x: np.ndarray
    t: np.ndarray
    c: np.ndarray
    method: str
    cost: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"TimeSolution(method={self.method!r}, n_cells={self.x.size}, n_t={self.t.size}, "
                f"t_end={self.t[-1]:.4g} s, wall_s={self.cost.get('wall_s', float('nan')):.3g})")


def solve_sdd(D: float, k: float, j0: float, L: float, *, n_cells: int, t_eval: Any,
              method: str = "bdf", alpha: float | None = None, dt: float | None = None,
              rtol: float = 1e-8, atol: float | None = None, c_init: Any = None) -> TimeSolution:
    """Solve the SDD model from ``c_init`` (default 0) and report it at times ``t_eval`` (s).

    .. math:: \\dot c = A c - \\alpha c^2 + b

    ``method="bdf"``: :func:`scipy.integrate.solve_ivp` (BDF) with the analytic sparse Jacobian.
    ``method="cn"``: Crank–Nicolson with step ``dt`` (default: min spacing of ``t_eval``/20),
    linear model only; every output time must be a multiple of ``dt``.

    Examples
    --------
    >>> sol = solve_sdd(0.1, 2.52e-4, 1.0, 200.0, n_cells=100, t_eval=[3600.0])
    >>> sol.c.shape
    (1, 100)
    """
    D, k, j0, L, n, a = _validate(D, k, j0, L, n_cells, alpha)
    method = check_choice(method, "method", ("bdf", "cn"))
    t_eval = check_finite_array(t_eval, "t_eval", ndim=1, min_rows=1)
    if np.any(t_eval < 0) or np.any(np.diff(t_eval) <= 0):
        raise InputError("`t_eval` must be non-negative and strictly increasing; got " f"{t_eval.tolist()[:6]}.")
    if method == "cn" and a > 0:
        raise InputError("`method` 'cn' solves the linear model only; use method='bdf' with `alpha` > 0.")
    grid = make_grid(L, n, decay_length=math.sqrt(D / k) if k > 0 else None)
    A = sdd_operator(grid, D, k)
    b = _source(grid, j0)
    c0 = np.zeros(n) if c_init is None else check_finite_array(c_init, "c_init", ndim=1)
    if c0.shape != (n,):
        raise InputError(f"`c_init` must have length n_cells = {n}; got {c0.shape[0]}.")
    start = time.perf_counter()
    if method == "bdf":
        scale = j0 * math.sqrt(D / k) / D if k > 0 else j0 * L / D
        atol_ = atol if atol is not None else 1e-10 * scale

        def rhs(_t: float, c: np.ndarray) -> np.ndarray:
            out = A @ c + b
            if a:
                out -= a * c * c
            return out

        def jac(_t: float, c: np.ndarray) -> sp.csc_matrix:
            return (A - sp.diags(2.0 * a * c)).tocsc() if a else A

        # linear model: the constant sparse Jacobian itself (BDF then never re-evaluates it)
        res = solve_ivp(rhs, (0.0, float(t_eval[-1])), c0, method="BDF", t_eval=t_eval, jac=jac if a else A,
                        rtol=rtol, atol=atol_)
        if not res.success:
            raise RuntimeError(f"solve_ivp failed: {res.message}")
        c = res.y.T
        cost = {"nfev": int(res.nfev), "njev": int(res.njev), "nlu": int(res.nlu)}
    else:
        c, cost = _crank_nicolson(A, b, c0, t_eval, dt)
    cost["wall_s"] = time.perf_counter() - start
    return TimeSolution(grid.x, t_eval.copy(), c, method, cost)


def _crank_nicolson(A: sp.csc_matrix, b: np.ndarray, c0: np.ndarray, t_eval: np.ndarray,
                    dt: float | None) -> tuple[np.ndarray, dict[str, Any]]:
    gaps = np.diff(np.concatenate([[0.0], t_eval]))
    positive = gaps[gaps > 0]
    if dt is None:
        dt = float(positive.min() / 20) if positive.size else 1.0
    dt = check_positive_float(dt, "dt")
    steps_at = np.rint(t_eval / dt).astype(np.int64)
    if np.any(np.abs(steps_at * dt - t_eval) > 1e-9 * max(1.0, float(t_eval[-1]))):
        raise InputError(f"`t_eval` must be multiples of `dt` = {dt:g} s for Crank–Nicolson.")
    n = A.shape[0]
    eye = sp.identity(n, format="csc")
    lu = splu((eye - 0.5 * dt * A).tocsc())
    rhs_m = (eye + 0.5 * dt * A).tocsr()
    # Rannacher start: the first two steps as four backward-Euler steps of dt/2, whose matrix
    # I - (dt/2)A is the Crank–Nicolson one, so the same factorisation serves both.
    out = np.empty((t_eval.size, n))
    c = c0.copy()
    step = 0
    j = 0
    while j < t_eval.size and steps_at[j] == 0:
        out[j] = c
        j += 1
    total = int(steps_at[-1])
    while step < total:
        if step < 2:
            for _ in range(2):
                c = lu.solve(c + 0.5 * dt * b)
        else:
            c = lu.solve(rhs_m @ c + dt * b)
        step += 1
        while j < t_eval.size and steps_at[j] == step:
            out[j] = c
            j += 1
    return out, {"steps": total, "nlu": 1, "dt": dt}


def accumulation_time_numeric(D: float, k: float, L: float, *, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Local accumulation time of the discretised linear model: ``(x, tau)`` in µm and s.

    .. math:: \\tau_i = \\frac{[-A^{-1}c_s]_i}{c_{s,i}},\\qquad c_s = -A^{-1}b,

    exact for the discrete system (it does not depend on :math:`j_0`).  On a long tissue it
    approaches :math:`(1 + x/\\lambda)/(2k)` (:func:`crossnoise.bio.steady.accumulation_time`).
    """
    D, k, _, L, n, _ = _validate(D, k, 1.0, L, n_cells, None)
    grid = make_grid(L, n, decay_length=math.sqrt(D / k))
    A = sdd_operator(grid, D, k)
    lu = splu(A)
    cs = lu.solve(-_source(grid, 1.0))
    return grid.x, lu.solve(-cs) / cs


def transient_semi_infinite(x: Any, t: float, D: float, k: float, j0: float) -> np.ndarray:
    """Exact c(x, t) of the semi-infinite SDD model switched on at t = 0 from c = 0.

    .. math::

        c(x,t) = \\frac{j_0}{2\\sqrt{Dk}}\\Big[e^{-x/\\lambda}\\operatorname{erfc}
        \\Big(\\frac{x}{2\\sqrt{Dt}} - \\sqrt{kt}\\Big) - e^{x/\\lambda}\\operatorname{erfc}
        \\Big(\\frac{x}{2\\sqrt{Dt}} + \\sqrt{kt}\\Big)\\Big]

    (Carslaw & Jaeger 1959, §2.9, flux boundary with first-order loss).
    """
    D = check_positive_float(D, "D")
    k = check_positive_float(k, "k")
    j0 = check_positive_float(j0, "j0")
    t = check_positive_float(t, "t")
    xs = check_finite_array(x, "x", ndim=(0, 1))
    lam = math.sqrt(D / k)
    u = xs / (2.0 * math.sqrt(D * t))
    v = math.sqrt(k * t)
    # e^{x/λ} erfc(u + v) overflows for large x; use the scaled erfcx when it does
    from scipy.special import erfcx

    second = np.exp(xs / lam - (u + v) ** 2) * erfcx(u + v)
    return j0 / (2.0 * math.sqrt(D * k)) * (np.exp(-xs / lam) * erfc(u - v) - second)


@dataclass(frozen=True, slots=True)
class ConvergenceResult:
    """Max-norm errors against an exact solution on successively refined grids.

    ``orders[i] = log(err[i]/err[i+1]) / log(n[i+1]/n[i])``; ``order`` is the last (finest) one.
    """

    n_cells: tuple[int, ...]
    errors: tuple[float, ...]
    orders: tuple[float, ...]
    case: str
    cost: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> float:
        return self.orders[-1]


def convergence_order(case: str = "steady", *, D: float = 0.1, k: float = 2.52e-4, j0: float = 1.0,
                      lam_per_L: float = 0.1, n_cells: tuple[int, ...] = (25, 50, 100, 200),
                      t: float | None = None, method: str = "bdf", alpha: float = 1e-3) -> ConvergenceResult:
    """Observed order of accuracy of the solver as the grid refines (expected: 2).

    Cases: ``"steady"`` (sparse solve vs the finite-domain cosh profile), ``"transient"``
    (time-dependent solve at ``t`` vs :func:`transient_semi_infinite` on a tissue 40λ long, with
    ``method`` "bdf" at tight tolerance or "cn" with dt ∝ h), ``"self-enhanced"`` (Newton steady
    state vs the power law, on a tissue long enough that the far end does not matter).
    """
    case = check_choice(case, "case", ("steady", "transient", "self-enhanced"))
    ns = tuple(check_positive_int(n, "n_cells", minimum=4) for n in n_cells)
    if len(ns) < 2 or any(b <= a for a, b in zip(ns, ns[1:])):
        raise InputError(f"`n_cells` must be at least two increasing grid sizes; got {n_cells}.")
    from crossnoise.bio.steady import self_enhanced_steady_state, steady_state

    lam = math.sqrt(D / k)
    errors = []
    start = time.perf_counter()
    for n in ns:
        if case == "steady":
            L = lam / lam_per_L
            x, c = steady_state_numeric(D, k, j0, L, n_cells=4 * n)  # h = 2.5λ/n as below
            exact = steady_state(x, D, k, j0, L)
            errors.append(float(np.max(np.abs(c - exact)) / exact[0]))
        elif case == "transient":
            L = 20.0 * lam  # the far end changes c(x < 5λ) by ~e^{-30}
            tt = 1.0 / k if t is None else float(t)
            m = 8 * n  # h = 2.5λ/n: n = 25 … 200 spans h = λ/10 … λ/80
            h = L / m
            dt = None
            if method == "cn":
                dt = tt / max(1, round(tt * k * lam / (0.5 * h)))  # k·dt = h/(2λ): both errors O(h²)
            sol = solve_sdd(D, k, j0, L, n_cells=m, t_eval=[tt], method=method, dt=dt, rtol=1e-11)
            near = sol.x < 5 * lam
            exact = transient_semi_infinite(sol.x[near], tt, D, k, j0)
            errors.append(float(np.max(np.abs(sol.c[-1, near] - exact)) / exact[0]))
        else:
            eps = (12.0 * D**2 / (alpha * j0)) ** (1.0 / 3.0)
            L = 2000.0 * eps
            # graded comparison window: the first 5ε, where the far end's effect is ~(5/2000)³
            x, c = steady_state_numeric(D, 0.0, j0, L, n_cells=n * 400, alpha=alpha)
            near = x < 5 * eps
            exact = self_enhanced_steady_state(x[near], D, alpha, j0)
            errors.append(float(np.max(np.abs(c[near] - exact)) / exact[0]))
    orders = tuple(math.log(e1 / e2) / math.log(n2 / n1) for (n1, e1), (n2, e2)
                   in zip(zip(ns, errors), zip(ns[1:], errors[1:])))
    return ConvergenceResult(ns, tuple(errors), orders, case, {"wall_s": time.perf_counter() - start})
