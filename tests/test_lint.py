"""The package, its tests, scripts and benchmarks pass ruff (the rules and line length set in pyproject.toml)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    beside = Path(sys.executable).with_name("ruff")
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    proc = subprocess.run([ruff, "check", "aux_core", "tests", "scripts", "benchmarks"], cwd=REPO, capture_output=True,
                          text=True)
    assert proc.returncode == 0, f"ruff check aux_core tests scripts benchmarks:\n{proc.stdout}{proc.stderr}"
