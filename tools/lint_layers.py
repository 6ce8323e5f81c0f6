"""Check the layer contract (.importlinter) with import-linter.

The distribution maps ``crossnoise.quantum`` → ``quantum/`` (and bio, ml) through setuptools
``package-dir``; import-linter (grimp) discovers subpackages by walking the package's folder and so
cannot see them in place.  This script lays the import packages out as they are installed — a
temporary ``crossnoise/`` with ``quantum/``, ``bio/`` and ``ml/`` inside — and runs
``lint-imports`` on that copy, so the check reads exactly the source in this tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = {"crossnoise": "crossnoise", "quantum": "crossnoise/quantum", "bio": "crossnoise/bio", "ml": "crossnoise/ml"}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="crossnoise-layers-") as tmp:
        for src, dst in LAYOUT.items():
            shutil.copytree(ROOT / src, Path(tmp) / dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        env = dict(os.environ, PYTHONPATH=tmp + os.pathsep + os.environ.get("PYTHONPATH", ""))
        shutil.copy(ROOT / ".importlinter", tmp)  # found in the working folder by every import-linter 2.x
        lint = Path(sys.executable).with_name("lint-imports")
        return subprocess.call([str(lint), "--no-cache"], cwd=tmp, env=env)


if __name__ == "__main__":
    sys.exit(main())
