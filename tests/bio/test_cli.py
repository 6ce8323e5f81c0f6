import json
import math

import pytest


def _json(r):
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_gradient_dpp_must_show(run_cli):
    out = _json(run_cli("bio", "gradient", "--preset", "dpp", "--json"))
    assert set(out) >= {"lambda_um", "c0", "accumulation_time_s_source", "accumulation_time_s_lambda"}
    assert out["lambda_um"] == pytest.approx(19.9, rel=0.01)
    assert out["accumulation_time_s_source"] / 60 == pytest.approx(33, abs=0.5)
    assert out["accumulation_time_s_lambda"] / 60 == pytest.approx(66, abs=1.0)
    # the discretised finite tissue (400 cells, L = 10λ) agrees with the semi-infinite formula
    assert out["accumulation_time_s_lambda_numeric"] == pytest.approx(out["accumulation_time_s_lambda"], rel=1e-3)


def test_gradient_overrides_and_coarse_grid_warning(run_cli):
    r = run_cli("bio", "gradient", "--preset", "dpp", "--k", "1e-3", "--n-cells", "10", "--json")
    out = _json(r)
    assert out["lambda_um"] == pytest.approx(10.0)
    assert "too coarse" in r.stderr


def test_pattern_json_keys_and_bicoid_numbers(run_cli):
    out = _json(run_cli("bio", "pattern", "--preset", "bicoid", "--embryos", "10000", "--noise", "cv:0.1",
                        "--seed", "1", "--json"))
    for key in ("boundary_mean_um", "boundary_sd_um", "boundary_sd_ci_um", "sigma_x_predicted_um",
                "sigma_x_cells", "positional_information_bits", "boundary_width_cells"):
        assert key in out
    lo, hi = out["sigma_x_measured_ci_um"]
    assert lo <= out["sigma_x_predicted_um"] <= hi
    assert out["sigma_x_predicted_um"] == pytest.approx(10.0, rel=0.02)


def test_pattern_production_scale_and_same_seed(run_cli):
    args = ("bio", "pattern", "--preset", "ra-hindbrain", "--embryos", "4000", "--json")
    a = _json(run_cli(*args, "--seed", "3"))
    b = _json(run_cli(*args, "--seed", "3"))
    a_wall, b_wall = a.pop("wall_s"), b.pop("wall_s")
    assert a == b and a_wall > 0 and b_wall > 0
    c = _json(run_cli(*args, "--seed", "4", "--production-scale", "2"))
    shift = c["boundary_mean_um"] - a["boundary_mean_um"]
    se = math.hypot(a["boundary_mean_se_um"], c["boundary_mean_se_um"])
    assert abs(shift - a["lambda_um"] * math.log(2)) < 4 * se


def test_profile_table_and_plot(run_cli, tmp_path):
    out = _json(run_cli("bio", "profile", "--preset", "ra-hindbrain", "--embryos", "3000", "--out", tmp_path,
                        "--json"))
    assert out["plot"].endswith(".png") and (tmp_path / "bio_profile_ra-hindbrain.png").exists()
    assert len(out["profile"]) > 10 and {"x_um", "sigma_x_um", "sigma_x_cells"} <= set(out["profile"][0])


def test_stochastic_fano(run_cli):
    out = _json(run_cli("bio", "stochastic", "--sites", "6", "--embryos", "1000", "--method", "particle",
                        "--degradation", "0.5", "--production", "20", "--json"))
    assert set(out) >= {"fano_mean", "fano_min", "fano_max", "mean_rel_error"}
    # SE of each Fano factor √(2/1000) = 0.045
    assert abs(out["fano_mean"] - 1) < 0.1 and out["fano_max_abs_z"] < 4.5


@pytest.mark.parametrize("args,needle", [
    (("gradient", "--D", "-1"), "`D`"),
    (("gradient", "--preset", "nodal"), "dpp, bicoid"),
    (("pattern", "--embryos", "0"), "`embryos`"),
    (("pattern", "--threshold", "1000"), "range"),
    (("pattern", "--noise", "cv:x"), "`noise`"),
    (("stochastic", "--sites", "1"), "`sites`"),
])
def test_bad_input_exits_2_with_one_line(run_cli, args, needle):
    r = run_cli("bio", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
