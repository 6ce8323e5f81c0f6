"""Shot-noise engines: they execute batches of parameter points and return finite-shot group means.

All engines sample the same distribution — :math:`N_k` independent shots of every measurement
group's one-shot value :math:`f_k(b)` at every point (see :mod:`crossnoise.quantum.measurement`) —
and are batched over many points:

- :class:`StatevectorEngine` (``"statevector"``): the numpy simulator computes the Born
  probabilities of every (point, group) pair; counts are drawn with the project's Generator.
- :class:`AerEngine` (``"aer"``): Qiskit Aer ``AerSimulator(method="statevector",
  device="CPU"|"GPU")`` with parameter arrays bound in one job.  ``mode="statevector"`` (default):
  Aer evolves the ansatz, numpy rotates to each group basis; ``mode="probabilities"``: Aer runs the
  rotated circuit of every group and saves its probabilities; ``mode="sampler"``: Aer draws the
  shots itself (``measure_all``, seeded from the project's stream) — the cross-check that the
  probability modes sample what a shot-based simulator samples.
- :class:`PennyLaneEngine` (``"pennylane"``): a PennyLane device (``default.qubit``;
  ``lightning.qubit`` when installed and asked for) with ``shots=N_k`` per group, parameter
  broadcasting over the points, seeded from the project's stream.

Every engine implements ``sample(ansatz, angles, grouped, shots_per_group, rng, repeats)`` →
``(means, variances)`` of shape (repeats, P, K); probability engines also implement
``distributions(ansatz, angles, grouped)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from crossnoise.quantum.ansatz import Ansatz
from crossnoise.quantum.measurement import GroupDistributions, GroupedHamiltonian, rotate_to_bases
from crossnoise.quantum.statevector import statevectors
from crossnoise.rng import derive_seed
from crossnoise.validation import InputError, check_choice

__all__ = ["Engine", "StatevectorEngine", "AerEngine", "PennyLaneEngine", "get_engine", "ENGINES",
           "aer_gpu_available"]

ENGINES = ("statevector", "aer", "pennylane")


class Engine(Protocol):
    name: str

    def sample(self, ansatz: Ansatz, angles: np.ndarray, grouped: GroupedHamiltonian, shots_per_group: np.ndarray,
               rng: np.random.Generator, repeats: int = 1) -> tuple[np.ndarray, np.ndarray]: ...


def _stats_from_outcomes(grouped: GroupedHamiltonian, k: int, outcomes: np.ndarray) -> tuple[float, float]:
    f = grouped.groups[k].value_of(outcomes)
    return float(f.mean()), float(f.var(ddof=1)) if len(f) > 1 else float("nan")


def _stats_from_counts(grouped: GroupedHamiltonian, k: int, counts: dict[int, int]) -> tuple[float, float]:
    keys = np.fromiter(counts.keys(), dtype=np.int64)
    c = np.fromiter(counts.values(), dtype=float)
    f = grouped.groups[k].value_of(keys)
    n = c.sum()
    s1, s2 = float(c @ f), float(c @ f**2)
    return s1 / n, (s2 - s1 * s1 / n) / (n - 1) if n > 1 else float("nan")


@dataclass(frozen=True, slots=True)
class StatevectorEngine:
    """Exact Born probabilities from the numpy simulator, counts drawn with the project's Generator."""

    name: str = "statevector"

    def distributions(self, ansatz: Ansatz, angles: np.ndarray, grouped: GroupedHamiltonian) -> GroupDistributions:
        psi = statevectors(ansatz, angles)
        return GroupDistributions.from_outcome_probabilities(grouped, rotate_to_bases(psi, grouped))

    def sample(self, ansatz, angles, grouped, shots_per_group, rng, repeats=1):
        return self.distributions(ansatz, angles, grouped).sample(shots_per_group, rng, repeats)


def aer_gpu_available() -> bool:
    """Whether the installed Aer was built with GPU support AND sees a GPU."""
    try:
        from qiskit_aer import AerSimulator
    except ImportError:  # pragma: no cover
        return False
    return "GPU" in AerSimulator().available_devices()


@dataclass(frozen=True, slots=True)
class AerEngine:
    """Qiskit Aer statevector simulation, CPU or GPU, batched with parameter arrays.

    Parameters
    ----------
    device : {"CPU", "GPU"}
    mode : {"statevector", "probabilities", "sampler"}
    threads : int
        Aer's ``max_parallel_threads`` (0 = Aer's default).  Default 1: on small circuits Aer's own
        OpenMP threading costs more than it gains (~15 ms per circuit on 2 cores).
    precision : {"double", "single"}
    """

    device: str = "CPU"
    mode: str = "statevector"
    threads: int = 1
    precision: str = "double"
    name: str = "aer"

    def __post_init__(self) -> None:
        check_choice(self.device, "device", ("CPU", "GPU"))
        check_choice(self.mode, "mode", ("statevector", "probabilities", "sampler"))
        check_choice(self.precision, "precision", ("double", "single"))
        if self.device == "GPU" and not aer_gpu_available():
            from qiskit_aer import AerSimulator

            raise InputError(
                "`device` 'GPU' needs qiskit-aer-gpu and a CUDA GPU; this Aer reports devices "
                f"{AerSimulator().available_devices()}. Fix: `pip uninstall -y qiskit-aer && pip install "
                "qiskit-aer-gpu` (or `pip install -e '.[gpu]'` after uninstalling qiskit-aer) on a machine with "
                "an NVIDIA GPU, or use --device CPU."
            )

    def simulator(self, seed: int | None = None) -> Any:
        from qiskit_aer import AerSimulator

        opts: dict[str, Any] = {"method": "statevector", "device": self.device, "precision": self.precision}
        if self.threads:
            opts["max_parallel_threads"] = self.threads
        if seed is not None:
            opts["seed_simulator"] = seed
        return AerSimulator(**opts)

    def _binds(self, phi: Any, angles: np.ndarray) -> dict:
        return {p: angles[:, r].tolist() for r, p in enumerate(phi)}

    def statevectors(self, ansatz: Ansatz, angles: np.ndarray) -> np.ndarray:
        """(P, 2ⁿ) final states from Aer (one job, one parameter array)."""
        import qiskit_aer  # noqa: F401  (registers QuantumCircuit.save_statevector)

        qc, phi = ansatz.to_qiskit()
        qc.save_statevector()
        angles = np.atleast_2d(angles)
        res = self.simulator().run([qc], parameter_binds=[self._binds(phi, angles)]).result()
        if not res.success:  # pragma: no cover
            raise RuntimeError(f"Aer failed: {res.status}")
        return np.stack([np.asarray(res.get_statevector(i)) for i in range(angles.shape[0])])

    def _basis_circuits(self, ansatz: Ansatz, grouped: GroupedHamiltonian, measure: bool) -> tuple[list, Any]:
        import qiskit_aer  # noqa: F401  (registers QuantumCircuit.save_probabilities)

        qc, phi = ansatz.to_qiskit()
        circs = []
        for g in grouped.groups:
            c = qc.copy()
            for q, b in enumerate(g.basis):
                if b == 2:
                    c.sdg(q)
                if b:
                    c.h(q)
            if measure:
                c.measure_all()
            else:
                c.save_probabilities()
            circs.append(c)
        return circs, phi

    def distributions(self, ansatz: Ansatz, angles: np.ndarray, grouped: GroupedHamiltonian) -> GroupDistributions:
        if self.mode == "sampler":
            raise InputError("`mode` 'sampler' draws shots in Aer and has no exact distributions; use "
                             "'statevector' or 'probabilities'.")
        angles = np.atleast_2d(angles)
        if self.mode == "statevector":
            probs = rotate_to_bases(self.statevectors(ansatz, angles), grouped)
        else:
            circs, phi = self._basis_circuits(ansatz, grouped, measure=False)
            binds = self._binds(phi, angles)
            res = self.simulator().run(circs, parameter_binds=[binds] * len(circs)).result()
            p = angles.shape[0]
            probs = [np.stack([np.asarray(res.data(k * p + i)["probabilities"]) for i in range(p)])
                     for k in range(len(circs))]
        return GroupDistributions.from_outcome_probabilities(grouped, probs)

    def sample(self, ansatz, angles, grouped, shots_per_group, rng, repeats=1):
        if self.mode != "sampler":
            return self.distributions(ansatz, angles, grouped).sample(shots_per_group, rng, repeats)
        angles = np.atleast_2d(angles)
        p, k_groups = angles.shape[0], grouped.n_groups
        shots = np.asarray(shots_per_group, dtype=np.int64)
        if shots.ndim != 1:
            raise InputError("`shots_per_group` must be one (K,) allocation for the Aer sampler.")
        from qiskit import transpile
        from qiskit_aer.primitives import SamplerV2

        circs, _ = self._basis_circuits(ansatz, grouped, measure=True)
        circs = transpile(circs, self.simulator(), optimization_level=0)
        means = np.empty((repeats, p, k_groups))
        var = np.empty((repeats, p, k_groups))
        backend_options: dict[str, Any] = {"method": "statevector", "device": self.device,
                                           "precision": self.precision}
        if self.threads:
            backend_options["max_parallel_threads"] = self.threads
        for r in range(repeats):
            for k in range(k_groups):
                # ONE SamplerV2 job per group, each with its own seed: PUBs of one job share the seed, and
                # Aer then reuses the same random numbers for every PUB (groups become correlated)
                sampler = SamplerV2(seed=derive_seed(rng), options={"backend_options": backend_options})
                bits = sampler.run([(circs[k], angles, int(shots[k]))]).result()[0].data.meas
                for i in range(p):
                    counts = {int(key, 2): c for key, c in bits.get_counts(loc=i).items()}
                    means[r, i, k], var[r, i, k] = _stats_from_counts(grouped, k, counts)
        return means, var


@dataclass(frozen=True, slots=True)
class PennyLaneEngine:
    """A PennyLane device with finite shots: one QNode per group, broadcast over the points."""

    device_name: str = "default.qubit"
    name: str = "pennylane"

    def __post_init__(self) -> None:
        check_choice(self.device_name, "pennylane_device", ("default.qubit", "lightning.qubit"))
        if self.device_name == "lightning.qubit":
            try:
                import pennylane_lightning  # noqa: F401
            except ImportError:
                raise InputError("`pennylane_device` 'lightning.qubit' needs pennylane-lightning: "
                                 "pip install pennylane-lightning.") from None

    def _qnode(self, ansatz: Ansatz, basis: np.ndarray, seed: int, shots: int) -> Any:
        import pennylane as qml

        n = ansatz.n_qubits
        dev = qml.device(self.device_name, wires=n, seed=seed)
        init = np.array([(ansatz.initial_index >> q) & 1 for q in range(n)])
        words = []
        for rot in ansatz.rotations:
            wires = [q for q in range(n) if ((rot.xmask | rot.zmask) >> q) & 1]
            words.append(("".join(rot.label[n - 1 - q] for q in wires), wires))

        @qml.qnode(dev, shots=shots)
        def circuit(angles):
            qml.BasisState(init, wires=range(n))
            for kind, arg in ansatz.ops:
                if kind == "cz":
                    for a, b in arg:
                        qml.CZ(wires=[a, b])
                else:
                    word, wires = words[arg]
                    if len(wires) == 1:
                        qml.PauliRot(angles[..., arg], word, wires=wires)
                    else:  # basis change + CNOT ladder + RZ (PauliRot's dense 2^k matrix is slow for long words)
                        _pauli_rotation_pl(qml, angles[..., arg], word, wires)
            for q, b in enumerate(basis):
                if b == 2:
                    qml.adjoint(qml.S(wires=q))
                if b:
                    qml.Hadamard(wires=q)
            return qml.sample()

        return circuit

    def sample(self, ansatz, angles, grouped, shots_per_group, rng, repeats=1):
        angles = np.atleast_2d(np.asarray(angles, dtype=float))
        p, k_groups, n = angles.shape[0], grouped.n_groups, ansatz.n_qubits
        shots = np.asarray(shots_per_group, dtype=np.int64)
        if shots.ndim != 1:
            raise InputError("`shots_per_group` must be one (K,) allocation for the PennyLane engine.")
        weights = 1 << np.arange(n, dtype=np.int64)
        means = np.empty((repeats, p, k_groups))
        var = np.empty((repeats, p, k_groups))
        for r in range(repeats):
            for k, g in enumerate(grouped.groups):
                circuit = self._qnode(ansatz, g.basis, derive_seed(rng), int(shots[k]))
                bits = np.asarray(circuit(angles), dtype=np.int64)
                bits = bits.reshape(p, int(shots[k]), n)
                outcomes = bits @ weights
                for i in range(p):
                    means[r, i, k], var[r, i, k] = _stats_from_outcomes(grouped, k, outcomes[i])
        return means, var


def _pauli_rotation_pl(qml: Any, angle: Any, word: str, wires: list[int]) -> None:
    for w, p in zip(wires, word):
        if p == "X":
            qml.Hadamard(wires=w)
        elif p == "Y":
            qml.adjoint(qml.S(wires=w))
            qml.Hadamard(wires=w)
    for a, b in zip(wires[:-1], wires[1:]):
        qml.CNOT(wires=[a, b])
    qml.RZ(angle, wires=wires[-1])
    for a, b in reversed(list(zip(wires[:-1], wires[1:]))):
        qml.CNOT(wires=[a, b])
    for w, p in zip(wires, word):
        if p == "X":
            qml.Hadamard(wires=w)
        elif p == "Y":
            qml.Hadamard(wires=w)
            qml.S(wires=w)


def get_engine(engine: str | Any = "statevector", *, device: str = "CPU", **kwargs: Any) -> Any:
    """An engine by name (``statevector``, ``aer``, ``pennylane``) or an engine object passed through."""
    if not isinstance(engine, str):
        return engine
    check_choice(engine, "engine", ENGINES)
    if engine != "aer" and device != "CPU":
        raise InputError(f"`device` {device!r} is only available with engine 'aer'; got engine {engine!r}.")
    if engine == "statevector":
        return StatevectorEngine()
    if engine == "aer":
        return AerEngine(device=device, **kwargs)
    return PennyLaneEngine(**kwargs)
