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
    assert any("Crabp2a" in lab for lab in labels) and any("Cyp26a1" in lab for lab in labels)


def test_perturbations_move_noise_or_mean_as_sosnik_report(study):
    """Crabp2a knock-down (CV 0.45 → 0.6): σx up by ~0.6/0.45, far beyond 4 SE; Cyp26a1 halved: a
    shallower gradient (λ·√2) with the same CV, so σx in cells grows too."""
    rec = {r.label: r for r in study.records}
    single = rec["RA/Hoxb4 single-shot"]
    crabp = next(r for lab, r in rec.items() if "Crabp2a" in lab)
    cyp = next(r for lab, r in rec.items() if "Cyp26a1" in lab)
    assert crabp.localization_error > single.localization_error + 4 * crabp.localization_error_se
    assert cyp.localization_error > single.localization_error


def test_single_shot_localization_error_is_lambda_cv_over_dx(study):
    """σx/Δx = λ·CV/Δx = 50·0.45/8 = 2.81 cells (central-difference slope biases it down by
    (Δx/λ)²/6 ≈ 0.4%); within 4 SE of the record plus that bias."""
    single = study.records[0]
    expected = 50 * 0.45 / 8
    assert abs(single.localization_error - expected) < 4 * single.localization_error_se + 0.005 * expected


def test_time_averaged_records_follow_one_over_sqrt_n(study):
    by_n = {r.n_samples: r for r in study.records
            if r.label.startswith("RA/Hoxb4 time-averaged") or r.label == "RA/Hoxb4 single-shot"}
    assert sorted(by_n) == [1, 2, 4, 8, 16]
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


@pytest.mark.slow
def test_default_study_is_tighter_than_quick(tmp_path):
    """Ten times the embryos: the single-shot record's SE shrinks by ≈ √10 (≥ 2× asserted) and
    λ·CV/Δx = 2.81 cells stays within 4 SE + 0.5% (the slope's central-difference bias)."""
    quick = report_study(quick=True, rng=8, out_dir=tmp_path)
    full = report_study(quick=False, rng=8, out_dir=tmp_path)
    q, f = quick.records[0], full.records[0]
    assert f.localization_error_se < q.localization_error_se / 2
    assert abs(f.localization_error - 50 * 0.45 / 8) < 4 * f.localization_error_se + 0.005 * 2.81
