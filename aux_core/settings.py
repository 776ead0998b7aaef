"""Where things live: the data directory, the decoded-array cache and the results cache.

Every path the package touches is resolved here, from environment variables with
defaults inside the repository checkout, so that notebooks, tests and CI agree.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DATA_ENV = "AUX_CORE_DATA"          # folder holding dataset bundles (.npz) or torchvision folders
DOWNLOAD_ENV = "AUX_CORE_DOWNLOAD"  # "1": allow torchvision downloads (needs internet)
CACHE_ENV = "AUX_CORE_CACHE"        # folder for decoded arrays (default: <data>/cache, if writable)
RESULTS_ENV = "AUX_CORE_RESULTS"    # folder for the results cache (default: <repo>/results)


def data_dir() -> Path:
    return Path(os.environ.get(DATA_ENV, REPO_ROOT / "data")).expanduser().resolve()


def download_allowed() -> bool:
    return os.environ.get(DOWNLOAD_ENV, "0").strip().lower() in {"1", "true", "yes"}


def decoded_cache_dir(root: Path | None = None) -> Path:
    """Decoded arrays go beside the data when that folder is writable, else to ~/.cache."""
    if CACHE_ENV in os.environ:
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    root = root or data_dir()
    if _writable(root):
        return root / "cache"
    return Path.home() / ".cache" / "aux_core"


def _writable(folder: Path) -> bool:
    """os.access says yes to root everywhere; a folder without write bits counts as read-only."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def results_dir() -> Path:
    return Path(os.environ.get(RESULTS_ENV, REPO_ROOT / "results")).expanduser().resolve()
