import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from crossnoise.stats import (
    RatioEMA,
    StreamingMoments,
    bootstrap,
    jackknife,
    mean_norm_and_trace,
    ratio_of_means,
    two_size_estimate,
    unbiased_mean_norm_sq,
)
from crossnoise.validation import InputError


# ---------------------------------------------------------------- streaming moments
@st.composite
def data_and_chunks(draw):
    n = draw(st.integers(2, 60))
    d = draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    # The offset is a multiple of the scale: the merge's δ = x̄_b − x̄_a carries an absolute error
    # ~eps·|x̄|, so its relative accuracy is ~eps·|x̄|/sd (the conditioning of the problem, not of
    # the formula); with |x̄|/sd ≤ 10 a 1e-12 relative tolerance holds with margin.
    offset = scale * draw(st.sampled_from([0.0, 3.0, -10.0]))
    x = offset + scale * np.random.default_rng(seed).normal(size=(n, d))
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), max_size=6, unique=True)))
    return x, cuts


@settings(max_examples=150, deadline=None)
@given(data_and_chunks(), st.booleans())
def test_chan_merge_matches_one_pass_numpy(case, tree_order):
    x, cuts = case
    parts = [StreamingMoments.from_samples(c) for c in np.split(x, cuts)]
    if tree_order:  # pairwise tree reduction, as workers would
        while len(parts) > 1:
            parts = [parts[i].merge(parts[i + 1]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
        m = parts[0]
    else:  # left fold from an empty accumulator
        m = StreamingMoments.empty(x.shape[1])
        for p in parts:
            m = m.merge(p)
    ref_var = np.var(x, axis=0, ddof=1)
    assert m.n == x.shape[0]
    np.testing.assert_allclose(m.mean, x.mean(axis=0), rtol=1e-12, atol=1e-12 * np.abs(x).max())
    np.testing.assert_allclose(m.variance, ref_var, rtol=1e-12, atol=1e-300)
    assert m.trace_covariance == pytest.approx(ref_var.sum(), rel=1e-12)


def test_welford_single_sample_updates_match_numpy():
    # Welford's one-sample update loses ~eps·(mean/sd)² relative accuracy, so this check uses
    # well-conditioned data (|mean| ≲ sd); the Chan merge of two-pass blocks above has no such limit.
    x = np.random.default_rng(8).normal(loc=0.5, size=(200, 5))
    m = StreamingMoments.empty(5)
    for row in x:
        m = m.update(row)
    np.testing.assert_allclose(m.variance, np.var(x, axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(m.mean, x.mean(axis=0), rtol=1e-12)


def test_streaming_needs_two_samples_for_variance():
    with pytest.raises(InputError, match="at least 2 samples"):
        StreamingMoments.from_samples([[1.0, 2.0]]).trace_covariance


def test_merge_dimension_mismatch():
    with pytest.raises(InputError, match="`other` must have dim 2"):
        StreamingMoments.empty(2).merge(StreamingMoments.empty(3))


# ---------------------------------------------------------------- unbiasedness (Monte Carlo)
MU = np.array([0.3, -0.2, 0.1, 0.0])
SIG = np.array([1.0, 0.5, 2.0, 1.5])  # per-coordinate SDs, Σ = diag(SIG²)


def _var_norm_of_mean(n):
    """Var |x̄_n|² for Gaussian x: 4 μᵀΣμ/n + 2 tr(Σ²)/n² (x̄ ~ N(μ, Σ/n))."""
    s2 = SIG**2
    return 4 * MU @ (s2 * MU) / n + 2 * np.sum(s2**2) / n**2


def test_unbiased_mean_norm_sq_is_unbiased_and_the_naive_one_is_not():
    rng = np.random.default_rng(42)
    n, reps = 5, 40_000
    x = MU + SIG * rng.normal(size=(reps, n, MU.size))
    xbar = x.mean(axis=1)
    naive = np.einsum("ij,ij->i", xbar, xbar)
    tr_s = x.var(axis=1, ddof=1).sum(axis=1)
    est = naive - tr_s / n
    # spot-check the vectorised formula against the public function
    assert est[0] == pytest.approx(unbiased_mean_norm_sq(x[0]), rel=1e-12)
    truth = MU @ MU
    # Var(est) = Var|x̄|² + Var(trS)/n² − 2Cov/n; bound it by the sum of the two variances plus
    # the covariance term (Cauchy–Schwarz): SD ≤ SD|x̄|² + SD(trS)/n.  Var(trS) = 2 tr(Σ²)/(n−1).
    sd = np.sqrt(_var_norm_of_mean(n)) + np.sqrt(2 * np.sum(SIG**4) / (n - 1)) / n
    tol = 4 * sd / np.sqrt(reps)  # 4 standard errors of a mean of `reps` replicates
    assert abs(est.mean() - truth) < tol
    # The test can fail: the naive |x̄|² is off by tr Σ / n = 1.45, far outside the tolerance.
    assert abs(naive.mean() - truth) > 10 * tol


def test_two_size_estimator_is_unbiased():
    rng = np.random.default_rng(7)
    b, big, reps = 4, 32, 20_000
    g_b = (MU + SIG * rng.normal(size=(reps, b, MU.size))).mean(axis=1)
    g_big = (MU + SIG * rng.normal(size=(reps, big, MU.size))).mean(axis=1)
    nb, nbig = np.einsum("ij,ij->i", g_b, g_b), np.einsum("ij,ij->i", g_big, g_big)
    g2 = (big * nbig - b * nb) / (big - b)
    s = (nb - nbig) / (1 / b - 1 / big)
    one = two_size_estimate(nb[0], nbig[0], b, big)
    assert one.grad_norm_sq.value == pytest.approx(g2[0]) and one.trace_sigma.value == pytest.approx(s[0])
    # Independent draws at the two sizes: Var(g2) = (B² Var_B + b² Var_b)/(B − b)²,
    # Var(s) = (Var_b + Var_B)/(1/b − 1/B)² with Var_n = Var|x̄_n|² above; tolerance 4 SE.
    vb, vbig = _var_norm_of_mean(b), _var_norm_of_mean(big)
    se_g2 = np.sqrt((big**2 * vbig + b**2 * vb) / (big - b) ** 2 / reps)
    se_s = np.sqrt((vb + vbig) / (1 / b - 1 / big) ** 2 / reps)
    assert abs(g2.mean() - MU @ MU) < 4 * se_g2
    assert abs(s.mean() - np.sum(SIG**2)) < 4 * se_s
    # With repeats the reported SE matches the spread of the single estimates.
    rep = two_size_estimate(nb[:500], nbig[:500], b, big)
    assert rep.grad_norm_sq.standard_error == pytest.approx(g2[:500].std(ddof=1) / np.sqrt(500), rel=1e-9)
    assert rep.trace_sigma.standard_error == pytest.approx(s[:500].std(ddof=1) / np.sqrt(500), rel=1e-9)


def test_two_size_rejects_bad_sizes():
    with pytest.raises(InputError, match="`b_big` must be larger"):
        two_size_estimate(1.0, 0.5, 8, 8)
    with pytest.raises(InputError, match="same length"):
        two_size_estimate([1.0, 2.0], [0.5], 2, 8)


# ---------------------------------------------------------------- jackknife, bootstrap
def test_closed_form_jackknife_matches_generic_jackknife():
    x = np.random.default_rng(3).normal(loc=0.5, size=(25, 6))
    fast = mean_norm_and_trace(x)
    slow_norm = jackknife(x, unbiased_mean_norm_sq)
    slow_trace = jackknife(x, lambda s: np.var(s, axis=0, ddof=1).sum())
    assert fast.mean_norm_sq == pytest.approx(slow_norm.value, rel=1e-12)
    assert fast.trace == pytest.approx(slow_trace.value, rel=1e-12)
    assert fast.mean_norm_sq_se == pytest.approx(slow_norm.standard_error, rel=1e-9)
    assert fast.trace_se == pytest.approx(slow_trace.standard_error, rel=1e-9)


def test_bootstrap_ci_coverage_binomial():
    """90% BCa intervals of a normal mean cover the truth in ~90% of data sets.

    With T = 200 data sets the number of hits is Binomial(T, p); a two-sided binomial test at
    p-value 1e-3 (≈ 3.3σ) rejects a wrong coverage (e.g. a 68% interval mislabelled 90%).
    """
    rng = np.random.default_rng(2024)
    trials, hits = 200, 0
    for _ in range(trials):
        x = rng.normal(loc=1.0, scale=2.0, size=40)
        e = bootstrap(x, np.mean, rng=rng, n_resamples=999, confidence_level=0.9, vectorized=True)
        hits += e.interval[0] <= 1.0 <= e.interval[1]
    assert sst.binomtest(hits, trials, 0.9).pvalue > 1e-3


def test_bootstrap_same_seed_same_interval():
    x = np.random.default_rng(0).exponential(size=30)
    a = bootstrap(x, np.median, rng=5, n_resamples=499)
    b = bootstrap(x, np.median, rng=5, n_resamples=499)
    c = bootstrap(x, np.median, rng=6, n_resamples=499)
    assert a == b and a.interval != c.interval


def test_ratio_of_means_delta_method_matches_simulation():
    # r = x̄/ȳ, x = 2 + N(0,1), y = 4 + N(0,1) + 0.5(x − 2): paired, correlated.
    rng = np.random.default_rng(9)
    n, reps = 400, 3000
    e = rng.normal(size=(reps, n, 2))
    x = 2 + e[..., 0]
    y = 4 + e[..., 1] + 0.5 * e[..., 0]
    ratios = x.mean(axis=1) / y.mean(axis=1)
    se = ratio_of_means(x[0], y[0]).standard_error
    # The MC SD of `reps` ratios has relative SE 1/√(2·reps) ≈ 1.3%; one sample's SE estimate
    # has relative error ≈ 1/√(2n) ≈ 3.5% plus O(1/n) delta-method bias: 4·(1.3% ⊕ 3.5%) ≈ 15%.
    assert se == pytest.approx(ratios.std(ddof=1), rel=0.15)
    assert ratio_of_means(x[0], y[0], paired=False).standard_error > se  # positive covariance ignored


def test_ratio_ema_smooths_parts_separately():
    e = RatioEMA(beta=0.9)
    for num, den in [(10.0, 1.0), (0.0, 3.0)]:
        e = e.update(num, den)
    # bias-corrected EMAs: num = (0.1·10·0.9 + 0.1·0)/(1−0.81), den = (0.09 + 0.3)/0.19
    assert e.ratio == pytest.approx(0.9 / 0.39)
    assert e.ratio != pytest.approx((10.0 + 0.0) / 2)


def test_ratio_ema_rejects_nan():
    with pytest.raises(InputError, match="finite"):
        RatioEMA().update(float("nan"), 1.0)


def test_norm_and_trace_from_centered_scalars_matches_samples():
    from crossnoise.stats import norm_and_trace_from_centered

    x = np.random.default_rng(12).normal(loc=0.3, size=(40, 9))
    g = x.mean(axis=0)
    sq, dot = np.einsum("ij,ij->i", x, x), x @ g
    a = mean_norm_and_trace(x)
    b = norm_and_trace_from_centered(g, sq - 2 * dot + g @ g, dot - g @ g)
    assert b.mean_norm_sq == pytest.approx(a.mean_norm_sq, rel=1e-10)
    np.testing.assert_allclose(b.covariance, a.covariance, rtol=1e-8)
    with pytest.raises(InputError, match="`centered_dot`"):
        norm_and_trace_from_centered(g, sq, dot[:-1])
