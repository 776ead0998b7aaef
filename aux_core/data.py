"""Datasets as in-memory uint8 tensors, with verified provenance and seeded splits.

Everything an experiment trains on passes through `load_dataset`, so this is where
we guarantee that the pixels are the ones we think they are: bundles are checked
against their content hash (and a table of known-good hashes) before any use, every
Dataset carries a checksum that results can record; its splits, subsets and label-noise
variants (`aux_core.subsets`) are pure functions of (data, seed).

Sources, in order: an offline bundle `<root>/<name>.npz`, torchvision's on-disk
files under `<root>`, and (only if allowed) a torchvision download into `<root>`; the
readers of each are `aux_core.data_sources`, and a decoded bundle is cached beside the data.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aux_core import data_sources as sources
from aux_core import settings
from aux_core.data_sources import KNOWN_CHECKSUMS, DataError, content_hash, file_sha256  # noqa: F401  (re-exported)

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "cifar100-20", "svhn")
BUNDLES = {"cifar10": "cifar10", "cifar100": "cifar100", "cifar100-20": "cifar100", "svhn": "svhn"}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "cifar100-20": 20, "svhn": 10}   # of the main task
TRAIN_SIZE = {"cifar10": 50_000, "cifar100": 50_000, "cifar100-20": 50_000, "svhn": 73_257}   # published train splits
CACHE_VERSION = 1  # bump when the layout of the decoded cache changes


@dataclass(frozen=True, eq=False)
class Split:
    """One partition of a dataset. Tensors may be shared between Splits: treat them as read-only."""
    x: torch.Tensor                   # uint8 (N, 3, H, W)
    y: torch.Tensor                   # int64 (N,)
    y_aux: torch.Tensor | None = None  # int64 (N,), the second label set, if any

    def __post_init__(self):
        if (self.x.ndim != 4 or len(self.x) != len(self.y)
                or (self.y_aux is not None and len(self.y_aux) != len(self.y))):
            raise DataError(f"inconsistent split: x {tuple(self.x.shape)}, y {tuple(self.y.shape)}, "
                            f"y_aux {None if self.y_aux is None else tuple(self.y_aux.shape)}")

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, idx) -> "Split":
        idx = np.asarray(idx)
        idx = torch.from_numpy(np.flatnonzero(idx) if idx.dtype == bool else idx.astype(np.int64))
        return Split(self.x[idx], self.y[idx], None if self.y_aux is None else self.y_aux[idx])


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    train: Split
    test: Split
    classes: tuple[str, ...]
    aux_classes: tuple[str, ...] | None
    checksum: str  # sha256 hex of the data content; record it with every result
    source: str
    mean: tuple[float, float, float]  # per-channel, train pixels in [0, 1]
    std: tuple[float, float, float]

    @property
    def num_classes(self) -> int:
        return len(self.classes)


# -----------------------------------------------------------------------------
# statistics

def _channel_stats(x_nchw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 mean/std per channel via 256-bin histograms (no float copy of the images)."""
    v = np.arange(256, dtype=np.float64) / 255.0
    mean, std = np.empty(3), np.empty(3)
    for c in range(3):
        cnt = np.bincount(x_nchw[:, c].ravel(), minlength=256).astype(np.float64)
        n = cnt.sum()
        mean[c] = (cnt * v).sum() / n
        std[c] = np.sqrt((cnt * (v - mean[c]) ** 2).sum() / n)
    return mean, std


# -----------------------------------------------------------------------------
# the decoded cache: decoding 60k JPEGs costs seconds, a cache hit costs one file read

def _cache_path(bundle: str, root: Path, file_hash: str) -> Path:
    return settings.decoded_cache_dir(root) / f"{bundle}-{file_hash[:16]}-v{CACHE_VERSION}.npz"


def _save_cache(path: Path, arrays: dict) -> None:
    """Atomic write (temp file + os.replace), silently skipped when the folder is not writable."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a shared cache should be readable by others
        os.replace(tmp, path)
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


def _load_cache(path: Path) -> dict | None:
    """A cache that is missing, unreadable or malformed is a miss, never an error."""
    try:
        with np.load(path, allow_pickle=False) as z:
            c = {k: z[k] for k in z.files}
        ok = all(c[f"{s}_x"].dtype == np.uint8 and c[f"{s}_x"].ndim == 4 and len(c[f"{s}_x"]) == len(c[f"{s}_y"])
                 for s in ("train", "test"))
        return c if ok and c["mean"].shape == (3,) and c["std"].shape == (3,) else None
    except Exception:
        return None


# -----------------------------------------------------------------------------
# loading

_RAW: dict[tuple[str, Path], dict] = {}      # (bundle, root) -> tensors shared by every view of that bundle
_MEMO: dict[tuple[str, Path], Dataset] = {}  # (name, root) -> Dataset


def _to_arrays(raw: dict) -> dict:
    """NHWC numpy -> the cached/in-memory form: NCHW contiguous images plus statistics."""
    out = {}
    for s in ("train", "test"):
        out[f"{s}_x"] = np.ascontiguousarray(raw[f"{s}_images"].transpose(0, 3, 1, 2))
        out[f"{s}_y"] = raw[f"{s}_labels"]
        if "coarse_classes" in raw:
            out[f"{s}_y_aux"] = raw[f"{s}_coarse_labels"]
    out["mean"], out["std"] = _channel_stats(out["train_x"])
    out["classes"] = np.array(raw["classes"])
    if "coarse_classes" in raw:
        out["aux_classes"] = np.array(raw["coarse_classes"])
    out["checksum"], out["source"] = np.array(raw["checksum"]), np.array(raw["source"])
    return out


def _load_bundle_source(bundle: str, root: Path, download: bool) -> dict:
    bpath = root / f"{bundle}.npz"
    if bpath.is_file():
        cpath = _cache_path(bundle, root, file_sha256(bpath))
        arrays = _load_cache(cpath)
        if arrays is None or str(arrays["checksum"]) != KNOWN_CHECKSUMS.get(bundle, str(arrays["checksum"])):
            raw = sources.read_bundle(bpath, bundle)
            arrays = _to_arrays(raw)
            if raw["encoding"] == "jpeg":
                _save_cache(cpath, arrays)
        prov = str(arrays["source"])  # the bundle's own provenance note; the path is where it is now
        return {**arrays, "source": np.array(f"{bpath} ({prov})" if prov else str(bpath))}

    files = sources.torchvision_files(bundle, root)
    missing = [f for f in files if not f.is_file()]
    if missing and download:
        sources.download(bundle, root)
        missing = [f for f in files if not f.is_file()]
    if not missing:
        return _to_arrays(sources.read_torchvision(bundle, root))

    folder = files[0].parent if bundle != "svhn" else root
    raise DataError(
        f"no data for {bundle!r}. Looked in:\n  bundle {bpath} (not found)\n"
        f"  torchvision files in {folder}: missing {', '.join(f.name for f in missing)}\n"
        f"Fix: put {bpath.name} in {root}, or point {settings.DATA_ENV} at a folder that has it "
        f"(an absolute path, or one relative to the repository root {settings.REPO_ROOT}; e.g. "
        f"{settings.DATA_ENV}=$PWD/../shared/data), or set {settings.DOWNLOAD_ENV}=1 / "
        f"pass download=True to download with torchvision (needs internet)."
        + ("" if not download else " (download was allowed but did not produce the files)"))


def _view(name: str, t: dict) -> Dataset:
    """Build the named view over shared tensors: cifar100-20 swaps fine (aux) and coarse (primary)."""
    swap = name == "cifar100-20"
    checksum = t["checksum"]
    if swap:  # a different label set is different data for anything keyed on the checksum
        checksum = hashlib.sha256(f"{checksum}:{name}".encode()).hexdigest()

    def split(s):
        y, y_aux = t[f"{s}_y"], t.get(f"{s}_y_aux")
        return Split(t[f"{s}_x"], y_aux, y) if swap else Split(t[f"{s}_x"], y, y_aux)

    classes, aux = t["classes"], t.get("aux_classes")
    if swap:
        classes, aux = aux, classes
    return Dataset(name=name, train=split("train"), test=split("test"), classes=classes, aux_classes=aux,
                   checksum=checksum, source=t["source"], mean=t["mean"], std=t["std"])


def train_size(name: str, per_class: int | None = None, fraction: float | None = None,
               val_fraction: float = 0.0) -> int:
    """Training images a config's splits of `name` hold, counted as `build.make_splits` cuts
    them (validation first, then the subset, each rounded per class) from the published split
    sizes, with no data read: for step counts and cost estimates made before any run. Exact
    for the class-balanced CIFAR sets; SVHN's classes are unequal, so there it is close."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    k = NUM_CLASSES[name]
    if per_class is not None:
        return per_class * k
    n_c = TRAIN_SIZE[name] / k
    left = n_c - round(val_fraction * n_c) if val_fraction > 0 else n_c
    if fraction is not None:
        return k * max(1, round(fraction * left))
    return round(k * left)


def available(name: str, root: str | Path | None = None) -> bool:
    """Whether `load_dataset(name)` can find the data here (a bundle or torchvision's files)
    or may download them."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    root = Path(root).expanduser().resolve() if root is not None else settings.data_dir()
    bundle = BUNDLES[name]
    return ((root / f"{bundle}.npz").is_file() or all(f.is_file() for f in sources.torchvision_files(bundle, root))
            or settings.download_allowed())


def load_dataset(name: str, root: str | Path | None = None, download: bool | None = None) -> Dataset:
    """Load a dataset view, memoised per (name, root): repeated calls return the same object."""
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    root = Path(root).expanduser().resolve() if root is not None else settings.data_dir()
    if (name, root) in _MEMO:
        return _MEMO[(name, root)]
    download = settings.download_allowed() if download is None else bool(download)
    bundle = BUNDLES[name]
    if (bundle, root) not in _RAW:
        a = _load_bundle_source(bundle, root, download)
        t = {k: torch.from_numpy(a[k]) for k in a if k.endswith(("_x", "_y", "_y_aux"))}
        t.update(classes=tuple(str(c) for c in a["classes"]),
                 aux_classes=tuple(str(c) for c in a["aux_classes"]) if "aux_classes" in a else None,
                 checksum=str(a["checksum"]), source=str(a["source"]),
                 mean=tuple(float(v) for v in a["mean"]), std=tuple(float(v) for v in a["std"]))
        _RAW[(bundle, root)] = t
    t = _RAW[(bundle, root)]
    if name.startswith("cifar100") and t["aux_classes"] is None:
        raise DataError(f"{t['source']}: has no coarse labels, cannot build {name!r}")
    ds = _MEMO[(name, root)] = _view(name, t)
    return ds
