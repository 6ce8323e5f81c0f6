"""The optimizer comparison and the scan (library and CLI), on H2 with the real statevector engine."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crossnoise.quantum.compare import (
    check_seeds,
    compare_optimizers,
    parse_optimizers,
    plot_comparison,
    plot_scan,
    scan_bond_lengths,
)
from crossnoise.validation import InputError


@pytest.fixture(scope="module")
def small():
    return compare_optimizers("H2", "spsa,ps-gd", budget=6_000, seeds=[0, 1, 2], shots=50, rng=7)


def test_comparison_summaries_are_consistent_with_the_runs(small, tmp_path):
    assert [s.optimizer for s in small.summaries] == ["spsa", "ps-gd"]
    assert len(small.runs) == 6 and small.seeds == 3
    for s in small.summaries:
        runs = [r for r in small.runs if r.optimizer == s.optimizer]
        errs = np.array([r.final_error for r in runs])
        assert s.final_error_median == pytest.approx(np.median(errs))
        assert s.final_error_iqr[0] <= s.final_error_median <= s.final_error_iqr[1]
        assert s.chem_acc_fraction == pytest.approx(np.mean(errs <= 1.6e-3))
        assert all(r.result.ledger.shots <= 6_000 for r in runs)
        assert np.all(errs > -1e-9)  # UCCSD conserves the electron number: never below e_exact
    png = plot_comparison(small, tmp_path / "c.png")
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_comparison_is_reproducible_and_seeds_share_the_start(small):
    again = compare_optimizers("H2", "spsa,ps-gd", budget=6_000, seeds=[0, 1, 2], shots=50, rng=7)
    assert [r.final_error for r in again.runs] == [r.final_error for r in small.runs]
    # a run's stream does not depend on which other optimizers are compared
    alone = compare_optimizers("H2", "ps-gd", budget=6_000, seeds=[0, 1, 2], shots=50, rng=7)
    assert [r.final_error for r in alone.runs] == [r.final_error for r in small.runs if r.optimizer == "ps-gd"]
    with pytest.warns(RuntimeWarning, match="one seed"):
        other = compare_optimizers("H2", "spsa", budget=6_000, seeds=[0], shots=50, rng=8)
    assert other.runs[0].final_error != small.runs[0].final_error


def test_bad_comparison_input():
    with pytest.raises(InputError, match="one of spsa, qnspsa, 2spsa, ps-gd"):
        parse_optimizers("spsa,lbfgs")
    with pytest.raises(InputError, match="at least one"):
        parse_optimizers(" , ")
    with pytest.raises(InputError, match="empty list"):
        check_seeds([])
    with pytest.raises(InputError, match=r"budget.*ps-gd: \d+ shots"):
        compare_optimizers("H2", "ps-gd", budget=500, seeds=2)


def test_scan_runs_one_vqe_per_bond_length(tmp_path):
    pts = scan_bond_lengths("H2", "ps-gd", budget=20_000, bond_lengths=[0.6, 0.735], rng=0)
    assert [p.bond_length for p in pts] == [0.6, 0.735]
    assert pts[1].e_exact == pytest.approx(-1.13730604, abs=1e-6)
    assert all(p.e_vqe >= p.e_exact - 1e-9 and p.shots_used <= 20_000 for p in pts)
    png = plot_scan(pts, tmp_path / "s.png", title="t")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_cli_compare_json_contract(run_cli, tmp_path):
    proc = run_cli("quantum", "compare", "--molecule", "H2", "--optimizers", "spsa,cobyla", "--budget", "5e3",
                   "--seeds", "2", "--shots", "50", "--json", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert {"molecule", "e_exact", "budget", "results", "plot"} <= set(payload)
    assert payload["budget"] == 5000 and payload["molecule"] == "H2"
    keys = {"optimizer", "final_error_median", "final_error_iqr", "chem_acc_fraction", "shots_to_chem_acc_median",
            "circuits_median", "wall_s_median"}
    assert [r["optimizer"] for r in payload["results"]] == ["spsa", "cobyla"]
    assert all(keys <= set(r) for r in payload["results"])
    assert (tmp_path / payload["plot"].split("/")[-1]).exists()


@pytest.mark.parametrize("args,needle", [
    (["--optimizers", "spsa,foo", "--budget", "1e5"], "one of spsa"),
    (["--budget", "100"], "shots ("),
    (["--budget", "1e5", "--seeds", ""], "empty list"),
    (["--budget", "-5"], "`budget` must be a positive integer"),
])
def test_cli_compare_bad_input_exits_2(run_cli, args, needle):
    proc = run_cli("quantum", "compare", *args)
    assert proc.returncode == 2
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_cli_scan_json(run_cli, tmp_path):
    proc = run_cli("quantum", "scan", "--molecule", "H2", "--optimizer", "ps-gd", "--budget", "2e4",
                   "--bond-lengths", "0.735,1.0", "--json", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert [p["bond_length"] for p in payload["points"]] == [0.735, 1.0]
    assert payload["points"][0]["e_exact"] == pytest.approx(-1.13730604, abs=1e-6)
    bad = run_cli("quantum", "scan", "--optimizer", "sgd", "--budget", "1e4")
    assert bad.returncode == 2 and "one of spsa" in bad.stderr
