"""The paper's protocol (Sections 3-4, Appendix C, Table 13) and the grids of cells its tables train;
the three-stage hyperparameter search of C.1."""
from __future__ import annotations

import functools
import math

import pandas as pd
import torch

from ... import data as data_lib
from ... import reference as ref
from ...config import RunConfig
from ...profiles import get_profile
from ...sweep import staged_search
from ..common import Cell, dataset_for, grid_frame

MODELS = {"MLP": "mlp6", "CNN": "cnn6", "ViT-6L": "vit6"}
CHAPTER = "asymmetric"
PAPER_SEEDS = tuple(range(42, 52))       # C.2: seeds 42-51
PAPER_EPOCHS = 200                       # C.2: final results
SEARCH_EPOCHS = 150                      # C.1: each search run
BRANCHES = (1, 7, 10, 20)                # Table 1
LANDSCAPE_BRANCHES = (1, 20, 300)        # Tables 5-6
LR_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)            # C.1 stage 1 (weight decay fixed at 1e-4)
WD_GRID = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)            # C.1 stage 2
ALPHA_GRID = (0.1, 0.215, 0.464, 1.0, 2.154, 4.642, 10.0, 21.544, 46.416, 100.0)  # C.1 stage 3
SEARCH_WD = 1e-4
BATCH = 128
VAL_FRACTION = 0.2
# Table 1's arms: plain, the method, and the symmetric control (the same branches trained with the
# main loss's softmax cross-entropy: homogeneous losses). "param-matched" (branches no loss reads)
# stays available, but trains exactly as plain, so it is no control.
ARMS = ("plain", "asymmetric", "symmetric")
ALL_ARMS = (*ARMS, "param-matched")
GAP_FRACTIONS = {"early": 10 / 200, "middle": 50 / 200, "late": 100 / 200}   # Table 4: epochs 10, 50, 100 of 200
ATTENTION_FRACTIONS = {20: 20 / 200, 60: 60 / 200, 100: 100 / 200}          # Table 14: epochs 20, 60, 100 of 200
FEW_SHOT = {  # table: (architecture, paper dataset, N, samples per class)
    "Table 7": ("MLP", "CIFAR-10", 1, (10, 50, 100, 500, 1000, 5000)),
    "Table 8": ("MLP", "CIFAR-100", 1, (5, 10, 20, 50, 100, 200, 500)),
    "Table 9": ("ViT-6L", "CIFAR-100", 20, (5, 10, 20, 50, 100, 200, 500)),
}
NOISE = {"Table 11": ("MLP", "CIFAR-10", 1), "Table 12": ("MLP", "CIFAR-100", 1)}
NOISE_RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# (grid points per axis, images); larger: the paper's 51, 500
LANDSCAPE_SIZE = {"smoke": (3, 32), "tiny": (7, 64), "cpu": (11, 250), "gpu": (25, 500)}


# ----------------------------------------------------------------------------- protocol

@functools.lru_cache(maxsize=None)
def table13(arch: str, n_branches: int) -> tuple[float, float, float]:
    """(learning rate, weight decay, alpha) of Table 13 for N_branches, or for the listed N
    nearest on a log scale when Table 13 has no row for it."""
    check_arch(arch)
    n = min(BRANCHES, key=lambda b: (abs(math.log(b) - math.log(n_branches)), b))
    row = f"N={n}|{arch}"
    return tuple(ref.value("asymmetric", "Table 13", row, c) for c in ("learning_rate", "weight_decay", "alpha"))


def check_arch(arch: str) -> None:
    if arch not in MODELS:
        raise ValueError(f"unknown architecture {arch!r}; the paper's are: {', '.join(MODELS)}")


def _class_counts(dataset: str) -> list[int]:
    """Training images of each class in the data as loaded (few-shot levels above it are skipped)."""
    return _counts_of(dataset, data_lib.load_dataset(dataset).checksum)


@functools.lru_cache(maxsize=None)
def _counts_of(dataset: str, checksum: str) -> list[int]:   # keyed on the data, not just its name
    return torch.bincount(data_lib.load_dataset(dataset).train.y).tolist()


def protocol(profile: str, arch: str, arm: str = "plain", *, n_branches: int = 1, lr: float, weight_decay: float,
             alpha: float = 1.0, activation: str = "last", dataset: str = "cifar10", seed: int = PAPER_SEEDS[0],
             epochs: int = PAPER_EPOCHS, train_per_class: int | None = None, val_fraction: float = VAL_FRACTION,
             **changes) -> RunConfig:
    """The paper's training protocol at a profile's size for one arm (plain, asymmetric, the
    symmetric control or param-matched). `train_per_class` overrides the profile's subset."""
    check_arch(arch)
    if arm not in ALL_ARMS:
        raise ValueError(f"arm {arm!r} is not one of: {', '.join(ALL_ARMS)}")
    p = get_profile(profile, CHAPTER)
    model = MODELS[arch]
    per_class = train_per_class if train_per_class is not None else p.train_per_class
    n_train = data_lib.train_size(dataset, per_class, val_fraction=val_fraction)
    batch = min(BATCH, n_train)
    run_epochs = p.epochs(epochs, model=model, n_train=n_train)
    total = run_epochs * (n_train // batch)
    n_evals = min(50, max(4, run_epochs))    # every epoch for 4-50 epochs; 4 or 50 evenly otherwise
    n_diags = min(50, max(5, total // 4))    # gradient diagnostics cost two extra backward passes each
    method_options = {"alpha": alpha, "n_branches": n_branches, "activation": activation}
    options = {"plain": {}, "asymmetric": method_options, "symmetric": {**method_options, "objective": "softmax"},
               "param-matched": {"n_branches": n_branches, "objective": "none"}}[arm]
    cfg = dict(dataset=dataset, train_per_class=per_class, test_per_class=p.test_per_class, val_fraction=val_fraction,
               augment="none", model=model, method="plain" if arm == "plain" else "asymmetric",
               method_options=options, optimizer="adamw", lr=lr, weight_decay=weight_decay, schedule="constant",
               epochs=run_epochs, batch_size=batch, eval_every=max(1, math.ceil(total / n_evals)),
               grad_diag_every=max(1, math.ceil(total / n_diags)),
               probes=("attention",) if model == "vit6" else (), seed=seed)
    cfg.update(changes)
    return RunConfig(**cfg)


def _cell(profile, arch, n, arm, seed, hp, before: dict | None = None, after: dict | None = None, **kw) -> Cell:
    """A Table 1 cell with its hyperparameters `hp` = (lr, wd, alpha); `before` and `after`:
    the table's own labels, placed around the shared ones."""
    lr, wd, alpha = hp
    cfg = protocol(profile, arch, arm, n_branches=n, lr=lr, weight_decay=wd, alpha=alpha, seed=seed, **kw)
    return Cell(cfg, **(before or {}), arch=arch, n=n, arm=arm, seed=seed, dataset_run=cfg.dataset, lr=lr,
                weight_decay=wd, alpha=alpha, **(after or {}))


def table1_cells(profile: str, seeds, *, archs=tuple(MODELS), branches=BRANCHES, arms=ARMS, cifar100: str = "auto",
                 epochs: int = PAPER_EPOCHS, hparams: dict | None = None) -> pd.DataFrame:
    """Table 1: every (architecture, N, arm, seed). `hparams` maps (arch, N) to (lr, wd, alpha);
    None: Table 13. The profile may narrow `branches` (cpu: the claims' N = 1 and 20)."""
    ds = dataset_for("CIFAR-100", cifar100)
    branches = get_profile(profile, CHAPTER).sized("branches", branches)
    rows = [_cell(profile, arch, n, arm, seed, (hparams or {}).get((arch, n)) or table13(arch, n),
                  dataset=ds, epochs=epochs)
            for arch in archs for n in branches for arm in arms for seed in seeds]
    return grid_frame(rows)


def cifar10_cells(profile: str, seeds, *, dataset: str = "cifar10", epochs: int = PAPER_EPOCHS) -> pd.DataFrame:
    """Tables 10 / 17: the three architectures at N = 1 on CIFAR-10."""
    rows = [_cell(profile, arch, 1, arm, seed, table13(arch, 1), dataset=dataset, epochs=epochs)
            for arch in MODELS for arm in ("plain", "asymmetric") for seed in seeds]
    return grid_frame(rows)


def all_active_cells(profile: str, seeds, *, n_branches: int = 3, cifar100: str = "auto",
                     epochs: int = PAPER_EPOCHS) -> pd.DataFrame:
    """Table 16: plain, one active and all active at N = 3."""
    ds = dataset_for("CIFAR-100", cifar100)
    rows = []
    for arch in MODELS:
        hp = table13(arch, n_branches)
        for seed in seeds:
            rows.append(_cell(profile, arch, n_branches, "plain", seed, hp, after={"variant": "plain"},
                              dataset=ds, epochs=epochs))
            for act in ("last", "all"):
                variant = "one active" if act == "last" else "all active"
                rows.append(_cell(profile, arch, n_branches, "asymmetric", seed, hp, after={"variant": variant},
                                  dataset=ds, epochs=epochs, activation=act))
    return grid_frame(rows)


def few_shot_cells(profile: str, seeds, *, tables=tuple(FEW_SHOT), cifar100: str = "auto",
                   epochs: int = PAPER_EPOCHS, samples: dict | None = None) -> pd.DataFrame:
    """Tables 7-9: plain and asymmetric at each samples-per-class level the profile allows
    (at most its training subset per class, and no more than each class has)."""
    cap = get_profile(profile, CHAPTER).train_per_class
    rows = []
    for table in tables:
        arch, paper_ds, n, levels = FEW_SHOT[table]
        ds = dataset_for(paper_ds, cifar100)
        have = min(_class_counts(ds))
        for k in (samples or {}).get(table, levels):
            if (cap is not None and k > cap) or k > have:
                continue
            for arm in ("plain", "asymmetric"):
                for seed in seeds:
                    rows.append(_cell(profile, arch, n, arm, seed, table13(arch, n),
                                      before={"table": table, "samples": k, "paper_dataset": paper_ds},
                                      dataset=ds, epochs=epochs, train_per_class=k, val_fraction=0.0))
    return grid_frame(rows)


def noise_cells(profile: str, seeds, *, tables=tuple(NOISE), rates=NOISE_RATES, cifar100: str = "auto",
                epochs: int = PAPER_EPOCHS) -> pd.DataFrame:
    """Tables 11-12: symmetric label noise on the training labels, MLP at N = 1."""
    rows = []
    for table in tables:
        arch, paper_ds, n = NOISE[table]
        ds = dataset_for(paper_ds, cifar100)
        for rate in rates:
            for arm in ("plain", "asymmetric"):
                for seed in seeds:
                    rows.append(_cell(profile, arch, n, arm, seed, table13(arch, n),
                                      before={"table": table, "noise": rate, "paper_dataset": paper_ds},
                                      dataset=ds, epochs=epochs, val_fraction=0.0, label_noise=rate))
    return grid_frame(rows)



# ----------------------------------------------------------------------------- the paper's own data

# The tables the paper ran on CIFAR-10 (its others are CIFAR-100's): offline they run on the
# paper's own data, so the findings page judges their rows as a second family (verdicts.py)
SAME_DATA_TABLES = {"Table 7": "table7", "Table 10": "table10", "Table 11": "table11"}   # table: its grid's name


def same_data_cells(profile: str, seeds, *, epochs: int = PAPER_EPOCHS) -> dict[str, pd.DataFrame]:
    """SAME_DATA_TABLES's grids, by table: the few-shot, CIFAR-10 and noise pages' cells, with the
    MLP's rows on the profile's seeds for cheap runs (`Profile.seeds(cheap=True)`; the pages show
    the first of them) and the CNN's and ViT-6L's on its usual ones. `seeds`: the paper's list."""
    p = get_profile(profile, CHAPTER)
    cheap, usual = p.seeds(seeds, cheap=True), p.seeds(seeds)
    table10 = pd.concat([cifar10_cells(profile, cheap, epochs=epochs).query("arch == 'MLP'"),
                         cifar10_cells(profile, usual, epochs=epochs).query("arch != 'MLP'")], ignore_index=True)
    return {"Table 7": few_shot_cells(profile, cheap, tables=("Table 7",), epochs=epochs),
            "Table 10": table10,
            "Table 11": noise_cells(profile, cheap, tables=("Table 11",), epochs=epochs)}


def paper_row(table: str, run) -> str:
    """The paper's row key (aux_core.reference) of a per-run or compared row of Table 1, 7-9, 10 or 11-12.
    The few-shot and noise tables fix their architecture, so their rows need not carry it."""
    if table in FEW_SHOT:
        return f"samples={run['samples']}|{FEW_SHOT[table][0]}"
    if table in NOISE:
        return f"noise={100 * run['noise']:.0f}%|{NOISE[table][0]}"
    if table == "Table 10":
        return f"N=1|{run['arch']}"
    if table == "Table 1":
        return f"N={run['n']}|{run['arch']}"
    raise ValueError(f"no row key for {table!r}; known: Table 1, {', '.join(FEW_SHOT)}, Table 10, {', '.join(NOISE)}")


# ----------------------------------------------------------------------------- search (C.1)

def search_hparams(profile: str, seed: int = PAPER_SEEDS[0], *, archs=tuple(MODELS), branches=BRANCHES,
                   cifar100: str = "auto", epochs: int = SEARCH_EPOCHS, lrs=LR_GRID, wds=WD_GRID,
                   alphas=ALPHA_GRID, progress: bool = True) -> tuple[dict, pd.DataFrame]:
    """The paper's "Pragmatic Gold Standard" (C.1): learning rate for the plain network at weight
    decay 1e-4, then its weight decay, both frozen, then alpha for each N; each stage keeps the
    best final validation accuracy. Returns ({(arch, N): (lr, wd, alpha)}, every trial)."""
    ds = dataset_for("CIFAR-100", cifar100)
    found, trials = {}, []
    for arch in archs:
        base = protocol(profile, arch, "plain", lr=lrs[0], weight_decay=SEARCH_WD, dataset=ds, seed=seed, epochs=epochs)
        plain = staged_search(base, [("lr", lrs), ("weight_decay", wds)], progress=progress, desc=f"{arch} plain")
        trials.append(plain.trials.assign(arch=arch, n=0))
        lr, wd = plain.best.lr, plain.best.weight_decay
        for n in branches:
            asym = protocol(profile, arch, "asymmetric", n_branches=n, lr=lr, weight_decay=wd, alpha=alphas[0],
                            dataset=ds, seed=seed, epochs=epochs)
            s = staged_search(asym, [("method_options.alpha", alphas)], progress=progress, desc=f"{arch} N={n}")
            trials.append(s.trials.assign(arch=arch, n=n))
            found[(arch, n)] = (lr, wd, s.best.method_options["alpha"])
    return found, pd.concat(trials, ignore_index=True)
