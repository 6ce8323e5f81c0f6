"""The experiments, run small: their numbers against theory where theory exists."""

import math

import numpy as np
import pytest
import torch

from crossnoise.ml.exp_augment import augment_images, run_augment
from crossnoise.ml.exp_batchnorm import run_batchnorm
from crossnoise.ml.exp_gan import run_gan
from crossnoise.ml.exp_graphsage import run_graphsage
from crossnoise.ml.exp_scaling import run_scaling
from crossnoise.ml.exp_standardize import run_standardize
from crossnoise.ml.exp_transfer import run_transfer
from crossnoise.ml.gan import bilinear_alt_closed_form, bilinear_gda, bilinear_sim_closed_form
from crossnoise.ml.graphsage import sample_neighbours, sbm_graph
from crossnoise.ml.tasks import load_cancer
from crossnoise.validation import InputError


def test_scaling_update_noise_follows_eta2_trace_over_b():
    res = run_scaling(rng=0, batch_sizes=(8, 64), examples=512, repeats=12, seeds=2)
    for r in res.rows:
        # tr Cov(Δθ) from 12 batch gradients against η² tr Σ/B from the exact per-example Σ of
        # the data set (sampling with replacement): the jackknife SE of a 12-sample trace is
        # itself uncertain by ~20%, so a 4-SE band.
        assert abs(r["tr_cov_update"] - r["tr_cov_update_predicted"]) < 4 * r["tr_cov_update_se"]
    lin = [r for r in res.rows if r["rule"] == "linear"]
    sq = [r for r in res.rows if r["rule"] == "sqrt"]
    assert lin[1]["tr_cov_update_predicted"] / lin[0]["tr_cov_update_predicted"] == pytest.approx(8.0)
    assert sq[1]["tr_cov_update_predicted"] / sq[0]["tr_cov_update_predicted"] == pytest.approx(1.0)
    assert all(math.isfinite(r["final_loss"]) for r in res.rows)


def test_standardize_w0_matches_direct_formula():
    res = run_standardize(rng=0, steps=10, checkpoints=(0, 10))
    for cond in ("raw", "standardized"):
        x, y = load_cancer(standardize=(cond == "standardized"))
        x = np.c_[x.double().numpy(), np.ones(len(x))]
        g = (0.5 - y.double().numpy())[:, None] * x  # per-example gradient of BCE at w = 0
        gbar = g.mean(0)
        tr = ((g - gbar) ** 2).sum() / len(g)  # the data set as the population (ddof 0)
        w0 = res.extra["logreg_w0"][cond]
        assert w0["grad_norm_sq"] == pytest.approx(gbar @ gbar, rel=1e-9)
        assert w0["trace_sigma"] == pytest.approx(tr, rel=1e-9)
        assert w0["b_simple"] == pytest.approx(tr / (gbar @ gbar), rel=1e-9)
    # raw features: one coordinate carries most of the noise; standardized: close to 1/31 each
    assert res.extra["logreg_w0"]["raw"]["top_share"] > 0.5
    assert res.extra["logreg_w0"]["standardized"]["top_share"] < 0.1
    assert [r["step"] for r in res.rows] == [0, 10, 0, 10]


def test_batchnorm_gradient_scales_as_one_over_alpha():
    res = run_batchnorm(rng=0, steps=6, repeats=3, checkpoints=(0, 6))
    for r in res.extra["scale_invariance"]:
        # BN makes the loss invariant to (W, b) → α(W, b) except for its ε = 1e-5 added to the
        # batch variance: the normaliser is sqrt(α²v + ε) instead of α·sqrt(v + ε/α²).  With
        # pre-activation variances v ≳ 1e-2 at initialisation, ε/(α²v) ≤ 1.6% at α = 1/4, i.e. a
        # ≤ 0.8% change of scale — so a 1.5% tolerance; the no-BN model is off by factors of 2.
        base = [q for q in res.extra["scale_invariance"] if q["when"] == r["when"] and q["alpha"] == 1.0][0]
        assert r["bn_loss"] == pytest.approx(base["bn_loss"], rel=1.5e-2)
        assert r["bn_grad_norm_x_alpha"] == pytest.approx(base["bn_grad_norm_x_alpha"], rel=1.5e-2)
    assert res.summary["no_bn_grad_norm_x_alpha_spread"] > 0.1
    assert {r["model"] for r in res.rows} == {"no-bn", "bn"}


def test_augment_images_random_but_reproducible():
    x = torch.rand(4, 1, 8, 8)
    a = augment_images(x, torch.Generator().manual_seed(1))
    b = augment_images(x, torch.Generator().manual_seed(1))
    c = augment_images(x, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c) and a.shape == x.shape
    same = augment_images(x, torch.Generator().manual_seed(1), max_shift=0, max_degrees=0.0, noise_sd=0.0)
    torch.testing.assert_close(same, x, atol=1e-6, rtol=0)  # the identity transform
    with pytest.raises(InputError):
        augment_images(torch.rand(4, 64), torch.Generator())


def test_augment_runs_small():
    res = run_augment(rng=0, steps=4, n_measure=24, checkpoints=(0, 4))
    assert len(res.rows) == 2 * 2 * 2
    assert all(r["trace_sigma"] > 0 for r in res.rows)


def test_neighbour_sampler_without_replacement():
    g = sbm_graph(sizes=(30, 30), p_in=0.4, p_out=0.05, rng=1)
    nodes = torch.arange(g.n_nodes)
    idx, mask = sample_neighbours(g, nodes, 3, torch.Generator().manual_seed(0))
    for v in range(g.n_nodes):
        chosen = idx[v][mask[v]].tolist()
        nbrs = set(g.neighbours[v][g.neighbours[v] >= 0].tolist())
        assert len(chosen) == min(3, int(g.degrees[v])) and len(set(chosen)) == len(chosen)
        assert set(chosen) <= nbrs


def test_graphsage_aggregator_variance_matches_formula():
    res = run_graphsage(rng=0, fanouts=(1, 5), repeats=60, batch_nodes=64, pretrain_steps=5)
    for r in res.rows:
        if r["fanout"] == "full":
            assert r["grad_var_trace"] == pytest.approx(0.0, abs=1e-20)
        else:
            # sample variance from 60 draws: relative SD ≈ sqrt(2/59) per node, averaged over 64
            # nodes → the SE column; 4 SE allows for the non-Gaussian tails.
            assert abs(r["agg_var_measured"] - r["agg_var_formula"]) < 4 * r["agg_var_measured_se"]


def test_transfer_runs_small_and_is_reproducible():
    kw = dict(rng=3, pretrain_steps=10, steps=4, seeds=1, checkpoints=(0, 4))
    a = run_transfer(**kw)
    b = run_transfer(**kw)
    assert [r["b_simple"] for r in a.rows] == [r["b_simple"] for r in b.rows]
    assert {r["start"] for r in a.rows} == {"fine-tune", "scratch"}


def test_bilinear_gda_closed_forms():
    eta, sigma, t = 0.1, 0.5, 60
    sim = bilinear_gda(mode="simultaneous", eta=eta, sigma=sigma, steps=t, runs=3000, rng=0)
    alt = bilinear_gda(mode="alternating", eta=eta, sigma=sigma, steps=t, runs=3000, rng=1)
    steps = np.arange(t + 1)
    # per-step means of 3000 independent runs: z-scores against the closed forms; 4.5 SD over
    # 2×60 correlated checkpoints keeps the false-alarm rate < 1e-3.
    z_sim = (sim.r2_mean[1:] - bilinear_sim_closed_form(steps, eta, sigma, 1.0)[1:]) / sim.r2_se[1:]
    z_alt = (alt.q_mean[1:] - bilinear_alt_closed_form(steps, eta, sigma, 1.0)[1:]) / alt.q_se[1:]
    assert np.max(np.abs(z_sim)) < 4.5 and np.max(np.abs(z_alt)) < 4.5
    # without noise alternating GDA conserves Q = x² + y² − ηxy exactly; simultaneous grows as (1+η²)^t
    quiet = bilinear_gda(mode="alternating", eta=eta, sigma=0.0, steps=t, runs=2, rng=0)
    np.testing.assert_allclose(quiet.q_mean, 1.0, rtol=1e-12)
    loud = bilinear_gda(mode="simultaneous", eta=eta, sigma=0.0, steps=t, runs=2, rng=0)
    np.testing.assert_allclose(loud.r2_mean, (1 + eta**2) ** steps, rtol=1e-12)


def test_gan_experiment_small():
    res = run_gan(rng=0, runs=400, steps=20, gan_steps=4)
    assert res.summary["max_abs_z"] < 4.5
    assert len(res.extra["mixture"]) == 4 and all(r["d_b_simple"] > 0 for r in res.extra["mixture"])


def test_critical_batch_from_training_small():
    from crossnoise.ml.exp_critical import run_critical

    res = run_critical(rng=0, batch_sizes=(8, 32, 128), lrs=(0.4,), repeats=2, target_loss=1.5, max_steps=300,
                       eval_every=5)
    steps = [r["steps"] for r in res.rows]
    # fewer steps at larger batches; the loss is looked at every 5 steps, so no count is below 5
    assert steps[0] > steps[-1] >= 5
    s = res.summary
    assert s["s_min"] > 0 and s["e_min"] > 0 and s["b_crit"] == pytest.approx(s["e_min"] / s["s_min"])
    assert s["b_simple_at_target"] is not None and s["b_simple_at_target"] > 0
