"""Hamiltonians: reference energy, qubit order against PennyLane's matrix, HF energy, sectors, cache."""

from __future__ import annotations

import numpy as np
import pytest

from crossnoise.quantum.hamiltonian import (
    basis_state_energy,
    build_hamiltonian,
    from_sparse_pauli,
    pennylane_to_sparse_pauli,
    sector_ground_energy,
)
from crossnoise.quantum.molecules import custom_molecule, molecule


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    # one shared cache folder for this module (built once, then read back)
    monkeypatch.setenv("CROSSNOISE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _bit_reversal(n):
    idx = np.arange(1 << n)
    rev = np.zeros_like(idx)
    for q in range(n):
        rev |= ((idx >> q) & 1) << (n - 1 - q)
    return rev


def test_h2_reference_energy():
    h = build_hamiltonian(molecule("H2"))
    # reference file: exact STO-3G energy at 0.735 Å, −1.13730604 Ha
    assert abs(h.e_exact - (-1.13730604)) < 1e-6
    assert (h.n_qubits, h.n_terms, h.n_groups) == (4, 15, 5)
    assert h.e_exact < h.e_hf


@pytest.mark.parametrize("name", ["H2", "LiH"])
def test_qubit_order_matches_pennylane_matrix(name):
    """Equal spectra prove nothing about order: compare the matrices entry by entry.

    PennyLane's matrix has wire 0 as the most significant bit, Qiskit's qubit 0 as the least, so
    M_qiskit[b, b'] must equal M_pl[rev(b), rev(b')].  A wrong wire→qubit map permutes entries.
    """
    import pennylane as qml

    spec = molecule(name)
    mol = qml.qchem.Molecule(list(spec.symbols), np.array(spec.coordinates), unit="angstrom")
    kw = {} if spec.active_electrons is None else {"active_electrons": 2, "active_orbitals": 5}
    h_pl, n = qml.qchem.molecular_hamiltonian(mol, method="dhf", **kw)
    m_pl = qml.matrix(h_pl, wire_order=range(n))
    m_qk = build_hamiltonian(spec).operator.to_matrix()
    rev = _bit_reversal(n)
    assert np.max(np.abs(m_qk - m_pl[np.ix_(rev, rev)])) < 1e-10
    # and the order matters: without the reversal the matrices differ
    assert np.max(np.abs(m_qk - m_pl)) > 1e-3


def test_hf_energy_matches_pennylane_hartree_fock():
    import pennylane as qml

    spec = molecule("H2")
    mol = qml.qchem.Molecule(list(spec.symbols), np.array(spec.coordinates), unit="angstrom")
    # PennyLane works in bohr internally; its mean-field energy at the same geometry
    e_scf = float(qml.qchem.hf_energy(mol)())
    h = build_hamiltonian(spec)
    assert abs(h.e_hf - e_scf) < 1e-8
    assert abs(basis_state_energy(h.operator, h.hf_index) - h.e_hf) < 1e-14


def test_sector_energy_against_dense_diagonalisation():
    h = build_hamiltonian(molecule("H2"))
    m = h.operator.to_matrix()
    idx = [b for b in range(16) if bin(b).count("1") == 2]
    dense = np.linalg.eigvalsh(m[np.ix_(idx, idx)])[0]
    assert abs(sector_ground_energy(h.operator, 2) - dense) < 1e-12
    # the full-space minimum is lower or equal: the sector restriction is doing something
    assert np.linalg.eigvalsh(m)[0] <= dense + 1e-12


def test_lih_active_space_energies():
    h = build_hamiltonian(molecule("LiH"))
    assert (h.n_qubits, h.n_terms, h.n_groups) == (10, 276, 64)
    assert h.e_exact < h.e_hf < -7.8


def test_cache_round_trip_is_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSNOISE_CACHE", str(tmp_path))
    spec = custom_molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.9]])
    first = build_hamiltonian(spec)
    assert not first.from_cache and list(tmp_path.rglob("*.json"))
    second = build_hamiltonian(spec)
    assert second.from_cache
    assert second.operator.equiv(first.operator) and second.e_exact == first.e_exact
    # a different input is a different key
    other = build_hamiltonian(custom_molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.91]]))
    assert not other.from_cache and other.e_exact != first.e_exact


def test_converter_maps_wire_q_to_qiskit_qubit_q():
    import pennylane as qml

    op = pennylane_to_sparse_pauli(0.5 * qml.PauliX(0) @ qml.PauliZ(2), 3)
    assert op.paulis[0].to_label() == "ZIX" and op.coeffs[0] == 0.5


def test_from_sparse_pauli_wraps_a_custom_operator():
    from qiskit.quantum_info import SparsePauliOp

    h = from_sparse_pauli(SparsePauliOp(["ZZ", "XX"], [1.0, 0.5]), 1)
    # sector N=1 is spanned by |01>, |10>: [[−1, 0.5], [0.5, −1]] → −1.5
    assert abs(h.e_exact + 1.5) < 1e-12 and h.e_hf == -1.0


def test_pyscf_method_needs_pyscf():
    import importlib.util

    from crossnoise.validation import InputError

    spec = custom_molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.8]], method="pyscf")
    if importlib.util.find_spec("pyscf") is None:
        with pytest.raises(InputError, match="pip install pyscf"):
            build_hamiltonian(spec, cache=False)
    else:  # PySCF and dhf agree on the qubit Hamiltonian's ground energy
        ref = build_hamiltonian(custom_molecule(["H", "H"], [[0, 0, 0], [0, 0, 0.8]]), cache=False)
        assert abs(build_hamiltonian(spec, cache=False).e_exact - ref.e_exact) < 1e-6
