"""Molecules: built-in equilibrium geometries, user geometries, active spaces and bond scans.

A :class:`MoleculeSpec` holds every input that determines a qubit Hamiltonian (symbols,
coordinates in Å, charge, multiplicity, basis, active space, method); it is validated once by
:func:`validate_molecule` and turned into a Hamiltonian by
:func:`crossnoise.quantum.hamiltonian.build_hamiltonian`.

Built-in geometries (Å; STO-3G):

- ``H2``: H–H 0.735 (the bond length of the reference energy −1.13730604 Ha, 4 qubits).
- ``LiH``: Li–H 1.5474 (frozen 1s core: 2 active electrons in 5 orbitals → 10 qubits, the
  active space of Kandala et al., Nature 549, 242 (2017) and of the peer benchmark).
- ``BeH2``: linear H–Be–H, Be–H 1.3264 (4 active electrons in 6 orbitals → 12 qubits).
- ``H2O``: O–H 0.9572, ∠HOH 104.52° (4 active electrons in 4 orbitals → 8 qubits).

The geometries are the experimental equilibrium structures listed in the NIST Computational
Chemistry Comparison and Benchmark Database (CCCBDB, https://cccbdb.nist.gov).

Examples
--------
>>> spec = molecule("H2")
>>> spec.n_qubits, spec.n_active_electrons
(4, 2)
>>> parse_geometry("H 0 0 0; H 0 0 0.735")[0]
('H', 'H')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from crossnoise.validation import InputError, check_choice, check_finite_array, check_nonnegative_int, check_positive_int

__all__ = [
    "MoleculeSpec",
    "BUILTIN_MOLECULES",
    "molecule",
    "custom_molecule",
    "parse_geometry",
    "bond_scan",
    "validate_molecule",
]

# Atomic numbers and the number of STO-3G spatial orbitals (minimal basis) per element.
_Z = {"H": 1, "He": 2, "Li": 3, "Be": 4, "B": 5, "C": 6, "N": 7, "O": 8, "F": 9, "Ne": 10,
      "Na": 11, "Mg": 12, "Al": 13, "Si": 14, "P": 15, "S": 16, "Cl": 17, "Ar": 18}
_MIN_DISTANCE = 0.1  # Å
METHODS = ("dhf", "pyscf")


@dataclass(frozen=True, slots=True)
class MoleculeSpec:
    """Every input of a qubit Hamiltonian.

    Attributes
    ----------
    name : str
        A label (``"H2"`` or ``"custom"``).
    symbols : tuple of str
    coordinates : tuple of (x, y, z) tuples, in Å
    charge : int
    multiplicity : int
        2S + 1.
    basis : str
        Basis set name understood by PennyLane (``"sto-3g"``).
    active_electrons, active_orbitals : int or None
        Active space (None: all electrons / all orbitals).  Core orbitals are frozen doubly
        occupied (``(n_electrons − active_electrons)/2`` of them).
    method : str
        ``"dhf"`` (PennyLane's differentiable Hartree–Fock, no extra dependency) or ``"pyscf"``.
    """

    name: str
    symbols: tuple[str, ...]
    coordinates: tuple[tuple[float, float, float], ...]
    charge: int = 0
    multiplicity: int = 1
    basis: str = "sto-3g"
    active_electrons: int | None = None
    active_orbitals: int | None = None
    method: str = "dhf"

    @property
    def n_electrons(self) -> int:
        """Total electrons: Σ Z − charge."""
        return sum(_Z[s] for s in self.symbols) - self.charge

    @property
    def n_active_electrons(self) -> int:
        return self.n_electrons if self.active_electrons is None else self.active_electrons

    @property
    def n_orbitals(self) -> int:
        """Spatial orbitals of the basis (PennyLane's count; STO-3G from a table)."""
        if self.basis.lower() == "sto-3g":
            return sum(1 if _Z[s] <= 2 else (5 if _Z[s] <= 10 else 9) for s in self.symbols)
        import pennylane as qml

        mol = qml.qchem.Molecule(list(self.symbols), np.array(self.coordinates, float), charge=self.charge,
                                 mult=self.multiplicity, basis_name=self.basis, unit="angstrom")
        return int(mol.n_orbitals)

    @property
    def n_active_orbitals(self) -> int:
        return self.n_orbitals if self.active_orbitals is None else self.active_orbitals

    @property
    def n_qubits(self) -> int:
        """2 × active spatial orbitals (Jordan–Wigner, one qubit per spin orbital)."""
        return 2 * self.n_active_orbitals

    def key(self) -> dict[str, Any]:
        """Every input, as plain JSON types (the disk-cache key)."""
        return {
            "symbols": list(self.symbols),
            "coordinates": [[round(float(c), 10) for c in xyz] for xyz in self.coordinates],
            "charge": self.charge, "multiplicity": self.multiplicity, "basis": self.basis.lower(),
            "active_electrons": self.active_electrons, "active_orbitals": self.active_orbitals,
            "method": self.method,
        }


def _linear_triatomic(center: str, outer: str, r: float) -> tuple[tuple[str, ...], tuple]:
    return (center, outer, outer), ((0.0, 0.0, 0.0), (0.0, 0.0, r), (0.0, 0.0, -r))


def _bent_triatomic(center: str, outer: str, r: float, angle_deg: float) -> tuple[tuple[str, ...], tuple]:
    half = math.radians(angle_deg) / 2
    y, z = r * math.sin(half), r * math.cos(half)
    return (center, outer, outer), ((0.0, 0.0, 0.0), (0.0, y, z), (0.0, -y, z))


_H2O_ANGLE = 104.52
BUILTIN_MOLECULES: dict[str, MoleculeSpec] = {
    "H2": MoleculeSpec("H2", ("H", "H"), ((0.0, 0.0, 0.0), (0.0, 0.0, 0.735))),
    "LiH": MoleculeSpec("LiH", ("Li", "H"), ((0.0, 0.0, 0.0), (0.0, 0.0, 1.5474)),
                        active_electrons=2, active_orbitals=5),
    "BeH2": MoleculeSpec("BeH2", *_linear_triatomic("Be", "H", 1.3264), active_electrons=4, active_orbitals=6),
    "H2O": MoleculeSpec("H2O", *_bent_triatomic("O", "H", 0.9572, _H2O_ANGLE), active_electrons=4,
                        active_orbitals=4),
}


def molecule(name: str, **overrides: Any) -> MoleculeSpec:
    """A built-in molecule by name (case-insensitive), optionally with fields overridden.

    Raises
    ------
    InputError
        For an unknown name; the message lists the known ones.
    """
    lookup = {k.lower(): k for k in BUILTIN_MOLECULES}
    if not isinstance(name, str) or name.lower() not in lookup:
        raise InputError(f"`molecule` must be one of {', '.join(BUILTIN_MOLECULES)}; got {name!r}.")
    spec = BUILTIN_MOLECULES[lookup[name.lower()]]
    if overrides:
        spec = replace(spec, **overrides)
    return validate_molecule(spec)


def parse_geometry(text: str) -> tuple[tuple[str, ...], tuple[tuple[float, float, float], ...]]:
    """Parse ``"H 0 0 0; H 0 0 0.735"`` (Å) into symbols and coordinates."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"`geometry` must be 'SYMBOL x y z; SYMBOL x y z; ...' in Å; got {text!r}.")
    symbols, coords = [], []
    for i, atom in enumerate(a for a in text.replace("\n", ";").split(";") if a.strip()):
        parts = atom.replace(",", " ").split()
        if len(parts) != 4:
            raise InputError(f"`geometry` atom {i} must be 'SYMBOL x y z'; got {atom.strip()!r}.")
        try:
            xyz = tuple(float(p) for p in parts[1:])
        except ValueError:
            raise InputError(f"`geometry` atom {i} has non-numeric coordinates; got {atom.strip()!r}.") from None
        symbols.append(parts[0][:1].upper() + parts[0][1:].lower())
        coords.append(xyz)
    return tuple(symbols), tuple(coords)  # type: ignore[return-value]


def custom_molecule(
    symbols: Any,
    coordinates: Any,
    *,
    charge: int = 0,
    multiplicity: int = 1,
    basis: str = "sto-3g",
    active_electrons: int | None = None,
    active_orbitals: int | None = None,
    method: str = "dhf",
    name: str = "custom",
) -> MoleculeSpec:
    """A user geometry (coordinates in Å), validated.

    Examples
    --------
    >>> custom_molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.74]]).n_qubits
    4
    """
    arr = check_finite_array(coordinates, "coordinates", ndim=2)
    if arr.shape[1] != 3:
        raise InputError(f"`coordinates` must have 3 columns (x, y, z in Å); got shape {arr.shape}.")
    syms = tuple(str(s)[:1].upper() + str(s)[1:].lower() for s in symbols)
    if len(syms) != arr.shape[0]:
        raise InputError(f"`symbols` must have one entry per coordinate row ({arr.shape[0]}); got {len(syms)}.")
    spec = MoleculeSpec(name, syms, tuple(tuple(float(c) for c in row) for row in arr), int(charge),
                        int(multiplicity), basis, active_electrons, active_orbitals, method)
    return validate_molecule(spec)


def validate_molecule(spec: MoleculeSpec) -> MoleculeSpec:
    """Check a spec: known elements, atoms ≥ 0.1 Å apart, electrons vs multiplicity, active space."""
    if not spec.symbols:
        raise InputError("`symbols` must name at least one atom; got none.")
    for s in spec.symbols:
        if s not in _Z:
            raise InputError(f"`symbols` must be elements H–Ar; got {s!r}.")
    check_choice(spec.method, "method", METHODS)
    xyz = np.asarray(spec.coordinates, dtype=float)
    for i in range(len(xyz)):
        for j in range(i + 1, len(xyz)):
            r = float(np.linalg.norm(xyz[i] - xyz[j]))
            if r < _MIN_DISTANCE:
                raise InputError(
                    f"`coordinates`: atoms {i} ({spec.symbols[i]}) and {j} ({spec.symbols[j]}) are {r:.3g} Å apart; "
                    f"atoms must be at least {_MIN_DISTANCE} Å apart."
                )
    if isinstance(spec.charge, bool) or not isinstance(spec.charge, (int, np.integer)):
        raise InputError(f"`charge` must be an integer; got {spec.charge!r}.")
    mult = check_positive_int(spec.multiplicity, "multiplicity")
    n_e = spec.n_electrons
    if n_e < 1:
        raise InputError(f"`charge` leaves {n_e} electrons; a molecule needs at least one (Σ Z = {n_e + spec.charge}).")
    unpaired = mult - 1
    if unpaired > n_e or (n_e - unpaired) % 2:
        raise InputError(
            f"`multiplicity` {mult} is inconsistent with {n_e} electrons: 2S+1 needs (electrons − 2S) even and "
            f"2S ≤ electrons, i.e. multiplicity in {{{', '.join(str(m) for m in range(1 + n_e % 2, n_e + 2, 2))}}}."
        )
    if spec.method == "dhf" and mult != 1:
        raise InputError(f"`multiplicity` must be 1 with method 'dhf' (closed shell); got {mult}. Use method 'pyscf'.")
    n_orb = spec.n_orbitals
    if 2 * n_orb < n_e:
        raise InputError(f"the basis {spec.basis!r} has {n_orb} orbitals, too few for {n_e} electrons.")
    if spec.active_electrons is not None:
        ae = check_nonnegative_int(spec.active_electrons, "active_electrons")
        if ae > n_e or (n_e - ae) % 2:
            raise InputError(
                f"`active_electrons` must be ≤ {n_e} with an even number of core electrons (n_electrons − active); "
                f"got {ae}."
            )
        if ae == 0:
            raise InputError("`active_electrons` must be positive; got 0.")
    else:
        ae = n_e
    n_core = (n_e - ae) // 2
    max_active = n_orb - n_core
    if spec.active_orbitals is not None:
        ao = check_positive_int(spec.active_orbitals, "active_orbitals")
        if ao > max_active:
            raise InputError(
                f"`active_orbitals` must be ≤ {max_active} ({n_orb} orbitals in {spec.basis}, {n_core} frozen core); got {ao}."
            )
        if 2 * ao < ae:
            raise InputError(f"`active_orbitals` {ao} cannot hold {ae} active electrons (needs ≥ {math.ceil(ae / 2)}).")
    elif n_core:
        raise InputError("`active_orbitals` must be given when `active_electrons` freezes core orbitals.")
    return spec


def bond_scan(name: str, bond_lengths: Any) -> list[MoleculeSpec]:
    """Specs of a built-in molecule with its bond(s) stretched to each length (Å).

    Diatomics stretch their bond; BeH2 stretches both Be–H bonds symmetrically; H2O both O–H
    bonds at a fixed angle.

    Examples
    --------
    >>> [round(s.coordinates[1][2], 3) for s in bond_scan("H2", [0.5, 1.0])]
    [0.5, 1.0]
    """
    base = molecule(name)
    lengths = check_finite_array(bond_lengths, "bond_lengths", ndim=1, min_rows=1)
    out = []
    for r in lengths:
        r = float(r)
        if base.name == "BeH2":
            syms, coords = _linear_triatomic("Be", "H", r)
        elif base.name == "H2O":
            syms, coords = _bent_triatomic("O", "H", r, _H2O_ANGLE)
        else:
            syms, coords = base.symbols, ((0.0, 0.0, 0.0), (0.0, 0.0, r))
        out.append(validate_molecule(replace(base, symbols=syms, coordinates=coords)))
    return out
