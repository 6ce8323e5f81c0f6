"""`crossnoise ml ...` through the real entry point (subprocesses)."""

import json
from pathlib import Path

import pytest


def test_noise_scale_json_contract_and_reproducible(run_cli):
    args = ("ml", "noise-scale", "--task", "cancer-logreg", "--batch-size", "16", "--steps", "20", "--json")
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)  # exactly one JSON object on stdout
    for key in ("b_simple", "b_simple_se", "trace_sigma", "grad_norm_sq", "batch_size", "n_examples"):
        assert key in out
    assert out["batch_size"] == 16 and out["n_examples"] == 569
    assert out["b_simple"] == pytest.approx(out["trace_sigma"] / out["grad_norm_sq"], rel=1e-9)
    assert out["b_simple_se"] > 0
    assert json.loads(run_cli(*args).stdout)["b_simple"] == out["b_simple"]  # same seed, same numbers
    other = json.loads(run_cli(*args[:-1], "--seed", "1", "--json").stdout)
    assert other["b_simple"] != out["b_simple"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--task", "mnist"), "digits-mlp, digits-cnn, cancer-logreg, cancer-mlp"),
        (("--batch-size", "1"), "batch-size"),
        (("--method", "exact"), "per-example, two-size"),
        (("--examples", "2"), "examples"),
    ],
)
def test_noise_scale_bad_input_exit_2(run_cli, args, needle):
    r = run_cli("ml", "noise-scale", *args, "--json")
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_standardize_json_contract_and_plot(run_cli, tmp_path):
    r = run_cli("ml", "standardize", "--steps", "10", "--json", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for cond in ("raw", "standardized"):
        for key in ("b_simple", "trace_sigma", "grad_norm_sq"):
            assert out["logreg_w0"][cond][key] > 0
    assert isinstance(out["training"], list) and out["training"][0]["step"] == 0
    assert Path(out["plot"]).exists() and Path(out["plot"]).suffix == ".png"


def test_graphsage_table_and_png(run_cli, tmp_path):
    r = run_cli("ml", "graphsage", "--quick", "--repeats", "8", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "fanout" in r.stdout and "ml graphsage" in r.stdout and (tmp_path / "ml-graphsage.png").exists()
