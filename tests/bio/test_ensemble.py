import numpy as np
import pytest
from scipy import stats

from crossnoise.bio.ensemble import embryo_profiles, mean_profile, read_out, read_out_loop
from crossnoise.bio.noise import Multiplicative, NoNoise, PoissonCounting
from crossnoise.bio.presets import get_preset
from crossnoise.validation import InputError


def test_profiles_without_variability_are_the_steady_state():
    p = get_preset("bicoid")
    prof = embryo_profiles(p, 3, rng=0)
    assert prof.model == "continuum"
    assert np.allclose(prof.c, mean_profile(p, prof.x)[None, :])
    assert np.allclose(prof.x[:2], [5.0, 15.0])


def test_embryo_level_cvs_show_up_in_the_ensemble():
    p = get_preset("bicoid", cv_amplitude=0.2)
    c = embryo_profiles(p, 20_000, rng=1).c
    ratio = c[:, 0] / mean_profile(p, 5.0)
    # SE of a CV estimate ≈ CV/√(2M) ≈ 0.001: 5 SE tolerance
    assert ratio.std() / ratio.mean() == pytest.approx(0.2, abs=0.006)
    shape = c / c[:, :1]
    assert np.allclose(shape, shape[0])  # amplitude noise does not change the shape


def test_vectorised_readout_has_the_loops_distribution():
    """Two-sample KS between the vectorised and the per-embryo loop readouts of one cell
    (different stream order, same law): with 3000 + 3000 draws a real difference of 5% in
    the CDF would give p ≈ 1e-3; we require p > 1e-3 for the same law."""
    c = np.full((3000, 3), 4.0)
    model = Multiplicative(0.3)
    fast = read_out(c, model, n_time=2, neighbours=1, rng=7)
    slow = read_out_loop(c, model, n_time=2, neighbours=1, rng=8)
    assert stats.ks_2samp(fast[:, 1], slow[:, 1]).pvalue > 1e-3
    assert stats.ks_2samp(fast[:, 0], slow[:, 0]).pvalue > 1e-3


def test_neighbour_average_is_a_truncated_moving_mean():
    c = np.arange(12.0).reshape(2, 6) + 1
    r = read_out(c, NoNoise(), neighbours=1, rng=0)
    assert np.allclose(r[0], [1.5, 2, 3, 4, 5, 5.5])
    assert np.allclose(read_out_loop(c, NoNoise(), neighbours=1, rng=0), r)


def test_time_average_divides_variance_by_n():
    c = np.full((20_000, 1), 3.0)
    m = PoissonCounting(20.0)
    v1 = read_out(c, m, rng=1).var()
    v8 = read_out(c, m, n_time=8, rng=2).var()
    # each variance has relative SE √(2/M) = 1%: the ratio within 5%
    assert v1 / v8 == pytest.approx(8.0, rel=0.05)


def test_custom_callable_noise_and_errors():
    def additive(c, *, rng):
        return c + 0.1 * np.random.default_rng(rng).standard_normal(np.shape(c)) if not hasattr(rng, "normal") \
            else c + 0.1 * rng.standard_normal(np.shape(c))

    r = read_out(np.ones((5000, 2)), additive, n_time=4, rng=3)
    assert r.std() == pytest.approx(0.05, rel=0.05)
    with pytest.raises(InputError, match="`n_time`"):
        read_out(np.ones((2, 2)), NoNoise(), n_time=0)
    with pytest.raises(InputError, match="`noise`"):
        read_out(np.ones((2, 2)), "poisson")
    with pytest.raises(InputError, match="`embryos`"):
        embryo_profiles(get_preset("dpp"), 0)
