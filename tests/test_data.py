"""Tests for aux_core.data: offline, fast, and on small files the tests write themselves.

The one exception is the real CIFAR-10 bundle, decoded at most once per session (and
reused from the decoded cache across sessions), skipped when no bundle can be found.
"""
from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aux_core import data, data_sources, settings, subsets
from aux_core.data import DataError, Split

CIFAR10_SHA = "270eeb672d0d6b069c95c9d080516e8bb353a3b1f4f1e640e041f4fd2585ec56"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


# -----------------------------------------------------------------------------
# writers for small synthetic data in every supported format

def sha(arrays: dict, keys) -> str:
    """An independent copy of the README's content hash, so the loader's version is checked, not trusted."""
    h = hashlib.sha256()
    for k in keys:
        if k in arrays:
            a = np.ascontiguousarray(arrays[k])
            (h.update(k.encode()), h.update(str(a.dtype).encode()), h.update(str(a.shape).encode()),
             h.update(a.tobytes()))
    return h.hexdigest()


KEYS = ("train_images", "train_offsets", "train_labels", "test_images", "test_offsets", "test_labels")
COARSE = ("train_coarse_labels", "test_coarse_labels")


def images(n: int, seed: int) -> np.ndarray:
    """Smooth random images (NHWC uint8): JPEG keeps them close, so decode errors would show."""
    g = np.random.default_rng(seed)
    base = g.integers(0, 256, size=(n, 4, 4, 3)).astype(np.uint8)
    return base.repeat(8, axis=1).repeat(8, axis=2)


def labels(n: int, k: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, k, size=n).astype(np.int64)


def write_bundle(path: Path, enc="jpeg", n=(20, 10), k=3, seed=0, coarse=False, sha_field=None) -> dict:
    """Write a bundle in the shared/data/README.md format; returns the arrays and the NHWC images it holds."""
    d, decoded = {}, {}
    for s, m in zip(("train", "test"), n):
        x = images(m, seed + (s == "test"))
        if enc == "jpeg":
            blobs = []
            for im in x:
                b = io.BytesIO()
                Image.fromarray(im).save(b, format="JPEG", quality=90)
                blobs.append(np.frombuffer(b.getvalue(), np.uint8))
            d[f"{s}_images"] = np.concatenate(blobs)
            d[f"{s}_offsets"] = np.concatenate([[0], np.cumsum([len(b) for b in blobs])]).astype(np.int64)
            decoded[s] = np.stack([np.asarray(Image.open(io.BytesIO(b.tobytes())).convert("RGB")) for b in blobs])
        else:
            d[f"{s}_images"] = decoded[s] = x
        d[f"{s}_labels"] = labels(m, k, seed + 10 + (s == "test"))
        if coarse:
            d[f"{s}_coarse_labels"] = d[f"{s}_labels"] % 2
    d["classes"] = np.array([f"class{i}" for i in range(k)])
    if coarse:
        d["coarse_classes"] = np.array(["even", "odd"])
    d["encoding"] = np.array(enc)
    d["sha256"] = np.array(sha_field or sha(d, KEYS + (COARSE if coarse else ())))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **d)
    return {"arrays": d, "decoded": decoded}


def write_cifar10_tv(root: Path, n_batch=6, n_test=5) -> dict:
    """CIFAR-10 python pickles as the original tarball has them (bytes keys, as python2 wrote them)."""
    f = root / "cifar-10-batches-py"
    f.mkdir(parents=True)
    xs, ys = {"train": [], "test": []}, {"train": [], "test": []}
    for i, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
        s, m = ("test", n_test) if name == "test_batch" else ("train", n_batch)
        x, y = images(m, 100 + i), labels(m, 10, 200 + i)
        xs[s].append(x), ys[s].append(y)
        blob = {b"data": x.transpose(0, 3, 1, 2).reshape(m, -1), b"labels": [int(v) for v in y]}
        (f / name).write_bytes(pickle.dumps(blob))
    (f / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in CIFAR10_CLASSES]}))
    return {s: (np.concatenate(xs[s]), np.concatenate(ys[s])) for s in xs}


def write_cifar100_tv(root: Path, n=(12, 6)) -> dict:
    """CIFAR-100 pickles (str keys, as torchvision-era pickles have), with fine and coarse labels."""
    f = root / "cifar-100-python"
    f.mkdir(parents=True)
    out = {}
    for s, m, seed in (("train", n[0], 1), ("test", n[1], 2)):
        x, fine = images(m, seed), labels(m, 100, seed + 5)
        coarse = fine // 5
        out[s] = (x, fine, coarse)
        (f / s).write_bytes(pickle.dumps({"data": x.transpose(0, 3, 1, 2).reshape(m, -1),
                                          "fine_labels": fine.tolist(), "coarse_labels": coarse.tolist()}))
    (f / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"fine{i}" for i in range(100)],
                                           "coarse_label_names": [f"coarse{i}" for i in range(20)]}))
    return out


def write_svhn_tv(root: Path, n=(8, 4)) -> dict:
    from scipy.io import savemat
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for s, m, seed in (("train", n[0], 3), ("test", n[1], 4)):
        x, y = images(m, seed), np.arange(m) % 10 + 1  # 1..10, with 10 meaning digit 0
        savemat(root / f"{s}_32x32.mat", {"X": x.transpose(1, 2, 3, 0), "y": y.reshape(-1, 1).astype(np.uint8)})
        out[s] = (x, y % 10)
    return out


def nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """Every test that may write a decoded cache writes it into its own tmp folder."""
    d = tmp_path / "decoded-cache"
    monkeypatch.setenv(settings.CACHE_ENV, str(d))
    monkeypatch.delenv(settings.DOWNLOAD_ENV, raising=False)
    return d


# -----------------------------------------------------------------------------
# the real CIFAR-10 bundle

def real_root() -> Path | None:
    env = os.environ.get(settings.DATA_ENV)
    cands = [Path(env).expanduser(), settings.REPO_ROOT / env] if env else []  # CI sets it relative to the repo
    cands += [settings.REPO_ROOT / "data", settings.REPO_ROOT.parent / "shared" / "data"]
    return next((c.resolve() for c in cands if (c / "cifar10.npz").is_file()), None)


@pytest.fixture(scope="session")
def cifar10():
    root = real_root()
    if root is None:
        pytest.skip(f"cifar10.npz not found: set {settings.DATA_ENV} to a folder holding it (e.g. ../shared/data)")
    return data.load_dataset("cifar10", root, download=False)


def test_real_cifar10(cifar10):
    ds = cifar10
    assert ds.name == "cifar10" and ds.num_classes == 10 and ds.classes == CIFAR10_CLASSES and ds.aux_classes is None
    assert ds.checksum == CIFAR10_SHA == data.KNOWN_CHECKSUMS["cifar10"]
    for s, n in ((ds.train, 50000), (ds.test, 10000)):
        assert s.x.shape == (n, 3, 32, 32) and s.x.dtype == torch.uint8 and s.x.is_contiguous()
        assert s.y.shape == (n,) and s.y.dtype == torch.int64 and s.y_aux is None
        assert torch.bincount(s.y).tolist() == [n // 10] * 10
    assert data.train_size("cifar10") == len(ds.train.y) and data.train_size("cifar10", 7) == 7 * ds.num_classes
    assert all(isinstance(v, float) for v in ds.mean + ds.std)
    assert np.allclose(ds.mean, (0.4913, 0.4821, 0.4465), atol=1e-3)
    assert np.allclose(ds.std, (0.2470, 0.2435, 0.2616), atol=1e-2)
    assert "cifar10.npz" in ds.source


def test_the_planned_training_size_counts_the_main_tasks_classes():
    """Step counts and cost estimates made before any run: a per-class subset of CIFAR-100's
    coarse view has 20 classes, SVHN's full split is not CIFAR's 50,000."""
    assert [data.train_size(n, 100) for n in data.DATASETS] == [1000, 10000, 2000, 1000]
    assert data.train_size("svhn") == 73_257 and data.train_size("cifar100-20", fraction=0.5) == 25_000
    with pytest.raises(DataError, match="allowed: cifar10, cifar100, cifar100-20, svhn"):
        data.train_size("mnist")


@pytest.mark.parametrize("per_class, fraction, val_fraction",
                         [(None, None, 0.0), (None, None, 0.2), (None, None, 0.1234), (None, 0.37, 0.0),
                          (None, 0.37, 0.2), (None, 1e-5, 0.0), (25, None, 0.2)])
def test_the_planned_training_size_is_what_make_splits_cuts(cifar10, per_class, fraction, val_fraction):
    """Planned before any data is read, counted as the splits are cut (validation first, then
    the subset, each rounded per class): a step count made from it matches the run's."""
    from aux_core.build import make_splits
    from aux_core.config import RunConfig
    cfg = RunConfig(model="mlp6", train_per_class=per_class, train_fraction=fraction, val_fraction=val_fraction)
    train, _, _ = make_splits(cfg, cifar10)
    assert data.train_size("cifar10", per_class, fraction, val_fraction) == len(train.y)


def test_real_cifar10_memoised(cifar10):
    t = time.perf_counter()
    again = data.load_dataset("cifar10", real_root())
    assert again is cifar10 and time.perf_counter() - t < 0.05


# -----------------------------------------------------------------------------
# bundles: checksum, decoded cache, raw encoding, CIFAR-100 views

def test_jpeg_bundle_loads_and_caches(tmp_path, cache, monkeypatch):
    b = write_bundle(tmp_path / "a" / "svhn.npz", k=10)
    ds = data.load_dataset("svhn", tmp_path / "a")
    assert ds.checksum == str(b["arrays"]["sha256"])
    assert torch.equal(ds.train.x, nchw(b["decoded"]["train"])) and torch.equal(ds.test.x, nchw(b["decoded"]["test"]))
    assert torch.equal(ds.train.y, torch.from_numpy(b["arrays"]["train_labels"]))
    assert ds.classes == tuple(f"class{i}" for i in range(10))
    x = b["decoded"]["train"].astype(np.float64) / 255
    assert np.allclose(ds.mean, x.mean((0, 1, 2))) and np.allclose(ds.std, x.std((0, 1, 2)))

    # the cache file is named after the bundle file's hash ...
    file_hash = hashlib.sha256((tmp_path / "a" / "svhn.npz").read_bytes()).hexdigest()
    (hit,) = cache.iterdir()
    assert file_hash[:16] in hit.name and not list(cache.glob("*.tmp"))
    # ... so the same file elsewhere is served from it without decoding or re-hashing the content
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / "svhn.npz", tmp_path / "b" / "svhn.npz")
    monkeypatch.setattr(data_sources, "read_bundle", lambda *a: pytest.fail("cache hit expected"))
    ds_b = data.load_dataset("svhn", tmp_path / "b")
    assert ds_b is not ds and torch.equal(ds_b.train.x, ds.train.x) and ds_b.checksum == ds.checksum
    assert ds_b.mean == ds.mean and str(tmp_path / "b") in ds_b.source
    monkeypatch.undo()

    # a changed bundle never reuses a stale cache
    monkeypatch.setenv(settings.CACHE_ENV, str(cache))
    write_bundle(tmp_path / "c" / "svhn.npz", k=10, seed=5)
    ds_c = data.load_dataset("svhn", tmp_path / "c")
    assert ds_c.checksum != ds.checksum and not torch.equal(ds_c.train.x, ds.train.x)
    assert len(list(cache.iterdir())) == 2


def test_unwritable_cache_is_skipped(tmp_path, monkeypatch):
    write_bundle(tmp_path / "svhn.npz", k=10)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv(settings.CACHE_ENV, str(blocker / "cache"))
    assert len(data.load_dataset("svhn", tmp_path).train) == 20


def test_readonly_data_folder_caches_in_home(tmp_path, monkeypatch):
    """A read-only data folder (like shared/data) gets no cache/ inside it, even when running as root."""
    monkeypatch.delenv(settings.CACHE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_bundle(tmp_path / "ro" / "svhn.npz", k=10)
    (tmp_path / "ro").chmod(0o555)
    try:
        data.load_dataset("svhn", tmp_path / "ro")
        assert not (tmp_path / "ro" / "cache").exists()
        assert len(list((tmp_path / "home" / ".cache" / "aux_core").glob("svhn-*.npz"))) == 1
    finally:
        (tmp_path / "ro").chmod(0o755)


def test_checksum_failures(tmp_path, cache):
    good = write_bundle(tmp_path / "good" / "svhn.npz", k=10)["arrays"]

    d = dict(good)  # one image byte changed, sha256 field left as it was
    d["train_images"] = d["train_images"].copy()
    d["train_images"][100] ^= 0xFF
    (tmp_path / "altered").mkdir()
    np.savez_compressed(tmp_path / "altered" / "svhn.npz", **d)
    with pytest.raises(DataError, match="checksum") as e:
        data.load_dataset("svhn", tmp_path / "altered")
    msg = str(e.value)
    assert str(tmp_path / "altered" / "svhn.npz") in msg and str(good["sha256"]) in msg and sha(d, KEYS) in msg
    assert "re-fetch" in msg

    write_bundle(tmp_path / "field" / "svhn.npz", k=10, sha_field="0" * 64)
    with pytest.raises(DataError, match="checksum"):
        data.load_dataset("svhn", tmp_path / "field")
    assert not cache.exists() or not list(cache.iterdir()), "a bad bundle must not leave a decoded cache"


def test_fake_cifar10_rejected_by_known_table(tmp_path, cache):
    fake = write_bundle(tmp_path / "cifar10.npz", k=10)["arrays"]  # self-consistent, but not the real content
    with pytest.raises(DataError, match="checksum") as e:
        data.load_dataset("cifar10", tmp_path)
    assert CIFAR10_SHA in str(e.value) and str(fake["sha256"]) in str(e.value)


def test_corrupt_file(tmp_path, cache):
    (tmp_path / "svhn.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="corrupt"):
        data.load_dataset("svhn", tmp_path)


def test_raw_bundle(tmp_path, cache):
    b = write_bundle(tmp_path / "svhn.npz", enc="raw", k=10)
    assert "train_offsets" not in b["arrays"]
    ds = data.load_dataset("svhn", tmp_path)
    assert torch.equal(ds.train.x, nchw(b["decoded"]["train"])) and ds.train.x.is_contiguous()
    assert ds.test.y.dtype == torch.int64 and ds.checksum == str(b["arrays"]["sha256"])
    assert not cache.exists(), "raw bundles need no decoded cache"


def test_cifar100_bundle_views(tmp_path, cache):
    a = write_bundle(tmp_path / "cifar100.npz", enc="raw", k=6, coarse=True)["arrays"]
    fine, coarse = data.load_dataset("cifar100", tmp_path), data.load_dataset("cifar100-20", tmp_path)
    assert fine.checksum == sha(a, KEYS + COARSE) and coarse.checksum != fine.checksum
    assert torch.equal(fine.train.y, torch.from_numpy(a["train_labels"]))
    assert torch.equal(fine.train.y_aux, torch.from_numpy(a["train_coarse_labels"]))
    assert coarse.train.y is fine.train.y_aux and coarse.train.y_aux is fine.train.y and coarse.train.x is fine.train.x
    assert coarse.classes == fine.aux_classes == ("even", "odd") and coarse.aux_classes == fine.classes

    (tmp_path / "nocoarse").mkdir()  # a cifar100 bundle without coarse labels is not a valid bundle
    np.savez(tmp_path / "nocoarse" / "cifar100.npz", **{k: v for k, v in a.items() if "coarse" not in k})
    with pytest.raises(DataError, match="coarse"):
        data.load_dataset("cifar100", tmp_path / "nocoarse")


# -----------------------------------------------------------------------------
# torchvision's on-disk formats, and the download switch

def test_torchvision_cifar10(tmp_path, cache):
    ref = write_cifar10_tv(tmp_path)
    ds = data.load_dataset("cifar10", tmp_path, download=False)
    assert len(ds.train) == 30 and len(ds.test) == 5 and ds.classes == CIFAR10_CLASSES
    for s, split in (("train", ds.train), ("test", ds.test)):
        assert torch.equal(split.x, nchw(ref[s][0])) and torch.equal(split.y, torch.from_numpy(ref[s][1]))
        assert split.x.dtype == torch.uint8 and split.y.dtype == torch.int64 and split.x.is_contiguous()
    # the checksum is that of a raw bundle holding the same arrays, whichever source it came from
    raw = {"train_images": ref["train"][0], "train_labels": ref["train"][1],
           "test_images": ref["test"][0], "test_labels": ref["test"][1]}
    assert ds.checksum == sha(raw, KEYS)
    assert "cifar-10-batches-py" in ds.source


def test_torchvision_cifar100_views(tmp_path, cache):
    ref = write_cifar100_tv(tmp_path)
    fine, coarse = data.load_dataset("cifar100", tmp_path), data.load_dataset("cifar100-20", tmp_path)
    assert fine.num_classes == 100 and coarse.num_classes == 20
    assert fine.classes[7] == "fine7" and fine.aux_classes[3] == "coarse3"
    assert coarse.classes == fine.aux_classes and coarse.aux_classes == fine.classes
    x, y_fine, y_coarse = ref["test"]
    assert torch.equal(fine.test.x, nchw(x)) and torch.equal(coarse.test.x, nchw(x))
    assert (torch.equal(fine.test.y, torch.from_numpy(y_fine))
            and torch.equal(fine.test.y_aux, torch.from_numpy(y_coarse)))
    assert (torch.equal(coarse.test.y, torch.from_numpy(y_coarse))
            and torch.equal(coarse.test.y_aux, torch.from_numpy(y_fine)))
    assert fine.checksum != coarse.checksum and coarse.checksum == data.load_dataset("cifar100-20", tmp_path).checksum
    assert fine.mean == coarse.mean


def test_torchvision_svhn(tmp_path, cache):
    ref = write_svhn_tv(tmp_path)
    ds = data.load_dataset("svhn", tmp_path)
    assert ds.classes == tuple("0123456789") and ds.train.x.shape == (8, 3, 32, 32)
    assert torch.equal(ds.train.x, nchw(ref["train"][0]))
    assert ds.train.y.tolist() == [1, 2, 3, 4, 5, 6, 7, 8] and ds.test.y.tolist() == [1, 2, 3, 4]
    big = write_svhn_tv(tmp_path / "big", n=(12, 4))  # labels 1..10, 1, 2: the 10 must come back as digit 0
    assert data.load_dataset("svhn", tmp_path / "big").train.y.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]
    assert big["train"][1].tolist()[9] == 0


def test_download_switch(tmp_path, cache, monkeypatch):
    calls = []
    monkeypatch.setattr(data_sources, "download", lambda bundle, root: calls.append(bundle) or write_svhn_tv(root))
    with pytest.raises(DataError):
        data.load_dataset("svhn", tmp_path / "off", download=False)
    monkeypatch.setenv(settings.DOWNLOAD_ENV, "1")  # download=None follows the environment
    assert len(data.load_dataset("svhn", tmp_path / "on").test) == 4 and calls == ["svhn"]


def test_missing_data(tmp_path, cache):
    with pytest.raises(DataError) as e:
        data.load_dataset("cifar10", tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / "cifar10.npz") in msg and str(tmp_path / "cifar-10-batches-py") in msg
    assert settings.DATA_ENV in msg and "download" in msg and settings.DOWNLOAD_ENV in msg
    with pytest.raises(DataError, match="train_32x32.mat"):
        data.load_dataset("svhn", tmp_path, download=False)


def test_unknown_name():
    with pytest.raises(DataError) as e:
        data.load_dataset("imagenet")
    assert all(n in str(e.value) for n in data.DATASETS)
    assert issubclass(DataError, ValueError)


# -----------------------------------------------------------------------------
# splits and variants

@pytest.fixture
def split() -> Split:
    """Unbalanced classes (30, 60, ..., 150 samples); y_aux = original index, to check rows stay aligned."""
    y = np.repeat(np.arange(5), [30, 60, 90, 120, 150])
    y = np.random.default_rng(0).permutation(y)
    n = len(y)
    x = (torch.from_numpy(np.arange(n, dtype=np.int64) % 256).to(torch.uint8).view(n, 1, 1, 1)
         .expand(n, 3, 2, 2).contiguous())
    return Split(x, torch.from_numpy(y), torch.arange(n))


def aligned(s: Split, parent: Split) -> bool:
    i = s.y_aux
    return torch.equal(s.x, parent.x[i]) and torch.equal(s.y, parent.y[i])


def test_subset(split):
    s = split.subset(np.array([4, 2, 9]))
    assert len(s) == 3 and s.y_aux.tolist() == [4, 2, 9] and aligned(s, split)
    assert split.subset(torch.tensor([1, 0])).y_aux.tolist() == [1, 0]
    mask = np.zeros(len(split), bool)
    mask[[3, 7]] = True
    assert split.subset(mask).y_aux.tolist() == [3, 7]
    with pytest.raises(DataError):
        Split(split.x, split.y[:5])


def test_train_val_split(split):
    tr, va = subsets.train_val_split(split, 0.25, seed=1)
    a, b = tr.y_aux.numpy(), va.y_aux.numpy()
    assert len(np.intersect1d(a, b)) == 0 and np.array_equal(np.sort(np.concatenate([a, b])), np.arange(len(split)))
    assert np.all(np.diff(a) > 0) and np.all(np.diff(b) > 0), "stable order"
    assert aligned(tr, split) and aligned(va, split)
    n_c = torch.bincount(split.y)
    assert torch.bincount(va.y).tolist() == [round(0.25 * n) for n in n_c.tolist()]
    assert torch.equal(subsets.train_val_split(split, 0.25, seed=1)[1].y_aux, va.y_aux)
    assert not torch.equal(subsets.train_val_split(split, 0.25, seed=2)[1].y_aux, va.y_aux)
    assert split.y_aux.tolist() == list(range(len(split))), "input untouched"
    for bad in (0, 1, -0.1, 1.5, math.nan, "x", None):
        with pytest.raises(DataError, match="0 < val_fraction < 1"):
            subsets.train_val_split(split, bad)


def test_stratified_subset(split):
    s = subsets.stratified_subset(split, 30, seed=3)
    assert torch.bincount(s.y).tolist() == [30] * 5 and aligned(s, split)
    assert len(set(s.y_aux.tolist())) == 150 and np.all(np.diff(s.y_aux.numpy()) > 0)
    assert torch.equal(subsets.stratified_subset(split, 30, seed=3).y_aux, s.y_aux)
    assert not torch.equal(subsets.stratified_subset(split, 30, seed=4).y_aux, s.y_aux)
    with pytest.raises(DataError, match="has only 30"):
        subsets.stratified_subset(split, 31)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(DataError, match="per_class"):
            subsets.stratified_subset(split, bad)


def test_fraction_subset(split):
    s = subsets.fraction_subset(split, 0.1, seed=0)
    assert torch.bincount(s.y).tolist() == [3, 6, 9, 12, 15] and aligned(s, split)
    assert torch.bincount(subsets.fraction_subset(split, 0.001).y).tolist() == [1] * 5, "at least one per class"
    assert torch.equal(subsets.fraction_subset(split, 1.0).y_aux, split.y_aux)
    assert not torch.equal(subsets.fraction_subset(split, 0.5, seed=1).y_aux,
                           subsets.fraction_subset(split, 0.5, seed=2).y_aux)
    for bad in (0, -0.5, 1.01, math.nan):
        with pytest.raises(DataError, match="0 < fraction <= 1"):
            subsets.fraction_subset(split, bad)


def test_add_label_noise(split):
    n = len(split)
    for rate in (0.2, 0.37, 0.9):
        noisy = subsets.add_label_noise(split, rate, 5, seed=7)
        changed = noisy.y != split.y
        assert int(changed.sum()) == round(rate * n), "the realised rate is exactly round(rate*N)/N"
        assert noisy.y.dtype == torch.int64 and 0 <= int(noisy.y.min()) and int(noisy.y.max()) < 5
        assert noisy.x is split.x and noisy.y_aux is split.y_aux
    noisy = subsets.add_label_noise(split, 0.5, 5, seed=7)
    flips = torch.stack([split.y, noisy.y])[:, noisy.y != split.y]
    assert {(a, b) for a, b in flips.T.tolist()} == {(a, b) for a in range(5) for b in range(5) if a != b}
    assert torch.equal(subsets.add_label_noise(split, 0.5, 5, seed=7).y, noisy.y)
    assert not torch.equal(subsets.add_label_noise(split, 0.5, 5, seed=8).y, noisy.y)
    assert split.y_aux.tolist() == list(range(n)) and int((split.y == noisy.y).sum()) == n - round(0.5 * n)

    same = subsets.add_label_noise(split, 0.0, 5)
    assert same is not split and torch.equal(same.y, split.y) and same.y is not split.y
    for bad in (-0.1, 1.0, math.nan):
        with pytest.raises(DataError, match="0 <= rate < 1"):
            subsets.add_label_noise(split, bad, 5)
    with pytest.raises(DataError, match="num_classes"):
        subsets.add_label_noise(split, 0.1, 1)
    with pytest.raises(DataError, match="labels must lie"):
        subsets.add_label_noise(split, 0.1, 3)
