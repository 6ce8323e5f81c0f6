"""QWC grouping, value tables, distinct-value sampling (vs whole bitstrings), shot allocation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from crossnoise.quantum.allocation import CoefficientWeighted, Uniform, VarianceOptimal, apportion
from crossnoise.quantum.ansatz import hardware_efficient
from crossnoise.quantum.hamiltonian import build_hamiltonian
from crossnoise.quantum.measurement import GroupDistributions, group_hamiltonian, rotate_to_bases
from crossnoise.quantum.molecules import molecule
from crossnoise.quantum.statevector import expectation, statevectors
from crossnoise.validation import InputError


@pytest.fixture(scope="module")
def h2o():
    h = build_hamiltonian(molecule("H2O"))
    return h, group_hamiltonian(h.operator, h.groups)


def test_groups_are_qubit_wise_commuting_and_cover_all_terms(h2o):
    h, gh = h2o
    assert gh.n_terms == h.n_terms - 1  # all but the identity
    for g in gh.groups:
        for lab in g.labels:
            for q, ch in enumerate(reversed(lab)):
                assert ch == "I" or {"X": 1, "Y": 2, "Z": 0}[ch] == g.basis[q]


def test_group_energy_equals_matrix_expectation(h2o):
    h, gh = h2o
    a = hardware_efficient(8, 4, 2, rz=True)
    psi = statevectors(a, a.angles(np.random.default_rng(1).uniform(-2, 2, (4, a.n_params))))
    dist = GroupDistributions.from_outcome_probabilities(gh, rotate_to_bases(psi, gh))
    ref = expectation(psi, h.operator.to_matrix(sparse=True))
    assert np.max(np.abs(dist.energies() - ref)) < 1e-10
    assert np.all(dist.variances() >= 0)


def test_distinct_value_sampling_matches_whole_bitstring_sampling(h2o):
    """The fast path draws counts of DISTINCT values; the slow reference draws bitstrings.

    Both give R estimates of a group mean with N shots each.  Two-sample KS test on R = 400
    estimates from each: under the same distribution the p-value is uniform, so p < 1e-3 fails
    with probability 1e-3.  A wrong aggregation (e.g. values attached to the wrong outcomes)
    shifts the mean by ≫ its SE and fails.
    """
    h, gh = h2o
    a = hardware_efficient(8, 4, 1, rz=True)
    psi = statevectors(a, a.angles(np.random.default_rng(2).uniform(-2, 2, (1, a.n_params))))
    probs = rotate_to_bases(psi, gh)
    dist = GroupDistributions.from_outcome_probabilities(gh, probs)
    k = int(np.argmax([len(g.values) for g in gh.groups]))  # the richest group
    n, r = 200, 400
    fast, _ = dist.sample(np.full(gh.n_groups, n), np.random.default_rng(5), repeats=r)
    rng = np.random.default_rng(6)
    p = probs[k][0] / probs[k][0].sum()
    slow = np.array([gh.groups[k].value_of(rng.choice(len(p), size=n, p=p)).mean() for _ in range(r)])
    assert stats.ks_2samp(fast[:, 0, k], slow).pvalue > 1e-3


def test_apportion_and_strategies(h2o):
    _, gh = h2o
    for strat in (Uniform(), CoefficientWeighted(), VarianceOptimal(np.arange(gh.n_groups, dtype=float))):
        n_k = strat(1000, gh)
        assert n_k.sum() == 1000 and n_k.min() >= 1
    assert list(apportion(10, [1, 1, 2])) == [3, 3, 4]  # 1 each, then 7 by weight: 1.75, 1.75, 3.5
    with pytest.raises(InputError, match="at least the number of measurement groups"):
        apportion(2, [1, 1, 1])
    with pytest.raises(InputError, match="positive integer"):
        apportion(0, [1])


def test_variance_optimal_allocation_minimises_variance(h2o):
    """Σ Var_k/N_k at N_k ∝ √Var_k is (Σ√Var_k)²/N up to rounding, below uniform and coefficient."""
    h, gh = h2o
    a = hardware_efficient(8, 4, 1, rz=True)
    psi = statevectors(a, a.angles(np.random.default_rng(3).uniform(-2, 2, (1, a.n_params))))
    var = GroupDistributions.from_outcome_probabilities(gh, rotate_to_bases(psi, gh)).variances()[0]
    n = 100_000
    opt = np.sum(var / VarianceOptimal(var)(n, gh))
    assert abs(opt - np.sum(np.sqrt(var)) ** 2 / n) / opt < 1e-2
    assert opt <= np.sum(var / Uniform()(n, gh)) and opt <= np.sum(var / CoefficientWeighted()(n, gh))
