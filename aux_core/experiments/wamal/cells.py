"""WAMAL's protocol (Table 18, Section 5.2) and its grids: one RunConfig per paper row and seed,
sized by a profile; a cell is a row of labels with its `config`."""
from __future__ import annotations

import pandas as pd

from ... import data as data_lib
from ...config import RunConfig
from ...methods import method_options as option_defaults
from ...profiles import get_profile
from ..common import Cell, grid_frame

__all__ = ["CHAPTER", "BACKBONES", "FINETUNED", "FINETUNE_EPOCHS", "FINETUNE_BATCH", "METHODS", "META", "DATASETS",
           "LABEL_LR", "PAPER_SEEDS", "PAPER_EPOCHS", "PAPER_STEP", "R_GRID", "ADAM_LRS", "PAIRS", "WELCH_TABLES",
           "run_dataset", "step_size_for", "protocol", "grid", "backbone_grid", "finetune_grid", "finetune_ready",
           "range_grid", "weight_norm_grid", "SCALE_CONTROL", "WEIGHT_CEILING", "control_arms", "scale_grid",
           "optimizer_grid", "aux_set_grid", "AXES", "SCRATCH_RESNET", "sized", "scratch_resnet",
           "chapter_grids"]

CHAPTER = "wamal"
BACKBONES = {"VGG16": "vgg16", "ResNet18": "resnet18", "ResNet50": "resnet50"}
# Table 1's fine-tuning rows: torchvision's ImageNet-pretrained networks (Table 17: 75 epochs;
# CIFAR-10 at 32 px, batch 256). Their weights live in <data dir>/weights (aux_core.models.pretrained).
FINETUNED = {"ResNet50": "resnet50_tv", "ViT-B/16": "vit_b16"}
FINETUNE_EPOCHS = 75
FINETUNE_BATCH = {"CIFAR-10": 256}  # Table 17 (CUB-200, Pets, Food-101 at 224 px: 64; not offline here)
METHODS = {"Single Task": "single_task", "Human": "human_aux", "MAXL": "maxl", "WAMAL": "wamal",
           "AuxiLearn": "auxilearn"}
META = ("MAXL", "WAMAL", "AuxiLearn")  # the methods with a label(-weight) network
DATASETS = {"CIFAR-10": "cifar10", "CIFAR-100-20": "cifar100-20", "SVHN": "svhn"}
# Section 5.2 (ResNet18: Table 18's default)
LABEL_LR = {"VGG16": 1e-3, "ResNet18": 1e-3, "ResNet50": 1e-2, "ViT-B/16": 1e-3}
PAPER_SEEDS = (0, 1, 2)           # Tables 6-11: n = 3
PAPER_EPOCHS = 200
PAPER_STEP = 50                   # StepLR period (epochs) of both optimisers
R_GRID = (0.0, 1.25, 2.5, 5.0, 10.0, 20.0, 40.0)                       # Table 13
ADAM_LRS = (2.5e-5, 5e-5, 1.2e-4, 3.125e-4, 6.25e-4, 1.25e-3, 2.5e-3, 5e-3, 1e-2, 2e-2, 4e-2)  # Table 15
PAIRS = (("Single Task", "MAXL"), ("Single Task", "WAMAL"), ("MAXL", "WAMAL"))  # Tables 7, 9, 11
WELCH_TABLES = {"CIFAR-100-20": "Table 7", "CIFAR-10": "Table 9", "SVHN": "Table 11"}


# ----------------------------------------------------------------------------- protocol

def run_dataset(dataset: str) -> str:
    """aux_core's name of a paper dataset; a clear error where its data are not here."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown WAMAL dataset {dataset!r}; available: {', '.join(DATASETS)}")
    name = DATASETS[dataset]
    if not data_lib.available(name):
        raise data_lib.DataError(f"{dataset} ({name}) is not in the data directory; use dataset='CIFAR-10' (offline "
                                 "here) or add its bundle (data/README.md) or allow the torchvision download")
    return name


def step_size_for(epochs: int, paper_epochs: int = PAPER_EPOCHS) -> int:
    """Table 18's StepLR period (50 epochs of the paper's 200, or of 75 when fine-tuning) at
    the same share of a shorter run."""
    return max(1, round(PAPER_STEP * epochs / paper_epochs))


def protocol(profile: str, method: str = "WAMAL", backbone: str = "VGG16", label_backbone: str | None = None,
             dataset: str = "CIFAR-10", optimizer: str = "sgd", lr: float = 0.01, aux_set: bool | None = None,
             epochs: int | None = None, method_options: dict | None = None, pretrained: bool = False,
             **changes) -> RunConfig:
    """One run of the paper's protocol at a profile's size. `method` is one of METHODS' labels,
    `backbone` the primary network and `label_backbone` the label-weight network's (Table 12;
    None: the same), `optimizer` "sgd" or "adam" (Table 15: Adam is AdamW with weight decay 0),
    `aux_set` the 10% auxiliary set of Tables 3-5 (held out of the primary pass; None: the
    method's default, which is on for AuxiLearn only), `epochs` a length other than the
    profile's cap of the paper's 200 (the StepLR period follows). `pretrained`: fine-tune
    torchvision's ImageNet weights (FINETUNED backbones, both networks; 75 epochs, Table 17's batch)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    models = FINETUNED if pretrained else BACKBONES
    for b in (backbone, label_backbone or backbone):
        if b not in models:
            raise ValueError(f"unknown WAMAL {'fine-tuning ' if pretrained else ''}backbone {b!r}; "
                             f"available: {', '.join(models)}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    meta = method in META
    if (label_backbone is not None or aux_set is not None) and not meta:
        raise ValueError(f"label_backbone and aux_set apply to {', '.join(META)}, not {method!r}")
    if aux_set is None:
        aux_set = meta and bool(option_defaults(METHODS[method])["aux_set"])
    p = get_profile(profile, CHAPTER)
    if epochs is not None and not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be an integer >= 1 (or None: the profile's cap), got {epochs!r}")
    paper_epochs = FINETUNE_EPOCHS if pretrained else PAPER_EPOCHS
    epochs = epochs or p.epochs(paper_epochs)
    step = step_size_for(epochs, paper_epochs)
    options = dict(method_options or {})
    if meta:
        label = label_backbone or backbone
        options = {"meta_lr": LABEL_LR[label], "meta_step_size": step,
                   **({"label_model": models[label]} if label_backbone else {}),
                   "aux_set": aux_set, **options}
    defaults = option_defaults(METHODS[method])  # options at their default are left out: same key, same run
    options = {k: v for k, v in options.items() if k not in defaults or defaults[k] != v}
    if pretrained and dataset not in FINETUNE_BATCH:
        raise ValueError(f"fine-tuning runs on {', '.join(FINETUNE_BATCH)} here, not {dataset!r}")
    batch = FINETUNE_BATCH[dataset] if pretrained else 100
    if p.train_per_class is not None and p.train_per_class * 10 < batch:
        batch = 100  # a profile's subset smaller than one of Table 17's batches (smoke: 200 images)
    cfg = dict(dataset=run_dataset(dataset), augment="crop_flip", model=models[backbone],
               model_options={"pretrained": True} if pretrained else {}, method=METHODS[method],
               method_options=options, optimizer="sgd" if optimizer == "sgd" else "adamw", lr=lr, momentum=0.0,
               weight_decay=0.0, schedule="step", step_size=step, gamma=0.5, epochs=epochs,
               batch_size=batch, val_fraction=0.1 if aux_set else 0.0,
               seed=PAPER_SEEDS[0], **p.data())
    cfg.update(changes)
    return RunConfig(**cfg)


def grid(profile: str, seeds, methods=("Single Task", "MAXL", "WAMAL"), backbones=("VGG16",), dataset="CIFAR-10",
         **changes) -> pd.DataFrame:
    """One row per run (backbone, method, seed) with its RunConfig."""
    rows = []
    for b in backbones:
        for m in methods:
            for seed in seeds:
                cfg = protocol(profile, m, b, dataset=dataset, seed=seed, **changes)
                rows.append(Cell(cfg, dataset=dataset, backbone=b, method=m, seed=seed))
    return grid_frame(rows)


def backbone_grid(profile: str, seeds, backbones=tuple(BACKBONES), dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 12: WAMAL for every (label-weight backbone, primary backbone) pair, plus each
    primary backbone alone (the "Single Task" row)."""
    rows = []
    for primary in backbones:
        for seed in seeds:
            cfg = protocol(profile, "Single Task", primary, dataset=dataset, seed=seed, **changes)
            rows.append(Cell(cfg, label_backbone="Single Task", backbone=primary, seed=seed))
            for label in backbones:
                cfg = protocol(profile, "WAMAL", primary, label_backbone=label if label != primary else None,
                               dataset=dataset, seed=seed, **changes)
                rows.append(Cell(cfg, label_backbone=label, backbone=primary, seed=seed))
    return grid_frame(rows, dataset=dataset, method="WAMAL")


def finetune_grid(profile: str, seeds, methods=("Single Task", "MAXL", "WAMAL"), backbones=("ResNet50",),
                  dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 1's fine-tuning row that can run here: ImageNet-pretrained ResNet50 on CIFAR-10
    (needs torchvision's weights file in <data dir>/weights; making the configs checks it)."""
    rows = [Cell(protocol(profile, m, b, dataset=dataset, seed=seed, pretrained=True, **changes), dataset=dataset,
                 backbone=f"{b} (ImageNet)", method=m, seed=seed)
            for b in backbones for m in methods for seed in seeds]
    return grid_frame(rows)


def finetune_ready(backbone: str = "ResNet50") -> bool:
    """Whether the pretrained weights of a fine-tuning backbone are in the data directory."""
    from ...models.pretrained import WEIGHTS, weights_path
    return weights_path(WEIGHTS[FINETUNED[backbone]].url).exists()


def range_grid(profile: str, seeds, r_values=R_GRID, dataset="CIFAR-10", maxl_at_r0: bool = True,
               **changes) -> pd.DataFrame:
    """Table 13: WAMAL on VGG16 over the weight range r (weights in [2^-r, 2^r]). At r = 0 every
    weight is 1 and WAMAL is MAXL, bit for bit (a test checks): those cells are MAXL's runs, the
    ones Table 1 trains, not a second copy (`maxl_at_r0=False`: WAMAL's own, as the H100 runs were)."""
    def config(r, s):
        if r == 0 and maxl_at_r0:
            return protocol(profile, "MAXL", dataset=dataset, seed=s, **changes)
        return protocol(profile, "WAMAL", dataset=dataset, seed=s, method_options={"r": float(r)}, **changes)
    rows = [Cell(config(r, s), r=float(r), seed=s) for r in r_values for s in seeds]
    return grid_frame(rows, dataset=dataset, backbone="VGG16", method="WAMAL")


def weight_norm_grid(profile: str, seeds, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 14: WAMAL with and without batch weight normalisation (mean weight 1)."""
    rows = [Cell(protocol(profile, "WAMAL", dataset=dataset, seed=s, method_options={"weight_norm": norm}, **changes),
                 variant="WAMAL (Weight Normalised)" if norm else "WAMAL", seed=s)
            for norm in (False, True) for s in seeds]
    return grid_frame(rows, dataset=dataset, backbone="VGG16", method="WAMAL")


SCALE_CONTROL = "MAXL (constant weight 2^r)"
WEIGHT_CEILING = 2.0 ** option_defaults("wamal")["r"]   # WAMAL's largest weight 2^r at its default r (32)


def control_arms(main: pd.DataFrame, controls: pd.DataFrame | None) -> pd.DataFrame:
    """Table 1's runs (`arm` = method) beside the weight-scale controls (`arm` = variant), whose
    plain WAMAL runs are Table 1's own and are left out, so no run counts twice."""
    parts = [main.assign(arm=main["method"])]
    if controls is not None and len(controls):
        parts.append(controls[controls["variant"] != "WAMAL"].assign(arm=lambda d: d["variant"]))
    return pd.concat(parts, ignore_index=True)


def scale_grid(profile: str, seeds, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Our control for WAMAL's weights, which approach their ceiling 2^r within a few epochs
    (the H100 runs: mean 30.8 of 32 after three label passes): MAXL with every auxiliary
    sample weighted 2^r. If WAMAL's gain over MAXL were the larger auxiliary loss, this
    would match it; per-sample weighting is the rest."""
    rows = [Cell(protocol(profile, "MAXL", dataset=dataset, seed=s, method_options={"aux_weight": WEIGHT_CEILING},
                          **changes), variant=SCALE_CONTROL, seed=s) for s in seeds]
    return grid_frame(rows, dataset=dataset, backbone="VGG16", method="MAXL")


def optimizer_grid(profile: str, seeds, adam_lrs=ADAM_LRS, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 15: WAMAL on VGG16 with SGD at lr 0.01 and with Adam over a learning-rate sweep."""
    rows = [Cell(protocol(profile, "WAMAL", dataset=dataset, seed=s, **changes), optimizer="SGD", lr=0.01, seed=s)
            for s in seeds]
    rows += [Cell(protocol(profile, "WAMAL", dataset=dataset, optimizer="adam", lr=float(lr), seed=s, **changes),
                  optimizer="Adam", lr=float(lr), seed=s)
             for lr in adam_lrs for s in seeds]
    return grid_frame(rows, dataset=dataset, backbone="VGG16", method="WAMAL")


def aux_set_grid(profile: str, seeds, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Tables 3-4: WAMAL with its label pass on the whole training set and on a held-out
    10% auxiliary set, and AuxiLearn with and without one, beside MAXL and single-task."""
    rows = []
    for label, method, aux in (("Single Task", "Single Task", None), ("MAXL", "MAXL", False),
                               ("WAMAL", "WAMAL", False), ("WAMAL w/ Aux Set", "WAMAL", True),
                               ("AuxiLearn", "AuxiLearn", True), ("AuxiLearn w/o Aux Set", "AuxiLearn", False)):
        for s in seeds:
            rows.append(Cell(protocol(profile, method, dataset=dataset, aux_set=aux, seed=s, **changes), variant=label,
                             seed=s))
    return grid_frame(rows, dataset=dataset, backbone="VGG16")


# ----------------------------------------------------------------------------- profile caps

# The long sweeps are narrowed at the small profiles (profiles.CHAPTER_SIZES says how).
AXES = ("r_values", "adam_lrs", "backbones")
# Table 1's CIFAR-10 row is a ResNet50 (fine-tuned there, from scratch here); at cpu the
# from-scratch ResNet is a ResNet18 (a ResNet50 run costs 5 VGG16 runs on two cores)
SCRATCH_RESNET = {"smoke": None, "tiny": "ResNet18", "cpu": "ResNet18"}


def sized(profile: str, name: str, values) -> tuple:
    """A grid axis at a profile: the values that profile's cap keeps (the first value where
    none of them is asked for), or all of them where it has no cap."""
    if name not in AXES:
        raise ValueError(f"unknown grid axis {name!r}; available: {', '.join(AXES)}")
    return get_profile(profile, CHAPTER).sized(name, values)


def scratch_resnet(profile: str) -> str | None:
    """The backbone of the from-scratch ResNet row of Table 1 at a profile (None: not run)."""
    get_profile(profile, CHAPTER)
    return SCRATCH_RESNET.get(profile, "ResNet50")


def chapter_grids(profile: str, seeds=None, dataset: str = "CIFAR-10", **changes) -> dict[str, pd.DataFrame]:
    """Every grid the chapter's notebooks train at their defaults, by name (the notebooks build
    the same cells; the profile caps the long sweeps as they do)."""
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    resnet = scratch_resnet(profile)   # none at smoke, as main_table trains it
    return {"main": grid(profile, seeds, dataset=dataset, **changes),
            "resnet": (grid(profile, seeds, backbones=(resnet,), dataset=dataset, **changes) if resnet
                       else grid_frame([])),
            "backbones": backbone_grid(profile, seeds, sized(profile, "backbones", BACKBONES), dataset=dataset,
                                       **changes),
            "ranges": range_grid(profile, seeds, sized(profile, "r_values", R_GRID), dataset=dataset, **changes),
            "weight_norm": weight_norm_grid(profile, seeds, dataset=dataset, **changes),
            "scale": scale_grid(profile, seeds, dataset=dataset, **changes),
            "optimizers": optimizer_grid(profile, seeds, sized(profile, "adam_lrs", ADAM_LRS), dataset=dataset,
                                         **changes),
            "aux_set": aux_set_grid(profile, seeds, dataset=dataset, **changes)}
