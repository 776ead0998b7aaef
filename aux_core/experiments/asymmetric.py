"""Asymmetric training with heterogeneous losses (paper 1): its protocol, experiment grids and
the analyses its tables report. The chapter's notebooks build on these functions, so two
notebooks that need the same run build the same `RunConfig` and share one cache record.

Protocol (Sections 3-4, Appendix C): AdamW at a constant learning rate, 200 epochs, seeds
42-51, the 50,000 training images split 80/20 into training and validation (stratified),
learning rate, weight decay and alpha from Table 13 (or the three-stage search of C.1,
`search_hparams`). The paper does not state the batch size or any augmentation; we use
batch 128 and none (its large generalisation gaps, up to 0.55, suggest none). Accuracy is the
final classifier's accuracy on the test split after the last epoch; the search selects on
the validation split. Comparisons are paired by seed (two-tailed paired t-test), as the paper.

Our readings where the paper is silent, all parameters of the functions below:
  * Tables 7-9 and 11-12 (few-shot, label noise) use each architecture's Table 1 setting:
    MLP at N = 1 and ViT-6L at N = 20 (Table 9 says 20x), with their Table 13 row; they train
    on the whole training pool (no validation split: nothing is selected) with batch
    min(128, training images).
  * Table 10 (CIFAR-10, N = 1) uses Table 13's N = 1 row; Table 16 (N = 3) the row of the
    nearest N on a log scale (N = 7), since its tuned values are not printed.
  * Convergence epoch (Table 3): the epoch of the best validation accuracy. Generalisation
    gap (Table 4): running training accuracy minus validation accuracy, at epochs 10, 50
    and 100 of the paper's 200, i.e. at 5%, 25% and 50% of a run of any length.
  * Attention (Table 14): the last block's class-token maps (`aux_core.analysis.attention`) at
    epochs 20, 60, 100 of 200 (10%, 30%, 50% of the run), ViT-6L at N = 20.
"""
from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pandas as pd
import torch

from .. import data as data_lib
from .. import reference as ref
from .. import ledger, stats
from ..analysis import landscape as landscape_lib
from ..cache import ResultsCache
from ..records import make_key
from ..loader import DeviceLoader
from ..profiles import get_profile
from ..provenance import collect
from ..sweep import staged_search
from ..config import RunConfig, RunResult
from ..devices import resolve_device
from .common import dataset_for, per_run_frame, run_grid

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
    _check_arch(arch)
    n = min(BRANCHES, key=lambda b: (abs(math.log(b) - math.log(n_branches)), b))
    row = f"N={n}|{arch}"
    return tuple(ref.value("asymmetric", "Table 13", row, c) for c in ("learning_rate", "weight_decay", "alpha"))


def _check_arch(arch: str) -> None:
    if arch not in MODELS:
        raise ValueError(f"unknown architecture {arch!r}; the paper's are: {', '.join(MODELS)}")


def _class_counts(dataset: str) -> list[int]:
    return _counts_of(dataset, data_lib.load_dataset(dataset).checksum)


@functools.lru_cache(maxsize=None)
def _counts_of(dataset: str, checksum: str) -> list[int]:   # keyed on the data, not just its name
    return torch.bincount(data_lib.load_dataset(dataset).train.y).tolist()


def _train_size(dataset: str, per_class: int | None, val_fraction: float) -> int:
    """Training images a config will see (for step counts before any run), as make_splits."""
    counts = _class_counts(dataset)
    left = [c - round(val_fraction * c) if val_fraction > 0 else c for c in counts]
    return per_class * len(counts) if per_class is not None else sum(left)


def protocol(profile: str, arch: str, arm: str = "plain", *, n_branches: int = 1, lr: float, weight_decay: float,
             alpha: float = 1.0, activation: str = "last", dataset: str = "cifar10", seed: int = PAPER_SEEDS[0],
             epochs: int = PAPER_EPOCHS, train_per_class: int | None = None, val_fraction: float = VAL_FRACTION,
             **changes) -> RunConfig:
    """The paper's training protocol at a profile's size for one arm (plain, asymmetric, the
    symmetric control or param-matched). `train_per_class` overrides the profile's subset."""
    _check_arch(arch)
    if arm not in ALL_ARMS:
        raise ValueError(f"arm {arm!r} is not one of: {', '.join(ALL_ARMS)}")
    p = get_profile(profile, CHAPTER)
    model = MODELS[arch]
    per_class = train_per_class if train_per_class is not None else p.train_per_class
    n_train = _train_size(dataset, per_class, val_fraction)
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


def _cell(profile, arch, n, arm, seed, hp, **kw) -> dict:
    lr, wd, alpha = hp
    cfg = protocol(profile, arch, arm, n_branches=n, lr=lr, weight_decay=wd, alpha=alpha, seed=seed, **kw)
    return {"arch": arch, "n": n, "arm": arm, "seed": seed, "dataset_run": cfg.dataset, "lr": lr,
            "weight_decay": wd, "alpha": alpha, "config": cfg}


def table1_cells(profile: str, seeds, *, archs=tuple(MODELS), branches=BRANCHES, arms=ARMS, cifar100: str = "auto",
                 epochs: int = PAPER_EPOCHS, hparams: dict | None = None) -> pd.DataFrame:
    """Table 1: every (architecture, N, arm, seed). `hparams` maps (arch, N) to (lr, wd, alpha);
    None: Table 13. The profile may narrow `branches` (cpu: the claims' N = 1 and 20)."""
    ds = dataset_for("CIFAR-100", cifar100)
    branches = get_profile(profile, CHAPTER).sized("branches", branches)
    rows = [_cell(profile, arch, n, arm, seed, (hparams or {}).get((arch, n)) or table13(arch, n),
                  dataset=ds, epochs=epochs)
            for arch in archs for n in branches for arm in arms for seed in seeds]
    return pd.DataFrame(rows)


def cifar10_cells(profile: str, seeds, *, dataset: str = "cifar10", epochs: int = PAPER_EPOCHS) -> pd.DataFrame:
    """Tables 10 / 17: the three architectures at N = 1 on CIFAR-10."""
    rows = [_cell(profile, arch, 1, arm, seed, table13(arch, 1), dataset=dataset, epochs=epochs)
            for arch in MODELS for arm in ("plain", "asymmetric") for seed in seeds]
    return pd.DataFrame(rows)


def all_active_cells(profile: str, seeds, *, n_branches: int = 3, cifar100: str = "auto",
                     epochs: int = PAPER_EPOCHS) -> pd.DataFrame:
    """Table 16: plain, one active and all active at N = 3."""
    ds = dataset_for("CIFAR-100", cifar100)
    rows = []
    for arch in MODELS:
        hp = table13(arch, n_branches)
        for seed in seeds:
            rows.append(_cell(profile, arch, n_branches, "plain", seed, hp, dataset=ds, epochs=epochs)
                        | {"variant": "plain"})
            for act in ("last", "all"):
                rows.append(_cell(profile, arch, n_branches, "asymmetric", seed, hp, dataset=ds, epochs=epochs,
                                  activation=act) | {"variant": "one active" if act == "last" else "all active"})
    return pd.DataFrame(rows)


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
                    rows.append({"table": table, "samples": k, "paper_dataset": paper_ds}
                                | _cell(profile, arch, n, arm, seed, table13(arch, n), dataset=ds, epochs=epochs,
                                        train_per_class=k, val_fraction=0.0))
    return pd.DataFrame(rows)


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
                    rows.append({"table": table, "noise": rate, "paper_dataset": paper_ds}
                                | _cell(profile, arch, n, arm, seed, table13(arch, n), dataset=ds, epochs=epochs,
                                        val_fraction=0.0, label_noise=rate))
    return pd.DataFrame(rows)


def chapter_grids(profile: str) -> dict[str, pd.DataFrame | list[dict]]:
    """Every grid the chapter's notebooks train (cells) or compute (landscape configs) at their
    defaults, by name (NOTEBOOK_GRIDS says which notebook reads which)."""
    seeds = get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    return {"table1": table1_cells(profile, seeds), "cifar10": cifar10_cells(profile, seeds),
            "few_shot": few_shot_cells(profile, seeds), "noise": noise_cells(profile, seeds),
            "all_active": all_active_cells(profile, seeds),
            "landscapes": landscape_configs(profile, seeds) + landscape_configs(profile, seeds, **TOTAL_LOSS_CONTROL)}


NOTEBOOK_GRIDS = {"table1": ("table1",), "gradients": ("table1",), "dynamics": ("table1",), "attention": ("table1",),
                  "few_shot": ("few_shot",), "noise": ("noise",), "cifar10": ("cifar10",),
                  "all_active": ("all_active",), "landscape": ("landscapes",), "overview": ("table1", "landscapes"),
                  "findings": ("table1", "landscapes"),
                  "statistics": ("table1", "cifar10", "few_shot", "noise", "all_active", "landscapes")}
LEDGER_NOTEBOOKS = ("overview", "findings")   # the notebooks that show the claims ledger (a test checks)


def landscape_from_config(config: dict, cache=None) -> dict:
    """The landscape record of one of `landscape_configs`' configs (what the campaign computes)."""
    arch = {m: a for a, m in MODELS.items()}[config["model"]]
    options = {k: config[k]
               for k in ("kind", "dataset", "grid", "samples", "seed", "span", "alpha", "loss", "data_seed")}
    return landscape(arch, config["n_branches"], **options, cache=cache)


ANALYSES = {"landscape": landscape_from_config}   # analysis name -> compute(config, cache)


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


# ----------------------------------------------------------------------------- per run, comparisons

def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: the cell's labels, status, accuracies and cost."""
    return per_run_frame(df, lambda res: {
        "test_acc": res.metrics["final_test_acc"], "val_acc": res.metrics.get("final_val_acc", np.nan),
        "train_acc": res.metrics["final_train_acc"], "epochs_run": res.metrics["epochs"],
        "train_images": res.metrics["train_images"]})


def compare(runs: pd.DataFrame, by, arm_col: str = "arm", baseline: str = "plain",
            metric: str = "test_acc") -> pd.DataFrame:
    """Per group (`by`) and arm against the baseline arm, paired by seed: means and sample
    std, relative improvement (%), its 95% interval (paired t interval of the differences, in
    percent of the baseline mean), the two-tailed paired t-test, Cohen's d (pooled std) and
    the standard error of the per-seed relative improvement (the paper's Figure 5 bars).
    Seeds where either run diverged are left out of the pairing and counted."""
    with warnings.catch_warnings():  # scipy warns when the differences are all equal; p is then NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return _compare(runs, list(by), arm_col, baseline, metric)


def _compare(runs, by, arm_col, baseline, metric) -> pd.DataFrame:
    rows = []
    for keys, group in runs.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        base = group[group[arm_col] == baseline].set_index("seed")[metric]
        for arm, g in group.groupby(arm_col, sort=False):
            if arm == baseline:
                continue
            other = g.set_index("seed")[metric]
            pair = pd.concat({"base": base, "arm": other}, axis=1).dropna()
            a, b = pair["arm"].to_numpy(), pair["base"].to_numpy()
            row = {**dict(zip(by, keys)), arm_col: arm, "seeds": len(pair),
                   "diverged": int(g["status"].ne("ok").sum()
                                   + group[group[arm_col] == baseline]["status"].ne("ok").sum()),
                   "plain_mean": b.mean() if len(b) else np.nan,
                   "plain_std": stats.mean_std(b)[1] if len(b) else np.nan,
                   "arm_mean": a.mean() if len(a) else np.nan, "arm_std": stats.mean_std(a)[1] if len(a) else np.nan}
            row.update(_paired(a, b))
            rows.append(row)
    return pd.DataFrame(rows)


def _paired(a: np.ndarray, b: np.ndarray) -> dict:
    nan = float("nan")
    if len(a) == 0 or b.mean() == 0:
        return dict(improvement_pct=nan, ci_lo=nan, ci_hi=nan, p=nan, d=nan, rel_se=nan)
    out = {"improvement_pct": stats.relative_improvement(a, b)}
    lo, hi = stats.ci95(a - b)
    out["ci_lo"], out["ci_hi"] = 100 * lo / b.mean(), 100 * hi / b.mean()
    spread = len(a) > 1 and (a - b).std() > 0
    out["p"] = stats.paired_ttest(a, b).p if spread else nan
    out["d"] = stats.cohens_d(a, b) if len(a) > 1 and (a.std() + b.std()) > 0 else nan
    out["rel_se"] = stats.sem(100 * (a / b - 1)) if len(a) > 1 else nan
    return out


def identical_to(runs: pd.DataFrame, arm: str, baseline: str = "plain", by=("arch", "n"),
                 metric: str = "test_acc") -> pd.DataFrame:
    """Largest absolute difference between an arm and the baseline, seed by seed (the
    parameter-matched control against plain: 0.0 when extra parameters change nothing)."""
    out = []
    for keys, g in runs.groupby(list(by), sort=False):
        x = g[g["arm"] == arm].set_index("seed")[metric]
        y = g[g["arm"] == baseline].set_index("seed")[metric]
        out.append({**dict(zip(by, keys if isinstance(keys, tuple) else (keys,))),
                    "max_abs_diff": float((x - y).abs().max())})
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------- gradients (Tables 2 / 15)

def cosine_curves(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of the main/auxiliary gradient cosine on the shared parameters over training."""
    parts = []
    for _, r in df.iterrows():
        res: RunResult = r["result"]
        d = res.diagnostics.dropna(subset=["cosine"])
        spe = res.metrics["steps"] / max(res.metrics["epochs"], 1e-12)
        parts.append(d.assign(arch=r["arch"], n=r["n"], seed=r["seed"], epoch=d["step"] / spe,
                              progress=d["step"] / max(res.metrics["steps"], 1)))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def cosine_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Per run: final, average, min and max cosine (the paper's Table 2 columns)."""
    g = curves.sort_values("step").groupby(["arch", "n", "seed"], sort=False)["cosine"]
    return pd.DataFrame({"final_sim": g.last(), "avg_sim": g.mean(), "min_sim": g.min(),
                         "max_sim": g.max()}).reset_index()


# ----------------------------------------------------------------------------- dynamics (Tables 3, 4)

def history(df: pd.DataFrame) -> pd.DataFrame:
    """Every evaluation of every run, with the generalisation gap (running train - val accuracy)."""
    parts = []
    for _, r in df.iterrows():
        h = r["result"].history.copy()
        if h.empty:
            continue
        h = h[[c for c in h.columns if not c.startswith("attn_maps")]]
        parts.append(h.assign(arch=r["arch"], n=r["n"], arm=r["arm"], seed=r["seed"],
                              progress=h["step"] / h["step"].max(), gap=h["train_acc"] - h["val_acc"]))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def at_fraction(h: pd.DataFrame, fraction: float) -> pd.Series:
    """The evaluation row nearest to `fraction` of a run (the first on ties)."""
    return h.iloc[int(np.argmin(np.abs(h["progress"].to_numpy() - fraction)))]


def dynamics(hist: pd.DataFrame) -> pd.DataFrame:
    """Per run: convergence epoch (best validation accuracy), final validation accuracy and
    the generalisation gap at the paper's early, middle and late epochs."""
    rows = []
    for (arch, n, arm, seed), h in hist.groupby(["arch", "n", "arm", "seed"], sort=False):
        h = h.sort_values("step").reset_index(drop=True)
        best = int(np.argmax(h["val_acc"].to_numpy()))
        row = {"arch": arch, "n": n, "arm": arm, "seed": seed, "convergence_epoch": float(h["epoch"].iloc[best]),
               "final_val_acc": float(h["val_acc"].iloc[-1]), "epochs": float(h["epoch"].iloc[-1])}
        for phase, f in GAP_FRACTIONS.items():
            r = at_fraction(h, f)
            row[f"gap_{phase}"], row[f"gap_{phase}_epoch"] = float(r["gap"]), float(r["epoch"])
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- attention (Table 14)

def attention_table(hist: pd.DataFrame, block: int | None = None) -> pd.DataFrame:
    """Per run and paper epoch (20, 60, 100 of 200): the attention metrics of one block (the
    last by default) at the nearest evaluation."""
    cols = [c for c in hist.columns if c.startswith("attn_peak_L")]
    if not cols:
        return pd.DataFrame()
    block = block or max(int(c.rsplit("L", 1)[1]) for c in cols)
    rows = []
    for (arch, n, arm, seed), h in hist.groupby(["arch", "n", "arm", "seed"], sort=False):
        h = h.sort_values("step").reset_index(drop=True)
        for paper_epoch, f in ATTENTION_FRACTIONS.items():
            r = at_fraction(h, f)
            rows.append({"arch": arch, "n": n, "arm": arm, "seed": seed, "paper_epoch": paper_epoch,
                         "epoch": float(r["epoch"]), "block": block,
                         **{m: float(r[f"attn_{m}_L{block}"]) for m in ("peak", "entropy", "gini", "coverage")}})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- loss landscape (Tables 5, 6)

def landscape_size(profile: str, grid: int = 51, samples: int = 500) -> tuple[int, int]:
    """Grid points per axis and images per point at a profile (the paper: 51 and 500)."""
    get_profile(profile, CHAPTER)
    g, s = LANDSCAPE_SIZE.get(profile, (grid, samples))
    return min(g, grid), min(s, samples)


def landscape_batch(dataset: str, samples: int, data_seed: int = 0):
    """`samples` training images picked with `data_seed`, normalised as training sees them."""
    from ..loader import Batch
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
    _check_arch(arch)
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
    from ..checks import is_int, is_number
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


# ----------------------------------------------------------------------------- claims

def relative_gains(runs: pd.DataFrame, arch: str, n: int, arm: str = "asymmetric",
                   baseline: str = "plain") -> np.ndarray:
    """Per seed, paired: 100 (arm - baseline) / mean(baseline) in test accuracy, the paper's
    relative improvement seed by seed (its mean is `compare()`'s improvement_pct); seeds where
    either run diverged are left out."""
    g = runs[(runs["arch"] == arch) & (runs["n"] == n) & (runs["status"] == "ok")]
    pair = pd.concat({a: g[g["arm"] == a].set_index("seed")["test_acc"] for a in (baseline, arm)}, axis=1).dropna()
    return (100 * (pair[arm] - pair[baseline]) / pair[baseline].mean()).to_numpy() if len(pair) else np.array([])


def claims_ledger(runs: pd.DataFrame, cosines: pd.DataFrame, changes: pd.DataFrame, attention: pd.DataFrame,
                  where: dict[str, str], *, profile: str = "", alpha: float = 0.05) -> pd.DataFrame:
    """The paper's headline claims judged by the ledger kit (aux_core.ledger) on per-seed values,
    Holm-corrected across them. Inputs: `per_run()` of Table 1's runs, `cosine_summary()` of its
    N = 20 runs, `landscape_changes()`, `attention_table()` of the ViT-6L N = 20 runs; `where`
    says what each kind of measurement ran on ("table1", "gradients", "landscape", "attention")."""
    claims, judged = [], []

    def add(cid, text, source, paper, values, on, magnitude=True):
        values = np.asarray(values, float)
        claims.append(ledger.Claim(cid, text, source, "difference", paper, profile=profile, data=on))
        judged.append(ledger.judge("difference", values, paper=paper, magnitude=magnitude, alpha=alpha) if len(values)
                      else ledger.undecidable("difference", 0, "not measured at this profile"))

    for arch, n in (("ViT-6L", 20), ("CNN", 1), ("MLP", 1)):
        paper = ref.value("asymmetric", "Table 1", f"N={n}|{arch}", "improvement_pct")
        add(f"table1-{arch}-{n}", f"{arch} at N = {n}: asymmetric training changes test accuracy by {paper:+.1f}% "
            "(relative, paired by seed)", "Table 1", paper, relative_gains(runs, arch, n), where.get("table1", ""))
    for arch in ("ViT-6L", "CNN"):
        # The paper's thesis puts the effect in the heterogeneity of the losses, so the same branches
        # trained with softmax cross-entropy (our symmetric control) should not give it: the sign of
        # Table 1's N = 20 effect, asymmetric against symmetric. The paper states no size for it.
        sign = np.sign(ref.value("asymmetric", "Table 1", f"N=20|{arch}", "improvement_pct"))
        add(f"heterogeneity-{arch}", f"{arch} at N = 20: the effect needs heterogeneous losses: asymmetric "
            f"{'beats' if sign > 0 else 'trails'} the same branches trained with softmax cross-entropy (relative, "
            "paired by seed; our control)", "Sections 1 and 3 (the thesis)", float(sign),
            relative_gains(runs, arch, 20, baseline="symmetric"), where.get("table1", ""), magnitude=False)
    for arch in ("ViT-6L", "CNN"):
        paper = ref.value("asymmetric", "Table 2", arch, "avg_sim")
        v = cosines[cosines["arch"] == arch]["avg_sim"] if len(cosines) else []
        add(f"cosine-{arch}", f"{arch}: average cosine between main and auxiliary gradients is {paper:+.4f}", "Table 2",
            paper, v, where.get("gradients", ""))
    paper = ref.value("asymmetric", "Table 5", "N=300|MLP", "std_loss_change_pct", dataset="CIFAR-10")
    for kind, text in (("paper", f"300 branches smooth the MLP's initial landscape: Std(loss) {paper:+.1f}%"),
                       (TOTAL_LOSS_KIND, "the smoothing survives filter-normalised directions over the parameters "
                                         "the loss reads, with the total training loss (main + auxiliary; our "
                                         "control): Std(loss) falls")):
        v = (changes[(changes["arch"] == "MLP") & (changes["n"] == 300)
                     & (changes["kind"] == kind)]["std_loss_change_pct"]
             if len(changes) else [])
        add(f"landscape-{kind.split(',')[0]}", text, "Table 5", paper, v,
            where.get("landscape", "") + f", {kind} directions", magnitude=kind == "paper")
    plain_cov = ref.value("asymmetric", "Section 4.4.3", "N=20|ViT-6L", "object_coverage_plain")
    asym_cov = ref.value("asymmetric", "Section 4.4.3", "N=20|ViT-6L", "object_coverage_asymmetric")
    diff = []
    if len(attention):
        late = attention[attention["paper_epoch"] == max(ATTENTION_FRACTIONS)]
        pv = late.pivot_table(index="seed", columns="arm", values="coverage")
        diff = (100 * (pv.get("asymmetric") - pv.get("plain")).dropna()
                if {"plain", "asymmetric"} <= set(pv.columns) else [])
    add("attention", f"ViT-6L at N = 20 covers more of the object: {asym_cov:.1f}% vs {plain_cov:.1f}% (points)",
        "Section 4.4.3", asym_cov - plain_cov, diff,
        where.get("attention", "") + "; coverage of a spectral-residual saliency map (our definition)")
    return ledger.table(claims, ledger.correct(judged, alpha))


# ----------------------------------------------------------------------------- presentation

def mean_std_text(mean: float, std: float, digits: int) -> str:
    """"mean ± std" at `digits` decimals ("—" for no value, the mean alone without a spread)."""
    if not np.isfinite(mean):
        return "—"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if np.isfinite(std) else f"{mean:.{digits}f}"


def side_by_side(cmp: pd.DataFrame, table: str, paper_row, index: list[str], dataset: str | None = None,
                 digits: int = 3) -> pd.DataFrame:
    """A `compare()` table beside the paper's: accuracies as mean ± std, relative improvement
    with our 95% interval, paired p-values. `paper_row(row)` gives the paper's row key."""
    paper = ref.wide("asymmetric", table, dataset=dataset)

    def pv(key, col):
        ok = key in paper.index and col in paper.columns and np.isfinite(paper.loc[key, col])
        return float(paper.loc[key, col]) if ok else np.nan

    rows = []
    for _, r in cmp.iterrows():
        key = paper_row(r)
        imp, p = pv(key, "improvement_pct"), pv(key, "p_value")
        rows.append({**{i: r[i] for i in index},
                     "paper plain": mean_std_text(pv(key, "plain"), pv(key, "plain_std"), digits),
                     "paper asymmetric": mean_std_text(pv(key, "asymmetric"), pv(key, "asymmetric_std"), digits),
                     "paper Δ (%)": f"{imp:+.1f}" if np.isfinite(imp) else "—",
                     "paper p": f"{p:.4f}" if np.isfinite(p) else "—",
                     "ours plain": mean_std_text(r["plain_mean"], r["plain_std"], digits),
                     "ours asymmetric": mean_std_text(r["arm_mean"], r["arm_std"], digits),
                     "ours Δ (%) [95% CI]": (f"{r['improvement_pct']:+.1f} [{r['ci_lo']:+.1f}, {r['ci_hi']:+.1f}]"
                                             if np.isfinite(r["ci_lo"]) else f"{r['improvement_pct']:+.1f}"),
                     "ours p": f"{r['p']:.4f}" if np.isfinite(r["p"]) else "—", "seeds": r["seeds"]})
    return pd.DataFrame(rows).set_index(index)


def summary(profile: str, seeds, *, epochs: int = PAPER_EPOCHS, cifar100: str = "auto", n_branches: int = 20,
            grid: int = 51, samples: int = 500, progress: bool = True) -> dict:
    """Everything the claims ledger reads, computed (or fetched from the cache) exactly as the
    chapter's table notebooks do: Table 1's comparison, the gradient cosines and attention
    metrics of its N = `n_branches` runs, and the MLP's landscapes."""
    cells = table1_cells(profile, seeds, cifar100=cifar100, epochs=epochs)
    trained = run_grid(cells, progress, "Table 1 runs")
    runs = per_run(trained)
    table1 = compare(runs, ["arch", "n"])
    at_n = trained[trained["n"] == n_branches]
    cosines = cosine_summary(cosine_curves(at_n[at_n["arm"] == "asymmetric"]))
    vit = at_n[(at_n["arch"] == "ViT-6L") & at_n["arm"].isin(["plain", "asymmetric"])]
    attn = attention_table(history(vit))
    lands = landscape_grid(profile, seeds, archs=("MLP",), cifar100=cifar100, grid=grid, samples=samples,
                           progress=progress)
    total = total_loss_control(profile, seeds, cifar100=cifar100, grid=grid, samples=samples, progress=progress)
    changes = landscape_changes(pd.concat([lands, total], ignore_index=True))
    first = trained["result"].iloc[0]
    ran = (f"{first.config['dataset']}, {len(seeds)} seeds, {first.metrics['epochs']:.0f} epochs of "
           f"{first.metrics['train_images']} images")
    g, s = landscape_size(profile, grid, samples)
    where = {"table1": ran, "gradients": f"{ran}, N = {n_branches}",
             "landscape": f"{lands['dataset_run'].iloc[0]}, {len(seeds)} seeds, {g}x{g} grid, {s} images",
             "attention": f"{ran}, N = {n_branches}, last block at the run's end"}
    return {"runs": runs, "table1": table1, "cosines": cosines, "attention": attn, "landscapes": lands,
            "changes": changes, "ledger": claims_ledger(runs, cosines, changes, attn, where, profile=profile),
            "where": where}


def chapter_ledger(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """The claims ledger at `profile` with the overview page's defaults (the runs and landscapes
    through the results cache)."""
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    return summary(profile, seeds, progress=progress)["ledger"]
