"""The performance page's live check: multi-seed (vmap) training gives each seed its own run.

`check_seeds` seeds of `resnet_ds` with deep supervision (batch norm and auxiliary heads) for a
few steps on real CIFAR-10, trained one at a time and then as one vmapped group, in float64;
the result is an analysis record in the results store like any other, so the book shows the
check as it ran, with its provenance."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..cache import ResultsCache
from ..config import RunConfig
from ..runner import run_all
from .common import analysis_rows

CHECK_SEEDS = 2


def engine_check_config(check_seeds: int = CHECK_SEEDS) -> dict:
    return {"analysis": "engine_equivalence", "dataset": "cifar10", "model": "resnet_ds", "method": "ds",
            "seeds": check_seeds, "steps": 4, "dtype": "float64"}


def _gap(a: pd.DataFrame, b: pd.DataFrame) -> float:
    x, y = a.drop(columns="lr", errors="ignore").to_numpy(), b.drop(columns="lr", errors="ignore").to_numpy()
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-12)))


def engine_check(check_seeds: int = CHECK_SEEDS, cache: ResultsCache | None = None) -> pd.DataFrame:
    """One row per seed: final test accuracy alone and grouped, and the largest relative
    difference of the per-step log and of the evaluations."""
    def rows() -> list[dict]:
        old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            cfgs = [RunConfig(model="resnet_ds", method="ds", train_per_class=10, test_per_class=4, batch_size=16,
                              steps=4, epochs=None, eval_every=2, optimizer="sgd", lr=0.05, seed=s)
                    for s in range(check_seeds)]
            alone = run_all(cfgs, cache=False, progress=False, engine="loop")
            grouped = run_all(cfgs, cache=False, progress=False, engine="vmap")
        finally:
            torch.set_default_dtype(old)
        return [{"seed": c.seed, "engine (grouped)": g.metrics["engine"], "group size": g.metrics["group_size"],
                 "final test acc (alone)": a.metrics["final_test_acc"],
                 "final test acc (grouped)": g.metrics["final_test_acc"],
                 "max rel. difference, per-step log": _gap(a.steps, g.steps),
                 "max rel. difference, evaluations": _gap(a.history, g.history)}
                for c, a, g in zip(cfgs, alone, grouped)]

    return analysis_rows(engine_check_config(check_seeds), rows, "the multi-seed engine check", cache)


def chapter_grids(profile: str) -> dict[str, list[dict]]:
    return {"engine_check": [engine_check_config()]}


NOTEBOOK_GRIDS = {"speed": ("engine_check",)}
LEDGER_NOTEBOOKS = ()
ANALYSES = {"engine_equivalence": lambda config, cache=None: engine_check(config["seeds"], cache)}
