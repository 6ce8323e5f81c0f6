"""Qubit Hamiltonians: PennyLane quantum chemistry → Qiskit ``SparsePauliOp``, exact sector energy.

The electronic Hamiltonian is built by PennyLane (``qml.qchem.molecular_hamiltonian``, method
``"dhf"`` — differentiable Hartree–Fock, no PySCF needed — or ``"pyscf"`` when PySCF is installed)
and mapped with Jordan–Wigner.  PennyLane's wire ``q`` becomes Qiskit's qubit ``q``; Qiskit labels
are little-endian, so the Pauli on qubit ``q`` is the character ``label[n − 1 − q]``.  The order is
verified in the tests by comparing the two operators' *matrices* (equal spectra prove nothing about
order) after the bit-reversal permutation that relates the two conventions.

The target of a VQE run is the exact ground energy of the qubit Hamiltonian used (after the active
space), in the sector with the right electron number:

.. math::

    E_0 = \\min \\operatorname{spec}\\big(\\Pi_N H \\Pi_N\\big),\\qquad
    \\Pi_N = \\sum_{b:\\ \\mathrm{popcount}(b) = N} |b\\rangle\\langle b|,

found by sparse diagonalization (``scipy.sparse.linalg.eigsh``; dense ``eigh`` for small sectors).
The Hartree–Fock energy is :math:`\\langle \\mathrm{HF}|H|\\mathrm{HF}\\rangle` with the lowest
``N`` spin orbitals occupied (qubits ``0 … N−1``).

Built Hamiltonians are cached on disk (JSON) keyed by every input of the :class:`MoleculeSpec`
and the PennyLane version: ``$CROSSNOISE_CACHE`` if set, else ``$XDG_CACHE_HOME/crossnoise`` or
``~/.cache/crossnoise``.

References
----------
Jordan & Wigner, Z. Phys. 47, 631 (1928); Arrazola et al., Quantum 6, 742 (2022) (PennyLane's
differentiable Hartree–Fock).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from crossnoise.quantum.molecules import MoleculeSpec, validate_molecule
from crossnoise.validation import InputError

__all__ = [
    "QubitHamiltonian",
    "build_hamiltonian",
    "pennylane_to_sparse_pauli",
    "sector_ground_energy",
    "basis_state_energy",
    "cache_dir",
    "from_sparse_pauli",
]

_CACHE_VERSION = 1


def cache_dir() -> Path:
    """The disk-cache folder: ``$CROSSNOISE_CACHE``, else ``$XDG_CACHE_HOME/crossnoise``, else ``~/.cache/crossnoise``."""
    env = os.environ.get("CROSSNOISE_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "crossnoise"


@dataclass(frozen=True, slots=True)
class QubitHamiltonian:
    """A qubit Hamiltonian with its reference energies.

    Attributes
    ----------
    name : str
    operator : qiskit.quantum_info.SparsePauliOp
        Jordan–Wigner Hamiltonian (Qiskit's little-endian labels), in Hartree.
    n_qubits, n_electrons : int
        Qubits and ACTIVE electrons (the particle-number sector of ``e_exact``).
    e_hf : float
        ⟨HF|H|HF⟩ (qubits 0 … n_electrons−1 occupied).
    e_exact : float or None
        Ground energy of THIS qubit Hamiltonian in the n_electrons sector (None if not computed).
    spec : MoleculeSpec or None
    build_s : float
        Wall time of the build (0 when loaded from the cache).
    """

    name: str
    operator: Any
    n_qubits: int
    n_electrons: int
    e_hf: float
    e_exact: float | None
    spec: MoleculeSpec | None = None
    build_s: float = 0.0
    from_cache: bool = False
    _groups: list = field(default_factory=list, repr=False, compare=False)

    @property
    def n_terms(self) -> int:
        """Pauli terms (the identity included)."""
        return len(self.operator)

    @property
    def hf_index(self) -> int:
        """Computational-basis index of the HF state (bit q = occupation of qubit q)."""
        return (1 << self.n_electrons) - 1

    @property
    def groups(self) -> list:
        """Qubit-wise commuting groups of the non-identity terms (``SparsePauliOp`` each), cached."""
        if not self._groups:
            from crossnoise.quantum.measurement import qwc_groups

            self._groups.extend(qwc_groups(self.operator))
        return self._groups

    @property
    def n_groups(self) -> int:
        return len(self.groups)


def from_sparse_pauli(operator: Any, n_electrons: int, *, name: str = "custom", exact: bool = True) -> QubitHamiltonian:
    """Wrap any Hermitian ``SparsePauliOp`` as a :class:`QubitHamiltonian` (HF = lowest qubits filled)."""
    op = operator.simplify(atol=1e-12)
    n = op.num_qubits
    if not 0 <= n_electrons <= n:
        raise InputError(f"`n_electrons` must be in [0, {n}]; got {n_electrons}.")
    if np.max(np.abs(op.coeffs.imag), initial=0.0) > 1e-9:
        raise InputError("`operator` must be Hermitian (real Pauli coefficients).")
    op = type(op)(op.paulis, op.coeffs.real.astype(complex))
    e_hf = basis_state_energy(op, (1 << n_electrons) - 1)
    e_exact = sector_ground_energy(op, n_electrons) if exact else None
    return QubitHamiltonian(name, op, n, n_electrons, e_hf, e_exact)


def pennylane_to_sparse_pauli(hamiltonian: Any, n_qubits: int) -> Any:
    """Convert a PennyLane operator (any with ``pauli_rep``) on wires ``0 … n−1`` to a ``SparsePauliOp``.

    Wire ``q`` → Qiskit qubit ``q``, i.e. the label character at position ``n − 1 − q``.
    """
    from qiskit.quantum_info import SparsePauliOp

    ps = hamiltonian.pauli_rep if hasattr(hamiltonian, "pauli_rep") else hamiltonian
    if ps is None:
        raise InputError("`hamiltonian` has no Pauli representation.")
    labels, coeffs = [], []
    for word, coeff in ps.items():
        chars = ["I"] * n_qubits
        for wire, pauli in dict(word).items():
            w = int(wire)
            if not 0 <= w < n_qubits:
                raise InputError(f"`hamiltonian` acts on wire {w}, outside 0…{n_qubits - 1}.")
            chars[n_qubits - 1 - w] = pauli
        labels.append("".join(chars))
        coeffs.append(complex(coeff))
    if not labels:
        labels, coeffs = ["I" * n_qubits], [0.0]
    return SparsePauliOp(labels, np.array(coeffs)).simplify(atol=1e-12)


def basis_state_energy(operator: Any, index: int) -> float:
    """⟨b|H|b⟩ for the computational basis state with index ``b`` (only Z/I terms contribute)."""
    z = operator.paulis.z
    x = operator.paulis.x
    diag = ~np.any(x, axis=1)
    bits = np.array([(index >> q) & 1 for q in range(operator.num_qubits)], dtype=bool)
    parity = np.sum(z[diag] & bits, axis=1) % 2
    phase = (-1j) ** operator.paulis.phase[diag]
    return float(np.real(np.sum(operator.coeffs[diag] * phase * (1 - 2 * parity))))


def _sector_indices(n_qubits: int, n_electrons: int) -> np.ndarray:
    idx = np.arange(1 << n_qubits, dtype=np.int64)
    pop = np.zeros_like(idx)
    for q in range(n_qubits):
        pop += (idx >> q) & 1
    return idx[pop == n_electrons]


def sector_ground_energy(operator: Any, n_electrons: int) -> float:
    """Lowest eigenvalue of ``operator`` restricted to basis states with ``n_electrons`` ones.

    Dense ``eigh`` for sectors up to 2000 states, ``eigsh`` (Lanczos) above.
    """
    n = operator.num_qubits
    mat = operator.to_matrix(sparse=True).tocsr()
    sel = _sector_indices(n, n_electrons)
    sub = mat[sel][:, sel]
    if sub.shape[0] <= 2000:
        return float(np.linalg.eigvalsh(sub.toarray())[0])
    vals = eigsh(sp.csr_matrix(sub), k=1, which="SA", return_eigenvectors=False, tol=1e-12)
    return float(vals[0])


def _cache_path(spec: MoleculeSpec) -> Path:
    from importlib.metadata import version

    key = {"spec": spec.key(), "pennylane": version("pennylane"), "v": _CACHE_VERSION}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return cache_dir() / "hamiltonians" / f"{spec.name}-{digest}.json"


def _load(path: Path, spec: MoleculeSpec, need_exact: bool) -> QubitHamiltonian | None:
    from qiskit.quantum_info import SparsePauliOp

    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if data.get("key") != spec.key() or (need_exact and data.get("e_exact") is None):
        return None
    op = SparsePauliOp(data["labels"], np.array(data["coeffs"], dtype=float).astype(complex))
    return QubitHamiltonian(spec.name, op, data["n_qubits"], data["n_electrons"], data["e_hf"],
                            data["e_exact"], spec, 0.0, True)


def _save(path: Path, h: QubitHamiltonian) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"key": h.spec.key() if h.spec else None, "labels": [p.to_label() for p in h.operator.paulis],
                "coeffs": h.operator.coeffs.real.tolist(), "n_qubits": h.n_qubits, "n_electrons": h.n_electrons,
                "e_hf": h.e_hf, "e_exact": h.e_exact}
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)
    except OSError:  # a read-only cache is not an error: the Hamiltonian is rebuilt next time
        pass


def _pennylane_hamiltonian(spec: MoleculeSpec) -> tuple[Any, int]:
    import pennylane as qml

    if spec.method == "pyscf":
        try:
            import pyscf  # noqa: F401
        except ImportError:
            raise InputError("`method` 'pyscf' needs PySCF: pip install pyscf (or use method 'dhf').") from None
    mol = qml.qchem.Molecule(list(spec.symbols), np.array(spec.coordinates, dtype=float), charge=spec.charge,
                             mult=spec.multiplicity, basis_name=spec.basis, unit="angstrom")
    kwargs: dict[str, Any] = {"method": spec.method}
    if spec.active_electrons is not None:
        kwargs["active_electrons"] = spec.active_electrons
    if spec.active_orbitals is not None:
        kwargs["active_orbitals"] = spec.active_orbitals
    return qml.qchem.molecular_hamiltonian(mol, **kwargs)


def build_hamiltonian(spec: MoleculeSpec, *, exact: bool = True, cache: bool = True) -> QubitHamiltonian:
    """The Jordan–Wigner qubit Hamiltonian of ``spec``, its HF energy and exact sector energy.

    Parameters
    ----------
    spec : MoleculeSpec
    exact : bool
        Compute ``e_exact`` (sparse diagonalization in the active-electron sector).
    cache : bool
        Read/write the disk cache (:func:`cache_dir`).

    Examples
    --------
    >>> from crossnoise.quantum.molecules import molecule
    >>> h = build_hamiltonian(molecule("H2"))
    >>> h.n_qubits, h.n_terms, round(h.e_exact, 6)
    (4, 15, -1.137306)
    """
    spec = validate_molecule(spec)
    path = _cache_path(spec) if cache else None
    if path is not None and path.exists():
        loaded = _load(path, spec, exact)
        if loaded is not None:
            return loaded
    t0 = time.perf_counter()
    h_pl, n_qubits = _pennylane_hamiltonian(spec)
    op = pennylane_to_sparse_pauli(h_pl, int(n_qubits))
    if np.max(np.abs(op.coeffs.imag), initial=0.0) > 1e-8:
        raise RuntimeError("PennyLane returned a non-Hermitian Hamiltonian (complex Pauli coefficients).")
    op = type(op)(op.paulis, op.coeffs.real.astype(complex))
    n_e = spec.n_active_electrons
    e_hf = basis_state_energy(op, (1 << n_e) - 1)
    e_exact = sector_ground_energy(op, n_e) if exact else None
    h = QubitHamiltonian(spec.name, op, int(n_qubits), n_e, e_hf, e_exact, spec, time.perf_counter() - t0, False)
    if path is not None:
        _save(path, h)
    return h
