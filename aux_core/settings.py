"""Where things live and what a process may do: the data directory, the decoded-array cache,
the local results cache, the committed results store, and the switches that say whether new
records are published, stale ones refreshed, or training refused (the book build).

Every path the package touches is resolved here, from environment variables with defaults
inside the repository checkout (relative values against the repository root), so that
notebooks, tests and CI agree whatever their current folder.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

DATA_ENV = "AUX_CORE_DATA"          # folder holding dataset bundles (.npz) or torchvision folders
DOWNLOAD_ENV = "AUX_CORE_DOWNLOAD"  # "1": allow torchvision downloads (needs internet)
CACHE_ENV = "AUX_CORE_CACHE"        # folder for decoded arrays (default: <data>/cache, if writable)
RESULTS_ENV = "AUX_CORE_RESULTS"    # folder for the local results cache (default: <repo>/results)
STORE_ENV = "AUX_CORE_STORE"        # the committed results store (default: <repo>/results/store)
PUBLISH_ENV = "AUX_CORE_PUBLISH"    # "1": records made here are added to the store too
REFRESH_ENV = "AUX_CORE_REFRESH"    # "1": records made by an older code version are retrained
NO_TRAINING_ENV = "AUX_CORE_NO_TRAINING"  # "1": a missing result raises instead of training (the book build)
LABELS_ENV = "AUX_CORE_LABELS"      # "<chapter>/<profile>" that new records are made for (set by notebooks)


def _in_repo(path: str | Path) -> Path:
    """A path from the environment: absolute as given, relative ones against the repository
    root (not the current folder, which is a notebook's own folder under papermill)."""
    p = Path(path).expanduser()
    return (p if p.is_absolute() else REPO_ROOT / p).resolve()


def data_dir() -> Path:
    """AUX_CORE_DATA; else <repo>/data, or this workplace's offline bundles in ../shared/data
    when data/ holds no dataset and that folder exists."""
    if DATA_ENV in os.environ:
        return _in_repo(os.environ[DATA_ENV])
    own, shared = REPO_ROOT / "data", REPO_ROOT.parent / "shared" / "data"
    has_data = any(own.glob("*.npz")) or any(own.glob("cifar-*")) or any(own.glob("*_32x32.mat"))
    return (shared if not has_data and shared.is_dir() else own).resolve()


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() in {"1", "true", "yes"}


def download_allowed() -> bool:
    return _flag(DOWNLOAD_ENV)


def publish() -> bool:
    return _flag(PUBLISH_ENV)


def refresh_stale() -> bool:
    return _flag(REFRESH_ENV)


def training_allowed() -> bool:
    return not _flag(NO_TRAINING_ENV)


def labels() -> dict:
    """The chapter and profile new records are made for ({} outside a notebook or campaign)."""
    chapter, _, profile = os.environ.get(LABELS_ENV, "").partition("/")
    return {"chapter": chapter, "profile": profile} if chapter and profile else {}


def set_labels(chapter: str, profile: str) -> None:
    """Label the records made from now on (in this process and the workers it starts)."""
    os.environ[LABELS_ENV] = f"{chapter}/{profile}"


def decoded_cache_dir(root: Path | None = None) -> Path:
    """Decoded arrays go beside the data when that folder is writable, else to ~/.cache."""
    if CACHE_ENV in os.environ:
        return _in_repo(os.environ[CACHE_ENV])
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
    return _in_repo(os.environ.get(RESULTS_ENV, "results"))


def store_dir() -> Path:
    return _in_repo(os.environ.get(STORE_ENV, "results/store"))
