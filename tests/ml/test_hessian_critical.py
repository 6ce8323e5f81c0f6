"""B_noise through Hessian-vector products, and the critical-batch fit."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.ml.critical import fit_critical_batch, steps_to_target
from crossnoise.ml.hessian import _loo_stats, b_noise, hessian_vector_products
from crossnoise.ml.pergrad import per_example_grads
from crossnoise.validation import InputError


def _small_problem(seed=0, n=60):
    gen = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    x = torch.randn(n, 3, generator=gen, dtype=torch.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return model, x, y


def test_hvps_and_b_noise_match_an_explicit_hessian():
    model, x, y = _small_problem()
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]

    def loss_flat(theta):
        chunks = torch.split(theta, sizes)
        out = torch.func.functional_call(model, {n: c.reshape(s) for (n, _), c, s in
                                                 zip(model.named_parameters(), chunks, shapes)}, (x,))
        return F.cross_entropy(out, y)

    theta = torch.cat([p.detach().reshape(-1) for p in params])
    h = torch.autograd.functional.hessian(loss_flat, theta)
    g = per_example_grads(model, F.cross_entropy, x, y)
    hg = hessian_vector_products(model, F.cross_entropy, x, y, g, chunk_size=7)
    torch.testing.assert_close(hg, g @ h.T, rtol=1e-9, atol=1e-12)
    # the estimator, computed the slow obvious way
    c = g - g.mean(0)
    tr_hs = float(torch.einsum("ij,jk,ik->", c, h, c)) / (len(x) - 1)
    quad = float(g.mean(0) @ h @ g.mean(0)) - tr_hs / len(x)
    est = b_noise(model, F.cross_entropy, x, y, batch_size=16)
    assert est.trace_h_sigma == pytest.approx(tr_hs, rel=1e-9)
    assert est.gt_h_g == pytest.approx(quad, rel=1e-9)
    assert est.b_noise == pytest.approx(tr_hs / quad, rel=1e-9)
    assert est.hvps == len(x) and est.record.n_samples == 16


def test_closed_form_jackknife_equals_brute_force_leave_one_out():
    rng = np.random.default_rng(4)
    g = rng.normal(loc=0.3, size=(25, 6))
    a = rng.normal(size=(6, 6))
    h = a @ a.T
    tr, quad, cov = _loo_stats(g, g @ h)
    loo = []
    for i in range(25):
        gi = np.delete(g, i, axis=0)
        t, q, _ = _loo_stats(gi, gi @ h) if len(gi) > 3 else (0, 0, 0)
        loo.append((t, q))
    loo = np.asarray(loo)
    dev = loo - loo.mean(0)
    np.testing.assert_allclose(cov, 24 / 25 * dev.T @ dev, rtol=1e-9)


def test_b_noise_linear_regression_equals_b_simple_closed_form(linreg):
    # Linear regression with x ~ N(0, I): H = E x xᵀ = I, so B_noise = tr Σ/|G|² = B_simple =
    # (d+1) + d s²/|Δ|².  H here is the SAMPLE Hessian XᵀX/n, off I by O(√(d/n)) ≈ 3% at n = 4000
    # — below the 3-SE band (SE ≈ 5% of the value at this n).
    model, loss_fn, x, y, delta = linreg.case(seed=21, n=4000)
    est = b_noise(model, loss_fn, x, y, chunk_size=1000)
    exact = linreg.closed_form(delta)[2]
    assert abs(est.b_noise - exact) < 3 * est.b_noise_se
    assert abs(est.b_simple - exact) < 3 * est.b_noise_se


def test_critical_fit_recovers_exact_law_and_reports_se():
    bs = np.array([4, 8, 16, 32, 64, 128, 256])
    exact = 50 + 6400 / bs
    fit = fit_critical_batch(bs, exact)
    assert fit.s_min == pytest.approx(50) and fit.e_min == pytest.approx(6400) and fit.b_crit == pytest.approx(128)
    noisy = exact * (1 + 0.05 * np.random.default_rng(0).normal(size=bs.size))
    fit2 = fit_critical_batch(bs, noisy, 0.05 * exact)
    # weighted fit with correct SEs: the 3-SE band holds with p ≈ 0.997
    assert abs(fit2.b_crit - 128) < 3 * fit2.b_crit_se
    assert fit2.steps_at(8) == pytest.approx(fit2.s_min + fit2.e_min / 8)
    with pytest.raises(InputError, match="at least 3"):
        fit_critical_batch([8, 16], [10, 5])


def test_steps_to_target_with_a_deterministic_law_and_unreached_target():
    def train(b, *, rng):
        # loss falls linearly with steps at a per-step rate that saturates with B like 1/(1 + 64/B)
        rate = 0.01 / (1 + 64 / b)
        return [max(1 - rate * (k + 1), 0.1) for k in range(5000)]

    means, ses = steps_to_target(train, [8, 64, 512], 0.5, repeats=2, rng=0)
    fit = fit_critical_batch([8, 64, 512], means, ses)
    assert fit.b_crit == pytest.approx(64, rel=0.05)
    with pytest.raises(InputError, match="not reached"):
        steps_to_target(train, [8, 16, 32], 1e-9, repeats=2, rng=0)
