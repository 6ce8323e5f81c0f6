"""Molecule specs: built-ins, user geometries, bond scans and every bad-input message."""

from __future__ import annotations

import pytest

from crossnoise.quantum.molecules import BUILTIN_MOLECULES, bond_scan, custom_molecule, molecule, parse_geometry
from crossnoise.validation import InputError


def test_builtins_have_the_documented_sizes():
    sizes = {name: (molecule(name).n_qubits, molecule(name).n_active_electrons) for name in BUILTIN_MOLECULES}
    assert sizes == {"H2": (4, 2), "LiH": (10, 2), "BeH2": (12, 4), "H2O": (8, 4)}


def test_lookup_is_case_insensitive_and_unknown_lists_known():
    assert molecule("lih").name == "LiH"
    with pytest.raises(InputError, match="H2, LiH, BeH2, H2O.*'N2'"):
        molecule("N2")


def test_parse_geometry_and_custom():
    syms, coords = parse_geometry("H 0 0 0; h 0 0 0.735")
    assert syms == ("H", "H") and coords[1] == (0.0, 0.0, 0.735)
    spec = custom_molecule(syms, coords)
    assert spec.n_qubits == 4 and spec.n_electrons == 2
    with pytest.raises(InputError, match="SYMBOL x y z"):
        parse_geometry("H 0 0")
    with pytest.raises(InputError, match="non-numeric"):
        parse_geometry("H 0 0 a")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"symbols": ["H", "H"], "coordinates": [[0, 0, 0], [0, 0, 0.05]]}, "at least 0.1"),
        ({"symbols": ["H", "H"], "coordinates": [[0, 0, 0], [0, 0, 0.7]], "multiplicity": 2}, "inconsistent"),
        ({"symbols": ["H", "H"], "coordinates": [[0, 0, 0], [0, 0, 0.7]], "charge": 1}, "closed shell|inconsistent"),
        ({"symbols": ["H", "H"], "coordinates": [[0, 0, 0], [0, 0, 0.7]], "active_orbitals": 3}, "active_orbitals"),
        ({"symbols": ["Li", "H"], "coordinates": [[0, 0, 0], [0, 0, 1.5]], "active_electrons": 3}, "active_electrons"),
        ({"symbols": ["Li", "H"], "coordinates": [[0, 0, 0], [0, 0, 1.5]], "active_electrons": 2,
          "active_orbitals": 6}, "must be ≤ 5"),
        ({"symbols": ["Xx", "H"], "coordinates": [[0, 0, 0], [0, 0, 1.5]]}, "elements"),
        ({"symbols": ["H"], "coordinates": [[0, 0, 0], [0, 0, 1.5]]}, "one entry per coordinate"),
    ],
)
def test_bad_molecules_are_named(kwargs, match):
    with pytest.raises(InputError, match=match):
        custom_molecule(**kwargs)


def test_bond_scan_stretches_the_right_bonds():
    h2 = bond_scan("H2", [0.5, 1.5])
    assert [s.coordinates[1][2] for s in h2] == [0.5, 1.5]
    beh2 = bond_scan("BeH2", [1.0])[0]
    assert beh2.coordinates[1][2] == 1.0 and beh2.coordinates[2][2] == -1.0
    h2o = bond_scan("H2O", [1.1])[0]
    assert abs(sum(c**2 for c in h2o.coordinates[1]) ** 0.5 - 1.1) < 1e-12
    assert h2o.active_orbitals == 4
    with pytest.raises(InputError, match="at least 0.1"):
        bond_scan("H2", [0.01])
