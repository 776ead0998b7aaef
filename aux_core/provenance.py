"""Where a result came from: code version, commit, device, library versions, data checksum.

The code version is provenance only (a record made by older code is still found, and labelled
as such); what keys a record is its config, its data and `records.NUMERICS_VERSION`."""
from __future__ import annotations

import datetime
import functools
import hashlib
import platform
import subprocess
import sys

import torch

from .records import NUMERICS_VERSION
from .settings import REPO_ROOT

# Source that changes what a training run computes: its hash says which code made a record.
# The book driver, cache, store, statistics and reference data are deliberately not in the list.
RESULT_AFFECTING = ("data.py", "subsets.py", "loader.py", "config.py", "devices.py", "evaluation.py", "build.py",
                    "train.py", "multiseed.py", "models", "methods", "analysis")


@functools.lru_cache(maxsize=None)
def code_version() -> str:
    """sha256 (first 16 hex) of the result-affecting source files of aux_core."""
    pkg = REPO_ROOT / "aux_core"
    h = hashlib.sha256()
    for entry in RESULT_AFFECTING:
        path = pkg / entry
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if f.exists():
                h.update(str(f.relative_to(pkg)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def git_commit() -> str:
    """HEAD commit of the checkout, with '+dirty' for uncommitted changes; 'unknown' outside git."""
    try:
        run = functools.partial(subprocess.run, cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
        head = run(["git", "rev-parse", "HEAD"]).stdout.strip()
        dirty = run(["git", "status", "--porcelain", "--untracked-files=no"]).stdout.strip()
        return (head + ("+dirty" if dirty else "")) if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu: {_cpu_model()} ({torch.get_num_threads()} threads)"


@functools.lru_cache(maxsize=None)
def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=None)
def library_versions() -> dict:
    import numpy
    import torchvision
    return {"torchvision": torchvision.__version__, "numpy": numpy.__version__}


def collect(device: torch.device, data_checksum: str, data_source: str) -> dict:
    return {
        "code_version": code_version(),
        "numerics_version": NUMERICS_VERSION,
        "git_commit": git_commit(),
        "device": device_name(device),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        **library_versions(),
        "platform": platform.platform(),
        "data_checksum": data_checksum,
        "data_source": data_source,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def made_by(record: dict) -> str:
    return record.get("provenance", {}).get("code_version", "")


def is_stale(record: dict, current_code: str | None = None) -> bool:
    """Made by another version of the result-affecting code than this checkout's (still served:
    the numerics version in its key is this code's; a refresh retrains it)."""
    return made_by(record) != (code_version() if current_code is None else current_code)
