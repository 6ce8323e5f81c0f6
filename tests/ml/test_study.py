"""The ml report study (quick) and its mapping onto SignalNoise."""

import math

import pytest

from crossnoise.ml.study import report_study
from crossnoise.snr import SignalNoise
from crossnoise.study import DomainStudy


def test_report_study_quick(tmp_path):
    calls = []
    s = report_study(quick=True, rng=0, out_dir=tmp_path, progress=lambda d, t: calls.append((d, t)))
    assert isinstance(s, DomainStudy) and s.domain == "ml"
    assert s.figure is not None and s.figure.exists() and s.figure.stat().st_size > 1000
    assert len(s.records) == 3 and all(isinstance(r, SignalNoise) for r in s.records)
    for r in s.records:
        assert r.sample_unit == "example" and r.n_samples == 32
        assert r.noise_scale > 0 and r.noise_scale_se is not None
        assert r.snr == pytest.approx(32 / r.noise_scale) if math.isfinite(r.noise_scale) else True
    assert calls[-1] == (3, 3)
    assert "B_simple" in s.reading and s.cost["examples_forward_backward"] > 0
    again = report_study(quick=True, rng=0, out_dir=tmp_path)
    assert [r.noise_scale for r in again.records] == [r.noise_scale for r in s.records]
