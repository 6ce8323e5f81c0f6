import numpy as np
import pytest

from crossnoise.bio.noise import BergPurcell, Multiplicative, NoNoise, PoissonCounting, parse_noise
from crossnoise.validation import InputError

MODELS = [PoissonCounting(50.0), Multiplicative(0.3), BergPurcell(1.0, 2.0, 10.0)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.spec)
@pytest.mark.parametrize("n", [1, 4])
def test_sample_mean_and_variance_match_the_model(model, n):
    """Over M = 40 000 draws at c = 2: SE of the mean σ/√M, of the variance ≈ σ²√(2/M)(1+κ/2…);
    bounds of 5 SE (and 6% for the variance, ≥ 5 SE for these light-tailed laws)."""
    M, c = 40_000, 2.0
    r = model.sample(np.full(M, c), rng=11, n=n)
    var = float(model.variance(c, n))
    assert abs(r.mean() - c) < 5 * np.sqrt(var / M)
    assert r.var(ddof=1) == pytest.approx(var, rel=0.06)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.spec)
def test_survival_function_matches_the_draws(model):
    """P(r > θ) from sf vs the empirical fraction: binomial SE √(p(1−p)/M) ≤ 0.0025, 5 SE."""
    M, c, theta = 40_000, 2.0, 2.3
    r = model.sample(np.full(M, c), rng=5)
    assert np.mean(r > theta) == pytest.approx(float(model.sf(theta, c)), abs=0.0125)


def test_multiplicative_is_never_negative_and_averages_by_fenton_wilkinson():
    m = Multiplicative(0.45)
    r = m.sample(np.full(40_000, 1.0), rng=1, n=4)
    assert r.min() > 0
    # the mean of 4 lognormals vs its Fenton–Wilkinson lognormal: close, not exact (≤ 0.02)
    assert np.mean(r > 1.2) == pytest.approx(float(m.sf(1.2, 1.0, 4)), abs=0.02)


def test_same_seed_same_readouts_and_callable_protocol():
    m = PoissonCounting(10.0)
    c = np.linspace(0.1, 5, 20)
    assert np.array_equal(m(c, rng=3), m(c, rng=3))
    assert not np.array_equal(m(c, rng=3), m(c, rng=4))
    assert np.array_equal(NoNoise()(c, rng=0), c)


def test_parse_noise_specs_and_errors():
    kw = dict(cell_volume=100.0, D=3.0, sensor_size=2.0)
    assert isinstance(parse_noise("poisson", **kw), PoissonCounting)
    assert parse_noise("cv:0.1", **kw).cv == 0.1
    bp = parse_noise("berg-purcell:60", **kw)
    assert (bp.D, bp.a, bp.T) == (3.0, 2.0, 60.0)
    assert isinstance(parse_noise("none", **kw), NoNoise)
    for bad in ("gauss", "cv:", "cv:abc", "cv:-1", "berg-purcell:0"):
        with pytest.raises(InputError, match="`(noise|cv|T)`"):
            parse_noise(bad, **kw)
