"""Runs through the results cache: `run(config)` and `run_all(configs)` fetch what the store
holds, train the rest once (identical configurations train once; another process training the
same keys is waited for), pick the engine (one run at a time, or seeds together under vmap on
CUDA: `aux_core.multiseed`) and resume from checkpoints.

    from aux_core.config import RunConfig
    from aux_core.runner import run, run_all
    result = run(RunConfig(model="mlp6", method="asymmetric", epochs=2))
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import data as data_lib
from . import multiseed, settings
from .cache import ResultsCache, refuse_training
from .checks import is_int
from .config import RunConfig, RunResult
from .devices import resolve_device
from .train import train_one

ENGINES = ("auto", "loop", "vmap")


def run(config: RunConfig, *, cache: ResultsCache | bool = True, progress: bool = True) -> RunResult:
    """Train (or fetch from the results cache) one configuration."""
    return run_all([config], cache=cache, progress=progress, engine="loop", desc=None)[0]


def run_all(configs: list[RunConfig], *, cache: ResultsCache | bool = True, progress: bool = True,
            desc: str | None = "runs", engine: str = "auto", max_group: int = 16) -> list[RunResult]:
    """Run many configurations (cached ones are fetched, identical ones train once).

    engine  "loop": one run at a time. "vmap": configurations that differ only in seed train
            together, up to `max_group` seeds per batched computation (`aux_core.multiseed`),
            where the method allows it. "auto": vmap on CUDA, loop on the CPU (batched
            convolutions are slower per image there; see the benchmark).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is not one of: {', '.join(ENGINES)}")
    if not (is_int(max_group) and max_group >= 1):
        raise ValueError(f"max_group must be an integer >= 1, got {max_group!r}")
    store = cache if isinstance(cache, ResultsCache) else (ResultsCache() if cache else None)
    keys, results, todo = [], [None] * len(configs), {}
    for i, cfg in enumerate(configs):
        ds = data_lib.load_dataset(cfg.dataset)
        key = cfg.key(ds.checksum)
        keys.append(key)
        if store is not None and (record := store.get(key)) is not None:
            results[i] = RunResult.from_record(record, cached=True)
        else:
            todo.setdefault(key, cfg)
    key_of = {id(cfg): key for key, cfg in todo.items()}
    refuse_training([f"{c.model}/{c.method} seed {c.seed} on {c.dataset}" for c in todo.values()])
    batches = engine_batches(list(todo.values()), engine, max_group)
    bar = tqdm(total=len(todo), desc=desc, disable=not (progress and desc and todo))
    fresh = {}
    for group in batches:
        bar.set_postfix_str(f"{group[0].model}/{group[0].method}/seed {','.join(str(c.seed) for c in group)}",
                            refresh=False)
        with contextlib.ExitStack() as held:
            if store is not None:  # another process training the same keys: wait, then take its records
                for key in sorted(key_of[id(cfg)] for cfg in group):
                    held.enter_context(store.lock(key))
                records = {key_of[id(cfg)]: store.get(key_of[id(cfg)]) for cfg in group}
                fresh.update({k: RunResult.from_record(r, cached=True) for k, r in records.items() if r is not None})
                group = [cfg for cfg in group if records[key_of[id(cfg)]] is None]
            if group:
                ds = data_lib.load_dataset(group[0].dataset)
                # a group resumes from the checkpoint of exactly its members
                ckey = key_of[id(group[0])] if len(group) == 1 else hashlib.sha256(
                    "|".join(sorted(key_of[id(c)] for c in group)).encode()).hexdigest()
                ckpt = store.checkpoint_path(ckey) if store is not None else None
                if len(group) == 1:
                    trained = [train_one(group[0], ds, progress and not desc, ckpt)]
                else:
                    trained = multiseed.train_group(group, ds, progress and not desc, ckpt)
                for cfg, result in zip(group, trained):
                    result.key, result.labels = key_of[id(cfg)], settings.labels()
                    if store is not None:
                        store.put(result.key, result.to_record())
                    fresh[result.key] = result
                if ckpt is not None:
                    ckpt.unlink(missing_ok=True)
        bar.update(len(records) if store is not None else len(group))
    bar.close()
    return [r if r is not None else fresh[k] for r, k in zip(results, keys)]


def engine_batches(configs: list[RunConfig], engine: str, max_group: int) -> list[list[RunConfig]]:
    """Split configurations into what trains together: singletons, or seed groups under vmap."""
    groups: dict[str, list[RunConfig]] = {}
    for cfg in configs:
        vmap = engine == "vmap" or (engine == "auto" and resolve_device(cfg.device).type == "cuda")
        together = {**multiseed.seedless(cfg), "device": cfg.device}
        grouped = vmap and multiseed.can_group(cfg)
        label = json.dumps(together, sort_keys=True, default=list) if grouped else str(id(cfg))
        groups.setdefault(label, []).append(cfg)
    return [g[i:i + max_group] for g in groups.values() for i in range(0, len(g), max_group)]


def summarize(results: list[RunResult]) -> pd.DataFrame:
    """One row per run: the config fields that vary across `results`, status and metrics."""
    configs = pd.DataFrame([{k: str(v) if isinstance(v, (dict, tuple, list)) else v
                             for k, v in r.config.items()} for r in results])
    varying = [c for c in configs.columns if configs[c].nunique(dropna=False) > 1 or c in ("model", "method", "seed")]
    metrics = pd.DataFrame([{"status": r.status, **r.metrics} for r in results])
    return pd.concat([configs[varying], metrics], axis=1)


def checkpoint_round_trip(cfg: RunConfig) -> float:
    """Largest relative difference between `cfg` trained straight through and the same run
    resumed from its first checkpoint (saved and loaded as `run_all` does): 0 where
    checkpoints restore everything. `cfg` needs at least two epochs and checkpoint_every=1."""
    if cfg.epochs is None or cfg.epochs < 2 or cfg.checkpoint_every != 1:
        raise ValueError("a checkpoint round trip needs epochs >= 2 and checkpoint_every=1")
    ds = data_lib.load_dataset(cfg.dataset)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "round-trip.pt"
        straight = train_one(cfg, ds, False, path)      # leaves its last checkpoint behind (run_all removes it)
        resumed = train_one(cfg, ds, False, path)       # starts from that checkpoint
    a, b = straight.steps["loss"].to_numpy(), resumed.steps["loss"].to_numpy()
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))
