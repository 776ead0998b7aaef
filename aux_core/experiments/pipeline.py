"""The pipeline chapter: plain training against deep supervision on the five models of the
first two papers, under one protocol (AdamW, batch 128, crop and flip)."""
from __future__ import annotations

import pandas as pd

from .. import data as data_lib
from ..profiles import get_profile
from ..config import RunConfig
from .common import Cell, grid_frame

CHAPTER = "pipeline"
MODELS = ("mlp6", "cnn6", "vit6", "densenet_ds", "resnet_ds")
METHODS = ("plain", "ds")
SEEDS = (42, 123, 456)   # the LION-DG seeds
EPOCHS = 15
ALPHA, LR, WEIGHT_DECAY, BATCH = 0.3, 1e-3, 0.05, 128


def grid(profile: str, seeds=SEEDS, *, dataset: str = "cifar10", models=MODELS, methods=METHODS,
         epochs: int = EPOCHS, alpha: float = ALPHA, lr: float = LR, weight_decay: float = WEIGHT_DECAY,
         batch_size: int = BATCH) -> pd.DataFrame:
    """One row per (model, method, seed) with its RunConfig (validated here, before any training)."""
    p = get_profile(profile, CHAPTER)
    n_train = data_lib.train_size(dataset, p.train_per_class)
    rows = [Cell(RunConfig(dataset=dataset, model=m, method=meth,
                                 method_options={"alpha": alpha} if meth == "ds" else {},
                                 optimizer="adamw", lr=lr, weight_decay=weight_decay, batch_size=batch_size,
                                 epochs=p.epochs(epochs, model=m, n_train=n_train), seed=s, **p.data()),
                 model=m, method=meth, seed=s)
            for m in models for meth in methods for s in p.seeds(list(seeds))]
    return grid_frame(rows)


def chapter_grids(profile: str) -> dict[str, pd.DataFrame]:
    return {"main": grid(profile)}


NOTEBOOK_GRIDS = {"plain_vs_ds": ("main",), "store": ()}
LEDGER_NOTEBOOKS = ()    # no claims ledger: the chapter checks the pipeline
ANALYSES: dict = {}
