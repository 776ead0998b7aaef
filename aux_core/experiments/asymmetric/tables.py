"""What the chapter's tables report, from the runs: per-run rows, paired comparisons by seed, gradient
cosines (Tables 2/15), dynamics (Tables 3-4), attention (Table 14), and the tables beside the paper's."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ... import reference as ref
from ... import stats
from ...config import RunResult
from ..common import per_run_frame
from ..presentation import Shown, side_by_side
from .cells import ATTENTION_FRACTIONS, GAP_FRACTIONS

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
    std, relative improvement (%) as `estimate`, its 95% interval (`lo`, `hi`) (paired t interval of the differences, in
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
    """The one comparison schema (stats.comparison), relative to the baseline, paired by seed, with
    the standard error of the per-seed relative improvement (Figure 5's bars)."""
    out = stats.comparison(a, b, paired=True, relative=True)
    del out["n"]   # the row's `seeds` already counts the pairs, and `n` here is the number of branches
    out["rel_se"] = stats.sem(100 * (a / b - 1)) if len(a) > 1 and np.isfinite(out["estimate"]) else float("nan")
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


# ----------------------------------------------------------------------------- presentation

def beside_paper(cmp: pd.DataFrame, table: str, paper_row, index: list[str], dataset: str | None = None,
                 digits: int = 3) -> pd.DataFrame:
    """A `compare()` table beside the paper's (`presentation.side_by_side`): accuracies as mean ±
    std, relative improvement with our 95% interval, paired p-values. `paper_row(row)` gives the
    paper's row key."""
    shown = [Shown("plain", ("plain_mean", "plain_std"), ("plain", "plain_std"), digits),
             Shown("asymmetric", ("arm_mean", "arm_std"), ("asymmetric", "asymmetric_std"), digits),
             Shown("Δ (%)", ("estimate", "lo", "hi"), "improvement_pct", 1, signed=True),
             Shown("p", "p", "p_value", p=True)]
    return side_by_side(cmp, ref.wide("asymmetric", table, dataset=dataset), index, shown, paper_row, keep=("seeds",))
