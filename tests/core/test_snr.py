import math
import warnings

import numpy as np
import pytest

from crossnoise.snr import SignalNoise
from crossnoise.validation import InputError


def test_derived_quantities_follow_design():
    sn = SignalNoise(signal=np.array([3.0, 4.0]), per_sample_variance=50.0, n_samples=8, sample_unit="example")
    assert sn.signal_norm_sq == 25.0
    assert sn.noise_variance == 50.0 / 8
    assert sn.snr == pytest.approx(25.0 * 8 / 50.0)
    assert sn.noise_scale == pytest.approx(2.0)
    assert sn.localization_error == pytest.approx(math.sqrt(50.0 / 8) / 5.0)
    assert sn.snr_se is None and sn.noise_scale_se is None
    assert sn.with_n_samples(2).snr == pytest.approx(1.0)  # n = noise_scale gives SNR 1


def test_from_samples_matches_numpy():
    x = np.random.default_rng(0).normal(loc=[1.0, -2.0, 0.5], scale=[1.0, 3.0, 0.2], size=(300, 3))
    sn = SignalNoise.from_samples(x)
    mean = x.mean(axis=0)
    tr = np.var(x, axis=0, ddof=1).sum()
    s2 = mean @ mean - tr / len(x)
    assert sn.per_sample_variance == pytest.approx(tr, rel=1e-12)
    assert sn.signal_norm_sq == pytest.approx(s2, rel=1e-12)
    assert sn.noise_scale == pytest.approx(tr / s2, rel=1e-12)
    assert sn.snr == pytest.approx(s2 * len(x) / tr, rel=1e-12)
    assert sn.n_samples == 300


def test_delta_method_se_matches_monte_carlo_spread():
    """SE of the noise scale from one sample vs the spread of estimates over replicates.

    The MC SD of R = 600 estimates has relative SE 1/√(2R) ≈ 2.9%; one data set's delta-method
    SE has relative error ≈ 1/√(2n) ≈ 1.6% plus O(1/n) bias: 4·(2.9% ⊕ 1.6%) ≈ 13%, use 15%.
    """
    rng = np.random.default_rng(1)
    mu, sd, n, reps = np.array([1.0, 0.5]), np.array([2.0, 1.0]), 2000, 600
    scales = [SignalNoise.from_samples(mu + sd * rng.normal(size=(n, 2))).noise_scale for _ in range(reps)]
    sn = SignalNoise.from_samples(mu + sd * rng.normal(size=(n, 2)))
    assert sn.noise_scale_se == pytest.approx(np.std(scales, ddof=1), rel=0.15)
    lo, hi = sn.confidence_interval("noise_scale", 0.95)
    assert lo < sn.noise_scale < hi
    assert sn.snr_se / sn.snr == pytest.approx(sn.noise_scale_se / sn.noise_scale)
    assert sn.localization_error_se / sn.localization_error == pytest.approx(0.5 * sn.noise_scale_se / sn.noise_scale)


def test_from_two_sizes_and_moments():
    sn = SignalNoise.from_two_sizes([1.5, 1.7], [1.1, 1.05], 2, 16)
    assert sn.n_samples == 16
    g2 = (16 * 1.075 - 2 * 1.6) / 14
    assert sn.signal_norm_sq == pytest.approx(g2)
    assert sn.signal_norm_sq_se is not None
    m = SignalNoise.from_moments([1.0, 1.0], 4.0, 4)
    assert m.signal_norm_sq == pytest.approx(2.0 - 1.0)
    assert SignalNoise.from_moments([1.0, 1.0], 4.0, 4, debias=False).signal_norm_sq == 2.0


def test_undetectable_signal_gives_infinite_noise_scale():
    sn = SignalNoise(signal=0.0, per_sample_variance=1.0, n_samples=10)
    assert sn.noise_scale == math.inf and sn.snr == 0.0 and sn.localization_error == math.inf


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(signal=1.0, per_sample_variance=-1.0, n_samples=1), "`per_sample_variance`"),
        (dict(signal=1.0, per_sample_variance=1.0, n_samples=0), "`n_samples`"),
        (dict(signal=float("nan"), per_sample_variance=1.0, n_samples=1), "`signal`"),
        (dict(signal=[[1.0]], per_sample_variance=1.0, n_samples=1), "`signal`"),
    ],
)
def test_bad_input_names_parameter(kwargs, match):
    with pytest.raises(InputError, match=match):
        SignalNoise(**kwargs)


def test_from_samples_rejects_nan_and_too_few():
    with pytest.raises(InputError, match="finite"):
        SignalNoise.from_samples([[1.0, 2.0], [np.nan, 1.0], [0.0, 0.0]])
    with pytest.raises(InputError, match="at least 3 samples"):
        SignalNoise.from_samples([[1.0], [2.0]])


def test_two_size_negative_variance_warns():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sn = SignalNoise.from_two_sizes(1.0, 2.0, 2, 8)
    assert sn.per_sample_variance == 0.0
    assert any("negative" in str(x.message) for x in w)
