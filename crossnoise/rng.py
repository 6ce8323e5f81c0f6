"""Random-number conventions shared by every crossnoise module (DESIGN §3.1).

Every stochastic public function takes a keyword-only ``rng`` that may be ``None``, an ``int``,
a :class:`numpy.random.SeedSequence` or a :class:`numpy.random.Generator`.  It is normalised once
with :func:`as_generator`; private helpers take a Generator.  Replicates and parallel workers get
independent streams through :func:`spawn` / :func:`spawn_seeds` (``SeedSequence.spawn`` under the
hood), never through ``seed + i``.

Examples
--------
>>> from crossnoise.rng import as_generator, spawn
>>> g = as_generator(7)
>>> [round(float(r.random()), 6) for r in spawn(7, 2)] == [round(float(r.random()), 6) for r in spawn(7, 2)]
True
"""

from __future__ import annotations

from typing import Union

import numpy as np

from crossnoise.validation import InputError

RNGLike = Union[None, int, np.integer, np.random.SeedSequence, np.random.Generator]

__all__ = ["RNGLike", "as_generator", "spawn", "spawn_seeds", "derive_seed"]


def _check_rng(rng: object, name: str = "rng") -> None:
    ok = rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence, np.random.Generator))
    if not ok or isinstance(rng, bool):
        raise InputError(
            f"`{name}` must be None, an int, a numpy SeedSequence or a numpy Generator; "
            f"got {type(rng).__name__} {rng!r}."
        )
    if isinstance(rng, (int, np.integer)) and rng < 0:
        raise InputError(f"`{name}` must be a non-negative integer seed; got {rng}.")


def as_generator(rng: RNGLike = None) -> np.random.Generator:
    """Normalise ``rng`` to a :class:`numpy.random.Generator`.

    A Generator is returned as is (so a caller's stream advances); anything else goes through
    :func:`numpy.random.default_rng`.
    """
    _check_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def spawn(rng: RNGLike, n: int) -> list[np.random.Generator]:
    """``n`` statistically independent child Generators of ``rng`` (``Generator.spawn``)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"`n` must be a non-negative integer; got {n!r}.")
    return as_generator(rng).spawn(int(n))


def spawn_seeds(rng: RNGLike, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent, picklable :class:`~numpy.random.SeedSequence` children for workers.

    An int or a SeedSequence seeds the tree directly, so ``spawn_seeds(3, 4)`` is reproducible
    across processes; a Generator contributes fresh entropy drawn from its stream.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"`n` must be a non-negative integer; got {n!r}.")
    _check_rng(rng)
    if isinstance(rng, np.random.SeedSequence):
        root = rng
    elif isinstance(rng, np.random.Generator):
        root = np.random.SeedSequence(rng.integers(0, 2**63, size=4).tolist())
    else:
        root = np.random.SeedSequence(None if rng is None else int(rng))
    return root.spawn(int(n))


def derive_seed(rng: RNGLike) -> int:
    """A 63-bit integer drawn from ``rng``, for libraries that need an integer seed.

    Used to seed a ``torch.Generator``, Qiskit Aer's ``seed_simulator`` or PennyLane's ``seed``
    from the project's stream, so that no library touches a global random state.
    """
    return int(as_generator(rng).integers(0, 2**63 - 1))
