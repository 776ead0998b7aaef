"""Sweeps of RunConfigs through the results cache: grids and staged searches.

    configs = expand(base, lr=[1e-4, 1e-3], **{"method_options.alpha": [0.1, 1.0]})
    search = staged_search(base, [("lr", LR_GRID), ("weight_decay", WD_GRID)])
    search.best          # the base with each stage's winner filled in
    search.trials        # one row per run: stage, field, value, score, status, cache key

    results = run_sweep(configs, executor="ray")   # or "local" with workers=N

Every run goes through the results cache, so a sweep killed part-way and started again
trains only what is missing (finished runs are cache hits) and ends with the same table.
`run_sweep` hands the missing runs to an executor (`aux_core.executors`: in process, local
worker processes, or Ray tasks) and reads every result back from the cache.
A field is a RunConfig field ("lr") or a method option ("method_options.alpha").
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from . import data as data_lib
from .cache import ResultsCache, refuse_training
from .config import RunConfig, RunResult
from .runner import run_all


def with_value(cfg: RunConfig, field: str, value) -> RunConfig:
    """`cfg` with one field (or method option, "method_options.<name>") set; validated."""
    if field.startswith("method_options."):
        return cfg.replace(method_options={**cfg.method_options, field.split(".", 1)[1]: value})
    if field not in cfg.to_dict():
        raise ValueError(f"unknown field {field!r}; a RunConfig field ({', '.join(cfg.to_dict())}) "
                         "or 'method_options.<option>'")
    return cfg.replace(**{field: value})


def expand(base: RunConfig, **axes: Sequence) -> list[RunConfig]:
    """The grid product of `axes` ({field: values}) applied to `base`, in order."""
    names = list(axes)
    configs = []
    for values in itertools.product(*(axes[n] for n in names)):
        cfg = base
        for name, value in zip(names, values):
            cfg = with_value(cfg, name, value)
        configs.append(cfg)
    return configs


def cache_key(cfg: RunConfig) -> str:
    return cfg.key(data_lib.load_dataset(cfg.dataset).checksum)


def run_sweep(configs: Sequence[RunConfig], executor: str = "local", workers: int = 1,
              cache: ResultsCache | None = None, progress: bool = True) -> list[RunResult]:
    """Results of `configs`, in order: cached ones are read, the missing ones (each distinct
    configuration once) train through `executor` ("local" or "ray", aux_core.executors), and
    every result is then read from the cache, so a restarted sweep gives the same table."""
    from .executors import get_executor
    run_executor = get_executor(executor)
    if not (isinstance(workers, int) and not isinstance(workers, bool) and workers >= 0):
        raise ValueError(f"workers must be an integer >= 0, got {workers!r}")
    store = cache or ResultsCache()
    keys = [cache_key(c) for c in configs]
    missing = {k: c for k, c in zip(keys, configs) if store.get(k) is None}
    if missing:
        refuse_training([f"{c.model}/{c.method} seed {c.seed}" for c in missing.values()])
        run_executor(list(missing.values()), store, workers, progress)
    out = []
    for k, c in zip(keys, configs):
        record = store.get(k)
        if record is None:
            raise RuntimeError(f"the {executor} executor left no result for {c.model}/{c.method} seed {c.seed}")
        out.append(RunResult.from_record(record, cached=k not in missing))
    return out


def final_val_acc(result: RunResult) -> float:
    """The default score: validation accuracy at the end of training (NaN if diverged)."""
    return float(result.metrics.get("final_val_acc", float("nan")))


@dataclass
class Search:
    best: RunConfig
    trials: pd.DataFrame


def staged_search(base: RunConfig, stages: Sequence[tuple[str, Sequence]],
                  score: Callable[[RunResult], float] = final_val_acc, *, progress: bool = True,
                  desc: str = "search", executor: str | None = None, workers: int = 1) -> Search:
    """Search one field at a time: each stage tries its values on the best configuration so
    far and keeps the highest score (the first on ties; diverged runs score NaN and never
    win; if every value diverges, the stage keeps the current value). With `executor`
    ("local" or "ray") each stage's runs go through `run_sweep`; by default through run_all."""
    if score is final_val_acc and not base.val_fraction > 0:
        raise ValueError("a staged search selects on validation accuracy: set val_fraction > 0 in the base config")
    best, rows = base, []
    for i, (field, values) in enumerate(stages, start=1):
        if len(values) == 0:
            raise ValueError(f"stage {i} ({field}) has no values to try")
        configs = [with_value(best, field, v) for v in values]
        results = (run_sweep(configs, executor, workers, progress=progress) if executor else
                   run_all(configs, progress=progress, desc=f"{desc} stage {i}: {field}"))
        scores = np.array([score(r) for r in results], dtype=float)
        for v, r, sc in zip(values, results, scores):
            rows.append({"stage": i, "field": field, "value": v, "score": sc, "status": r.status,
                         "selected": False, "key": r.key})
        if np.isfinite(scores).any():
            win = int(np.nanargmax(scores))
            best = configs[win]
            rows[len(rows) - len(values) + win]["selected"] = True
    return Search(best, pd.DataFrame(rows))
