import math

import numpy as np
import pytest

from crossnoise.bio.noise import Multiplicative
from crossnoise.bio.patterning import pattern, positional_error_profile, positional_information_bits
from crossnoise.bio.presets import get_preset
from crossnoise.validation import InputError


@pytest.fixture(scope="module")
def bicoid():
    return pattern(get_preset("bicoid"), n_embryos=10_000, noise="cv:0.1", rng=2007)


def test_bicoid_sigma_x_is_ten_micrometres_and_prediction_in_ci(bicoid):
    """Must show: CV 0.1 → σx ≈ 10 µm (2% EL), the prediction inside the measured 95% CI.

    Prediction: σx = CV·|c/c'| = 0.1·λ·coth((L − x)/λ) = 10.11 µm at x = 240 µm.  The CI is the
    delta-method interval of σ_r/|slope| over 10⁴ embryos (≈ ±2%).
    """
    lo, hi = bicoid.sigma_x_measured_ci
    assert bicoid.sigma_x_predicted == pytest.approx(10.0, rel=0.02)
    assert lo <= bicoid.sigma_x_predicted <= hi
    assert bicoid.sigma_x_measured / 500.0 == pytest.approx(0.02, rel=0.05)
    assert bicoid.n_embryos == 10_000


def test_bicoid_boundary_sd_matches_its_prediction(bicoid):
    """Sorted-fate boundary: Var = Δx²Σp(1−p) for independent cells, exact; 95% CI must hold it
    (widened by 1 SE for the discreteness of x_b, whose SE formula is approximate)."""
    lo, hi = bicoid.boundary_sd_ci
    se = bicoid.boundary_sd_se
    assert lo - se <= bicoid.boundary_sd_predicted <= hi + se
    assert bicoid.boundary_mean == pytest.approx(240.0, abs=5 * bicoid.boundary_mean_se + 1.0)
    assert 0 < bicoid.boundary_width_cells < 1.0


def test_doubling_production_shifts_boundary_by_lambda_ln2():
    """Must show: Δx_b = λ ln 2 within the ensemble SE.  ra-hindbrain: L − x_b = 4λ, so the finite
    tissue changes the shift by a factor 1/tanh(4)−1 ≈ 7e-4 (0.02 µm ≪ SE ≈ 0.14 µm); the
    lognormal readout makes P(r > θ) a function of x − x_θ only, so the sorted-fate boundary
    translates exactly.  Tolerance: 3 SE of the difference of two independent means."""
    p = get_preset("ra-hindbrain")
    one = pattern(p, n_embryos=10_000, rng=11)
    two = pattern(p, n_embryos=10_000, production_scale=2.0, rng=12)
    shift = two.boundary_mean - one.boundary_mean
    se = math.hypot(one.boundary_mean_se, two.boundary_mean_se)
    assert abs(shift - p.lambda_um * math.log(2)) < 3 * se
    assert se < 0.2


def test_time_averaging_sharpens_as_one_over_sqrt_n():
    p = get_preset("ra-hindbrain")
    r1 = pattern(p, n_embryos=10_000, rng=1)
    r4 = pattern(p, n_embryos=10_000, n_time=4, rng=2)
    ratio = r1.sigma_x_measured / r4.sigma_x_measured
    se = ratio * math.hypot(r1.sigma_x_measured_se / r1.sigma_x_measured, r4.sigma_x_measured_se / r4.sigma_x_measured)
    assert abs(ratio - 2.0) < 3 * se
    assert r4.boundary_width_cells < r1.boundary_width_cells
    assert r4.record.n_samples == 4
    assert r4.record.localization_error == pytest.approx(r4.sigma_x_cells, rel=0.02)


def test_embryo_to_embryo_formula_for_amplitude_noise():
    """No readout noise, amplitude CV 0.1: x_b = λ ln(A c0/θ) so σ = λ·σ(ln A) ≈ 9.98 µm (up to
    the finite-tissue factor coth); the sorted-fate boundary adds the Δx staircase, which the
    quadrature prediction includes."""
    p = get_preset("bicoid", cv_amplitude=0.1)
    res = pattern(p, n_embryos=10_000, noise="none", rng=3)
    assert res.sigma_x_embryo_predicted == pytest.approx(100 * math.sqrt(math.log1p(0.01)), rel=0.02)
    lo, hi = res.boundary_sd_ci
    assert lo <= res.boundary_sd_predicted <= hi
    lo, hi = res.sigma_x_measured_ci
    assert lo <= res.sigma_x_predicted <= hi


def test_positional_information_and_profile_against_direct_formulas():
    assert positional_information_bits(500.0, 10.0) == pytest.approx(math.log2(500 / (math.sqrt(2 * math.pi * math.e) * 10)))
    rng = np.random.default_rng(0)
    x = np.arange(10) * 2.0 + 1.0
    r = 100 * np.exp(-x / 10.0) * (1 + 0.1 * rng.standard_normal((4000, 10)))
    prof = positional_error_profile(x, r)
    mean = r.mean(axis=0)
    direct = r.std(axis=0, ddof=1)[1:-1] / np.abs((mean[2:] - mean[:-2]) / 4.0)
    assert np.allclose(prof.sigma_x, direct, rtol=1e-12)


def test_same_seed_same_numbers_and_custom_noise():
    p = get_preset("dpp")
    a = pattern(p, n_embryos=500, rng=4)
    b = pattern(p, n_embryos=500, rng=4)
    c = pattern(p, n_embryos=500, rng=5)
    assert a.boundary_sd == b.boundary_sd and a.sigma_x_measured == b.sigma_x_measured
    assert a.sigma_x_measured != c.sigma_x_measured
    model = Multiplicative(0.2)
    custom = pattern(p, n_embryos=2000, noise=lambda cc, *, rng: model(cc, rng=rng), rng=1)
    assert custom.sigma_x_predicted is None and custom.sigma_x_measured > 0


def test_cell_based_preset_runs_without_a_closed_form():
    res = pattern(get_preset("shh-neural-tube"), n_embryos=5000, rng=0)
    assert res.sigma_x_predicted is None and res.boundary_sd > 0
    assert res.boundary_mean == pytest.approx(40.0, abs=10.0)


def test_bad_input():
    p = get_preset("bicoid")
    with pytest.raises(InputError, match="`embryos`"):
        pattern(p, n_embryos=0)
    with pytest.raises(InputError, match=r"range \("):
        pattern(p, n_embryos=100, threshold=1e5)
    with pytest.raises(InputError, match="`production_scale`"):
        pattern(p, n_embryos=100, production_scale=-1)
    with pytest.raises(InputError, match="`noise`"):
        pattern(p, n_embryos=100, noise="loud")


def test_confidence_intervals_cover_the_exact_values():
    """Coverage over 60 independent ensembles of 3000 embryos: the 95% CIs of σx (delta method) and
    of the boundary SD (kurtosis-corrected) must hold the exact predictions in ≥ 85% of them
    (binomial SD at 95% coverage is 2.8%, so 85% is 3.5 SD below nominal; a CI with half the
    right width covers ≈ 68%, which this rejects)."""
    p = get_preset("bicoid")
    hits_sx = hits_b = 0
    for seed in range(60):
        r = pattern(p, n_embryos=3000, rng=10_000 + seed)
        lo, hi = r.sigma_x_measured_ci
        hits_sx += lo <= r.sigma_x_predicted <= hi
        lo, hi = r.boundary_sd_ci
        hits_b += lo <= r.boundary_sd_predicted <= hi
    assert hits_sx >= 51 and hits_b >= 51, (hits_sx, hits_b)


def test_cells_coarser_than_half_lambda_warn():
    with pytest.warns(RuntimeWarning, match="too coarse"):
        pattern(get_preset("bicoid", cell_diameter=60.0), n_embryos=200, rng=0)


def test_joint_decoding_of_independent_genes_adds_in_inverse_variance():
    """Two genes with independent 10% noise on the same exponential: σx_joint = σx/√2; one gene
    reproduces positional_error_profile.  SE of each σx ≈ σx/√(2E) ≈ 0.7% at E = 10⁴: 4% bound."""
    from crossnoise.bio.patterning import joint_positional_error

    rng = np.random.default_rng(4)
    x = np.arange(30) * 10.0 + 5.0
    c = 30 * np.exp(-x / 100.0)
    genes = c * (1 + 0.1 * rng.standard_normal((2, 10_000, 30)))
    one = joint_positional_error(x, genes[:1])
    assert np.allclose(one, positional_error_profile(x, genes[0]).sigma_x, rtol=1e-10)
    both = joint_positional_error(x, genes)
    assert np.allclose(both, one / np.sqrt(2), rtol=0.04)
    assert np.allclose(np.median(one), 10.0 / (np.sinh(0.1) / 0.1), rtol=0.03)  # λ·CV over the slope bias sinh(h/λ)/(h/λ)
