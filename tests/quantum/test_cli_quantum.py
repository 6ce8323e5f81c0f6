"""The real `crossnoise quantum ...` entry point, in a subprocess."""

from __future__ import annotations

import json

import pytest


def _json(proc):
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # exactly one JSON object on stdout


def test_molecules_h2_reference(run_cli):
    out = _json(run_cli("quantum", "molecules", "--names", "H2,LiH", "--json"))
    h2 = {m["name"]: m for m in out["molecules"]}["H2"]
    assert abs(h2["e_exact"] - (-1.13730604)) < 1e-6
    assert set(h2) >= {"name", "n_qubits", "n_terms", "n_groups", "e_hf", "e_exact"}


def test_energy_json_and_seed(run_cli):
    args = ("quantum", "energy", "--molecule", "H2", "--shots", "4000", "--theta", "random", "--json")
    a = _json(run_cli(*args, "--seed", "1"))
    b = _json(run_cli(*args, "--seed", "1"))
    c = _json(run_cli(*args, "--seed", "2"))
    assert a == b and a["estimate"] != c["estimate"]
    assert {"estimate", "standard_error", "shots", "circuits", "e_exact", "e_hf", "n_qubits"} <= set(a)
    assert a["shots"] == 4000 and a["circuits"] == 5
    # 4000 shots, σ ≈ 0.7 → SE ≈ 0.01; the estimate is within 5 SE of the exact energy at θ
    assert abs(a["estimate"] - a["energy_at_theta"]) < 5 * a["standard_error"]


def test_energy_custom_geometry_exact(run_cli):
    out = _json(run_cli("quantum", "energy", "--geometry", "H 0 0 0; H 0 0 0.735", "--shots", "1000", "--exact",
                        "--engine", "aer", "--json"))
    assert abs(out["e_exact"] - (-1.13730604)) < 1e-6
    out = _json(run_cli("quantum", "energy", "--geometry", "H 0 0 0; H 0 0 0.735", "--shots", "1000", "--json"))
    assert out["e_exact"] is None


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("--molecule", "N2", "--shots", "10"), "H2, LiH, BeH2, H2O"),
        (("--molecule", "H2", "--shots", "0"), "`shots` must be a positive integer"),
        (("--molecule", "H2", "--shots", "2.5"), "`shots` must be a positive integer"),
        (("--geometry", "H 0 0 0; H 0 0 0.05", "--shots", "100"), "at least 0.1"),
        (("--molecule", "H2", "--multiplicity", "2", "--shots", "100"), "inconsistent"),
        (("--molecule", "LiH", "--active-orbitals", "9", "--shots", "100"), "active_orbitals"),
        (("--molecule", "H2", "--shots", "100", "--engine", "aer", "--device", "GPU"), "qiskit-aer-gpu"),
    ],
)
def test_energy_bad_input_exits_2(run_cli, args, match):
    import re

    proc = run_cli("quantum", "energy", *args)
    if "GPU" in args and proc.returncode == 0:
        pytest.skip("this machine has an Aer GPU")
    assert proc.returncode == 2 and re.search(match, proc.stderr), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_variance_small_json_and_plot(run_cli, tmp_path):
    out = _json(run_cli("quantum", "variance", "--molecule", "H2", "--budget", "20000", "--repeats", "30",
                        "--layers", "1,2", "--json", "--out", str(tmp_path)))
    assert [r["d"] for r in out["rows"] if r["point"] == "random"] == [8, 16]
    for key in ("d", "ps_var_per_component", "spsa_var_per_component", "spsa_shot_var_per_component",
                "spsa_direction_var_per_component", "ps_theory_per_component", "spsa_shot_theory_per_component"):
        assert key in out["rows"][0]
    assert {"ps_slope", "spsa_slope", "spsa_shot_slope", "plot"} <= set(out)
    assert (tmp_path / out["plot"].split("/")[-1]).stat().st_size > 10_000


def test_variance_budget_too_small(run_cli):
    proc = run_cli("quantum", "variance", "--molecule", "H2", "--budget", "100", "--layers", "1,2")
    assert proc.returncode == 2 and "`budget` must be at least 160 shots" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_vqe_commands_are_registered(run_cli):
    proc = run_cli("quantum", "--help")
    assert proc.returncode == 0
    for name in ("molecules", "energy", "variance", "compare", "scan"):
        assert name in proc.stdout
