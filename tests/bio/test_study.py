import math

import pytest

from crossnoise.bio.study import report_study
from crossnoise.study import DomainStudy
from crossnoise.validation import InputError


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return report_study(quick=True, rng=3, out_dir=tmp_path_factory.mktemp("bio_study"))


def test_study_contract_and_figure(study):
    assert isinstance(study, DomainStudy) and study.domain == "bio"
    assert study.localization_unit == "cell diameters"
    assert study.figure is not None and study.figure.exists() and study.figure.stat().st_size > 10_000
    labels = [r.label for r in study.records]
    assert labels[0] == "RA/Hoxb4 single-shot" and len(set(labels)) == len(labels)
    assert all(r.sample_unit == "cell readout" for r in study.records)
    assert "Sosnik" in study.reading and study.cost["embryos"] > 0


def test_single_shot_localization_error_is_lambda_cv_over_dx(study):
    """σx/Δx = λ·CV/Δx = 50·0.45/8 = 2.81 cells (central-difference slope biases it down by
    (Δx/λ)²/6 ≈ 0.4%); within 4 SE of the record plus that bias."""
    single = study.records[0]
    expected = 50 * 0.45 / 8
    assert abs(single.localization_error - expected) < 4 * single.localization_error_se + 0.005 * expected


def test_time_averaged_records_follow_one_over_sqrt_n(study):
    by_n = {r.n_samples: r for r in study.records if "time-averaged" in r.label or r.label.endswith("single-shot")}
    base, base_se = by_n[1].localization_error, by_n[1].localization_error_se
    for n in (2, 4, 8, 16):
        rec = by_n[n]
        # independent ensembles: 4 SE of the difference (lognormal CV 0.45 has heavy tails, SE ≈ 2%)
        tol = 4 * math.hypot(rec.localization_error_se, base_se / math.sqrt(n))
        assert abs(rec.localization_error - base / math.sqrt(n)) < tol


def test_same_seed_same_numbers(tmp_path):
    a = report_study(quick=True, rng=5, out_dir=tmp_path)
    b = report_study(quick=True, rng=5, out_dir=tmp_path)
    assert [r.localization_error for r in a.records] == [r.localization_error for r in b.records]
    with pytest.raises(InputError, match="`quick`"):
        report_study(quick="yes", out_dir=tmp_path)
