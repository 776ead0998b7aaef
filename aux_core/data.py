"""Datasets as in-memory uint8 tensors, with verified provenance and seeded splits.

Everything an experiment trains on passes through `load_dataset`, so this is where
we guarantee that the pixels are the ones we think they are: bundles are checked
against their content hash (and a table of known-good hashes) before any use, every
Dataset carries a checksum that results can record; its splits, subsets and label-noise
variants (`aux_core.subsets`) are pure functions of (data, seed).

Sources, in order: an offline bundle `<root>/<name>.npz`, torchvision's on-disk
files under `<root>`, and (only if allowed) a torchvision download into `<root>`.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aux_core import settings

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "cifar100-20", "svhn")
BUNDLES = {"cifar10": "cifar10", "cifar100": "cifar100", "cifar100-20": "cifar100", "svhn": "svhn"}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "cifar100-20": 20, "svhn": 10}   # of the main task
TRAIN_SIZE = {"cifar10": 50_000, "cifar100": 50_000, "cifar100-20": 50_000, "svhn": 73_257}   # published train splits
# content hashes of bundles we have inspected by eye; a bundle with this name must match
KNOWN_CHECKSUMS = {"cifar10": "270eeb672d0d6b069c95c9d080516e8bb353a3b1f4f1e640e041f4fd2585ec56"}
HASHED_KEYS = ("train_images", "train_offsets", "train_labels", "test_images", "test_offsets", "test_labels")
COARSE_KEYS = ("train_coarse_labels", "test_coarse_labels")
CACHE_VERSION = 1  # bump when the layout of the decoded cache changes


class DataError(ValueError):
    """Missing data, a bundle that fails its checksum, or an argument out of range."""


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
# hashing and statistics

def content_hash(arrays: dict[str, np.ndarray], keys) -> str:
    """sha256 over (key, dtype, shape, bytes) of each present key: the scheme of shared/data/README.md."""
    h = hashlib.sha256()
    for k in keys:
        if k in arrays:
            a = np.ascontiguousarray(arrays[k])
            for part in (k.encode(), str(a.dtype).encode(), str(a.shape).encode()):
                h.update(part)
            h.update(a.reshape(-1).view(np.uint8))
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    except OSError as e:
        raise DataError(f"{path} cannot be read ({e})") from e
    return h.hexdigest()


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
# raw sources: each returns a dict of NHWC uint8 images, int64 labels and class names

def _check_raw(raw: dict, where: Path) -> dict:
    """Reject malformed data early, whatever the source, so no training run sees it."""
    for s in ("train", "test"):
        x, keys = raw[f"{s}_images"], [f"{s}_labels"] + ([f"{s}_coarse_labels"] if "coarse_classes" in raw else [])
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
            raise DataError(f"{where}: {s} images must be uint8 (N,H,W,3), got {x.dtype} {x.shape}")
        for k, names in zip(keys, ("classes", "coarse_classes")):
            y, n = raw[k], len(raw[names])
            if y.shape != (len(x),) or (len(y) and (y.min() < 0 or y.max() >= n)):
                raise DataError(f"{where}: {k} must be {len(x)} labels in [0, {n}), got shape {y.shape}")
    return raw


def _decode_jpegs(blob: np.ndarray, off: np.ndarray, where: Path) -> np.ndarray:
    """The README's PIL recipe, decoding into one preallocated array."""
    from PIL import Image
    out = None
    for i in range(len(off) - 1):
        try:
            im = np.asarray(Image.open(io.BytesIO(blob[off[i]:off[i + 1]].tobytes())).convert("RGB"))
        except Exception as e:
            raise DataError(f"{where}: image {i} does not decode ({e}); re-fetch the bundle") from e
        if out is None:
            out = np.empty((len(off) - 1, *im.shape), np.uint8)
        if im.shape != out.shape[1:]:
            raise DataError(f"{where}: image {i} has shape {im.shape}, expected {out.shape[1:]}")
        out[i] = im
    return out if out is not None else np.empty((0, 32, 32, 3), np.uint8)


def _read_bundle(path: Path, bundle: str) -> dict:
    """Load, verify and decode a bundle. Verification comes first: a bad bundle is never decoded."""
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except Exception as e:
        raise DataError(f"{path} cannot be read as an .npz ({e}); the file is corrupt, re-fetch it") from e
    enc = str(d.get("encoding", ""))
    need = ["train_images", "train_labels", "test_images", "test_labels", "classes", "sha256"]
    need += ["train_offsets", "test_offsets"] if enc == "jpeg" else []
    need += [*COARSE_KEYS, "coarse_classes"] if bundle == "cifar100" else []
    missing = [k for k in need if k not in d]
    if enc not in ("jpeg", "raw") or missing:
        raise DataError(f"{path}: not a valid bundle (encoding {enc!r}, missing keys {missing}); re-fetch it")

    actual = content_hash(d, HASHED_KEYS + (COARSE_KEYS if bundle == "cifar100" else ()))
    for label, expected in (("its sha256 field", str(d["sha256"])), ("KNOWN_CHECKSUMS", KNOWN_CHECKSUMS.get(bundle))):
        if expected is not None and actual != expected:
            raise DataError(f"checksum mismatch for {path}: expected {expected} ({label}), actual {actual}. "
                            f"The file is corrupt or altered; re-fetch it.")

    raw = {"checksum": actual, "classes": [str(c) for c in d["classes"]], "source": str(d.get("source", ""))}
    for s in ("train", "test"):
        x = d[f"{s}_images"]
        raw[f"{s}_images"] = _decode_jpegs(x, d[f"{s}_offsets"], path) if enc == "jpeg" else x
        raw[f"{s}_labels"] = d[f"{s}_labels"].astype(np.int64)
        if bundle == "cifar100":
            raw[f"{s}_coarse_labels"] = d[f"{s}_coarse_labels"].astype(np.int64)
    if bundle == "cifar100":
        raw["coarse_classes"] = [str(c) for c in d["coarse_classes"]]
    raw["encoding"] = enc
    return _check_raw(raw, path)


def _torchvision_files(bundle: str, root: Path) -> list[Path]:
    if bundle == "cifar10":
        f = root / "cifar-10-batches-py"
        return [f / f"data_batch_{i}" for i in range(1, 6)] + [f / "test_batch", f / "batches.meta"]
    if bundle == "cifar100":
        f = root / "cifar-100-python"
        return [f / "train", f / "test", f / "meta"]
    return [root / "train_32x32.mat", root / "test_32x32.mat"]


def _unpickle(path: Path) -> dict:
    """Pickles written by python2 have bytes keys, torchvision re-pickles have str: accept both."""
    with open(path, "rb") as f:
        d = pickle.load(f, encoding="bytes")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in d.items()}


def _names(seq) -> list[str]:
    return [s.decode() if isinstance(s, bytes) else str(s) for s in seq]


def _read_torchvision(bundle: str, root: Path) -> dict:
    files = _torchvision_files(bundle, root)
    try:
        if bundle == "svhn":
            from scipy.io import loadmat
            raw = {"classes": [str(i) for i in range(10)]}
            for s, f in zip(("train", "test"), files):
                m = loadmat(f)
                raw[f"{s}_images"] = np.ascontiguousarray(m["X"].transpose(3, 0, 1, 2), dtype=np.uint8)
                raw[f"{s}_labels"] = (m["y"].astype(np.int64).ravel() % 10)  # SVHN stores digit 0 as label 10
            src = f"{root} (torchvision SVHN .mat files)"
        else:
            cifar10 = bundle == "cifar10"
            batches = {"train": files[:5], "test": [files[5]]} if cifar10 else {"train": [files[0]], "test": [files[1]]}
            meta = _unpickle(files[-1])
            raw = {"classes": _names(meta["label_names"] if cifar10 else meta["fine_label_names"])}
            if not cifar10:
                raw["coarse_classes"] = _names(meta["coarse_label_names"])
            for s, fs in batches.items():
                ds = [_unpickle(f) for f in fs]
                x = np.concatenate([np.asarray(d["data"], np.uint8).reshape(-1, 3, 32, 32) for d in ds])
                raw[f"{s}_images"] = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
                raw[f"{s}_labels"] = np.concatenate([np.asarray(d["labels" if cifar10 else "fine_labels"], np.int64)
                                                     for d in ds])
                if not cifar10:
                    raw[f"{s}_coarse_labels"] = np.concatenate([np.asarray(d["coarse_labels"], np.int64) for d in ds])
            src = f"{files[0].parent} (torchvision {'CIFAR-10' if cifar10 else 'CIFAR-100'} pickles)"
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"torchvision files under {root} cannot be read ({type(e).__name__}: {e}); "
                        f"delete them and download again") from e
    # same key scheme as a raw bundle, so converting these files to a bundle keeps the checksum
    keys = (("train_images", "train_labels", "test_images", "test_labels")
            + (COARSE_KEYS if "coarse_classes" in raw else ()))
    raw.update(checksum=content_hash(raw, keys), source=src, encoding="torchvision")
    return _check_raw(raw, root)


def _download(bundle: str, root: Path) -> None:
    import torchvision.datasets as tvd
    cls = {"cifar10": tvd.CIFAR10, "cifar100": tvd.CIFAR100, "svhn": tvd.SVHN}[bundle]
    root.mkdir(parents=True, exist_ok=True)
    try:
        for train in (True, False):
            if bundle == "svhn":
                cls(str(root), split="train" if train else "test", download=True)
            else:
                cls(str(root), train=train, download=True)
    except Exception as e:
        raise DataError(f"torchvision download of {bundle} into {root} failed ({type(e).__name__}: {e}); "
                        f"this needs internet access") from e


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
            raw = _read_bundle(bpath, bundle)
            arrays = _to_arrays(raw)
            if raw["encoding"] == "jpeg":
                _save_cache(cpath, arrays)
        prov = str(arrays["source"])  # the bundle's own provenance note; the path is where it is now
        return {**arrays, "source": np.array(f"{bpath} ({prov})" if prov else str(bpath))}

    files = _torchvision_files(bundle, root)
    missing = [f for f in files if not f.is_file()]
    if missing and download:
        _download(bundle, root)
        missing = [f for f in files if not f.is_file()]
    if not missing:
        return _to_arrays(_read_torchvision(bundle, root))

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
    return ((root / f"{bundle}.npz").is_file() or all(f.is_file() for f in _torchvision_files(bundle, root))
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
