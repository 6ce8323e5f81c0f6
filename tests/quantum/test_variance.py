"""The variance study: measured variances agree with the exact theory; slopes; the helpers."""

from __future__ import annotations

import numpy as np
import pytest

from crossnoise.quantum.variance import component_variance, fit_slope, variance_study
from crossnoise.validation import InputError


@pytest.fixture(scope="module")
def study():
    return variance_study("H2", budget=40_000, repeats=150, layers=[1, 4], rng=3)


def test_measured_variances_match_exact_theory(study):
    """The theory columns are exact expectations at the measured points.

    With R = 150 the relative SE of a variance estimate is about √(2/149) ≈ 12 %; we compare the
    measured value with theory using the study's own SE: |measured − theory| < 4 SE.
    """
    for row in study.rows:
        assert abs(row.ps_var_per_component - row.ps_theory_per_component) < 4 * row.ps_var_se
        assert abs(row.spsa_shot_var_per_component - row.spsa_shot_theory_per_component) < 4 * row.spsa_shot_var_se


def test_hf_point_has_zero_gradient_and_no_direction_part(study):
    for row in study.rows_for("hf"):
        assert row.grad_norm_sq < 1e-20 and row.spsa_direction_var_per_component == 0.0
        # with no direction part SPSA's total is its shot part (both estimated: within 4 combined SE)
        assert abs(row.spsa_var_per_component - row.spsa_shot_var_per_component) < 4 * np.hypot(
            row.spsa_var_se, row.spsa_shot_var_se)


def test_parameter_shift_variance_grows_with_d_spsa_shot_part_does_not(study):
    # theory: PS ∝ d (slope 1 between d = 8 and 32), SPSA shot part independent of d up to σ² changes
    for point in ("random", "hf"):
        ps, ps_se = study.slopes[point]["ps"]
        shot, shot_se = study.slopes[point]["spsa_shot"]
        assert abs(ps - 1) < 0.25 and ps > shot + 4 * np.hypot(ps_se, shot_se)
    assert study.shots == sum(r.shots for r in study.rows) > 0


def test_ps_is_unbiased(study):
    for row in study.rows:
        # |mean − g| ~ √(tr Var / R): a 4× excess would flag a bias
        assert row.ps_bias_norm < 4 * row.ps_bias_noise


def test_helpers():
    x = np.random.default_rng(0).normal(scale=2.0, size=(4000, 3))
    v, se = component_variance(x)
    assert abs(v - 4.0) < 4 * se and se < 0.1
    d = np.array([8, 16, 32, 64])
    slope, sse = fit_slope(d, 3 * d**1.0, 0.01 * 3 * d)
    assert abs(slope - 1) < 1e-12 and sse > 0
    assert np.isnan(fit_slope([8], [1.0], [0.1])[0])


def test_study_is_seeded():
    a = variance_study("H2", budget=4000, repeats=10, layers=[1], points=("random",), rng=1)
    b = variance_study("H2", budget=4000, repeats=10, layers=[1], points=("random",), rng=1)
    c = variance_study("H2", budget=4000, repeats=10, layers=[1], points=("random",), rng=2)
    assert a.rows == b.rows and a.rows != c.rows


def test_bad_inputs():
    with pytest.raises(InputError, match="at least 320 shots"):
        variance_study("H2", budget=100, layers=[1, 4])
    with pytest.raises(InputError, match="repeats"):
        variance_study("H2", budget=100000, repeats=2, layers=[1])
    with pytest.raises(InputError, match="distinct"):
        variance_study("H2", budget=100000, layers=[1, 1])
    with pytest.raises(InputError, match="H2, LiH"):
        variance_study("N2")


def test_summary_states_the_measurement(study):
    from crossnoise.quantum.variance import summarize

    text = summarize(study)
    assert "random θ" in text and "Hartree–Fock" in text and "Verdict" in text
    assert f"d^{study.slopes['random']['ps'][0]:.2f}" in text
