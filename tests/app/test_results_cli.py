"""`crossnoise sweep run|experiments` and `crossnoise results list|show|export` through the real entry point."""

from __future__ import annotations

import csv
import json

import pytest

SWEEP = """\
[sweep]
name = "tiny"
experiment = "core.snr-synthetic"
seeds = 2

[grid]
n = [300, 3000]
mean = [0.5]
"""


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A store written by a real sweep: 2 grid points × 2 seeds on a 1-worker LocalCluster."""
    import subprocess
    import sys
    from pathlib import Path

    d = tmp_path_factory.mktemp("res")
    (d / "tiny.toml").write_text(SWEEP)
    exe = str(Path(sys.executable).with_name("crossnoise"))
    r = subprocess.run([exe, "sweep", "run", str(d / "tiny.toml"), "--workers", "1", "--db", str(d / "r.sqlite"),
                        "--json"], cwd=d, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return d, json.loads(r.stdout)


def test_sweep_run_json_and_table(populated, run_cli):
    d, out = populated
    assert (out["total"], out["computed"], out["skipped"], out["failed"]) == (4, 4, 0, 0)
    r = run_cli("sweep", "run", d / "tiny.toml", "--db", d / "r.sqlite", "--out", d / "o", cwd=d)  # nothing to do
    assert r.returncode == 0 and "skipped" in r.stdout and "4" in r.stdout
    rows = list(csv.DictReader(open(d / "o" / "tiny.csv")))  # --out: the sweep's cells as one table
    assert len(rows) == 4 and {row["sweep"] for row in rows} == {"tiny"}
    dry = json.loads(run_cli("sweep", "run", d / "tiny.toml", "--db", d / "r.sqlite", "--dry-run", "--json").stdout)
    assert dry["total"] == 4 and dry["stored"] == 4 and all(c["stored"] for c in dry["cells"])
    one = json.loads(run_cli("sweep", "run", d / "tiny.toml", "--db", d / "r.sqlite", "--dry-run", "--json",
                             "--seed", "9").stdout)
    assert one["total"] == 2 and one["stored"] == 0  # --seed replaces the file's seeds


def test_results_list_show(populated, run_cli):
    d, _ = populated
    r = run_cli("results", "list", "--db", d / "r.sqlite", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["total"] == out["matched"] == 4 and {x["sweep"] for x in out["runs"]} == {"tiny"}
    assert len(json.loads(run_cli("results", "list", "--db", d / "r.sqlite", "--json", "--seed", "1").stdout)["runs"]) == 2
    rid = out["runs"][0]["id"]
    show = json.loads(run_cli("results", "show", rid[:8], "--db", d / "r.sqlite", "--json").stdout)
    assert show["id"] == rid and show["status"] == "ok" and show["config"]["mean"] == 0.5
    assert show["metrics"]["noise_scale_theory"] == pytest.approx(4.0)  # σ²/μ² = 1/0.25
    human = run_cli("results", "show", rid, "--db", d / "r.sqlite")
    assert human.returncode == 0 and "noise_scale_theory" in human.stdout
    env_list = run_cli("results", "list", "--json", env={"CROSSNOISE_DB": str(d / "r.sqlite")})
    assert json.loads(env_list.stdout)["total"] == 4  # CROSSNOISE_DB chooses the database


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_results_export(populated, run_cli, tmp_path, fmt):
    d, _ = populated
    r = run_cli("results", "export", "--format", fmt, "--db", d / "r.sqlite", "--out", tmp_path, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["runs"] == 4 and out["path"].endswith(f"results.{fmt}")
    if fmt == "csv":
        rows = list(csv.DictReader(open(out["path"])))
        assert len(rows) == 4 and {row["config.n"] for row in rows} == {"300", "3000"}
        assert all(float(row["metrics.noise_scale"]) > 0 for row in rows)
    elif fmt == "json":
        runs = json.load(open(out["path"]))["runs"]
        assert len(runs) == 4 and all(isinstance(x["metrics"]["snr"], float) for x in runs)
    else:
        pq = pytest.importorskip("pyarrow.parquet")
        t = pq.read_table(out["path"]).to_pydict()
        assert sorted(t["config.n"]) == [300, 300, 3000, 3000]


def test_results_bad_input_exit_2(populated, run_cli, tmp_path):
    d, _ = populated
    for args, needle in [
        (("results", "show", "zz"), "at least 4 hex"),
        (("results", "show", "ffffffffffff"), "no run with id"),
        (("results", "list", "--status", "weird"), "weird"),
        (("results", "export", "--format", "xls"), "xls"),
    ]:
        r = run_cli(*args, "--db", d / "r.sqlite")
        assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    r = run_cli("results", "list", "--db", tmp_path / "none.sqlite")
    assert r.returncode == 2 and "no results database" in r.stderr and not (tmp_path / "none.sqlite").exists()


def test_sweep_experiments_lists_registry(run_cli):
    out = json.loads(run_cli("sweep", "experiments", "--json").stdout)
    names = {e["experiment"]: e for e in out["experiments"]}
    assert names["core.snr-synthetic"]["available"] is True
    assert any(p.startswith("n (int") for p in names["core.snr-synthetic"]["parameters"])


def test_shipped_sweep_examples_parse():
    """Every examples/sweeps/*.toml names a registered experiment and valid parameters."""
    from pathlib import Path

    from crossnoise.sweep import load_sweep

    files = sorted((Path(__file__).parents[2] / "examples" / "sweeps").glob("*.toml"))
    assert any(f.name == "quick.toml" for f in files)
    quick = load_sweep(Path(__file__).parents[2] / "examples" / "sweeps" / "quick.toml")
    assert len(quick.cells()) >= 20
    for f in files:
        spec = load_sweep(f)
        from crossnoise.experiments import get_experiment

        if get_experiment(spec.experiment).available()[0]:
            assert spec.cells()


@pytest.mark.parametrize("name, config", [
    ("bio.pattern", {"n_embryos": 500}),
    ("ml.noise-scale", {"task": "cancer-logreg", "steps": 5}),
    ("quantum.gradient-snr", {"method": "spsa", "repeats": 5, "budget": 200}),
])
def test_domain_experiments_run_one_cell(name, config):
    """Each domain adapter runs one small real cell and returns a SignalNoise reading (if its domain landed)."""
    from crossnoise.experiments import get_experiment
    from crossnoise.sweep import run_cell

    exp = get_experiment(name)
    ok, why = exp.available()
    if not ok:
        pytest.skip(why)
    m = run_cell(name, exp.resolve_config(config), 3)["metrics"]
    assert m["per_sample_variance"] > 0 and m["n_samples"] > 0 and m["sample_unit"]
    assert m["snr"] == pytest.approx(m["n_samples"] / m["noise_scale"], rel=1e-9)  # SNR = n / noise scale
    assert run_cell(name, exp.resolve_config(config), 3)["metrics"]["snr"] == m["snr"]  # same seed, same numbers
