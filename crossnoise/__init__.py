"""crossnoise: how noise limits the reading of a signal, in quantum VQE, morphogen patterning and
neural-network training, on one signal-to-noise core (see DESIGN.md).

The core (:mod:`crossnoise.snr`, :mod:`crossnoise.stats`, :mod:`crossnoise.rng`) needs only
numpy and scipy; the domains live in :mod:`crossnoise.quantum`, :mod:`crossnoise.bio` and
:mod:`crossnoise.ml`.  Attributes are imported lazily so ``import crossnoise`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("crossnoise")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

_LAZY = {
    "SignalNoise": "crossnoise.snr",
    "Estimate": "crossnoise.stats",
    "StreamingMoments": "crossnoise.stats",
    "InputError": "crossnoise.validation",
    "as_generator": "crossnoise.rng",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'crossnoise' has no attribute {name!r}")
