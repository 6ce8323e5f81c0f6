"""Sweep files, the experiment registry and running cells on a real dask LocalCluster."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from crossnoise.experiments import EXPERIMENTS, get_experiment, snr_synthetic
from crossnoise.store import ResultsStore
from crossnoise.sweep import parse_sweep, run_cell, run_sweep
from crossnoise.validation import InputError

GOOD = """\
[sweep]
name = "t"
experiment = "core.snr-synthetic"
seeds = [0, 1, 2]

[fixed]
dim = 4

[grid]
n = [500, 2000]
mean = [0.5, 1.0]
"""


def test_parse_expands_grid_times_seeds():
    spec = parse_sweep(GOOD, name="t.toml")
    cells = spec.cells()
    assert len(cells) == 2 * 2 * 3 and len({c.id for c in cells}) == 12
    assert cells[0].config == {"dim": 4, "n": 500, "mean": 0.5, "sigma": 1.0, "repeats": 1}
    assert [c.seed for c in cells[:3]] == [0, 1, 2]
    # a repeated grid value is one cell, not two
    dup = parse_sweep(GOOD.replace("n = [500, 2000]", "n = [500, 500.0]"), name="d.toml")
    with pytest.warns(RuntimeWarning, match="6 of 12 cells repeat"):
        assert len(dup.cells()) == 6
    assert parse_sweep(GOOD.replace("seeds = [0, 1, 2]", "seeds = 4")).seeds == (0, 1, 2, 3)


@pytest.mark.parametrize("edit, needles", [
    (("n = [500, 2000]", "n = [500, 2000"), ["malformed TOML", "line 11"]),
    (('name = "t"', 'name = "t"\ncolour = 3'), ["line 3", "[sweep] colour", "valid keys"]),
    (("mean = [0.5, 1.0]", "mean = [0.5, 1.0]\nshots = [1, 2]"), ["line 12", "[grid] shots", "valid parameters",
                                                                   "dim (int", "repeats (int"]),
    (('experiment = "core.snr-synthetic"', 'experiment = "core.nope"'), ["line 3", "[sweep] experiment",
                                                                        "core.snr-synthetic", "core.nope"]),
    (("dim = 4", "dim = -4"), ["line 7", "[fixed] dim", "fixed.dim", "got -4"]),
    (("n = [500, 2000]", "n = [500, 2.5]"), ["line 10", "[grid] n", "got 2.5"]),
    (("n = [500, 2000]", "n = 500"), ["line 10", "[grid] n", "non-empty list"]),
    (("seeds = [0, 1, 2]", "seeds = [0, 0]"), ["line 4", "[sweep] seeds", "distinct"]),
    (("seeds = [0, 1, 2]", "seeds = -1"), ["line 4", "seeds"]),
    (("[fixed]\ndim = 4", "[fixed]\ndim = 4\nmean = 2.0"), ["mean", "both fixed and in the grid"]),
    (("[fixed]", "[extra]\nx = 1\n[fixed]"), ["line 6", "unknown table", "extra"]),
])
def test_bad_sweep_files_name_line_and_key(edit, needles):
    assert edit[0] in GOOD
    with pytest.raises(InputError) as info:
        parse_sweep(GOOD.replace(*edit), name="t.toml")
    msg = str(info.value)
    assert "t.toml" in msg
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_missing_sweep_table_and_keys():
    with pytest.raises(InputError, match=r"missing the \[sweep\] table"):
        parse_sweep("[grid]\nn = [1]\n", name="x.toml")
    with pytest.raises(InputError, match="missing key `seeds`"):
        parse_sweep('[sweep]\nexperiment = "core.snr-synthetic"\n', name="x.toml")


def test_registry_lists_valid_names_and_params():
    with pytest.raises(InputError, match="core.snr-synthetic"):
        get_experiment("bogus")
    exp = EXPERIMENTS["core.snr-synthetic"]
    assert exp.available() == (True, "")
    with pytest.raises(InputError, match="valid parameters: dim"):
        exp.resolve_config({"shots": 3})


def test_synthetic_matches_theory_and_reproduces():
    # x ~ N(μ1, σ²I_d): noise scale σ²/μ² exactly; the estimate's z-score is ~N(0, 1).
    cfg = {"dim": 8, "n": 20_000, "mean": 0.2, "sigma": 1.5, "repeats": 1}
    a = snr_synthetic(cfg, rng=11)
    assert a["noise_scale_theory"] == pytest.approx(1.5**2 / 0.2**2)
    assert abs(a["noise_scale_z"]) < 4.5  # |z| > 4.5 has probability 7e-6 under N(0, 1)
    assert a == snr_synthetic(cfg, rng=11)
    assert a["noise_scale"] != snr_synthetic(cfg, rng=12)["noise_scale"]
    assert run_cell("core.snr-synthetic", cfg, 11)["metrics"]["noise_scale"] == a["noise_scale"]
    with pytest.raises(InputError, match="50,000,000"):
        snr_synthetic(cfg | {"dim": 100_000, "n": 1000}, rng=0)


def test_standard_error_is_calibrated_by_repeats():
    # With r = 200 repeats the ratio sd/mean(SE) has relative error ≈ 1/sqrt(2(r-1)) = 0.05;
    # a 4σ band is ±0.2.  A wrong delta-method SE (e.g. missing the covariance term) fails this.
    m = snr_synthetic({"dim": 3, "n": 400, "mean": 0.3, "sigma": 1.0, "repeats": 200}, rng=5)
    assert m["se_calibration"] == pytest.approx(1.0, abs=0.2)
    assert m["n_draws"] == 200 * 400 * 3


def test_run_sweep_on_local_cluster_then_skip_everything(tmp_path):
    text = GOOD.replace("n = [500, 2000]", "n = [2000, 8000]")
    spec = parse_sweep(text, name="t.toml")
    db = tmp_path / "r.sqlite"
    seen = []
    with ResultsStore(db) as store:
        res = run_sweep(spec, store=store, workers=2, progress=lambda d, t: seen.append((d, t)))
        assert (res.total, res.skipped, res.computed, res.failed, res.remaining) == (12, 0, 12, 0, 0)
        assert res.workers == 2 and not res.interrupted
        assert seen[0] == (0, 12) and seen[-1] == (12, 12)
        runs = store.runs()
        assert len(runs) == 12 and {r.status for r in runs} == {"ok"} and {r.sweep for r in runs} == {"t"}
        # each z-score is ≈ N(0, 1): their squares sum to a χ²(12); the test fails only for p < 1e-4
        z = np.array([r.metrics["noise_scale_z"] for r in runs])
        assert stats.chi2.sf(float(z @ z), df=len(z)) > 1e-4
        # the stored numbers are exactly the in-process ones (same seed → same numbers)
        r0 = runs[0]
        assert r0.metrics["noise_scale"] == snr_synthetic(r0.config, rng=r0.seed)["noise_scale"]
        again = run_sweep(spec, store=store, workers=2)  # everything stored: no cluster, nothing computed
        assert (again.skipped, again.computed, again.scheduler) == (12, 0, "none")


def test_failed_cells_are_stored_as_failed_and_rerun(tmp_path):
    # dim·n above the memory guard raises inside the worker (a real error, retried once by dask)
    text = GOOD.replace("[grid]\nn = [500, 2000]\nmean = [0.5, 1.0]", "[grid]\nn = [1000, 3]\nmean = [0.5]")
    text = text.replace("dim = 4", "dim = 60000").replace("seeds = [0, 1, 2]", "seeds = [0]")
    spec = parse_sweep(text, name="f.toml")
    with ResultsStore(tmp_path / "r.sqlite") as store:
        res = run_sweep(spec, store=store, workers=1, retries=1)
        assert (res.computed, res.failed) == (1, 1)  # 3·60000 runs, 1000·60000 = 6e7 does not
        assert "50,000,000" in res.failures[0][1]
        bad = store.runs(status="failed")
        assert len(bad) == 1 and "50,000,000" in bad[0].error and math.isclose(bad[0].wall_s, 0.0)


@pytest.mark.parametrize("text, needles", [
    ('[sweep]\nexperiment = "bio.pattern"\nseeds = 1\n[grid]\npreset = ["bicoid", "frog"]\n',
     ["line 5", "[grid] preset", "bicoid", "frog"]),
    ('[sweep]\nexperiment = "bio.pattern"\nseeds = 1\n[fixed]\nnoise = "loud"\n', ["line 5", "[fixed] noise", "poisson"]),
    ('[sweep]\nexperiment = "quantum.gradient-snr"\nseeds = 1\n[grid]\nmolecule = ["H2", "XeF"]\n',
     ["line 5", "[grid] molecule", "LiH", "XeF"]),
    ('[sweep]\nexperiment = "ml.noise-scale"\nseeds = 1\n[grid]\ntask = ["digits-mlp", "imagenet"]\n',
     ["line 5", "[grid] task", "digits-cnn", "imagenet"]),
])
def test_domain_names_are_checked_before_anything_runs(text, needles):
    exp = get_experiment(text.split('"')[1])
    if not exp.available()[0]:
        pytest.skip(exp.available()[1])
    with pytest.raises(InputError) as info:
        parse_sweep(text, name="x.toml")
    assert all(n in str(info.value) for n in needles), str(info.value)
