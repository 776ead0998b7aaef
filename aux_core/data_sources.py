"""Reading a dataset's files: the offline bundle (checked against its content hash) and
torchvision's on-disk files, downloaded only where allowed. Each reader returns a dict of
NHWC uint8 images, int64 labels, class names, a checksum and a source note; `aux_core.data`
turns it into tensors and caches the decoded form."""
from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import numpy as np

# content hashes of bundles we have inspected by eye; a bundle with this name must match
KNOWN_CHECKSUMS = {"cifar10": "270eeb672d0d6b069c95c9d080516e8bb353a3b1f4f1e640e041f4fd2585ec56"}
HASHED_KEYS = ("train_images", "train_offsets", "train_labels", "test_images", "test_offsets", "test_labels")
COARSE_KEYS = ("train_coarse_labels", "test_coarse_labels")


class DataError(ValueError):
    """Missing data, a bundle that fails its checksum, or an argument out of range."""


# ----------------------------------------------------------------------------- hashing

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


# ----------------------------------------------------------------------------- readers

def check_raw(raw: dict, where: Path) -> dict:
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


def decode_jpegs(blob: np.ndarray, off: np.ndarray, where: Path) -> np.ndarray:
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


def read_bundle(path: Path, bundle: str) -> dict:
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
        raw[f"{s}_images"] = decode_jpegs(x, d[f"{s}_offsets"], path) if enc == "jpeg" else x
        raw[f"{s}_labels"] = d[f"{s}_labels"].astype(np.int64)
        if bundle == "cifar100":
            raw[f"{s}_coarse_labels"] = d[f"{s}_coarse_labels"].astype(np.int64)
    if bundle == "cifar100":
        raw["coarse_classes"] = [str(c) for c in d["coarse_classes"]]
    raw["encoding"] = enc
    return check_raw(raw, path)


def torchvision_files(bundle: str, root: Path) -> list[Path]:
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


def read_torchvision(bundle: str, root: Path) -> dict:
    files = torchvision_files(bundle, root)
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
    return check_raw(raw, root)


def download(bundle: str, root: Path) -> None:
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
