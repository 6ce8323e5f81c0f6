"""The docstring examples of every bio module run and print what they claim."""

import doctest
import importlib

import pytest

MODULES = ["steady", "solver", "cells", "presets", "noise", "ensemble", "patterning", "lattice", "study"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"crossnoise.bio.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
