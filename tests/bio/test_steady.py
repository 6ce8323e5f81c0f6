import math

import numpy as np
import pytest

from crossnoise.bio.steady import (
    accumulation_time,
    amplitude,
    decay_length,
    hindered_decay_length,
    self_enhanced_steady_state,
    steady_slope,
    steady_state,
    threshold_position,
)
from crossnoise.validation import InputError


def test_dpp_decay_length_and_accumulation_times_match_kicheva():
    """Must show: λ within 1% of 19.9 µm; τ ≈ 33 min at the source and ≈ 66 min at x = λ."""
    lam = decay_length(0.1, 2.52e-4)
    assert lam == pytest.approx(19.9, rel=0.01)
    tau0, tau_lam = accumulation_time([0.0, lam], 0.1, 2.52e-4) / 60
    assert tau0 == pytest.approx(33.0, abs=0.5)
    assert tau_lam == pytest.approx(66.0, abs=1.0)
    assert tau_lam == pytest.approx(2 * tau0)  # (1 + x/λ)/(2k) exactly doubles at x = λ


def test_finite_profile_solves_the_boundary_value_problem():
    D, k, j0, L = 0.3, 1e-3, 2.0, 60.0
    x = np.linspace(0, L, 2001)
    c = steady_state(x, D, k, j0, L)
    h = x[1] - x[0]
    # D c'' − k c = 0 inside (central differences: O(h²) ≈ 1e-7 relative)
    resid = D * (c[2:] - 2 * c[1:-1] + c[:-2]) / h**2 - k * c[1:-1]
    assert np.max(np.abs(resid)) < 1e-5 * k * c.max()
    assert -D * steady_slope(0.0, D, k, j0, L) == pytest.approx(j0)  # source flux
    assert steady_slope(L, D, k, j0, L) == pytest.approx(0.0, abs=1e-12)  # no flux at L
    assert c[0] == pytest.approx(amplitude(D, k, j0, L))


def test_long_tissue_reduces_to_semi_infinite():
    D, k, j0 = 0.1, 2.52e-4, 1.0
    x = np.linspace(0, 60, 7)
    lam = decay_length(D, k)
    # relative difference is e^{−2(L−x)/λ} ≤ e^{−2·(400−60)/19.9} ≈ 1e−15
    assert np.allclose(steady_state(x, D, k, j0, 400.0), steady_state(x, D, k, j0), rtol=1e-12)
    assert amplitude(D, k, j0) == pytest.approx(j0 * lam / D)


def test_threshold_position_inverts_profile_and_doubling_shifts_by_lambda_ln2():
    D, k, j0, L = 3.33, 1 / 3000, 1.0, 500.0
    theta = float(steady_state(240.0, D, k, j0, L))
    assert threshold_position(theta, D, k, j0, L) == pytest.approx(240.0, rel=1e-10)
    lam = decay_length(D, k)
    x1 = threshold_position(0.05, D, k, j0)
    x2 = threshold_position(0.05, D, k, 2 * j0)
    assert x2 - x1 == pytest.approx(lam * math.log(2), rel=1e-12)


def test_threshold_outside_range_names_the_range():
    with pytest.raises(InputError, match=r"threshold.*range"):
        threshold_position(1e6, 0.1, 2.52e-4, 1.0, 200.0)


def test_self_enhanced_power_law_satisfies_equation_and_flux():
    D, alpha, j0 = 0.1, 1e-3, 0.5
    x = np.linspace(0, 50, 5001)
    c = self_enhanced_steady_state(x, D, alpha, j0)
    h = x[1] - x[0]
    resid = D * (c[2:] - 2 * c[1:-1] + c[:-2]) / h**2 - alpha * c[1:-1] ** 2
    assert np.max(np.abs(resid)) < 1e-4 * alpha * c[0] ** 2
    slope0 = (-3 * c[0] + 4 * c[1] - c[2]) / (2 * h)
    assert -D * slope0 == pytest.approx(j0, rel=1e-4)


def test_hindered_diffusion_shortens_lambda():
    assert hindered_decay_length(1.0, 1.0, 0.0, 1.0) == pytest.approx(1.0)
    assert hindered_decay_length(1.0, 1.0, 3.0, 1.0) == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [{"D": 0}, {"k": -1.0}, {"j0": 0.0}, {"L": -5.0}])
def test_non_positive_parameters_rejected(bad):
    args = {"D": 0.1, "k": 1e-3, "j0": 1.0, "L": 100.0} | bad
    name = next(iter(bad))
    with pytest.raises(InputError, match=f"`{name}`"):
        steady_state(1.0, **args)


def test_positions_outside_tissue_rejected():
    with pytest.raises(InputError, match="`x`"):
        steady_state([-1.0, 2.0], 0.1, 1e-3, 1.0, 100.0)
