"""What the GPU machine's own image lacks that a campaign needs, carried as wheels.

That image (Python 3.12, torch 2.11; no package index reachable from it) has numpy, pandas, scipy,
matplotlib, seaborn, pillow and tqdm, but not TorchJD and its QP solver, which the aggregated runs
(option `aggregator` of ds, dks and asymmetric: the bench's intervention) need. Here, where the
package index is reachable, `python -m aux_core.campaign wheels` downloads them for that Python into
the ignored `.whl/` folder; a GPU window carries it and installs it with `pip --no-index --target`
(the README's recipe). Without them the campaign's self-test says so and skips those units.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# The versions installed here (TorchJD's pin is pyproject's; a test keeps them equal), so that the
# GPU runs use the code the tests ran.
CARRIED = ("torchjd==0.18.0", "quadprog==0.1.14", "qpsolvers==4.13.0")
GPU_PYTHON = "3.12"
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
FOLDER = ".whl"


def download_command(out: str | Path = FOLDER) -> list[str]:
    """pip's command that fetches `CARRIED` as binary wheels for the GPU image's Python."""
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version",
            GPU_PYTHON, "--implementation", "cp", *platforms, "-d", str(out), *CARRIED]


def install_line(folder: str = FOLDER, target: str = "/tmp/site") -> str:
    """The shell line a GPU window starts with (no index there: only the carried files)."""
    return (f"python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target {target} "
            f"{folder}/*.whl")


def download(out: str | Path = FOLDER) -> list[Path]:
    """Fetch the wheels into `out`; the files it holds afterwards."""
    Path(out).mkdir(parents=True, exist_ok=True)
    subprocess.run(download_command(out), check=True)
    return sorted(Path(out).glob("*.whl"))
