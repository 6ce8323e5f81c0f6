"""Ansätze and the numpy statevector simulator, against Qiskit's Statevector (a slow reference)."""

from __future__ import annotations

import numpy as np
import pytest

from crossnoise.quantum.ansatz import check_theta, hardware_efficient, hf_theta, uccsd
from crossnoise.quantum.hamiltonian import build_hamiltonian
from crossnoise.quantum.molecules import molecule
from crossnoise.quantum.statevector import expectation, statevectors
from crossnoise.validation import InputError


def test_parameter_counts():
    assert hardware_efficient(4, 2, 3).n_params == 12
    assert hardware_efficient(4, 2, 16, rz=True).n_params == 128
    a = uccsd(10, 2)
    assert a.n_params == 8 + 16 and not a.one_to_one
    assert hardware_efficient(6, 2, 1, entangler="full").ops[-1][1][-1] == (4, 5)


@pytest.mark.parametrize("build", [lambda: hardware_efficient(6, 2, 2, rz=True, entangler="full"), lambda: uccsd(6, 2)])
def test_statevector_matches_qiskit(build):
    from qiskit.quantum_info import Statevector

    a = build()
    theta = np.random.default_rng(3).uniform(-np.pi, np.pi, (3, a.n_params))
    ours = statevectors(a, a.angles(theta))
    qc, phi = a.to_qiskit()
    for row, t in zip(ours, theta):
        ref = Statevector(qc.assign_parameters(dict(zip(phi, a.angles(t))))).data
        assert np.max(np.abs(row - ref)) < 1e-12


@pytest.mark.parametrize("kind", ["hea", "uccsd"])
def test_theta_zero_is_hartree_fock(kind):
    h = build_hamiltonian(molecule("H2"))
    a = hardware_efficient(4, 2, 3, rz=True) if kind == "hea" else uccsd(4, 2)
    psi = statevectors(a, a.angles(hf_theta(a)[None, :]))
    assert abs(expectation(psi, h.operator.to_matrix(sparse=True))[0] - h.e_hf) < 1e-12


def test_uccsd_conserves_particle_number_and_reaches_h2_ground_state():
    from scipy.optimize import minimize

    h = build_hamiltonian(molecule("H2"))
    a = uccsd(4, 2)
    m = h.operator.to_matrix(sparse=True)
    psi = statevectors(a, a.angles(np.random.default_rng(0).normal(size=(1, 3))))[0]
    pop = np.array([bin(b).count("1") for b in range(16)])
    assert np.sum(np.abs(psi[pop != 2]) ** 2) < 1e-24
    res = minimize(lambda t: expectation(statevectors(a, a.angles(t[None, :])), m)[0], np.zeros(3), method="BFGS")
    assert abs(res.fun - h.e_exact) < 1e-8  # UCCSD is exact for two electrons


def test_theta_length_error_names_d():
    a = hardware_efficient(4, 2, 2)
    with pytest.raises(InputError, match="length d = 8"):
        check_theta(np.zeros(7), a)
