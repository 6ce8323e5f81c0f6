"""Honest shot noise, per engine: unbiased, the right spread, seeded.

For each engine and molecule (H2, 4 qubits; H2O, 8 qubits) we draw R independent energy estimates
at ONE fixed θ (R copies of the point in one batch: every point is sampled independently) and check

1. mean: |Ē − E| < 4·√(V/R), V = Σ_k Var_k/N_k the exact variance (a 4σ two-sided test fails
   with probability 6e-5 when the engine is right);
2. spread: (R−1)s²/V ~ χ²_{R−1} (each estimate is a sum of ≥ 1000 shots, so close to normal);
   accept between the 0.05% and 99.95% quantiles (false alarm 1e-3).  A sampler that reused
   draws, ignored the allocation or sampled the wrong basis fails one of the two;
3. the same seed gives the same estimates, another seed different ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from crossnoise.quantum.ansatz import hardware_efficient
from crossnoise.quantum.engines import AerEngine, PennyLaneEngine, StatevectorEngine, aer_gpu_available, get_engine
from crossnoise.quantum.hamiltonian import build_hamiltonian
from crossnoise.quantum.molecules import molecule
from crossnoise.quantum.objective import EnergyObjective, NoisyObjective
from crossnoise.validation import InputError

ENGINES = {
    "statevector": StatevectorEngine,
    "aer": AerEngine,
    "aer-probabilities": lambda: AerEngine(mode="probabilities"),
    "aer-sampler": lambda: AerEngine(mode="sampler"),
    "pennylane": PennyLaneEngine,
    "lightning": lambda: PennyLaneEngine("lightning.qubit"),
}


def _objective(name, engine, layers=1):
    h = build_hamiltonian(molecule(name))
    a = hardware_efficient(h.n_qubits, h.n_electrons, layers, rz=True)
    return EnergyObjective(h, a, engine=engine)


def _check_statistics(obj, shots, repeats, seed):
    theta = np.random.default_rng(11).uniform(-np.pi, np.pi, obj.n_params)
    batch = obj.evaluate(np.tile(theta, (repeats, 1)), shots, rng=seed)
    assert batch.shots == repeats * shots and batch.circuits == repeats * obj.n_groups
    e = obj.exact(theta[None, :])[0]
    v = obj.variance(theta[None, :], shots)[0]
    mean, s2 = batch.values.mean(), batch.values.var(ddof=1)
    assert abs(mean - e) < 4 * np.sqrt(v / repeats), (mean, e, np.sqrt(v / repeats))
    chi2 = (repeats - 1) * s2 / v
    lo, hi = stats.chi2.ppf([5e-4, 1 - 5e-4], repeats - 1)
    assert lo < chi2 < hi, (s2 / v, lo / (repeats - 1), hi / (repeats - 1))
    # the reported standard errors estimate √V (each from ~N shots: within 10 %)
    assert abs(np.mean(batch.standard_errors**2) / v - 1) < 0.1
    return batch


@pytest.mark.parametrize("engine", list(ENGINES))
def test_h2_statistics(engine):
    obj = _objective("H2", ENGINES[engine]())
    assert isinstance(obj, NoisyObjective)
    first = _check_statistics(obj, 2000, 300, seed=1)
    again = obj.evaluate(np.tile(np.random.default_rng(11).uniform(-np.pi, np.pi, obj.n_params), (300, 1)), 2000,
                         rng=1)
    other = obj.evaluate(np.tile(np.random.default_rng(11).uniform(-np.pi, np.pi, obj.n_params), (300, 1)), 2000,
                         rng=2)
    assert np.array_equal(first.values, again.values)
    assert not np.array_equal(first.values, other.values)


@pytest.mark.parametrize("engine", ["statevector", "aer", "aer-sampler", "pennylane"])
def test_eight_qubit_statistics(engine):
    obj = _objective("H2O", ENGINES[engine]())
    assert obj.ansatz.n_qubits == 8
    first = _check_statistics(obj, 3000, 200, seed=3)
    theta = np.tile(np.random.default_rng(11).uniform(-np.pi, np.pi, obj.n_params), (200, 1))
    assert np.array_equal(first.values, obj.evaluate(theta, 3000, rng=3).values)
    assert not np.array_equal(first.values, obj.evaluate(theta, 3000, rng=4).values)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["aer-probabilities", "lightning"])
def test_eight_qubit_statistics_slow_engines(engine):
    obj = _objective("H2O", ENGINES[engine]())
    _check_statistics(obj, 3000, 200, seed=3)


@pytest.mark.slow
def test_ten_qubit_lih_statistics():
    _check_statistics(_objective("LiH", StatevectorEngine(), layers=2), 5000, 400, seed=5)


@pytest.mark.parametrize("engine", ["statevector", "aer-sampler", "pennylane", "lightning"])
def test_measurement_groups_are_sampled_independently(engine):
    """Each group's estimate must be independent of the others at the same point.

    R = 300 copies of one θ; for each pair of the K = 5 groups the sample correlation of their
    estimates has SE ≈ 1/√R = 0.058; 10 pairs at |r| < 4.5/√R (false alarm ~ 7e-5 per test).
    Qiskit Aer's SamplerV2 with several PUBs in ONE job reuses the seed for every PUB: the groups
    then share random numbers (we measured r = −0.51 between two groups) — this test catches it.
    """
    obj = _objective("H2", ENGINES[engine]())
    theta = np.random.default_rng(11).uniform(-np.pi, np.pi, obj.n_params)
    angles = obj.ansatz.angles(np.tile(theta, (300, 1)))
    means, _ = obj.engine.sample(obj.ansatz, angles, obj.grouped, obj.shots_per_group(2000),
                                 np.random.default_rng(3))
    r = np.corrcoef(means[0].T)
    off = r[np.triu_indices(obj.n_groups, 1)]
    assert np.max(np.abs(off)) < 4.5 / np.sqrt(300), np.round(r, 2)


def test_repeats_share_probabilities_but_not_draws():
    obj = _objective("H2", StatevectorEngine())
    batches = obj.evaluate_angles(np.zeros((1, obj.n_rotations)), 1000, rng=0, repeats=3)
    assert len(batches) == 3 and len({b.values[0] for b in batches}) == 3


def test_gpu_path_raises_a_clear_error_or_runs():
    if aer_gpu_available():
        obj = _objective("H2", AerEngine(device="GPU"))
        assert np.isfinite(obj.evaluate(np.zeros((1, obj.n_params)), 1000, rng=0).values[0])
        return
    with pytest.raises(InputError, match="qiskit-aer-gpu"):
        AerEngine(device="GPU")


@pytest.mark.skipif(not aer_gpu_available(), reason="needs qiskit-aer-gpu and a CUDA GPU")
def test_gpu_statistics():
    _check_statistics(_objective("H2O", AerEngine(device="GPU")), 3000, 200, seed=3)


def test_bad_engine_inputs():
    with pytest.raises(InputError, match="statevector, aer, pennylane"):
        get_engine("cirq")
    with pytest.raises(InputError, match="only available with engine 'aer'"):
        get_engine("statevector", device="GPU")
    obj = _objective("H2", StatevectorEngine())
    with pytest.raises(InputError, match="positive integer"):
        obj.evaluate(np.zeros(obj.n_params), 0, rng=0)
    with pytest.raises(InputError, match="positive integer"):
        obj.evaluate(np.zeros(obj.n_params), 10.5, rng=0)
    with pytest.raises(InputError, match="number of measurement groups"):
        obj.evaluate(np.zeros(obj.n_params), 3, rng=0)
    with pytest.raises(InputError, match="length d = 8"):
        obj.evaluate(np.zeros(5), 100, rng=0)


def test_pilot_variances_give_a_better_allocation():
    from crossnoise.quantum.objective import EnergyObjective as EO

    obj = _objective("H2O", StatevectorEngine())
    theta = np.random.default_rng(11).uniform(-np.pi, np.pi, (1, obj.n_params))
    alloc, cost = obj.pilot_variances(theta, 2000, rng=0)
    assert cost.shots == 2000 * obj.n_groups
    tuned = EO(obj.hamiltonian, obj.ansatz, allocation=alloc)
    # pilot estimates of Var_k from 2000 shots are within a few % → near-optimal allocation
    assert tuned.variance(theta, 10_000)[0] <= obj.variance(theta, 10_000)[0] * 1.02


@pytest.mark.parametrize("engine", ["pennylane", "aer-sampler", "aer-probabilities"])
def test_uccsd_multi_qubit_rotations_sample_the_right_state(engine):
    """UCCSD compiles to 4-qubit Pauli rotations; each engine builds them its own way."""
    from crossnoise.quantum.ansatz import uccsd

    h = build_hamiltonian(molecule("H2"))
    obj = EnergyObjective(h, uccsd(4, 2), engine=ENGINES[engine]())
    _check_statistics(obj, 2000, 100, seed=8)
