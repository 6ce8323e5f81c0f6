"""The report study: SignalNoise records, figure, reading, reproducibility."""

from __future__ import annotations

import numpy as np

from crossnoise.quantum.study import gradient_snr, report_study
from crossnoise.snr import SignalNoise


def test_quick_study(tmp_path):
    seen = []
    s = report_study(quick=True, rng=0, out_dir=tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert s.domain == "quantum" and seen[-1] == (1, 1)
    assert len(s.records) == 2 and all(isinstance(r, SignalNoise) for r in s.records)
    assert all(r.sample_unit == "shot" and r.n_samples == 20_000 for r in s.records)
    assert s.figure.exists() and s.figure.stat().st_size > 10_000
    assert "H2" in s.reading and s.cost["shots"] > 0
    ps, sp = s.records
    # parameter shift: V = B·tr Cov = σ²d² (single-shot σ² of the energy estimator ~ 0.3–1 Ha² on H2)
    assert 0.1 * 16**2 < ps.per_sample_variance < 2 * 16**2
    # SPSA at this budget is direction-limited: its SNR is far below parameter shift's
    assert sp.snr < ps.snr / 10


def test_gradient_snr_is_seeded():
    a, _ = gradient_snr("H2", 1, 4000, 20, rng=5)
    b, _ = gradient_snr("H2", 1, 4000, 20, rng=5)
    c, _ = gradient_snr("H2", 1, 4000, 20, rng=6)
    assert a[0].per_sample_variance == b[0].per_sample_variance
    assert a[0].per_sample_variance != c[0].per_sample_variance
    assert np.array_equal(a[0].signal, b[0].signal)
