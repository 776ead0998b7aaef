"""The loss landscapes of Tables 5-6 (filter-normalised and paper directions), the total-loss control,
and the analysis records the campaign computes."""
from __future__ import annotations


import numpy as np
import pandas as pd
import torch

from ... import data as data_lib
from ...analysis import landscape as landscape_lib
from ...cache import ResultsCache
from ...devices import resolve_device
from ...loader import DeviceLoader
from ...profiles import get_profile
from ...provenance import collect
from ...records import make_key
from ..common import dataset_for
from .cells import CHAPTER, check_arch, LANDSCAPE_BRANCHES, LANDSCAPE_SIZE, MODELS

# ----------------------------------------------------------------------------- loss landscape (Tables 5, 6)

def landscape_size(profile: str, grid: int = 51, samples: int = 500) -> tuple[int, int]:
    """Grid points per axis and images per point at a profile (the paper: 51 and 500)."""
    get_profile(profile, CHAPTER)
    g, s = LANDSCAPE_SIZE.get(profile, (grid, samples))
    return min(g, grid), min(s, samples)


def landscape_batch(dataset: str, samples: int, data_seed: int = 0):
    """`samples` training images picked with `data_seed`, normalised as training sees them."""
    from ...loader import Batch
    ds = data_lib.load_dataset(dataset)
    pick = torch.randperm(len(ds.train), generator=torch.Generator().manual_seed(data_seed))[:samples]
    b = next(iter(DeviceLoader(ds.train.x[pick], ds.train.y[pick], len(pick), mean=ds.mean, std=ds.std,
                               channels_last=True)))
    return ds, Batch(b.x, b.y)


def landscape(arch: str, n_branches: int, *, kind: str, dataset: str, grid: int, samples: int, seed: int,
              span: float = 1.0, alpha: float = 1.0, loss: str = "main", data_seed: int = 0,
              cache: ResultsCache | None = None, device: str = "auto") -> dict:
    """One landscape record (surface, roughness, parameter counts, provenance), from the
    results cache when it was computed before with the same settings and data; computed on
    `device` (auto: CUDA when present, its grid points batched)."""
    import time
    check_arch(arch)
    if not (isinstance(n_branches, int) and n_branches >= 0):
        raise ValueError(f"n_branches must be an integer >= 0 (0: plain), got {n_branches!r}")
    if kind not in landscape_lib.DIRECTIONS:
        raise ValueError(f"direction kind {kind!r} is not one of: {', '.join(landscape_lib.DIRECTIONS)}")
    _check_landscape_args(grid, samples, span, loss, alpha)
    config = landscape_config(arch, n_branches, kind=kind, dataset=dataset, grid=grid, samples=samples, seed=seed,
                              span=span, alpha=alpha, loss=loss, data_seed=data_seed)
    ds = data_lib.load_dataset(dataset)
    store = cache or ResultsCache()

    def compute() -> dict:
        t0 = time.perf_counter()
        _, batch = landscape_batch(dataset, samples, data_seed)
        where = resolve_device(device)
        out = landscape_lib.compute(MODELS[arch], ds.num_classes, n_branches, batch, kind=kind, grid=grid,
                                    span=span, alpha=alpha, loss=loss, seed=seed, device=where)
        prov = collect(where, ds.checksum, ds.source)
        prov["wall_time_s"] = time.perf_counter() - t0
        return {"config": config, **out, "provenance": prov}

    record, _ = store.get_or_compute(make_key(config, ds.checksum), compute,
                                     f"the {kind} landscape of {arch}, N = {n_branches}, seed {seed}")
    return record


def landscape_config(arch: str, n_branches: int, *, kind: str, dataset: str, grid: int, samples: int, seed: int,
                     span: float = 1.0, alpha: float = 1.0, loss: str = "main", data_seed: int = 0) -> dict:
    """What keys a landscape record (with the data's checksum): everything that changes it."""
    return {"analysis": "landscape", "model": MODELS[arch], "n_branches": n_branches, "kind": kind,
            "dataset": dataset, "grid": grid, "samples": samples, "seed": seed, "span": span, "alpha": alpha,
            "loss": loss, "data_seed": data_seed}


# The control the ledger reads: filter-normalised directions over the parameters the loss reads,
# with the total training loss (main + alpha x auxiliary). With the main loss alone that control
# is zero by construction (the branches are not in it, so every row is the same surface).
TOTAL_LOSS_CONTROL = dict(archs=("MLP",), branches=(0, 300), kinds=("filter",), loss="total")
TOTAL_LOSS_KIND = "filter, total loss"


def landscape_configs(profile: str, seeds, *, archs=tuple(MODELS), branches=(0, *LANDSCAPE_BRANCHES),
                      kinds=landscape_lib.DIRECTIONS, cifar100: str = "auto", grid: int = 51, samples: int = 500,
                      span: float = 1.0, alpha: float = 1.0, loss: str = "main") -> list[dict]:
    """The config of every landscape `landscape_grid` computes, in its order."""
    g, s = landscape_size(profile, grid, samples)
    return [landscape_config(a, n, kind=k, dataset=dataset_for("CIFAR-10" if a == "MLP" else "CIFAR-100", cifar100),
                             grid=g, samples=s, seed=seed, span=span, alpha=alpha, loss=loss)
            for a in archs for n in branches for k in kinds for seed in seeds]


def _check_landscape_args(grid, samples, span, loss, alpha) -> None:
    from ...checks import is_int, is_number
    if not (is_int(grid) and grid >= 2):
        raise ValueError(f"grid must be an integer >= 2 (points per axis), got {grid!r}")
    if not (is_int(samples) and samples >= 1):
        raise ValueError(f"samples must be an integer >= 1, got {samples!r}")
    if not (is_number(span) and span > 0):
        raise ValueError(f"span must be a number > 0, got {span!r}")
    if not (is_number(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
    if loss not in landscape_lib.LOSSES:
        raise ValueError(f"loss {loss!r} is not one of: {', '.join(landscape_lib.LOSSES)}")


def landscape_grid(profile: str, seeds, *, archs=tuple(MODELS), branches=(0, *LANDSCAPE_BRANCHES),
                   kinds=landscape_lib.DIRECTIONS, cifar100: str = "auto", grid: int = 51, samples: int = 500,
                   span: float = 1.0, alpha: float = 1.0, loss: str = "main", progress: bool = True) -> pd.DataFrame:
    """Every landscape of Tables 5-6 and the control: one row per (arch, N, kind, seed), with
    the record. MLP runs on CIFAR-10 (Table 5), CNN and ViT-6L on the CIFAR-100 data (Table 6)."""
    from tqdm.auto import tqdm
    _check_landscape_args(grid, samples, span, loss, alpha)
    todo = landscape_configs(profile, seeds, archs=archs, branches=branches, kinds=kinds, cifar100=cifar100, grid=grid,
                             samples=samples, span=span, alpha=alpha, loss=loss)
    arch_of = {m: a for a, m in MODELS.items()}
    rows = []
    for c in tqdm(todo, desc="landscapes", disable=not progress):
        arch, n, kind, seed, ds, g, s = (arch_of[c["model"]], c["n_branches"], c["kind"], c["seed"], c["dataset"],
                                         c["grid"], c["samples"])
        rec = landscape(arch, n, kind=kind, dataset=ds, grid=g, samples=s, seed=seed, span=span, alpha=alpha, loss=loss)
        rows.append({"arch": arch, "n": n, "kind": kind, "seed": seed, "dataset_run": ds, "grid": g, "samples": s,
                     "params": rec["params"], "active_params": rec["active_params"], "std_loss": rec["std_loss"],
                     "range_loss": rec["range_loss"], "mean_grad": rec["mean_grad"], "center_loss": rec["center_loss"],
                     "surface": np.asarray(rec["surface"]), "wall_time_s": rec["provenance"]["wall_time_s"]})
    return pd.DataFrame(rows)


def total_loss_control(profile: str, seeds, **options) -> pd.DataFrame:
    """`landscape_grid` of TOTAL_LOSS_CONTROL (kind TOTAL_LOSS_KIND), to stack with the others
    before `landscape_changes`; `options` as `landscape_grid`'s (cifar100, grid, samples, ...)."""
    return landscape_grid(profile, seeds, **TOTAL_LOSS_CONTROL, **options).assign(kind=TOTAL_LOSS_KIND)


def landscape_changes(lands: pd.DataFrame) -> pd.DataFrame:
    """Per (arch, kind, N > 0): the percent change of each roughness measure against plain,
    per seed (paired: the same initial backbone and the same backbone share of each direction)."""
    out = []
    for (arch, kind, seed), g in lands.groupby(["arch", "kind", "seed"], sort=False):
        base = g[g["n"] == 0].iloc[0]
        for _, r in g[g["n"] > 0].iterrows():
            out.append({"arch": arch, "kind": kind, "seed": seed, "n": r["n"],
                        **{f"{m}_change_pct": 100 * (r[m] / base[m] - 1)
                           for m in ("std_loss", "range_loss", "mean_grad")}})
    return pd.DataFrame(out)




def landscape_from_config(config: dict, cache=None) -> dict:
    """The landscape record of one of `landscape_configs`' configs (what the campaign computes)."""
    arch = {m: a for a, m in MODELS.items()}[config["model"]]
    options = {k: config[k]
               for k in ("kind", "dataset", "grid", "samples", "seed", "span", "alpha", "loss", "data_seed")}
    return landscape(arch, config["n_branches"], **options, cache=cache)



