"""The real `crossnoise` entry point, run in subprocesses."""

import json
import subprocess
import sys

import numpy as np
import pytest


def test_help_lists_groups(run_cli):
    r = run_cli("--help")
    assert r.returncode == 0
    for group in ("quantum", "bio", "ml", "report", "sweep", "results", "snr"):
        assert group in r.stdout


def test_version(run_cli):
    import crossnoise

    r = run_cli("--version")
    assert r.returncode == 0 and crossnoise.__version__ in r.stdout


def test_snr_json_matches_numpy(run_cli, tmp_path):
    x = np.random.default_rng(5).normal(loc=[0.5, 1.0, -0.3], scale=[1.0, 2.0, 0.5], size=(500, 3))
    np.save(tmp_path / "data.npy", x)
    r = run_cli("snr", tmp_path / "data.npy", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # exactly one JSON object on stdout
    n = len(x)
    tr = np.var(x, axis=0, ddof=1).sum()
    s2 = x.mean(0) @ x.mean(0) - tr / n
    assert out["signal_norm_sq"] == pytest.approx(s2, rel=1e-10)
    assert out["per_sample_variance"] == pytest.approx(tr, rel=1e-10)
    assert out["n_samples"] == n
    assert out["snr"] == pytest.approx(s2 * n / tr, rel=1e-10)
    assert out["noise_scale"] == pytest.approx(tr / s2, rel=1e-10)
    assert out["localization_error"] == pytest.approx(np.sqrt(tr / n / s2), rel=1e-10)
    for key in ("snr_se", "noise_scale_se", "localization_error_se"):
        assert out[key] > 0


def test_snr_csv_with_header_and_table(run_cli, tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("a,b\n1,2\n2,2.5\n3,2\n4,3\n")
    r = run_cli("snr", p)
    assert r.returncode == 0, r.stderr
    assert "noise_scale" in r.stdout
    j = json.loads(run_cli("snr", p, "--json").stdout)
    assert j["n_samples"] == 4


@pytest.mark.parametrize(
    "content, suffix, needle",
    [
        ("1,2\n3\n4,5\n", ".csv", "columns"),
        ("1,2\nnan,3\n4,5\n", ".csv", "finite"),
        ("", ".csv", "empty"),
        ("1,2\n3,4\n", ".csv", "at least 3 samples"),
        ("1,2\n3,x\n5,6\n", ".csv", "numbers"),
        ("not numpy", ".npy", "could not be read"),
        ("1,2", ".txt", ".npy or .csv"),
    ],
)
def test_snr_bad_input_exit_2_one_line(run_cli, tmp_path, content, suffix, needle):
    p = tmp_path / f"bad{suffix}"
    p.write_text(content)
    r = run_cli("snr", p, "--json")
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_snr_inf_sample_rejected(run_cli, tmp_path):
    np.save(tmp_path / "inf.npy", np.array([[1.0], [np.inf], [2.0]]))
    r = run_cli("snr", tmp_path / "inf.npy")
    assert r.returncode == 2 and "finite" in r.stderr


def test_missing_file_and_unknown_option_exit_2(run_cli, tmp_path):
    r = run_cli("snr", tmp_path / "nope.npy")
    assert r.returncode == 2 and "not found" in r.stderr
    r = run_cli("snr", "--bogus")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_packages_import_from_outside_repo_and_generic_names_do_not(tmp_path):
    ok = subprocess.run([sys.executable, "-c", "import crossnoise, crossnoise.quantum, crossnoise.bio, crossnoise.ml"],
                        cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    for name in ("ml", "bio", "quantum"):
        r = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode != 0, f"`import {name}` should fail outside the repo"
