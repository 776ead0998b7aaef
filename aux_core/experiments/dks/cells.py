"""The DKS chapter's protocol (the authors' CIFAR schedule) and grids: one RunConfig per table cell and seed."""
from __future__ import annotations

import pandas as pd

from ... import data as data_lib
from ...config import RunConfig
from ...methods.branches import check_design
from ...profiles import get_profile
from ..common import Cell, dataset_for, grid_frame

__all__ = ["milestones_for", "protocol", "grid", "ablation_grid", "noise_grid", "chapter_grids", "gradient_grid",
           "warmup_grid", "BACKBONES", "VARIANTS", "DESIGN_TABLES", "ABLATION", "METHODS", "CHAPTER", "PAPER_SEEDS",
           "PAPER_EPOCHS", "PAPER_MILESTONES", "NOISE_RATES", "WARMUP_SHARE"]

BACKBONES = {"ResNet-32": "resnet32", "ResNet-110": "resnet110", "WRN-28-4": "wrn28_4",
             "WRN-28-10": "wrn28_10", "DenseNet-40-12": "densenet40_12",
             "DenseNet-100-12": "densenet100_12", "MobileNet": "mobilenet"}
# rows of the main comparison that are a backbone with options ("DKS with strong regularisation")
VARIANTS = {"WRN-28-10|dropout": ("WRN-28-10", {"dropout": 0.3})}
DESIGN_TABLES = {"Supp. Table 2": ("ResNet-32", "ResNet-110"), "Supp. Table 3": ("WRN-28-4", "WRN-28-10"),
                 "Supp. Table 4": ("DenseNet-40-12", "DenseNet-100-12"), "Supp. Table 5": ("MobileNet",)}
ABLATION = {"Original": "dks", "AP+2FC": "ap2fc", "AP+1Conv+2FC": "ap1conv2fc", "Narrow": "narrow",
            "Shallow": "shallow"}  # Table 6 / Figure 3, on ResNet-32
METHODS = {"baseline": ("plain", {}), "DS": ("ds", {"alpha": 1.0}), "DKS": ("dks", {})}
CHAPTER = "dks"
PAPER_SEEDS = (0, 1, 2, 3, 4)      # the paper reports the mean of 5 runs
PAPER_EPOCHS = 200
PAPER_MILESTONES = (60, 120, 160)
NOISE_RATES = (0.0, 0.4)           # the noisy-label notebook's default rates (the paper's are not in the supplement)
# our control for the start at lr 0.1: a linear warm-up over this share of the run (none in the
# paper; He et al. 2016 warmed ResNet-110 up at lr 0.01 for about 400 iterations for the same reason)
WARMUP_SHARE = 0.1



def milestones_for(epochs: int) -> tuple[float, ...]:
    """The paper's milestones at the same fractions of a shorter run, in fractional epochs
    where they fall inside one: rounded to whole epochs, a one-epoch run would never decay."""
    return tuple(int(x) if float(x).is_integer() else x for x in (m * epochs / PAPER_EPOCHS for m in PAPER_MILESTONES))


def protocol(profile: str, backbone: str = "ResNet-32", method: str = "DKS", design: str = "dks",
             paper_epochs: int = PAPER_EPOCHS, evals: int = 10, cifar100: str = "auto", **changes) -> RunConfig:
    """One run of the paper's CIFAR-100 protocol at a profile's size. `method` is one of
    METHODS' labels, `design` the branches of DS and DKS (aux_core.methods.branches.DESIGNS),
    `evals` about how many test evaluations the run records (for the error curves)."""
    if backbone not in BACKBONES and backbone not in VARIANTS:
        raise ValueError(f"unknown DKS backbone {backbone!r}; available: {', '.join([*BACKBONES, *VARIANTS])}")
    base, model_options = VARIANTS.get(backbone, (backbone, {}))
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    check_design(design)
    if evals < 1:
        raise ValueError(f"evals must be >= 1, got {evals}")
    p = get_profile(profile, CHAPTER)
    name, options = METHODS[method]
    options = {**options, "branch": design} if name != "plain" else {}
    dataset = dataset_for("CIFAR-100", cifar100)
    n_train = data_lib.train_size(dataset, p.train_per_class)
    epochs = p.epochs(paper_epochs, model=BACKBONES[base], n_train=n_train)
    steps = epochs * max(1, n_train // 128)
    cfg = dict(dataset=dataset, augment="crop_flip", model=BACKBONES[base], model_options=model_options, method=name,
               method_options=options, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
               schedule="multistep", milestones=milestones_for(epochs), gamma=0.2, epochs=epochs,
               batch_size=128, eval_every=max(1, steps // evals), seed=PAPER_SEEDS[0], **p.data())
    cfg.update(changes)
    return RunConfig(**cfg)


def grid(profile: str, seeds, backbones=("ResNet-32",), methods=tuple(METHODS), designs=("dks",),
         **changes) -> pd.DataFrame:
    """One row per run (backbone, method, design, seed) with its RunConfig. The baseline has
    no branches, so it appears once per backbone whatever the designs."""
    rows = []
    for b in backbones:
        for m in methods:
            for d in (designs if m != "baseline" else designs[:1]):
                for seed in seeds:
                    cfg = protocol(profile, b, m, d, seed=seed, **changes)
                    rows.append(Cell(cfg, backbone=b, method=m, design=d if m != "baseline" else "", seed=seed,
                                     dataset_run=cfg.dataset))
    return grid_frame(rows)


def ablation_grid(profile: str, seeds, backbone: str = "ResNet-32", warmup_shares=(0.0,),
                  **changes) -> pd.DataFrame:
    """Table 6: DKS with each of the supplement's branch designs, at each warm-up share (column
    `warmup`; 0 is the paper's start at lr 0.1, where DKS runs can collapse whatever the design)."""
    return _warmed(profile, backbone, warmup_shares, lambda **c: grid(
        profile, seeds, backbones=(backbone,), methods=("DKS",), designs=tuple(ABLATION.values()), **c), **changes)


def noise_grid(profile: str, seeds, backbone: str = "ResNet-32", rates=NOISE_RATES, warmup_shares=(0.0,),
               **changes) -> pd.DataFrame:
    """The main comparison with a share `rate` of the training labels replaced at random: the
    warm-up grid (`warmup_grid`, column `warmup`; share 0 is the paper's start) at each rate."""
    return pd.concat([warmup_grid(profile, seeds, backbone, shares=warmup_shares, label_noise=float(rate),
                                  **changes).assign(noise=float(rate)) for rate in rates], ignore_index=True)


def warmup_grid(profile: str, seeds, backbone: str = "ResNet-32", shares=(0.0, WARMUP_SHARE),
                **changes) -> pd.DataFrame:
    """The main comparison with the learning rate ramped linearly from 0 to 0.1 over the first
    `share` of training (column `warmup`). Share 0 is the main grid itself (the same configs,
    so the same stored runs)."""
    return _warmed(profile, backbone, shares, lambda **c: grid(profile, seeds, backbones=(backbone,), **c), **changes)


def _warmed(profile: str, backbone: str, shares, build, **changes) -> pd.DataFrame:
    """`build(**changes)` once per warm-up share, the learning rate ramped linearly from 0 over
    that share of the run (column `warmup`)."""
    epochs = protocol(profile, backbone, "baseline", **changes).epochs
    frames = []
    for share in shares:
        if not 0 <= share < 1:
            raise ValueError(f"a warm-up share must be in [0, 1), got {share!r}")
        frames.append(build(warmup_epochs=float(share) * epochs, **changes).assign(warmup=float(share)))
    return pd.concat(frames, ignore_index=True)


def chapter_grids(profile: str) -> dict[str, pd.DataFrame]:
    """Every grid the chapter's notebooks train at their defaults, by name (NOTEBOOK_GRIDS says
    which notebook reads which); the notebooks build their cells with the same functions."""
    seeds = get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    return {"main": grid(profile, seeds), "gradients": gradient_grid(profile, seeds),
            "ablation": ablation_grid(profile, seeds, warmup_shares=(0.0, WARMUP_SHARE)),
            "noise": noise_grid(profile, seeds, warmup_shares=(0.0, WARMUP_SHARE)),
            "warmup": warmup_grid(profile, seeds, shares=(WARMUP_SHARE,))}


def gradient_grid(profile: str, seeds, backbone: str = "ResNet-32", **changes) -> pd.DataFrame:
    """DS and DKS runs with the branch_gradients probe at every evaluation."""
    return grid(profile, seeds, backbones=(backbone,), methods=("DS", "DKS"), probes=("branch_gradients",),
                **changes)
