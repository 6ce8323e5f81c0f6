"""SPSA-VQE, side by side in one process: crossnoise vs qiskit-algorithms vs PennyLane.

Same molecule (Quantum 1's Hamiltonian as a SparsePauliOp), same UCCSD circuit (Quantum 1's
Pauli-rotation ansatz: ``Ansatz.to_qiskit`` for Qiskit, the same rotations as ``qml.PauliRot`` for
PennyLane), same start (Hartree–Fock), same SPSA gains (a, c, A, α = 0.602, γ = 0.101; no
calibration, no blocking), same iterations and the same shots: s shots on every qubit-wise
commuting group of every energy evaluation.

- crossnoise: :class:`~crossnoise.quantum.optim_spsa.SPSA` on the ``statevector`` engine with a
  uniform allocation (s·K shots per evaluation = s per group);
- qiskit-algorithms ``VQE`` + ``SPSA`` on ``BackendEstimatorV2(AerSimulator())`` — honest
  sampling with shots = ceil(1/precision²) = s per group (qiskit's SPSA draws its directions
  from ``algorithm_globals``, seeded per run);
- PennyLane ``SPSAOptimizer`` on ``default.qubit`` with ``shots=s`` per measured group (its
  directions come from numpy's global state, seeded per run).

Reported: wall time per run (median over seeds) and the ratios to crossnoise, and the final-error
distribution E(θ_final) − E_exact, with every tool's θ_final scored by the same exact simulator.
Run: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/quantum_vqe.py [--quick]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from crossnoise.quantum.optim_spsa import SPSA  # noqa: E402
from crossnoise.quantum.vqe import make_problem  # noqa: E402


def gains(a: float, c: float, A: float, alpha: float = 0.602, gamma: float = 0.101):
    lr = lambda: (a / (A + k + 1) ** alpha for k in itertools.count())  # noqa: E731
    pert = lambda: (c / (k + 1) ** gamma for k in itertools.count())  # noqa: E731
    return lr, pert


def run_ours(problem, iters: int, s: int, a: float, c: float, A: float, seed: int) -> tuple[np.ndarray, float, int]:
    k = problem.objective.energy.n_groups
    opt = SPSA(shots=s * k, a=a, c=c, A=A)
    t = time.perf_counter()
    res = opt.minimize(problem.objective, np.zeros(problem.n_params), budget=iters * 2 * s * k, rng=seed)
    wall = time.perf_counter() - t
    assert res.iterations == iters, res.message
    return res.params, wall, res.ledger.shots


def qiskit_theta_circuit(ansatz):
    from qiskit.circuit import ParameterVector

    qc, phi = ansatz.to_qiskit()
    theta = ParameterVector("theta", ansatz.n_params)
    binds = {phi[r]: rot.coeff * theta[rot.param] for r, rot in enumerate(ansatz.rotations)}
    return qc.assign_parameters(binds)


def run_qiskit(problem, iters: int, s: int, a: float, c: float, A: float, seed: int) -> tuple[np.ndarray, float, int]:
    from qiskit.primitives import BackendEstimatorV2
    from qiskit_aer import AerSimulator
    from qiskit_algorithms import VQE
    from qiskit_algorithms.optimizers import SPSA as QSPSA
    from qiskit_algorithms.utils import algorithm_globals

    algorithm_globals.random_seed = seed
    backend = AerSimulator(seed_simulator=seed, max_parallel_threads=1)
    est = BackendEstimatorV2(backend=backend, options={"default_precision": (1 / math.sqrt(s)) * (1 + 1e-12),
                                                       "abelian_grouping": True, "seed_simulator": seed})
    lr, pert = gains(a, c, A)
    opt = QSPSA(maxiter=iters, learning_rate=lr, perturbation=pert)
    circuit = qiskit_theta_circuit(problem.ansatz)
    calls = {"n": 0}

    def cb(count, params, value, meta):
        calls["n"] = count

    vqe = VQE(est, circuit, opt, initial_point=np.zeros(problem.n_params), callback=cb)
    t = time.perf_counter()
    res = vqe.compute_minimum_eigenvalue(problem.hamiltonian.operator)
    wall = time.perf_counter() - t
    # VQE returns optimal_point in circuit.parameters order (sorted by name: theta[0], theta[1], …)
    names = [p.name for p in circuit.parameters]
    idx = [int(n.split("[")[1].rstrip("]")) for n in names]
    theta = np.empty(problem.n_params)
    theta[idx] = np.asarray(res.optimal_point)
    return theta, wall, calls["n"]


def run_pennylane(problem, iters: int, s: int, a: float, c: float, A: float, seed: int) -> tuple[np.ndarray, float, int]:
    import pennylane as qml
    from pennylane import numpy as pnp

    n = problem.hamiltonian.n_qubits
    ans = problem.ansatz
    op = problem.hamiltonian.operator  # Qiskit label char n−1−q is qubit q = wire q
    wire_map = {q: q for q in range(n)}
    terms = [qml.pauli.string_to_pauli_word(lab[::-1], wire_map=wire_map) for lab in op.paulis.to_labels()]
    H = qml.dot([float(np.real(c)) for c in op.coeffs], terms)
    hf = [1 if q < problem.hamiltonian.n_electrons else 0 for q in range(n)]
    words = [rot.label[::-1] for rot in ans.rotations]  # Qiskit label char n−1−q is qubit q = wire q
    pidx, coef = ans.param_index, ans.coeffs
    dev = qml.device("default.qubit", wires=n, seed=seed)

    @qml.set_shots(s)
    @qml.qnode(dev)
    def cost(theta):
        qml.BasisState(np.array(hf), wires=range(n))
        for kind, arg in ans.ops:
            if kind == "cz":
                for q0, q1 in arg:
                    qml.CZ(wires=[q0, q1])
            else:
                qml.PauliRot(coef[arg] * theta[pidx[arg]], words[arg], wires=range(n))
        return qml.expval(H)

    np.random.seed(seed)  # PennyLane's SPSAOptimizer draws Δ from numpy's global state
    opt = qml.SPSAOptimizer(maxiter=iters, a=a, c=c, A=A)
    theta = pnp.zeros(problem.n_params, requires_grad=True)
    t = time.perf_counter()
    for _ in range(iters):
        theta = opt.step(cost, theta)
    wall = time.perf_counter() - t
    return np.asarray(theta), wall, iters


def check_same_problem(problem) -> float:
    """The three tools see the same E(θ): exact energies at a random θ agree (returns the max gap)."""
    import pennylane as qml
    from qiskit.quantum_info import Statevector

    n = problem.hamiltonian.n_qubits
    theta = np.random.default_rng(123).uniform(-0.5, 0.5, problem.n_params)
    ours = float(problem.objective.exact(theta[None])[0])
    circ = qiskit_theta_circuit(problem.ansatz)
    names = [p.name for p in circ.parameters]
    vals = [theta[int(nm.split("[")[1].rstrip("]"))] for nm in names]
    qk = float(np.real(Statevector(circ.assign_parameters(vals)).expectation_value(problem.hamiltonian.operator)))
    op = problem.hamiltonian.operator
    terms = [qml.pauli.string_to_pauli_word(lab[::-1], wire_map={q: q for q in range(n)}) for lab in op.paulis.to_labels()]
    H = qml.dot([float(np.real(c)) for c in op.coeffs], terms)
    ans = problem.ansatz

    @qml.qnode(qml.device("default.qubit", wires=n))
    def e(th):
        qml.BasisState(np.array([1 if q < problem.hamiltonian.n_electrons else 0 for q in range(n)]), wires=range(n))
        for kind, arg in ans.ops:
            if kind == "cz":
                for q0, q1 in arg:
                    qml.CZ(wires=[q0, q1])
            else:
                rot = ans.rotations[arg]
                qml.PauliRot(rot.coeff * th[rot.param], rot.label[::-1], wires=range(n))
        return qml.expval(H)

    pl = float(e(theta))
    gap = max(abs(ours - qk), abs(ours - pl))
    assert gap < 1e-8, (ours, qk, pl)
    return gap


def bench(name: str, iters: int, s: int, seeds: list[int], a: float, c: float, A: float,
          tools: tuple[str, ...] = ("crossnoise", "qiskit", "pennylane")) -> dict:
    problem = make_problem(name, allocation="uniform")
    h = problem.hamiltonian
    out = {"molecule": name, "n_qubits": h.n_qubits, "n_terms": h.n_terms, "n_groups": problem.objective.energy.n_groups,
           "d": problem.n_params, "iterations": iters, "shots_per_group": s,
           "shots_per_run": iters * 2 * s * problem.objective.energy.n_groups, "gains": {"a": a, "c": c, "A": A},
           "tools": {}, "same_energy_max_gap_Ha": check_same_problem(problem)}
    for tool, fn in (("crossnoise", run_ours), ("qiskit", run_qiskit), ("pennylane", run_pennylane)):
        if tool not in tools:
            continue
        walls, errs = [], []
        for seed in seeds:
            theta, wall, _ = fn(problem, iters, s, a, c, A, seed)
            walls.append(wall)
            errs.append(float(problem.objective.exact(theta[None])[0] - problem.e_exact))
        out["tools"][tool] = {"wall_s": walls, "wall_median_s": float(np.median(walls)), "final_error_Ha": errs,
                              "final_error_median_Ha": float(np.median(errs))}
    base = out["tools"]["crossnoise"]["wall_median_s"]
    for peer in ("qiskit", "pennylane"):
        if peer in out["tools"]:
            out[f"ratio_{peer}_over_ours"] = out["tools"][peer]["wall_median_s"] / base
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer iterations and seeds")
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--molecules", default="H2,LiH", help="comma-separated: H2, LiH")
    ap.add_argument("--iterations", type=int, default=None, help="override the SPSA iterations")
    ap.add_argument("--seeds", type=int, default=None, help="override the number of seeds")
    ap.add_argument("--tools", default="crossnoise,qiskit,pennylane", help="which tools to run (crossnoise always)")
    args = ap.parse_args()
    seeds = [0, 1] if args.quick else [0, 1, 2]
    if args.seeds is not None:
        seeds = list(range(args.seeds))
    settings = {"H2": (20 if args.quick else 100, 200, 10.0), "LiH": (4 if args.quick else 15, 100, 2.0)}
    tools = tuple({"crossnoise", *args.tools.split(",")})
    results = [bench(m, args.iterations or settings[m][0], settings[m][1], seeds, a=0.2, c=0.2, A=settings[m][2],
                     tools=tools)
               for m in args.molecules.split(",")]
    for r in results:
        print(f"== {r['molecule']}: {r['n_qubits']} qubits, {r['n_terms']} terms, {r['n_groups']} QWC groups, UCCSD d = {r['d']}; "
              f"{r['iterations']} SPSA iterations, {r['shots_per_group']} shots per group, {r['shots_per_run']} shots per run")
        print(f"   (same E(θ) in all three tools: max gap {r['same_energy_max_gap_Ha']:.1e} Ha)")
        for tool, t in r["tools"].items():
            errs = ", ".join(f"{1e3 * e:.2f}" for e in t["final_error_Ha"])
            print(f"  {tool:10s} wall median {t['wall_median_s']:8.3f} s  final error mHa [{errs}] (median {1e3 * t['final_error_median_Ha']:.2f})")
        print("  " + "   ".join(f"ratio {p}/ours {r[f'ratio_{p}_over_ours']:.1f}x" for p in ("qiskit", "pennylane")
                                 if f"ratio_{p}_over_ours" in r))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
