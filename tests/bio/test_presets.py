import math

import pytest

import crossnoise.bio.presets as presets_module

from crossnoise.bio.presets import get_preset, preset_names
from crossnoise.bio.steady import steady_state
from crossnoise.validation import InputError


def test_presets_carry_the_published_numbers():
    dpp = get_preset("dpp")
    assert (dpp.D, dpp.k) == (0.1, 2.52e-4)
    assert dpp.lambda_um == pytest.approx(19.9, rel=0.01)
    bcd = get_preset("bicoid")
    assert bcd.lambda_um == pytest.approx(100.0) and bcd.L == 500.0 and bcd.noise == "cv:0.1"
    shh = get_preset("shh-neural-tube")
    assert shh.cell_diameter == pytest.approx(shh.lambda_um / 4) and shh.kinetic_cv == 0.3
    ra = get_preset("ra-hindbrain")
    assert 0 < ra.boundary_um < ra.L
    assert "No RA" in presets_module.__doc__ and "assumptions" in presets_module.__doc__
    assert set(preset_names()) == {"dpp", "bicoid", "ra-hindbrain", "shh-neural-tube"}


def test_threshold_defaults_to_the_concentration_at_the_boundary():
    p = get_preset("bicoid")
    assert p.theta == pytest.approx(float(steady_state(p.boundary_um, p.D, p.k, p.j0, p.L)))
    assert p.c0 == pytest.approx(33.0, rel=1e-9)


def test_overrides_replace_fields_and_none_keeps_them():
    p = get_preset("dpp", k=1e-3, D=None)
    assert p.k == 1e-3 and p.D == 0.1
    assert p.lambda_um == pytest.approx(math.sqrt(0.1 / 1e-3))


def test_unknown_preset_lists_the_presets():
    with pytest.raises(InputError, match="dpp, bicoid, ra-hindbrain, shh-neural-tube"):
        get_preset("wingless")


@pytest.mark.parametrize("field", ["D", "k", "L", "j0"])
def test_non_positive_kinetics_rejected(field):
    with pytest.raises(InputError, match=f"`{field}`"):
        get_preset("bicoid", **{field: 0.0})


def test_boundary_and_threshold_must_be_reachable():
    with pytest.raises(InputError, match="boundary_um"):
        get_preset("bicoid", boundary_um=600.0)
    with pytest.raises(InputError, match=r"range \("):
        get_preset("bicoid", threshold=1000.0)
    with pytest.raises(InputError, match="unknown preset parameter"):
        get_preset("bicoid", lamda=3)
