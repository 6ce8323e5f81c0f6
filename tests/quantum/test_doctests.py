"""The seeded examples in the quantum modules' docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["molecules", "hamiltonian", "ansatz", "gradients", "objective", "variance"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(f"crossnoise.quantum.{name}"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
