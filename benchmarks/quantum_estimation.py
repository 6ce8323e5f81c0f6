"""Benchmark: ONE parameter-shift gradient with honest shot noise, side by side in one process.

Case (the issue's): LiH, 2 electrons in 5 orbitals (10 qubits, 276 Pauli terms, 64 qubit-wise
commuting groups), hardware-efficient ansatz with 2 layers of RY+RZ and linear CZ (d = 40),
a random θ; 80 shifted points × 64 groups × 1000 shots per group.

Contenders, all drawing 1000 shots per (point, group):
- ours, ``statevector`` engine (numpy probabilities + multinomial draws of distinct group values);
- ours, ``aer`` engine (Aer evolves the 80 states in one job, numpy rotates and draws);
- PennyLane ``default.qubit`` with ``shots=1000`` and ``qml.gradients.param_shift`` on a
  QWC-grouped Hamiltonian;
- Qiskit ``BackendEstimatorV2(AerSimulator())`` with precision 1/√1000 (= 1000 shots per group),
  one PUB with an (80, 40) parameter array.
Also: the floor that any honest sampler pays — the Born probabilities of every (point, group)
pair with our simulator (statevectors + basis rotations + |ψ|²) — and batched vs one job per point.

Every figure is a RATIO measured in this run (medians of repeated runs for ours, one run for the
slow peers).  Each gradient is also checked against the exact gradient (max |z| over components).

Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/quantum_estimation.py [--quick]``
(``--quick`` skips the two slow peers).  A GPU section runs only when Aer reports a GPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from crossnoise.quantum.engines import AerEngine, StatevectorEngine, aer_gpu_available  # noqa: E402
from crossnoise.quantum.gradients import exact_gradient, parameter_shift_plan, run_plan  # noqa: E402
from crossnoise.quantum.measurement import rotate_to_bases  # noqa: E402
from crossnoise.quantum.objective import EnergyObjective, energy_objective  # noqa: E402
from crossnoise.quantum.statevector import statevectors  # noqa: E402

SHOTS_PER_GROUP = 1000


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def z_max(g: np.ndarray, exact: np.ndarray, se: np.ndarray) -> float:
    return float(np.max(np.abs(g - exact) / se))


def pennylane_gradient(obj: EnergyObjective, theta: np.ndarray, seed: int) -> np.ndarray:
    import pennylane as qml

    from crossnoise.quantum.molecules import molecule

    spec = molecule("LiH")
    mol = qml.qchem.Molecule(list(spec.symbols), np.array(spec.coordinates), unit="angstrom")
    h, n = qml.qchem.molecular_hamiltonian(mol, method="dhf", active_electrons=2, active_orbitals=5)
    coeffs, ops = h.terms()
    ham = qml.ops.LinearCombination(np.real(coeffs), ops, grouping_type="qwc")
    dev = qml.device("default.qubit", wires=n, seed=seed)
    layers = 2
    hf = np.array([1, 1] + [0] * (n - 2))

    @qml.qnode(dev, diff_method="parameter-shift", shots=SHOTS_PER_GROUP)
    def energy(params):
        qml.BasisState(hf, wires=range(n))
        k = 0
        for _ in range(layers):
            for q in range(n):
                qml.RY(params[k], wires=q)
                qml.RZ(params[k + 1], wires=q)
                k += 2
            for q in range(n - 1):
                qml.CZ(wires=[q, q + 1])
        return qml.expval(ham)

    params = qml.numpy.array(theta, requires_grad=True)
    return np.asarray(qml.gradients.param_shift(energy)(params), dtype=float)


def qiskit_gradient(obj: EnergyObjective, theta: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
    from qiskit import transpile
    from qiskit.primitives import BackendEstimatorV2
    from qiskit_aer import AerSimulator

    backend = AerSimulator(seed_simulator=seed, max_parallel_threads=1)
    est = BackendEstimatorV2(backend=backend)
    est.options.default_precision = 1 / math.sqrt(SHOTS_PER_GROUP) * (1 - 1e-9)  # ceil(1/p²) = 1000 shots/group
    est.options.seed_simulator = seed
    qc, phi = obj.ansatz.to_qiskit()
    plan = parameter_shift_plan(obj.ansatz, theta, 1)
    circuit = transpile(qc, backend, optimization_level=0)
    # our circuit has one parameter per rotation; HEA maps θ one-to-one onto them, in order
    values = obj.ansatz.angles(plan.points)
    job = est.run([(circuit, obj.hamiltonian.operator, values)])
    evs = np.asarray(job.result()[0].data.evs, dtype=float)
    return plan.apply(evs), plan.n_points


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip PennyLane and BackendEstimatorV2")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    obj = energy_objective("LiH", layers=2, allocation="uniform")
    theta = np.random.default_rng(2024).uniform(-np.pi, np.pi, obj.n_params)
    shots = SHOTS_PER_GROUP * obj.n_groups
    plan = parameter_shift_plan(obj.ansatz, theta, shots)
    g_exact = exact_gradient(obj, theta)
    angles = obj.ansatz.angles(plan.points)
    print(f"LiH: {obj.hamiltonian.n_qubits} qubits, {obj.hamiltonian.n_terms} terms, {obj.n_groups} QWC groups; "
          f"HEA d = {obj.n_params}; {plan.n_points} points × {obj.n_groups} groups × {SHOTS_PER_GROUP} shots "
          f"= {plan.shots} shots, {plan.circuits(obj.n_groups)} circuits")
    # PS variance per component with 1000 shots per group (for the z checks of the peers)
    se_ps = np.sqrt((plan.combine**2) @ obj.variance_angles(angles, shots))

    results: dict[str, float] = {}
    rng = np.random.default_rng(1)
    t_floor, _ = median_time(lambda: rotate_to_bases(statevectors(obj.ansatz, angles), obj.grouped), args.repeats)
    results["floor (Born probabilities of every point × group)"] = t_floor
    t_sv, est = median_time(lambda: run_plan(obj, plan, rng=rng), args.repeats)
    results["ours, statevector engine (batched)"] = t_sv
    print(f"ours statevector: max |z| vs exact = {z_max(est.gradient, g_exact, est.standard_errors):.2f}")
    aer_obj = EnergyObjective(obj.hamiltonian, obj.ansatz, engine=AerEngine(), allocation="uniform")
    t_aer, est = median_time(lambda: run_plan(aer_obj, plan, rng=rng), args.repeats)
    results["ours, aer engine (CPU, batched)"] = t_aer
    print(f"ours aer:         max |z| vs exact = {z_max(est.gradient, g_exact, est.standard_errors):.2f}")

    def one_job_per_point(o: EnergyObjective) -> None:
        for row in plan.points:
            o.evaluate(row[None, :], shots, rng=rng)

    t_sv1, _ = median_time(lambda: one_job_per_point(obj), max(3, args.repeats // 2))
    t_aer1, _ = median_time(lambda: one_job_per_point(aer_obj), max(3, args.repeats // 2))
    results["ours, statevector, one job per point"] = t_sv1
    results["ours, aer, one job per point"] = t_aer1

    if not args.quick:
        t0 = time.perf_counter()
        g_pl = pennylane_gradient(obj, theta, seed=7)
        results["PennyLane default.qubit shots=1000, param_shift"] = time.perf_counter() - t0
        print(f"PennyLane:        max |z| vs exact = {z_max(g_pl, g_exact, se_ps):.2f}")
        t0 = time.perf_counter()
        g_qk, _ = qiskit_gradient(obj, theta, seed=7)
        results["Qiskit BackendEstimatorV2(AerSimulator()), one PUB"] = time.perf_counter() - t0
        print(f"BackendEstimator: max |z| vs exact = {z_max(g_qk, g_exact, se_ps):.2f}")

    print("\n| method | seconds | ÷ ours (statevector) | ÷ floor |")
    print("| --- | --- | --- | --- |")
    for name, t in results.items():
        print(f"| {name} | {t:.3f} | {t / t_sv:.2f} | {t / t_floor:.2f} |")
    print(f"\nbatched speed-up: statevector {t_sv1 / t_sv:.1f}×, aer {t_aer1 / t_aer:.1f}×")
    for peer in ("PennyLane default.qubit shots=1000, param_shift", "Qiskit BackendEstimatorV2(AerSimulator()), one PUB"):
        if peer in results:
            print(f"{peer}: ours statevector {results[peer] / t_sv:.1f}× faster, ours aer {results[peer] / t_aer:.1f}× faster")
    print(f"ours statevector / floor = {t_sv / t_floor:.2f}  (goal ≤ 2)")

    if aer_gpu_available():
        print("\nAer GPU vs CPU (statevectors of 4 points, HEA 2 layers RY+RZ):")
        from crossnoise.quantum.ansatz import hardware_efficient

        for n in (12, 16, 20, 24):
            a = hardware_efficient(n, 2, 2, rz=True)
            ang = a.angles(np.random.default_rng(0).uniform(-1, 1, (4, a.n_params)))
            t_cpu, _ = median_time(lambda: AerEngine(device="CPU", threads=0).statevectors(a, ang), 3)
            t_gpu, _ = median_time(lambda: AerEngine(device="GPU", threads=0).statevectors(a, ang), 3)
            print(f"  n = {n}: CPU {t_cpu:.3f} s, GPU {t_gpu:.3f} s, CPU/GPU = {t_cpu / t_gpu:.1f}")
    else:
        print("\nAer GPU vs CPU: skipped (Aer reports no GPU on this machine).")


if __name__ == "__main__":
    main()
