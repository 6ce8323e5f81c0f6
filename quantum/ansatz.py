"""Ansätze as Pauli-rotation circuits: hardware-efficient (HEA) and UCCSD-style excitations.

Every parametrised gate is a Pauli rotation

.. math::

    R_P(\\varphi) = e^{-i\\varphi P/2},\\qquad \\varphi = a_r\\,\\theta_{j(r)},

with a fixed coefficient :math:`a_r` and parameter index :math:`j(r)`.  A parameter may drive
several rotations (a UCC double excitation compiles into 8 commuting Pauli rotations), and the
parameter-shift rule sums over its occurrences (Schuld et al., PRA 99, 032331 (2019)):

.. math::

    \\frac{\\partial E}{\\partial\\theta_j} = \\sum_{r:\\,j(r)=j} a_r\\,
    \\frac{E(\\varphi_r + \\pi/2) - E(\\varphi_r - \\pi/2)}{2}.

The fixed gates are CZ entanglers (diagonal).  Both ansätze start from the Hartree–Fock basis
state (qubits ``0 … N−1`` occupied).  The HEA uses CZ (not CNOT) entanglers so that θ = 0 *is*
the Hartree–Fock state: a CZ on a basis state only adds a sign.

- :func:`hardware_efficient`: L layers, each RY (optionally also RZ) on every qubit followed by CZ
  on neighbouring pairs (``"linear"``) or on all pairs (``"full"``); d = L·n (or 2·L·n).
  Kandala et al., Nature 549, 242 (2017).
- :func:`uccsd`: spin-conserving singles and doubles from ``qml.qchem.excitations``; each
  generator :math:`T - T^\\dagger` is mapped with Jordan–Wigner (PennyLane) to
  :math:`i\\sum_m c_m P_m` with commuting :math:`P_m`, so
  :math:`e^{\\theta (T-T^\\dagger)} = \\prod_m R_{P_m}(-2 c_m \\theta)` exactly.
  Romero et al., Quantum Sci. Technol. 4, 014008 (2018).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from crossnoise.validation import InputError, check_choice, check_finite_array, check_positive_int

__all__ = ["PauliRotation", "Ansatz", "hardware_efficient", "uccsd", "hf_theta", "random_theta", "check_theta"]


@dataclass(frozen=True, slots=True)
class PauliRotation:
    """exp(−i·coeff·θ[param]·P/2) with P given by its X and Z bit masks (bit q ↔ qubit q)."""

    label: str  # Qiskit order: character n−1−q is the Pauli on qubit q
    xmask: int
    zmask: int
    param: int
    coeff: float


@dataclass(frozen=True, slots=True)
class Ansatz:
    """A parametrised circuit: an initial basis state, then Pauli rotations and CZ layers.

    Attributes
    ----------
    ops : tuple
        ``("rot", r)`` for rotation number r (index into ``rotations``) or ``("cz", pairs)``.
    """

    name: str
    n_qubits: int
    n_params: int
    initial_index: int
    rotations: tuple[PauliRotation, ...]
    ops: tuple[tuple[str, Any], ...]

    @property
    def n_rotations(self) -> int:
        return len(self.rotations)

    @property
    def param_index(self) -> np.ndarray:
        return np.array([r.param for r in self.rotations], dtype=np.int64)

    @property
    def coeffs(self) -> np.ndarray:
        return np.array([r.coeff for r in self.rotations], dtype=float)

    @property
    def one_to_one(self) -> bool:
        """Each parameter drives exactly one rotation with coefficient 1 (angles = θ)."""
        idx = self.param_index
        return bool(len(idx) == self.n_params and np.array_equal(np.sort(idx), np.arange(self.n_params))
                    and np.all(self.coeffs == 1.0))

    def angles(self, thetas: Any) -> np.ndarray:
        """Rotation angles φ_r = a_r θ_{j(r)} for (P, d) parameters → (P, n_rotations)."""
        t = np.asarray(thetas, dtype=float)
        return t[..., self.param_index] * self.coeffs

    def to_qiskit(self) -> tuple[Any, Any]:
        """A Qiskit circuit with one ``Parameter`` per ROTATION (angles φ), and that ParameterVector."""
        from qiskit import QuantumCircuit
        from qiskit.circuit import ParameterVector

        phi = ParameterVector("phi", self.n_rotations)
        qc = QuantumCircuit(self.n_qubits)
        for q in range(self.n_qubits):
            if (self.initial_index >> q) & 1:
                qc.x(q)
        for kind, arg in self.ops:
            if kind == "cz":
                for a, b in arg:
                    qc.cz(a, b)
            else:
                _append_pauli_rotation(qc, self.rotations[arg], phi[arg])
        return qc, phi


def _append_pauli_rotation(qc: Any, rot: PauliRotation, angle: Any) -> None:
    n = qc.num_qubits
    support = [q for q in range(n) if ((rot.xmask | rot.zmask) >> q) & 1]
    letters = {q: rot.label[n - 1 - q] for q in support}
    if len(support) == 1:
        q = support[0]
        {"X": qc.rx, "Y": qc.ry, "Z": qc.rz}[letters[q]](angle, q)
        return
    for q in support:  # rotate each factor to Z
        if letters[q] == "X":
            qc.h(q)
        elif letters[q] == "Y":
            qc.sdg(q)
            qc.h(q)
    for a, b in zip(support[:-1], support[1:]):
        qc.cx(a, b)
    qc.rz(angle, support[-1])
    for a, b in reversed(list(zip(support[:-1], support[1:]))):
        qc.cx(a, b)
    for q in support:
        if letters[q] == "X":
            qc.h(q)
        elif letters[q] == "Y":
            qc.h(q)
            qc.s(q)


def _rotation(label: str, param: int, coeff: float) -> PauliRotation:
    n = len(label)
    x = z = 0
    for q in range(n):
        ch = label[n - 1 - q]
        if ch in "XY":
            x |= 1 << q
        if ch in "ZY":
            z |= 1 << q
    return PauliRotation(label, x, z, param, float(coeff))


def _single_label(n: int, q: int, letter: str) -> str:
    chars = ["I"] * n
    chars[n - 1 - q] = letter
    return "".join(chars)


def hardware_efficient(n_qubits: int, n_electrons: int, layers: int, *, rz: bool = False,
                       entangler: str = "linear") -> Ansatz:
    """Hardware-efficient ansatz from the HF state: L × [RY (RZ) on every qubit, CZ entanglers].

    Parameters
    ----------
    n_qubits, n_electrons : int
        Qubits; HF occupies qubits 0 … n_electrons−1.
    layers : int
        L ≥ 1; d = L·n_qubits, or 2·L·n_qubits with ``rz``.
    rz : bool
        Add an RZ after every RY.
    entangler : {"linear", "full"}
        CZ on (q, q+1) or on every pair.

    Examples
    --------
    >>> hardware_efficient(4, 2, 2, rz=True).n_params
    16
    """
    n = check_positive_int(n_qubits, "n_qubits")
    check_positive_int(layers, "layers")
    check_choice(entangler, "entangler", ("linear", "full"))
    if not 0 <= n_electrons <= n:
        raise InputError(f"`n_electrons` must be in [0, {n}]; got {n_electrons}.")
    pairs = [(q, q + 1) for q in range(n - 1)] if entangler == "linear" else \
        [(a, b) for a in range(n) for b in range(a + 1, n)]
    rots, ops = [], []
    for _ in range(layers):
        for q in range(n):
            for letter in ("Y", "Z") if rz else ("Y",):
                ops.append(("rot", len(rots)))
                rots.append(_rotation(_single_label(n, q, letter), len(rots), 1.0))
        if pairs:
            ops.append(("cz", tuple(pairs)))
    name = f"hea(L={layers}{',rz' if rz else ''},{entangler})"
    return Ansatz(name, n, len(rots), (1 << n_electrons) - 1, tuple(rots), tuple(ops))


def uccsd(n_qubits: int, n_electrons: int) -> Ansatz:
    """UCCSD-style ansatz: spin-conserving singles then doubles, each compiled to Pauli rotations.

    Examples
    --------
    >>> a = uccsd(4, 2)
    >>> a.n_params, a.n_rotations
    (3, 12)
    """
    import pennylane as qml

    n = check_positive_int(n_qubits, "n_qubits")
    if not 0 < n_electrons < n:
        raise InputError(f"`n_electrons` must be in [1, {n - 1}] for UCCSD; got {n_electrons}.")
    singles, doubles = qml.qchem.excitations(n_electrons, n)
    rots, ops = [], []
    for j, exc in enumerate([*singles, *doubles]):
        if len(exc) == 2:
            gen = qml.FermiC(exc[1]) * qml.FermiA(exc[0])
        else:
            gen = qml.FermiC(exc[3]) * qml.FermiC(exc[2]) * qml.FermiA(exc[1]) * qml.FermiA(exc[0])
        ps = qml.jordan_wigner(gen - gen.adjoint(), ps=True)
        terms = []
        for word, c in ps.items():
            c = complex(c)
            if abs(c) < 1e-12:
                continue
            if abs(c.real) > 1e-10:
                raise RuntimeError("excitation generator is not anti-Hermitian")
            chars = ["I"] * n
            for w, p in dict(word).items():
                chars[n - 1 - int(w)] = p
            terms.append(("".join(chars), c.imag))
        for label, cm in sorted(terms):
            ops.append(("rot", len(rots)))
            rots.append(_rotation(label, j, -2.0 * cm))
    return Ansatz(f"uccsd({len(singles)}s,{len(doubles)}d)", n, len(singles) + len(doubles),
                  (1 << n_electrons) - 1, tuple(rots), tuple(ops))


def hf_theta(ansatz: Ansatz) -> np.ndarray:
    """θ = 0: the Hartree–Fock state for both ansätze."""
    return np.zeros(ansatz.n_params)


def random_theta(ansatz: Ansatz, *, scale: float = np.pi, rng: Any = None) -> np.ndarray:
    """θ uniform in [−scale, scale]^d."""
    from crossnoise.rng import as_generator

    return as_generator(rng).uniform(-scale, scale, size=ansatz.n_params)


def check_theta(theta: Any, ansatz: Ansatz, name: str = "theta") -> np.ndarray:
    """θ as a (P, d) array; a (d,) vector becomes one row.  The error names d."""
    t = check_finite_array(theta, name, ndim=(1, 2))
    if t.shape[-1] != ansatz.n_params:
        raise InputError(f"`{name}` must have length d = {ansatz.n_params} (the parameters of {ansatz.name}); "
                         f"got {t.shape[-1]}.")
    return t.reshape(-1, ansatz.n_params)
