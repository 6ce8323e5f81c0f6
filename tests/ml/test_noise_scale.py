"""B_simple against the closed form of linear regression with Gaussian inputs."""

import math

import numpy as np
import pytest

from crossnoise.ml.noise_scale import gradient_noise_scale, noise_scale_from_grads
from crossnoise.validation import InputError

# The linear-regression case and its closed form: tests/ml/conftest.py (fixture `linreg`).


def test_linear_regression_matches_closed_form_within_se(linreg):
    model, loss_fn, x, y, delta = linreg.case(seed=11, n=4000)
    est = gradient_noise_scale(model, loss_fn, x, y, batch_size=64)
    tr, g2, bs = linreg.closed_form(delta)
    # Each estimate is unbiased (the ratio to O(1/n)) and asymptotically normal with the
    # jackknife SE: a 3-SE band holds with probability 0.997 per quantity; the slow test below
    # checks the SEs' calibration over many seeds.
    assert abs(est.trace_sigma - tr) < 3 * est.trace_sigma_se
    assert abs(est.grad_norm_sq - g2) < 3 * est.grad_norm_sq_se
    assert abs(est.b_simple - bs) < 3 * est.b_simple_se
    # and the SE is small enough for the check to mean something (≤ 10% of the value)
    assert est.b_simple_se < 0.1 * bs
    assert est.batch_size == 64 and est.n_examples == 4000 and est.n_params == linreg.d
    rec = est.record
    assert rec.sample_unit == "example" and rec.n_samples == 64
    assert rec.snr == pytest.approx(64 / est.b_simple)


@pytest.mark.slow
def test_linear_regression_standard_errors_are_calibrated(linreg):
    # 300 independent data sets: z = (B̂ − B)/SE should be ~N(0, 1).  The fraction inside ±1.96 is
    # binomial(300, 0.95): SD 1.26%, so [0.91, 0.99] is a ≥3-SD band; the mean z has SD 1/√300
    # = 0.058 plus the O(1/n) ratio bias; |mean| < 0.25 allows for both.
    zs = []
    for seed in range(300):
        model, loss_fn, x, y, delta = linreg.case(seed=1000 + seed, n=1500)
        est = gradient_noise_scale(model, loss_fn, x, y)
        zs.append((est.b_simple - linreg.closed_form(delta)[2]) / est.b_simple_se)
    zs = np.asarray(zs)
    assert 0.91 <= np.mean(np.abs(zs) < 1.96) <= 0.99
    assert abs(zs.mean()) < 0.25


def test_from_grads_matches_numpy_and_warns_on_no_signal():
    g = np.random.default_rng(2).normal(loc=0.5, size=(300, 7))
    est = noise_scale_from_grads(g)
    tr = np.var(g, axis=0, ddof=1).sum()
    g2 = g.mean(0) @ g.mean(0) - tr / 300
    assert est.trace_sigma == pytest.approx(tr, rel=1e-12)
    assert est.b_simple == pytest.approx(tr / g2, rel=1e-12)
    zero_mean = np.random.default_rng(3).normal(size=(50, 4))
    zero_mean -= zero_mean.mean(0)
    with pytest.warns(RuntimeWarning, match="not detectable"):
        e = noise_scale_from_grads(zero_mean)
    assert math.isinf(e.b_simple)


@pytest.mark.parametrize("rows", [1, 2])
def test_too_few_examples_for_a_variance(rows):
    with pytest.raises(InputError, match="at least 3"):
        noise_scale_from_grads(np.ones((rows, 3)))


@pytest.mark.parametrize("chunk", [7, 500])
def test_streaming_equals_stacked_rows_reference(chunk):
    # float64 model: both paths compute the same statistics from the same rows in a different
    # order (the streaming one through |g_i|² and g_i·ḡ); they agree to ~1e-12 relative.
    from crossnoise.ml.tasks import digits_mlp, load_digits, torch_generator
    import torch.nn.functional as F

    model = digits_mlp(gen=torch_generator(5)).double()
    x, y = load_digits()
    x = x[:300].double()
    y = y[:300]
    a = gradient_noise_scale(model, F.cross_entropy, x, y, batch_size=32, chunk_size=chunk)
    b = gradient_noise_scale(model, F.cross_entropy, x, y, batch_size=32, streaming=False)
    for q in ("b_simple", "b_simple_se", "trace_sigma", "trace_sigma_se", "grad_norm_sq", "grad_norm_sq_se"):
        assert getattr(a, q) == pytest.approx(getattr(b, q), rel=1e-8), q
    assert a.record.covariance == pytest.approx(b.record.covariance, rel=1e-6, abs=1e-14)
