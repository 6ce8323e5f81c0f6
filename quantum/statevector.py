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


def apply_rotation(psi: np.ndarray, rot: PauliRotation, angles: np.ndarray) -> np.ndarray:
    """exp(−iφP/2) applied to each row of ``psi`` (P, 2ⁿ) with its own angle φ (P,)."""
    n = int(np.log2(psi.shape[1]))
    c = np.cos(angles / 2)[:, None]
    s = np.sin(angles / 2)[:, None]
    support = rot.xmask | rot.zmask
    if support and support & (support - 1) == 0:  # single qubit: 2×2 update on a reshaped view
        q = support.bit_length() - 1
        v = psi.reshape(psi.shape[0], -1, 2, 1 << q)
        a0, a1 = v[:, :, 0, :], v[:, :, 1, :]
        c3, s3 = c[:, :, None], s[:, :, None]
        out = np.empty_like(v)
        if rot.xmask and rot.zmask:  # RY: [[c, -s], [s, c]]
            out[:, :, 0, :] = c3 * a0 - s3 * a1
            out[:, :, 1, :] = s3 * a0 + c3 * a1
        elif rot.xmask:  # RX: [[c, -is], [-is, c]]
            out[:, :, 0, :] = c3 * a0 - 1j * s3 * a1
            out[:, :, 1, :] = -1j * s3 * a0 + c3 * a1
        else:  # RZ: diag(e^{-iφ/2}, e^{iφ/2})
            out[:, :, 0, :] = (c3 - 1j * s3) * a0
            out[:, :, 1, :] = (c3 + 1j * s3) * a1
        return out.reshape(psi.shape)
    src, phase = _pauli_tables(n, rot.xmask, rot.zmask)
    return c * psi - 1j * s * (psi[:, src] * phase)


def statevectors(ansatz: Ansatz, angles: np.ndarray) -> np.ndarray:
    """Final states for a batch of rotation-angle vectors (P, n_rotations) → (P, 2ⁿ) complex."""
    ang = np.atleast_2d(np.asarray(angles, dtype=float))
    n = ansatz.n_qubits
    psi = np.zeros((ang.shape[0], 1 << n), dtype=complex)
    psi[:, ansatz.initial_index] = 1.0
    for kind, arg in ansatz.ops:
        if kind == "cz":
            psi = psi * _cz_diagonal(n, tuple(arg))
        else:
            psi = apply_rotation(psi, ansatz.rotations[arg], ang[:, arg])
    return psi


def expectation(psi: np.ndarray, operator_matrix) -> np.ndarray:
    """⟨ψ|H|ψ⟩ per row, with ``operator_matrix`` a (sparse) 2ⁿ × 2ⁿ matrix (a slow reference)."""
    h_psi = (operator_matrix @ psi.T).T
    return np.real(np.sum(np.conj(psi) * h_psi, axis=1))
