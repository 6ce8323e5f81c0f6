"""Measurement in qubit-wise commuting groups: basis rotations, Born distributions, honest sampling.

The Hamiltonian :math:`H = c_0 I + \\sum_k \\sum_{i \\in k} c_i P_i` is split into qubit-wise
commuting (QWC) groups :math:`k`.  Each group is measured in one product basis: qubits carrying X
are rotated by H, qubits carrying Y by H·S†, after which every term of the group is a Z-string on
its support mask :math:`m_i`.  One shot with outcome bitstring :math:`b` gives the group value

.. math::

    f_k(b) = \\sum_{i \\in k} c_i\\,(-1)^{\\mathrm{popcount}(b \\,\\&\\, m_i)},

so :math:`\\hat E = c_0 + \\sum_k \\bar f_k` with :math:`N_k` shots on group :math:`k`, and

.. math::

    \\operatorname{Var}(\\hat E) = \\sum_k \\operatorname{Var}_k / N_k,\\qquad
    \\operatorname{Var}_k = \\sum_b p_k(b) f_k(b)^2 - \\Big(\\sum_b p_k(b) f_k(b)\\Big)^2 .

Sampling draws the counts of the DISTINCT values of :math:`f_k` from a multinomial with the
exact Born probabilities aggregated over the outcomes that share a value: the sum of the shots'
values has exactly the distribution it has when whole bitstrings are drawn (a function of a
multinomial sample is the multinomial of the pushed-forward distribution), at a cost that scales
with the number of distinct values instead of 2ⁿ.

Reference: Rubin, Babbush & McClean, NJP 20, 053020 (2018) (grouping and shot allocation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from crossnoise.validation import InputError

__all__ = ["MeasurementGroup", "GroupedHamiltonian", "qwc_groups", "group_hamiltonian", "GroupDistributions",
           "rotate_to_bases", "sample_group_means"]



def qwc_groups(operator: Any) -> list:
    """Qubit-wise commuting groups of the non-identity terms of a ``SparsePauliOp``.

    Qiskit's ``group_commuting(qubit_wise=True)`` (graph colouring); groups are returned with their
    terms in a deterministic order (sorted by label) and groups sorted by their first label.
    """
    from qiskit.quantum_info import SparsePauliOp

    op = operator.simplify(atol=1e-12)
    nonid = [i for i, p in enumerate(op.paulis) if p.x.any() or p.z.any()]
    if not nonid:
        return []
    sub = op[nonid]
    groups = []
    for g in sub.group_commuting(qubit_wise=True):
        labels = [p.to_label() for p in g.paulis]
        order = np.argsort(labels)
        groups.append(SparsePauliOp([labels[i] for i in order], g.coeffs[order]))
    groups.sort(key=lambda g: g.paulis[0].to_label())
    return groups


@dataclass(frozen=True, slots=True)
class MeasurementGroup:
    """One QWC group: its basis, terms and the value table of one shot.

    Attributes
    ----------
    basis : (n,) int array
        Per qubit: 0 (Z or idle), 1 (X, rotate by H), 2 (Y, rotate by H·S†).
    coeffs : (T,) float array
    masks : (T,) int array
        Support of each term (bit q set when the term acts on qubit q).
    values : (U,) float array
        The distinct values of f_k over the 2ⁿ outcomes.
    inverse : (2ⁿ,) int array
        Outcome b → index of f_k(b) in ``values``.
    """

    labels: tuple[str, ...]
    basis: np.ndarray
    coeffs: np.ndarray
    masks: np.ndarray
    values: np.ndarray
    inverse: np.ndarray
    aggregator: Any  # CSR (2ⁿ, U) one-hot: probabilities over outcomes → over distinct values
    aggregator_t: Any  # its transpose, CSR (U, 2ⁿ)

    @property
    def abs_weight(self) -> float:
        """Σ |c_i| over the group (the coefficient-weighted allocation proxy)."""
        return float(np.sum(np.abs(self.coeffs)))

    def value_of(self, outcomes: np.ndarray) -> np.ndarray:
        """f_k at integer outcomes (bit q of the integer = qubit q)."""
        return self.values[self.inverse[np.asarray(outcomes, dtype=np.int64)]]


@dataclass(frozen=True, slots=True)
class GroupedHamiltonian:
    """A Hamiltonian as a constant plus QWC groups (what every engine measures)."""

    n_qubits: int
    constant: float
    groups: tuple[MeasurementGroup, ...]

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_terms(self) -> int:
        return sum(len(g.coeffs) for g in self.groups)


def _popcount_parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    p = np.zeros_like(x)
    while np.any(x):
        p ^= x & 1
        x >>= 1
    return p


def group_hamiltonian(operator: Any, groups: list | None = None) -> GroupedHamiltonian:
    """Build the measurement tables of ``operator`` (a ``SparsePauliOp``) from its QWC groups."""
    n = operator.num_qubits
    if n > 20:
        raise InputError(f"`operator` has {n} qubits; the value tables support at most 20.")
    op = operator.simplify(atol=1e-12)
    constant = 0.0
    for p, c in zip(op.paulis, op.coeffs):
        if not (p.x.any() or p.z.any()):
            constant += float(np.real(c))
    groups = qwc_groups(op) if groups is None else groups
    outcomes = np.arange(1 << n, dtype=np.int64)
    built = []
    for g in groups:
        basis = np.zeros(n, dtype=np.int64)
        seen = [""] * n
        masks, coeffs = [], []
        for p, c in zip(g.paulis, g.coeffs):
            x, z = p.x, p.z
            mask = 0
            for q in range(n):
                if x[q] or z[q]:
                    letter = "Y" if (x[q] and z[q]) else ("X" if x[q] else "Z")
                    if seen[q] not in ("", letter):
                        raise InputError("`groups` contains a group that is not qubit-wise commuting.")
                    seen[q] = letter
                    basis[q] = {"X": 1, "Y": 2, "Z": 0}[letter]
                    mask |= 1 << q
            masks.append(mask)
            coeffs.append(float(np.real(c)))
        masks_a = np.array(masks, dtype=np.int64)
        coeffs_a = np.array(coeffs)
        signs = 1 - 2 * _popcount_parity(outcomes[:, None] & masks_a[None, :])
        f = signs @ coeffs_a
        uniq, inv = np.unique(np.round(f, 11), return_inverse=True)
        agg = sp.csr_matrix((np.ones(1 << n), (outcomes, inv)), shape=(1 << n, len(uniq)))
        vals = np.asarray(agg.T @ f).ravel() / np.asarray(agg.sum(axis=0)).ravel()
        built.append(MeasurementGroup(tuple(p.to_label() for p in g.paulis), basis, coeffs_a, masks_a, vals,
                                      inv.astype(np.int64), agg, agg.T.tocsr()))
    return GroupedHamiltonian(n, constant, tuple(built))


_CHUNK_AMPLITUDES = 1 << 14


def rotate_to_bases(psi: np.ndarray, grouped: GroupedHamiltonian) -> list[np.ndarray]:
    """Born probabilities over all 2ⁿ outcomes for every group, shape (P, 2ⁿ) each.

    Rotations shared by groups with the same basis on a prefix of qubits are applied once (a trie
    over the qubits), so the cost is the number of distinct basis prefixes, not groups × qubits.
    Internally the states are columns (2ⁿ, P) so every butterfly is a long contiguous pass; the
    returned arrays are transposed views.
    """
    n = grouped.n_qubits
    out: list[np.ndarray | None] = [None] * grouped.n_groups
    bases = [g.basis for g in grouped.groups]

    def rec(state: np.ndarray, q: int, members: list[int], n_rot: int) -> None:
        if q == n:
            f = state.view(float)
            sq = f * f
            probs = sq[:, 0::2] + sq[:, 1::2]
            if n_rot:
                probs *= 0.5**n_rot  # the butterflies omit H's 1/√2
            for m in members:
                out[m] = probs.T
            return
        by_kind: dict[int, list[int]] = {}
        for m in members:
            by_kind.setdefault(int(bases[m][q]), []).append(m)
        for kind, sub in by_kind.items():
            if kind == 0:
                rec(state, q + 1, sub, n_rot)
            else:
                rec(_butterfly(state, q, kind == 2), q + 1, sub, n_rot + 1)

    psi = np.asarray(psi, dtype=complex)
    chunk = max(1, _CHUNK_AMPLITUDES >> n)  # keep each working array in cache (~256 KB)
    if psi.shape[0] <= chunk:
        rec(np.ascontiguousarray(psi.T), 0, list(range(grouped.n_groups)), 0)
        return out  # type: ignore[return-value]
    parts: list[list[np.ndarray]] = []
    for start in range(0, psi.shape[0], chunk):
        out = [None] * grouped.n_groups
        rec(np.ascontiguousarray(psi[start:start + chunk].T), 0, list(range(grouped.n_groups)), 0)
        parts.append(out)  # type: ignore[arg-type]
    return [np.concatenate([p[k] for p in parts], axis=0) for k in range(grouped.n_groups)]


def _butterfly(psi_t: np.ndarray, q: int, y: bool) -> np.ndarray:
    """√2·H (X basis) or √2·H·S† (Y basis) on qubit q of column states (2ⁿ, P)."""
    v = psi_t.reshape(-1, 2, (1 << q) * psi_t.shape[1])
    a0, a1 = v[:, 0], v[:, 1]
    if y:
        a1 = a1 * -1j
    out = np.empty_like(v)
    np.add(a0, a1, out=out[:, 0])
    np.subtract(a0, a1, out=out[:, 1])
    return out.reshape(psi_t.shape)


@dataclass(frozen=True, slots=True)
class GroupDistributions:
    """Exact distributions of every group's one-shot value at P points.

    ``probs[k]`` has shape (P, U_k): the probability of each distinct value of f_k.
    """

    grouped: GroupedHamiltonian
    probs: tuple[np.ndarray, ...]

    @property
    def n_points(self) -> int:
        return self.probs[0].shape[0] if self.probs else 0

    @classmethod
    def from_outcome_probabilities(cls, grouped: GroupedHamiltonian, outcome_probs: list[np.ndarray]) -> GroupDistributions:
        """Aggregate (P, 2ⁿ) outcome probabilities per group into distinct-value probabilities."""
        probs = []
        for g, p in zip(grouped.groups, outcome_probs):
            pu = np.asarray(g.aggregator_t @ p.T).T  # sparse (U, 2ⁿ) @ dense (2ⁿ, P)
            probs.append(np.clip(pu, 0.0, None))
        return cls(grouped, tuple(probs))

    def means(self) -> np.ndarray:
        """(P, K) exact group means ⟨f_k⟩."""
        return np.stack([p @ g.values for g, p in zip(self.grouped.groups, self.probs)], axis=1)

    def variances(self) -> np.ndarray:
        """(P, K) exact single-shot variances Var_k."""
        out = []
        for g, p in zip(self.grouped.groups, self.probs):
            m = p @ g.values
            out.append(np.clip(p @ g.values**2 - m**2, 0.0, None))
        return np.stack(out, axis=1)

    def energies(self) -> np.ndarray:
        """(P,) exact energies c_0 + Σ_k ⟨f_k⟩."""
        return self.grouped.constant + self.means().sum(axis=1)

    def sample(self, shots_per_group: np.ndarray, rng: np.random.Generator, repeats: int = 1
               ) -> tuple[np.ndarray, np.ndarray]:
        """Draw finite-shot group means and sample variances, shape (repeats, P, K) each."""
        return sample_group_means(self, shots_per_group, rng, repeats)


def sample_group_means(dist: GroupDistributions, shots_per_group: np.ndarray, rng: np.random.Generator,
                       repeats: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial counts of the distinct values → per-group sample means and variances (ddof=1).

    ``shots_per_group`` is (K,) (same at every point) or (P, K).
    """
    k_groups = dist.grouped.n_groups
    p_pts = dist.n_points
    shots = np.broadcast_to(np.asarray(shots_per_group, dtype=np.int64), (p_pts, k_groups))
    means = np.empty((repeats, p_pts, k_groups))
    var = np.empty((repeats, p_pts, k_groups))
    for k, (g, p) in enumerate(zip(dist.grouped.groups, dist.probs)):
        pv = p / p.sum(axis=1, keepdims=True)
        n_k = np.broadcast_to(shots[:, k], (repeats, p_pts))
        counts = rng.multinomial(n_k, np.broadcast_to(pv, (repeats, *pv.shape)))
        s1 = counts @ g.values
        s2 = counts @ g.values**2
        nk = shots[:, k][None, :].astype(float)
        means[:, :, k] = s1 / nk
        with np.errstate(invalid="ignore", divide="ignore"):
            var[:, :, k] = np.where(nk > 1, (s2 - s1**2 / nk) / (nk - 1), np.nan)
    return means, np.clip(var, 0.0, None)
