import numpy as np
import pytest
from scipy.linalg import solve_banded

from crossnoise.bio.cells import cell_based_profiles, lognormal_factors, solve_tridiagonal_batched
from crossnoise.bio.solver import steady_state_numeric
from crossnoise.validation import InputError


def test_batched_thomas_matches_banded_solver_per_system():
    rng = np.random.default_rng(0)
    m, n = 7, 30
    lower = -rng.uniform(0.5, 1.5, (m, n))
    upper = -rng.uniform(0.5, 1.5, (m, n))
    diag = -lower - upper + rng.uniform(0.1, 1.0, (m, n))  # diagonally dominant
    rhs = rng.normal(size=(m, n))
    x = solve_tridiagonal_batched(lower, diag, upper, rhs)
    for e in range(m):
        ab = np.zeros((3, n))
        ab[0, 1:] = upper[e, :-1]
        ab[1] = diag[e]
        ab[2, :-1] = lower[e, 1:]
        assert np.allclose(x[e], solve_banded((1, 1), ab, rhs[e]), rtol=1e-12, atol=1e-12)


def test_uniform_cells_equal_the_finite_volume_model():
    """With CV 0 and one source cell, the cell model is the FV scheme on [−Δx, L] with flux j0."""
    D, k, j0, L, dx = 0.1, 2.5e-4, 1.0, 100.0, 2.5
    prof = cell_based_profiles(D, k, j0, L, cell_diameter=dx, kinetic_cv=0.0, n_embryos=2, rng=0)
    _, c = steady_state_numeric(D, k, j0, L + dx, n_cells=41)
    assert np.allclose(prof.c[0], c[1:], rtol=1e-10)
    assert np.allclose(prof.c[1], prof.c[0])


def test_kinetic_variability_spreads_profiles_and_is_reproducible():
    kw = dict(cell_diameter=5.0, kinetic_cv=0.3, source_cells=5, n_embryos=400)
    a = cell_based_profiles(0.033, 8.25e-5, 0.2, 200.0, rng=1, **kw)
    b = cell_based_profiles(0.033, 8.25e-5, 0.2, 200.0, rng=1, **kw)
    c = cell_based_profiles(0.033, 8.25e-5, 0.2, 200.0, rng=2, **kw)
    assert np.array_equal(a.c, b.c) and not np.array_equal(a.c, c.c)
    assert a.c.shape == (400, 40) and a.c_source.shape == (400, 5)
    cv = a.c.std(axis=0) / a.c.mean(axis=0)
    assert np.all(cv > 0.05)  # every cell varies between embryos
    assert np.all(a.c > 0)


def test_lognormal_factors_have_mean_one_and_the_cv():
    f = lognormal_factors(0.3, (200_000,), np.random.default_rng(3))
    # SE of the mean 0.3/√2e5 ≈ 7e-4; SE of the CV ≈ 0.3·√((e^{4s²}-…)) ~ 2e-3 → 5σ bounds
    assert f.mean() == pytest.approx(1.0, abs=4e-3)
    assert f.std() / f.mean() == pytest.approx(0.3, abs=0.012)


def test_bad_input():
    with pytest.raises(InputError, match="`kinetic_cv`"):
        cell_based_profiles(0.1, 1e-3, 1.0, 100.0, cell_diameter=5.0, kinetic_cv=-0.1)
    with pytest.raises(InputError, match="`embryos`"):
        cell_based_profiles(0.1, 1e-3, 1.0, 100.0, cell_diameter=5.0, kinetic_cv=0.1, n_embryos=0)
