"""A batched numpy statevector simulator for Pauli-rotation circuits.

A Pauli string with X-mask :math:`x`, Z-mask :math:`z` and :math:`n_Y` Y factors acts on basis
states as :math:`P|b\\rangle = i^{n_Y} (-1)^{\\mathrm{popcount}(b \\& z)} |b \\oplus x\\rangle`
(Y = iXZ), so a rotation is

.. math::

    e^{-i\\varphi P/2}\\psi = \\cos(\\varphi/2)\\,\\psi - i \\sin(\\varphi/2)\\, P\\psi,

one gather and two multiply-adds over the batch of P states (shape (P, 2ⁿ)).  Single-qubit
rotations use a reshaped 2×2 update instead of the gather; CZ layers are a precomputed ±1 diagonal.
Basis index b has bit q = qubit q (Qiskit's little-endian order).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from crossnoise.quantum.ansatz import Ansatz, PauliRotation

__all__ = ["statevectors", "apply_rotation", "expectation"]


def _popcount(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.int64)
    c = np.zeros_like(x)
    while np.any(x):
        c += x & 1
        x = x >> 1
    return c


@lru_cache(maxsize=4096)
def _pauli_tables(n: int, xmask: int, zmask: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(1 << n, dtype=np.int64)
    n_y = bin(xmask & zmask).count("1")
    src = idx ^ xmask  # (Pψ)[c] = phase(c ^ x) ψ[c ^ x]
    sign = 1 - 2 * (_popcount(src & zmask) & 1)
    phase = (1j**n_y) * sign
    return src, phase.astype(complex)


@lru_cache(maxsize=256)
def _cz_diagonal(n: int, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    idx = np.arange(1 << n, dtype=np.int64)
    parity = np.zeros(1 << n, dtype=np.int64)
    for a, b in pairs:
        parity ^= ((idx >> a) & 1) & ((idx >> b) & 1)
    return (1 - 2 * parity).astype(float)


def apply_rotation(psi_t: np.ndarray, rot: PauliRotation, angles: np.ndarray) -> np.ndarray:
    """exp(−iφP/2) on a batch of states stored as COLUMNS, ``psi_t`` (2ⁿ, P), each with its own φ (P,).

    The points are the last (contiguous) axis, so every gate is a few long vectorised passes
    whatever the qubit (with points first, gates on low qubits stride badly).
    """
    n = int(np.log2(psi_t.shape[0]))
    c = np.cos(angles / 2)
    s = np.sin(angles / 2)
    support = rot.xmask | rot.zmask
    if support and support & (support - 1) == 0:
        return _apply_matrices(psi_t, support.bit_length() - 1, _single_qubit_matrix(rot, angles))
    src, phase = _pauli_tables(n, rot.xmask, rot.zmask)
    return c * psi_t - 1j * s * (psi_t[src] * phase[:, None])


def _single_qubit_matrix(rot: PauliRotation, angles: np.ndarray) -> np.ndarray:
    """(2, 2, P) matrices of exp(−iφP/2) for a single-qubit Pauli."""
    c, s = np.cos(angles / 2), np.sin(angles / 2)
    u = np.zeros((2, 2, len(angles)), dtype=complex)
    if rot.xmask and rot.zmask:  # Y
        u[0, 0], u[0, 1], u[1, 0], u[1, 1] = c, -s, s, c
    elif rot.xmask:  # X
        u[0, 0], u[0, 1], u[1, 0], u[1, 1] = c, -1j * s, -1j * s, c
    else:  # Z
        u[0, 0], u[1, 1] = c - 1j * s, c + 1j * s
    return u


def _apply_matrices(psi_t: np.ndarray, q: int, u: np.ndarray) -> np.ndarray:
    """Per-point 2×2 matrices u (2, 2, P) on qubit q of column states (2ⁿ, P)."""
    p = psi_t.shape[1]
    v = psi_t.reshape(-1, 2, 1 << q, p)
    a0, a1 = v[:, 0], v[:, 1]
    out = np.empty_like(v)
    np.multiply(u[0, 0], a0, out=out[:, 0])
    out[:, 0] += u[0, 1] * a1
    np.multiply(u[1, 0], a0, out=out[:, 1])
    out[:, 1] += u[1, 1] * a1
    return out.reshape(psi_t.shape)


def _matmul_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(2, 2, P) @ (2, 2, P) per point."""
    return np.einsum("ijp,jkp->ikp", a, b)


def statevectors(ansatz: Ansatz, angles: np.ndarray) -> np.ndarray:
    """Final states for a batch of rotation-angle vectors (P, n_rotations) → (P, 2ⁿ) complex.

    Internally the states are columns of a (2ⁿ, P) array (points contiguous); the result is its
    transpose (a view).  Consecutive single-qubit rotations are fused per qubit into one 2×2
    matrix per point (gates on different qubits commute), which halves the passes for RY+RZ.
    """
    ang = np.atleast_2d(np.asarray(angles, dtype=float))
    n = ansatz.n_qubits
    psi = np.zeros((1 << n, ang.shape[0]), dtype=complex)
    psi[ansatz.initial_index, :] = 1.0
    pending: dict[int, np.ndarray] = {}

    def flush() -> np.ndarray:
        nonlocal psi
        for q, u in pending.items():
            psi = _apply_matrices(psi, q, u)
        pending.clear()
        return psi

    for kind, arg in ansatz.ops:
        if kind == "cz":
            flush()
            psi = psi * _cz_diagonal(n, tuple(arg))[:, None]
            continue
        rot = ansatz.rotations[arg]
        support = rot.xmask | rot.zmask
        if support and support & (support - 1) == 0:
            q = support.bit_length() - 1
            u = _single_qubit_matrix(rot, ang[:, arg])
            pending[q] = u if q not in pending else _matmul_points(u, pending[q])
        else:
            flush()
            psi = apply_rotation(psi, rot, ang[:, arg])
    return flush().T


def expectation(psi: np.ndarray, operator_matrix) -> np.ndarray:
    """⟨ψ|H|ψ⟩ per row, with ``operator_matrix`` a (sparse) 2ⁿ × 2ⁿ matrix (a slow reference)."""
    h_psi = (operator_matrix @ psi.T).T
    return np.real(np.sum(np.conj(psi) * h_psi, axis=1))
