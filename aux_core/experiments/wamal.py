"""The WAMAL paper's experiments (weight-aware meta auxiliary learning, with MAXL, human
auxiliary labels and the single-task baseline): the protocol, its grids, and the tables,
curves, weight analyses and claims ledger the notebooks under notebooks/wamal/ show.

Protocol (Table 18 and Section 5.2): batch 100, primary SGD lr 0.01 (no momentum, no weight
decay: Table 18 lists none, and MAXL's release uses plain SGD), label-weight net SGD lr 1e-3
(ResNet-50: 1e-2) with weight decay 5e-4, both halved every 50 of 200 epochs, psi 5, r 5,
entropy 0.2, focal loss (gamma 2) on every head, pad-4 crop and horizontal flip. A profile
caps the epochs; the StepLR period keeps its share of the run (a quarter). Accuracy is the
top-1 test accuracy of the primary head at the end of training (the released code picks
the best epoch on the test set; we do not).

The paper's from-scratch rows are SVHN and CIFAR-100-20, which are not offline here: every
function takes the dataset as a parameter and runs CIFAR-10 (psi 5, no human row) unless
asked otherwise. Reference numbers come from `aux_core.reference` ("wamal").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .. import data as data_lib
from .. import ledger, reference, stats
from ..methods import method_options as option_defaults
from ..profiles import get_profile
from ..config import RunConfig
from ..train import make_splits
from .common import per_run_frame, run_grid

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
                rows.append({"dataset": dataset, "backbone": b, "method": m, "seed": seed, "config": cfg})
    return pd.DataFrame(rows)


def backbone_grid(profile: str, seeds, backbones=tuple(BACKBONES), dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 12: WAMAL for every (label-weight backbone, primary backbone) pair, plus each
    primary backbone alone (the "Single Task" row)."""
    rows = []
    for primary in backbones:
        for seed in seeds:
            cfg = protocol(profile, "Single Task", primary, dataset=dataset, seed=seed, **changes)
            rows.append({"label_backbone": "Single Task", "backbone": primary, "seed": seed, "config": cfg})
            for label in backbones:
                cfg = protocol(profile, "WAMAL", primary, label_backbone=label if label != primary else None,
                               dataset=dataset, seed=seed, **changes)
                rows.append({"label_backbone": label, "backbone": primary, "seed": seed, "config": cfg})
    return pd.DataFrame(rows).assign(dataset=dataset, method="WAMAL")


def finetune_grid(profile: str, seeds, methods=("Single Task", "MAXL", "WAMAL"), backbones=("ResNet50",),
                  dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 1's fine-tuning row that can run here: ImageNet-pretrained ResNet50 on CIFAR-10
    (needs torchvision's weights file in <data dir>/weights; making the configs checks it)."""
    rows = [{"dataset": dataset, "backbone": f"{b} (ImageNet)", "method": m, "seed": seed,
             "config": protocol(profile, m, b, dataset=dataset, seed=seed, pretrained=True, **changes)}
            for b in backbones for m in methods for seed in seeds]
    return pd.DataFrame(rows)


def finetune_ready(backbone: str = "ResNet50") -> bool:
    """Whether the pretrained weights of a fine-tuning backbone are in the data directory."""
    from ..models.pretrained import WEIGHTS, weights_path
    return weights_path(WEIGHTS[FINETUNED[backbone]].url).exists()


def range_grid(profile: str, seeds, r_values=R_GRID, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 13: WAMAL on VGG16 over the weight range r (weights in [2^-r, 2^r])."""
    rows = [{"r": float(r), "seed": s, "config": protocol(profile, "WAMAL", dataset=dataset, seed=s,
                                                           method_options={"r": float(r)}, **changes)}
            for r in r_values for s in seeds]
    return pd.DataFrame(rows).assign(dataset=dataset, backbone="VGG16", method="WAMAL")


def weight_norm_grid(profile: str, seeds, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 14: WAMAL with and without batch weight normalisation (mean weight 1)."""
    rows = [{"variant": "WAMAL (Weight Normalised)" if norm else "WAMAL", "seed": s,
             "config": protocol(profile, "WAMAL", dataset=dataset, seed=s, method_options={"weight_norm": norm},
                                **changes)}
            for norm in (False, True) for s in seeds]
    return pd.DataFrame(rows).assign(dataset=dataset, backbone="VGG16", method="WAMAL")


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
    rows = [{"variant": SCALE_CONTROL, "seed": s,
             "config": protocol(profile, "MAXL", dataset=dataset, seed=s, method_options={"aux_weight": WEIGHT_CEILING},
                                **changes)} for s in seeds]
    return pd.DataFrame(rows).assign(dataset=dataset, backbone="VGG16", method="MAXL")


def optimizer_grid(profile: str, seeds, adam_lrs=ADAM_LRS, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Table 15: WAMAL on VGG16 with SGD at lr 0.01 and with Adam over a learning-rate sweep."""
    rows = [{"optimizer": "SGD", "lr": 0.01, "seed": s,
             "config": protocol(profile, "WAMAL", dataset=dataset, seed=s, **changes)}
            for s in seeds]
    rows += [{"optimizer": "Adam", "lr": float(lr), "seed": s,
              "config": protocol(profile, "WAMAL", dataset=dataset, optimizer="adam", lr=float(lr), seed=s, **changes)}
             for lr in adam_lrs for s in seeds]
    return pd.DataFrame(rows).assign(dataset=dataset, backbone="VGG16", method="WAMAL")


def aux_set_grid(profile: str, seeds, dataset="CIFAR-10", **changes) -> pd.DataFrame:
    """Tables 3-4: WAMAL with its label pass on the whole training set and on a held-out
    10% auxiliary set, and AuxiLearn with and without one, beside MAXL and single-task."""
    rows = []
    for label, method, aux in (("Single Task", "Single Task", None), ("MAXL", "MAXL", False),
                               ("WAMAL", "WAMAL", False), ("WAMAL w/ Aux Set", "WAMAL", True),
                               ("AuxiLearn", "AuxiLearn", True), ("AuxiLearn w/o Aux Set", "AuxiLearn", False)):
        for s in seeds:
            rows.append({"variant": label, "seed": s,
                         "config": protocol(profile, method, dataset=dataset, aux_set=aux, seed=s, **changes)})
    return pd.DataFrame(rows).assign(dataset=dataset, backbone="VGG16")


# ----------------------------------------------------------------------------- per run

def _late_mean(h: pd.DataFrame, column: str, fraction: float) -> float:
    k = max(1, int(np.ceil(fraction * len(h))))
    return float(h[column].tail(k).mean()) if len(h) else float("nan")


def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: final test accuracy (fraction), test cross-entropy, the mean over the
    last 7.5% of epochs (Table 13's last 15 of 200), seconds per epoch, status."""
    def measures(res) -> dict:
        ok, nan = res.status == "ok", float("nan")
        late = 15 / PAPER_EPOCHS
        return {"dataset_run": res.config["dataset"],
                "test_acc": res.metrics["final_test_acc"] if ok else nan,
                "test_loss": res.metrics["final_test_loss"] if ok else nan,
                "late_acc": _late_mean(res.history, "test_acc", late) if ok else nan,
                "late_loss": _late_mean(res.history, "test_loss", late) if ok else nan,
                "epochs": res.metrics["epochs"],
                "seconds_per_epoch": res.metrics["train_time_s"] / max(res.metrics["epochs"], 1e-9)}
    return per_run_frame(df, measures)


def accuracy_table(runs: pd.DataFrame, by=("method",), metric: str = "test_acc") -> pd.DataFrame:
    """Per group: runs, diverged runs, mean ± sample std (n - 1, as Tables 6-11) and the 95% t
    interval of the mean, over the runs that finished."""
    rows = []
    for key, g in runs.groupby(list(by), sort=False):
        ok = g[g["status"] == "ok"][metric].dropna()
        lo, hi = stats.ci95(ok) if len(ok) > 1 else (np.nan, np.nan)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "runs": len(g),
                     "diverged": int((g["status"] != "ok").sum()), "mean": ok.mean() if len(ok) else np.nan,
                     "std": ok.std(ddof=1) if len(ok) > 1 else np.nan, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def finished(runs: pd.DataFrame, label: str, arm: str, metric: str = "test_acc") -> pd.Series:
    """`metric` of the finished (not diverged) runs whose `label` column is `arm`."""
    return runs[(runs[label] == arm) & (runs["status"] == "ok")][metric]


def welch(a, b) -> dict:
    """mean(a) - mean(b) with its Welch 95% interval and two-sided p (Tables 7, 9, 11)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    out = {"delta": float(a.mean() - b.mean()) if len(a) and len(b) else np.nan, "ci_low": np.nan,
           "ci_high": np.nan, "p": np.nan}
    if len(a) > 1 and len(b) > 1 and (a.std() > 0 or b.std() > 0):
        out["ci_low"], out["ci_high"] = stats.welch_interval(a, b)
        out["p"] = stats.welch_ttest(a, b).p
    return out


def welch_table(runs: pd.DataFrame, pairs=PAIRS, label: str = "method", metric: str = "test_acc",
                paper_dataset: str | None = None) -> pd.DataFrame:
    """The paper's Welch comparisons "A vs B" (delta = A - B) over finished runs, beside the
    paper's Table 7/9/11 row for `paper_dataset` where it has one."""
    ref = reference.load("wamal")
    ref = ref[(ref["table"] == WELCH_TABLES.get(paper_dataset, "")) & (ref["dataset"] == (paper_dataset or ""))]
    rows = []
    for a, b in pairs:
        xa, xb = finished(runs, label, a, metric), finished(runs, label, b, metric)
        if not len(xa) or not len(xb):
            continue
        row = {"comparison": f"{a} vs {b}", **welch(xa, xb)}
        paper = ref[ref["row"] == f"{a} vs {b}"].set_index("column")["value"]
        for col in ("delta", "ci_low", "ci_high", "p"):
            row[f"paper_{col}"] = float(paper[col]) if col in paper else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def main_table(runs: pd.DataFrame, paper_dataset: str = "CIFAR-100-20") -> pd.DataFrame:
    """Table 1's comparison for our runs (per backbone and method: mean ± std, 95% CI) with
    the paper's nearest row beside it: VGG16 on `paper_dataset` (the from-scratch protocol),
    and for a ResNet the paper's ResNet50 CIFAR-10 row (fine-tuned from ImageNet, as our
    "ResNet50 (ImageNet)" runs are and our from-scratch ResNets are not)."""
    acc = accuracy_table(runs, by=("backbone", "method"))
    ref = reference.load("wamal")
    ref = ref[ref["table"] == "Table 1"]
    resnet = ("CIFAR-10", "ResNet50", "fine-tuned")  # the paper's only ResNet row; ours, any ResNet from scratch
    where = {"VGG16": (paper_dataset, "VGG16", "from scratch"), "ResNet18": resnet, "ResNet50": resnet,
             "ResNet50 (ImageNet)": resnet}
    rows = []
    for b, m in zip(acc["backbone"], acc["method"]):
        d, row, how = where.get(b, (None, None, ""))
        hit = ref[(ref["dataset"] == d) & (ref["row"] == row) & (ref["column"] == m)]
        rows.append({"paper_row": f"{row}, {d} ({how})" if len(hit) else "",
                     "paper": float(hit["value"].iloc[0]) if len(hit) else np.nan,
                     "paper_std": float(hit["std"].iloc[0]) if len(hit) else np.nan})
    return pd.concat([acc, pd.DataFrame(rows, index=acc.index)], axis=1)


def finetune_rows() -> pd.DataFrame:
    """Table 1's fine-tuning rows (ImageNet-pretrained ResNet-50 and ViT-B/16), which need
    pretrained weights and datasets that are not offline here: the paper's numbers only."""
    ref = reference.load("wamal")
    ref = ref[(ref["table"] == "Table 1") & ~ref["row"].eq("VGG16")]
    out = ref.pivot_table(index=["dataset", "row"], columns="column", values="value", sort=False)
    return (out[[c for c in ("Single Task", "MAXL", "WAMAL") if c in out]].reset_index()
            .rename(columns={"row": "backbone"}))


# ----------------------------------------------------------------------------- curves

def curves(runs: pd.DataFrame, label: str = "method") -> pd.DataFrame:
    """Test accuracy (fraction) and test loss per evaluation of every run (Figures 2, 10, 12-16)."""
    frames = []
    for _, r in runs.iterrows():
        h = r["result"].history
        if len(h):
            frames.append(pd.DataFrame({label: r[label], "seed": r["seed"], "epoch": h["epoch"],
                                        "test_acc": h["test_acc"], "test_loss": h["test_loss"]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def curve_bands(curve: pd.DataFrame, label: str = "method", metric: str = "test_acc") -> pd.DataFrame:
    """Per (label, epoch): mean over seeds and its 95% t interval (Figure 10's bands)."""
    rows = []
    for (name, epoch), g in curve.groupby([label, "epoch"], sort=False):
        x = g[metric].dropna()
        lo, hi = stats.ci95(x) if len(x) > 1 else (np.nan, np.nan)
        rows.append({label: name, "epoch": epoch, "mean": x.mean(), "ci_low": lo, "ci_high": hi, "seeds": len(x)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- learnt weights

def label_passes(runs: pd.DataFrame, keys=("r", "seed")) -> pd.DataFrame:
    """Every label pass of every MAXL/WAMAL run: look-ahead primary loss, label entropy,
    weight mean/std and the label-weight gradient norms (appendix A.12)."""
    rows = []
    for _, r in runs.iterrows():
        for p in r["result"].metrics.get("extras", {}).get("label_passes", []):
            rows.append({**{k: r[k] for k in keys if k in r.index}, "status": r["result"].status, **p})
    return pd.DataFrame(rows)


def weights_frame(runs: pd.DataFrame, keys=("seed",)) -> pd.DataFrame:
    """One row per (run, training image): its index in the training split, primary label,
    unscaled weight-head output u in (0, 1) and weight 2^(r(2u - 1)) (Figure 11)."""
    frames = []
    for _, r in runs.iterrows():
        w = r["result"].metrics.get("extras", {}).get("weights")
        if w:
            frames.append(pd.DataFrame({**{k: r[k] for k in keys if k in r.index}, "index": np.arange(len(w["y"])),
                                        "y": w["y"], "unit": w["unit"], "weight": w["weight"]}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def class_weight_stats(weights: pd.DataFrame, class_names=None) -> pd.DataFrame:
    """Section 6.2.3's recommendation: per primary class, the learnt weights' mean, std,
    median and share above 1 (the auxiliary loss amplified), over runs and images."""
    g = weights.groupby("y")["weight"]
    out = pd.DataFrame({"images": g.size(), "mean": g.mean(), "std": g.std(), "median": g.median(),
                        "above_1": g.apply(lambda w: float((w > 1).mean()))}).reset_index()
    if class_names is not None:
        out.insert(1, "class", [class_names[i] for i in out["y"]])
    return out.sort_values("mean", ascending=False).reset_index(drop=True)


def extreme_images(result, k: int = 8) -> dict:
    """Figure 3: the k highest- and k lowest-weighted training images of one WAMAL run, as
    uint8 arrays (k, 32, 32, 3) with their labels and weights."""
    w = result.metrics.get("extras", {}).get("weights")
    if not w:
        raise ValueError("this run kept no weights (a WAMAL run with record_weights=True keeps them)")
    cfg = RunConfig(**result.config)
    train = make_splits(cfg, data_lib.load_dataset(cfg.dataset))[0]
    order = np.argsort(np.asarray(w["weight"]))
    out = {}
    for name, idx in (("highest", order[::-1][:k].copy()), ("lowest", order[:k])):
        x = train.x[torch.as_tensor(idx)].cpu().numpy()
        out[name] = {"images": x.transpose(0, 2, 3, 1) if x.shape[1] == 3 else x, "y": train.y[idx].cpu().numpy(),
                     "weight": np.asarray(w["weight"])[idx]}
    return out


# ----------------------------------------------------------------------------- meta-cost

def epoch_seconds(df: pd.DataFrame) -> pd.DataFrame:
    """Per run: seconds of one primary epoch (training time outside the label passes, warm-up
    step excluded, per epoch) and of one label pass (MAXL/WAMAL; NaN otherwise)."""
    rows = []
    for _, r in df.iterrows():
        res = r["result"]
        passes = res.metrics.get("extras", {}).get("label_passes", [])
        label_s = sum(p.get("seconds", 0.0) for p in passes)
        epochs = max(res.metrics["epochs"], 1e-9)
        rows.append({"method": r["method"], "seed": r["seed"], "status": res.status,
                     "device": res.provenance.get("device", ""), "train_images": res.metrics["train_images"],
                     "primary_epoch_s": (res.metrics["train_time_s"] - label_s) / epochs,
                     "label_pass_s": label_s / len(passes) if passes else float("nan")})
    return pd.DataFrame(rows)


def meta_cost(seconds: pd.DataFrame) -> pd.DataFrame:
    """Per device and method: seconds of a whole epoch (primary pass, plus the label pass for
    MAXL/WAMAL) and its ratio to a single-task epoch on the same device and data."""
    s = seconds[seconds["status"] == "ok"].assign(epoch_s=lambda d: d["primary_epoch_s"] + d["label_pass_s"].fillna(0))
    out = (s.groupby(["device", "train_images", "method"], sort=False)
           [["primary_epoch_s", "label_pass_s", "epoch_s"]].mean())
    out = out.reset_index()
    base = out[out["method"] == "Single Task"].set_index(["device", "train_images"])["epoch_s"]
    out["vs_single_task"] = [e / base.get((d, n), np.nan) for d, n, e in
                             zip(out["device"], out["train_images"], out["epoch_s"])]
    return out


# ----------------------------------------------------------------------------- claims ledger

CLASSES = {"CIFAR-10": 10, "CIFAR-100-20": 20, "SVHN": 10}


def collapsed(ranges: pd.DataFrame, r: float) -> np.ndarray:
    """1 for each run at weight range r that collapsed (diverged, or ended within 1.5x of
    chance accuracy), else 0."""
    g = ranges[ranges["r"] == r]
    chance = 1 / g["dataset"].map(CLASSES).fillna(10)
    return ((g["status"] != "ok") | (g["test_acc"] <= 1.5 * chance)).to_numpy(float)


def collapse(ranges: pd.DataFrame, r: float) -> float:
    """Percent of the runs at weight range r that collapsed (NaN when there are none)."""
    v = collapsed(ranges, r)
    return float(100 * v.mean()) if len(v) else float("nan")


def claims_ledger(main: pd.DataFrame, ranges: pd.DataFrame | None = None,
                  optimizers: pd.DataFrame | None = None, controls: pd.DataFrame | None = None, *,
                  profile: str = "", alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's headline claims (percentage points) judged by the ledger kit (aux_core.ledger)
    on per-run test accuracies, Welch intervals as the paper's tests, Holm-corrected across them.
    `main` is per_run of the Table 1 grid, `ranges` of the r grid, `optimizers` of Table 15's,
    `controls` of the weight-scale controls (Table 14's normalised WAMAL and `scale_grid`, by
    `variant`)."""
    ref = reference.load("wamal")
    def val(t, d, r, c):
        return float(ref[(ref["table"] == t) & (ref["dataset"] == d) & (ref["row"] == r)
                         & (ref["column"] == c)]["value"].iloc[0])
    claims, judged = [], []

    def acc(runs, label, arm):
        return 100 * finished(runs, label, arm).to_numpy(float)

    def data_of(runs):
        return f"{', '.join(sorted(set(runs['dataset'])))}, {runs['seed'].nunique()} seeds" if len(runs) else ""

    def add(cid, text, source, kind, paper, judgement, on):
        claims.append(ledger.Claim(cid, text, source, kind, paper, profile=profile, data=on))
        judged.append(judgement)

    def diff(cid, text, source, paper, runs, label, a, b, magnitude=True):
        xa, xb = acc(runs, label, a), acc(runs, label, b)
        j = (ledger.judge("difference", xa, xb, paper=paper, alpha=alpha, magnitude=magnitude)
             if len(xa) and len(xb) else
             ledger.undecidable("difference", 0, f"not run at this profile ({a} or {b} has no finished run)"))
        add(cid, text, source, "difference", paper, j, data_of(runs))

    c100 = main[main["dataset"] == "CIFAR-100-20"]
    level = val("Abstract", "CIFAR-100-20", "WAMAL", "test_accuracy")
    w = acc(c100, "method", "WAMAL")
    add("level", f"WAMAL reaches {level:.1f}% on CIFAR100-20 with VGG16", "Abstract; Table 1", "difference", level,
        ledger.judge("difference", w, paper=level, alpha=alpha) if len(w) else
        ledger.undecidable("difference", 0, "not run: CIFAR-100 is not offline here"), "CIFAR-100-20" if len(w) else "")
    human = val("Abstract", "CIFAR-100-20", "WAMAL vs Human", "gain")
    if (main["method"] == "Human").any():
        diff("vs-human", f"WAMAL beats human auxiliary labels by {human:+.1f} pp", "Abstract", human, main, "method",
             "WAMAL", "Human")
    else:
        add("vs-human", f"WAMAL beats human auxiliary labels by {human:+.1f} pp", "Abstract", "difference", human,
            ledger.undecidable("difference", 0, "not run: needs a label hierarchy (CIFAR-100-20)"), "")
    maxl = val("Abstract", "CIFAR-100-20", "WAMAL vs MAXL", "gain")
    diff("vs-maxl", f"WAMAL beats MAXL by {maxl:+.1f} pp", "Abstract", maxl, main, "method", "WAMAL", "MAXL")
    # Is the gain per-sample weighting or the larger auxiliary loss the weights bring? The paper
    # does not ask; its claim needs both controls to trail WAMAL (or to beat MAXL) on its side.
    arms = control_arms(main, controls)
    diff("scale-control", "the gain is per-sample weighting, not scale: WAMAL beats MAXL with every auxiliary weight "
         f"2^r = {WEIGHT_CEILING:g}, the ceiling WAMAL's weights approach (our control)", "Abstract; Table 14", 1.0,
         arms, "arm", "WAMAL", SCALE_CONTROL, magnitude=False)
    diff("weight-norm-control", "with batch-normalised weights (mean weight 1, per-sample differences kept) WAMAL "
         "still beats MAXL (our control)", "Table 14", 1.0, arms, "arm", "WAMAL (Weight Normalised)", "MAXL",
         magnitude=False)
    gain = round(100 * (val("Table 1", "CIFAR-100-20", "VGG16", "WAMAL") - val("Table 1", "CIFAR-100-20", "VGG16",
                                                                              "Single Task")), 2)
    diff("vs-single", f"WAMAL beats single-task learning by {gain:+.2f} pp", "Table 1, CIFAR100-20", gain, main,
         "method", "WAMAL", "Single Task")
    if ranges is not None and len(ranges):
        r = ranges.assign(r=ranges["r"].map(lambda v: f"r={v:g}"))
        def paper(k):
            return val("Table 13", "CIFAR-100-20", k, "accuracy")
        diff("r5-r0", "dynamic weights beat fixed ones: accuracy r=5 - r=0", "Table 13",
             round(paper("r=5") - paper("r=0"), 2), r, "r", "r=5", "r=0")
        arms = {k: acc(r, "r", k) for k in dict.fromkeys(r["r"])}
        arms = {k: v for k, v in arms.items() if len(v)}
        add("r5-peak", "accuracy peaks at r = 5 among the r tried", "Table 13", "rank", ["r=5"],
            ledger.judge("rank", arms, paper=["r=5"]) if "r=5" in arms and len(arms) > 1 else
            ledger.undecidable("rank", 0, "r = 5 and another r are needed"), data_of(r))
        c40, c5 = collapsed(ranges, 40.0), collapsed(ranges, 5.0)
        add("r40-collapse", f"r = 40 collapses (Table 13: {paper('r=40'):g}% accuracy, chance on 20 classes): share of "
            "runs that diverged or ended within 1.5x chance, r=40 - r=5", "Table 13", "proportion", 1.0,
            ledger.judge("proportion", c40, c5, paper=1.0, alpha=alpha) if len(c40) and len(c5) else
            ledger.undecidable("proportion", 0, "r = 40 or r = 5 not run"), data_of(r))
    if optimizers is not None and len(optimizers):
        o = optimizers.assign(arm=[f"{a}|{lr:g}" for a, lr in zip(optimizers["optimizer"], optimizers["lr"])])
        arms = {k: v for k in dict.fromkeys(o["arm"]) if len(v := acc(o, "arm", k))}
        add("sgd-best", "SGD (lr 0.01) beats Adam at every learning rate tried", "Table 15", "rank", ["SGD|0.01"],
            ledger.judge("rank", arms, paper=["SGD|0.01"]) if "SGD|0.01" in arms and len(arms) > 1 else
            ledger.undecidable("rank", 0, "SGD and an Adam rate are needed"), data_of(o))
    return ledger.table(claims, ledger.correct(judged, alpha))


def chapter_results(profile: str, seeds=None, dataset: str = "CIFAR-10", r_values=R_GRID, adam_lrs=ADAM_LRS,
                    progress: bool = True) -> dict:
    """Every run the claims ledger reads (Table 1's methods, the r ablation, the optimiser
    sweep), through the results cache: the notebooks that show each of them build the same
    configurations, so the ledger trains nothing they have trained."""
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    r_values, adam_lrs = sized(profile, "r_values", r_values), sized(profile, "adam_lrs", adam_lrs)
    main = per_run(run_grid(grid(profile, seeds, dataset=dataset), progress, "WAMAL Table 1"))
    ranges = per_run(run_grid(range_grid(profile, seeds, r_values, dataset), progress, "WAMAL r ablation"))
    optim = per_run(run_grid(optimizer_grid(profile, seeds, adam_lrs, dataset), progress, "WAMAL optimisers"))
    controls = pd.concat([per_run(run_grid(g(profile, seeds, dataset), progress, "WAMAL weight-scale controls"))
                          for g in (weight_norm_grid, scale_grid)], ignore_index=True)
    return {"seeds": seeds, "main": main, "ranges": ranges, "optimizers": optim, "controls": controls,
            "ledger": claims_ledger(main, ranges, optim, controls, profile=profile)}


def chapter_ledger(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """The claims ledger at `profile` with the overview page's defaults (`chapter_results`)."""
    return chapter_results(profile, seeds, progress=progress)["ledger"]


# ----------------------------------------------------------------------------- the whole chapter

def chapter_grids(profile: str, seeds=None, dataset: str = "CIFAR-10", **changes) -> dict[str, pd.DataFrame]:
    """Every grid the chapter's notebooks train at their defaults, by name (the notebooks build
    the same cells; the profile caps the long sweeps as they do)."""
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    resnet = scratch_resnet(profile)   # none at smoke, as main_table trains it
    return {"main": grid(profile, seeds, dataset=dataset, **changes),
            "resnet": (grid(profile, seeds, backbones=(resnet,), dataset=dataset, **changes) if resnet
                       else pd.DataFrame({"config": []})),
            "backbones": backbone_grid(profile, seeds, sized(profile, "backbones", BACKBONES), dataset=dataset,
                                       **changes),
            "ranges": range_grid(profile, seeds, sized(profile, "r_values", R_GRID), dataset=dataset, **changes),
            "weight_norm": weight_norm_grid(profile, seeds, dataset=dataset, **changes),
            "scale": scale_grid(profile, seeds, dataset=dataset, **changes),
            "optimizers": optimizer_grid(profile, seeds, sized(profile, "adam_lrs", ADAM_LRS), dataset=dataset,
                                         **changes),
            "aux_set": aux_set_grid(profile, seeds, dataset=dataset, **changes)}


NOTEBOOK_GRIDS = {"main_table": ("main", "resnet"), "backbones": ("backbones",), "range": ("ranges",),
                  "ablations": ("main", "weight_norm", "scale", "optimizers", "aux_set"), "weights": ("main",),
                  "cost": ("main", "aux_set"), "overview": ("main", "ranges", "optimizers", "weight_norm", "scale"),
                  "findings": ("main", "ranges", "optimizers", "weight_norm", "scale", "aux_set")}
LEDGER_NOTEBOOKS = ("overview", "findings")   # the notebooks that show the claims ledger (a test checks)
ANALYSES: dict = {}                            # analysis name -> compute(config, cache): none here


def main(argv=None) -> None:
    import argparse

    from ..profiles import PROFILES

    def count(low, what):
        def parse(text):
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
            if not low <= value:
                raise argparse.ArgumentTypeError(f"{what} must be >= {low}, got {value}")
            return value
        return parse

    ap = argparse.ArgumentParser(description="Train the WAMAL chapter's grids into the results cache.")
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--grids", default="all", help=f"comma-separated, of: all, {', '.join(chapter_grids('smoke'))}, "
                    "finetune (ImageNet-pretrained ResNet50 on CIFAR-10: needs torchvision's weights, not in 'all')")
    ap.add_argument("--seeds", type=count(0, "--seeds"), default=0,
                    help=f"number of the paper's seeds, at most {len(PAPER_SEEDS)} (0: the profile's)")
    ap.add_argument("--epochs", type=count(1, "--epochs"), default=None,
                    help="training length (default: the profile's cap)")
    ap.add_argument("--workers", type=count(1, "--workers"), default=1,
                    help="processes sharing the device and the cache")
    args = ap.parse_args(argv)
    if args.seeds > len(PAPER_SEEDS):
        ap.error(f"--seeds must be at most {len(PAPER_SEEDS)} (the paper's seeds {list(PAPER_SEEDS)}), "
                 f"got {args.seeds}")
    names = None if args.grids == "all" else args.grids.split(",")
    known = [*chapter_grids("smoke"), "finetune"]
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        ap.error(f"unknown grid(s) {unknown}; available: all, {', '.join(known)}")
    seeds = list(PAPER_SEEDS[:args.seeds]) if args.seeds else None
    changes = {"epochs": args.epochs} if args.epochs else {}
    grids = chapter_grids(args.profile, seeds, **changes)
    if "finetune" in (names or []):
        try:
            grids["finetune"] = finetune_grid(args.profile,
                                              seeds or get_profile(args.profile, CHAPTER).seeds(PAPER_SEEDS), **changes)
        except data_lib.DataError as err:
            ap.error(str(err))
    from ..sweep import run_sweep
    run_sweep([c for n in (names or grids) for c in grids[n]["config"]], executor="local", workers=args.workers)


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


if __name__ == "__main__":
    main()
