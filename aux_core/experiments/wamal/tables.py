"""WAMAL's tables and figures from per-run frames: accuracy and Welch tables beside the paper's,
curves and their bands, the learnt weights (Figure 11, Figure 3, Section 6.2.3) and the meta-cost."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ... import data as data_lib
from ... import reference, stats
from ...config import RunConfig
from ...build import make_splits
from ..common import per_run_frame
from .cells import PAIRS, PAPER_EPOCHS, WELCH_TABLES


__all__ = ["per_run", "accuracy_table", "finished", "welch", "welch_table", "main_table", "finetune_rows", "curves",
           "curve_bands", "label_passes", "weights_frame", "class_weight_stats", "extreme_images", "epoch_seconds",
           "meta_cost"]

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
                     "std": ok.std(ddof=1) if len(ok) > 1 else np.nan, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def finished(runs: pd.DataFrame, label: str, arm: str, metric: str = "test_acc") -> pd.Series:
    """`metric` of the finished (not diverged) runs whose `label` column is `arm`."""
    return runs[(runs[label] == arm) & (runs["status"] == "ok")][metric]


def welch(a, b) -> dict:
    """mean(a) - mean(b) with its Welch 95% interval and two-sided p (Tables 7, 9, 11), in the one
    comparison schema (`stats.comparison`)."""
    return stats.comparison(np.asarray(a, float), np.asarray(b, float), paired=False)


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
        for col, printed in (("estimate", "delta"), ("lo", "ci_low"), ("hi", "ci_high"), ("p", "p")):
            row[f"paper_{col}"] = float(paper[printed]) if printed in paper else np.nan
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
        rows.append({label: name, "epoch": epoch, "mean": x.mean(), "lo": lo, "hi": hi, "seeds": len(x)})
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


