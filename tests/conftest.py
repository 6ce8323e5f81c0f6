"""Shared fixtures: the installed `crossnoise` entry point, run as a real subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def crossnoise_exe() -> str:
    exe = Path(sys.executable).with_name("crossnoise")
    found = str(exe) if exe.exists() else shutil.which("crossnoise")
    if found is None:
        pytest.fail("the `crossnoise` entry point is not installed; run `make test`")
    return found


@pytest.fixture
def run_cli():
    """Run `crossnoise ARGS...` in a subprocess; returns CompletedProcess (text)."""

    def _run(*args: str, cwd: str | os.PathLike | None = None, timeout: float = 600, env: dict | None = None):
        full_env = dict(os.environ, PYTHONWARNINGS="ignore", **(env or {}))
        return subprocess.run([crossnoise_exe(), *map(str, args)], capture_output=True, text=True,
                              cwd=cwd, timeout=timeout, env=full_env)

    return _run
