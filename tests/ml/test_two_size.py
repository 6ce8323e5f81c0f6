"""The two-size estimator and the training-loop tracker against the linear-regression closed form."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crossnoise.ml.tasks import digits_mlp, load_digits, torch_generator
from crossnoise.ml.tracker import NoiseScaleTracker
from crossnoise.ml.training import train_sgd
from crossnoise.ml.two_size import batch_grad, two_size_noise_scale
from crossnoise.validation import InputError

def _population(linreg, seed, n=20000):
    # A large sample stands in for the population: its own Σ and G differ from the closed form
    # by O(1/√n) ≈ 1%, far below the two-size estimator's SE with the repeats used here.
    model, loss_fn, x, y, delta = linreg.case(seed, n)
    return model, loss_fn, x, y, linreg.closed_form(delta)[:2]


def test_two_size_matches_closed_form_within_se(linreg):
    model, loss_fn, x, y, (tr, g2) = _population(linreg, 0)
    est = two_size_noise_scale(model, loss_fn, x, y, b_small=4, b_big=64, repeats=400, rng=1)
    # unbiased estimates with SEs from 400 paired repeats: 3-SE bands (p ≈ 0.997 each)
    assert abs(est.trace_sigma - tr) < 3 * est.trace_sigma_se
    assert abs(est.grad_norm_sq - g2) < 3 * est.grad_norm_sq_se
    assert est.method == "two-size" and est.backward_examples == 400 * 68
    # same seed, same numbers; another seed, other numbers
    again = two_size_noise_scale(model, loss_fn, x, y, b_small=4, b_big=64, repeats=400, rng=1)
    other = two_size_noise_scale(model, loss_fn, x, y, b_small=4, b_big=64, repeats=400, rng=2)
    assert again.trace_sigma == est.trace_sigma and other.trace_sigma != est.trace_sigma


def test_two_size_works_with_batchnorm_and_keeps_running_stats():
    model = digits_mlp(batchnorm=True, gen=torch_generator(0))
    x, y = load_digits()
    before = {k: v.clone() for k, v in model.named_buffers()}
    est = two_size_noise_scale(model, F.cross_entropy, x, y, b_small=16, b_big=128, repeats=6, rng=0)
    assert math.isfinite(est.b_simple) and est.b_simple > 0
    for k, v in model.named_buffers():
        assert torch.equal(v, before[k])


def test_two_size_bad_sizes(linreg):
    model, loss_fn, x, y, _ = _population(linreg, 0, n=100)
    with pytest.raises(InputError, match="b_big"):
        two_size_noise_scale(model, loss_fn, x, y, b_small=8, b_big=8, rng=0)
    with pytest.raises(InputError, match="repeats"):
        two_size_noise_scale(model, loss_fn, x, y, b_small=1, b_big=8, repeats=1, rng=0)


def test_tracker_leaves_full_batch_gradient_and_estimates_closed_form(linreg):
    model, loss_fn, x, y, (tr, g2) = _population(linreg, 3)
    tracker = NoiseScaleTracker(model, n_micro=4, beta=0.9)
    gen = torch.Generator().manual_seed(0)

    def batch_loss(xb, yb):
        return loss_fn(model(xb), yb)

    for _ in range(300):  # parameters fixed: every step is a repeat of the same measurement
        idx = torch.randint(0, x.shape[0], (64,), generator=gen)
        model.zero_grad()
        tracker.backward(batch_loss, x[idx], y[idx])
    full = batch_grad(model, loss_fn, x[idx], y[idx])
    torch.testing.assert_close(model.weight.grad.reshape(-1), full, rtol=1e-10, atol=1e-12)
    est = tracker.estimate()
    assert abs(est.trace_sigma - tr) < 3 * est.trace_sigma_se
    assert abs(est.grad_norm_sq - g2) < 3 * est.grad_norm_sq_se
    # the EMA ratio of the last ~10 steps is noisy but of the right size
    assert 0.3 * tr / g2 < tracker.noise_scale < 3 * tr / g2
    assert len(tracker.history) == 300 and tracker.status == "ok"


def test_tracker_in_training_loop_and_nan_status():
    model = digits_mlp(gen=torch_generator(1))
    x, y = load_digits()
    tracker = NoiseScaleTracker(model, n_micro=2)
    res = train_sgd(model, F.cross_entropy, x, y, batch_size=32, lr=0.1, steps=20, rng=0, backward=tracker.backward)
    assert res.status == "ok" and len(tracker.history) == 20 and tracker.noise_scale > 0
    with pytest.raises(InputError, match="multiple of `n_micro`"):
        tracker.backward(lambda a, b: F.cross_entropy(model(a), b), x[:33], y[:33])
    bad = NoiseScaleTracker(model, n_micro=2)
    out = bad.backward(lambda a, b: F.cross_entropy(model(a), b) * float("nan"), x[:8], y[:8])
    assert not torch.isfinite(out) and bad.status == "nan_loss" and bad.history == []


def test_training_nan_stops_with_status_and_keeps_measurements():
    model = digits_mlp(gen=torch_generator(2))
    x, y = load_digits()
    # a step of 1e30 overflows float32 weights to inf, and the next loss is nan
    res = train_sgd(model, F.cross_entropy, x, y, batch_size=16, lr=1e30, steps=200, rng=0,
                    measure_at=[0, 1], measure=lambda m, s: s)
    assert res.status == "nan_loss" and res.steps_done < 200
    assert res.measurements[0] == (0, 0)


def test_tracker_observe_equals_core_two_size_estimate():
    from crossnoise.stats import two_size_estimate

    tracker = NoiseScaleTracker(nn.Linear(2, 1), n_micro=2)
    tracker.observe(3.7, 1.2, 16, 128)
    core = two_size_estimate(3.7, 1.2, 16, 128)
    assert tracker.history[-1]["trace_sigma"] == pytest.approx(core.trace_sigma.value, rel=1e-14)
    assert tracker.history[-1]["grad_norm_sq"] == pytest.approx(core.grad_norm_sq.value, rel=1e-14)
    with pytest.raises(InputError, match="b_small < b_big"):
        tracker.observe(1.0, 1.0, 8, 8)
