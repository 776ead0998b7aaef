"""The DKS chapter's tables from the runs: per-run errors, paired differences in the one comparison
schema, curves and late errors, Proposition 1's gradient consistency, Table 6's designs."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import stats
from ... import data as data_lib
from ..common import COLLAPSE_FACTOR, collapsed, per_run_frame
from .cells import ABLATION

__all__ = ["per_run", "design_runs", "run_collapsed", "with_warmup", "paired_difference", "error_table", "curves",
           "late_errors", "gradient_consistency", "consistency_summary", "ablation_table", "collapse_note",
           "design_collapse_note", "warmup_effect", "loss_anatomy", "anatomy_table", "anatomy_note"]

def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: final top-1 test error and training error of C1 (percent), status."""
    return per_run_frame(df, lambda res: {"test_error": 100 * (1 - res.metrics["final_test_acc"]),
                                          "train_error": 100 * (1 - res.metrics["final_train_acc"])})


def run_collapsed(runs: pd.DataFrame) -> np.ndarray:
    """common.collapsed for each row of a per_run frame (1.0 where the run collapsed)."""
    return collapsed(runs["status"], 1 - runs["test_error"] / 100, runs["dataset_run"])


def design_runs(df: pd.DataFrame) -> pd.DataFrame:
    """per_run of an ablation grid with each `design` named as Table 6 names it (ABLATION's keys)."""
    pr = per_run(df)
    pr["design"] = pr["design"].map({v: k for k, v in ABLATION.items()})
    return pr


def collapse_note(runs: pd.DataFrame, label: str = "method", measures: str = "errors",
                  name_the_rest: bool = False) -> str:
    """A sentence naming the runs that collapsed (`common.collapsed`), per `label`, with the
    accuracy each ended at; "" when none did. Their `measures` (what the page tables) stay in
    the means and the tests: a collapse is what the method did at this length, and the sentence
    says so beside them. `name_the_rest`: also name the `label` values none of whose runs
    collapsed (where the contrast between them is the point, as among the ablation's designs)."""
    flag = run_collapsed(runs)
    if not flag.any():
        return ""
    hit = runs[flag.astype(bool)]
    parts, rest = [], []
    for name, g in runs.assign(collapsed=flag).groupby(label, sort=False):
        if g["collapsed"].any():
            accs = ", ".join(f"{100 - e:.1f}%" for e in g.loc[g["collapsed"] > 0, "test_error"])
            parts.append(f"{int(g['collapsed'].sum())} of {len(g)} {name} runs ({accs})")
        else:
            rest.append(str(name))
    dataset = hit["dataset_run"].iloc[0]
    chance = 100 / data_lib.NUM_CLASSES[dataset]
    return (f"Collapsed (diverged, or ended within {COLLAPSE_FACTOR:g}x chance, {chance:.0f}% on {dataset}): "
            f"{'; '.join(parts)}. Their {measures} are in the means and tests above: at this length the method "
            "failed to train them; where longer training would end, these runs cannot say."
            + (f" No run of {', '.join(rest)} collapsed." if name_the_rest and rest else ""))


# ----------------------------------------------------------------------------- what a collapse looks like

ANATOMY = ("loss_peak_x", "synergy_peak", "end_ce_chance", "end_synergy")


def loss_anatomy(cells: pd.DataFrame, early: float = 0.25, late: float = 0.1) -> pd.DataFrame:
    """Per run of `run_grid`'s output, what its logged loss terms did. Over the first `early`
    share of steps: the total loss's peak as a multiple of its first step's (`loss_peak_x`) and
    the matching term's peak (`synergy_peak`, DKS only). Over the last `late` share, averaged:
    C1's cross-entropy in units of a uniform guess's, ln K (`end_ce_chance`: 1 is chance), and
    the matching term (`end_synergy`: 0 when every classifier predicts the same). With the test
    error and whether the run collapsed (`common.collapsed`)."""
    def measures(res) -> dict:
        s = res.steps
        out = {"test_error": 100 * (1 - res.metrics["final_test_acc"]), **dict.fromkeys(ANATOMY, np.nan)}
        if not len(s):
            return out
        head, tail = s.iloc[: max(1, math.ceil(early * len(s)))], s.iloc[-max(1, math.ceil(late * len(s))):]
        out.update(loss_peak_x=head["loss"].max() / s["loss"].iloc[0],
                   end_ce_chance=tail["main"].mean() / math.log(data_lib.NUM_CLASSES[res.config["dataset"]]))
        if "synergy" in s:
            out.update(synergy_peak=head["synergy"].max(), end_synergy=tail["synergy"].mean())
        return out
    frame = per_run_frame(cells, measures)
    frame["collapsed"] = run_collapsed(frame) > 0
    return frame


def anatomy_table(anatomy: pd.DataFrame, by=("method",)) -> pd.DataFrame:
    """The loss anatomy's medians per `by` and collapsed or not, with the runs counted."""
    keys = [*by, "collapsed"]
    table = anatomy.groupby(keys, sort=False)[["test_error", *ANATOMY]].median()
    return table.assign(runs=anatomy.groupby(keys, sort=False).size()).reset_index()


def anatomy_note(anatomy: pd.DataFrame, method: str = "DKS") -> str:
    """Sentences on the loss anatomy (medians over runs): each method's early spike, `method`'s
    matching term, and what its collapsed runs ended at beside its runs that trained."""
    if not len(anatomy):
        return ""
    peak = anatomy.groupby("method", sort=False)["loss_peak_x"].median()
    text = ("In the first quarter of training the total loss peaked at " +
            ", ".join(f"{m} {v:.1f}x" for m, v in peak.items()) + " its first step's (median over runs)")
    own = anatomy[anatomy["method"] == method]
    if own["synergy_peak"].notna().any():
        text += f", {method}'s matching term at {own['synergy_peak'].median():.2f}"
    hit, rest = own[own["collapsed"]], own[~own["collapsed"]]
    if not len(hit):
        return text + "."
    text += (f". The {len(hit)} collapsed {method} run{'s' * (len(hit) > 1)} ended (last tenth of training) with "
             f"C1's cross-entropy at {hit['end_ce_chance'].median():.2f}x a uniform guess's")
    if hit["end_synergy"].notna().any():
        text += f" and the matching term at {hit['end_synergy'].median():.2f}"
    if len(rest):
        text += (f"; the {len(rest)} that trained at {rest['end_ce_chance'].median():.2f}x"
                 + (f" and {rest['end_synergy'].median():.2f}" if rest["end_synergy"].notna().any() else ""))
    ce, agree = hit["end_ce_chance"].median(), hit["end_synergy"].median()
    if abs(ce - 1) < 0.1 and np.isfinite(agree) and (not len(rest) or agree < rest["end_synergy"].median()):
        text += (f". {'They' if len(hit) > 1 else 'It'} ended predicting near-uniformly with the classifiers in "
                 "agreement: a consensus on chance satisfies the matching term")
    return text + "."


# ----------------------------------------------------------------------------- comparisons

def paired_difference(a, b) -> dict:
    """b - a over seeds paired by position (same seed: same backbone initialisation and data
    order), in the one comparison schema (`stats.comparison`)."""
    return stats.comparison(np.asarray(b, float), np.asarray(a, float), paired=True)


def error_table(runs: pd.DataFrame, reference: pd.DataFrame | None = None, by: str = "backbone",
                metric: str = "test_error", baseline: str = "baseline", label: str = "method") -> pd.DataFrame:
    """Per (`by`, `label`): error mean ± std over seeds (population std, as the paper), the
    paired difference to `baseline` with its 95% interval and p-value, and the paper's
    number where `reference` (columns row, column, value, std) has it."""
    rows = []
    for key, group in runs.groupby(by, sort=False):
        base = group[group[label] == baseline].sort_values("seed")
        for name, g in group.groupby(label, sort=False):
            g = g.sort_values("seed")
            ok = g["status"] == "ok"
            row = {by: key, label: name, "dataset_run": g["dataset_run"].iloc[0], "seeds": len(g),
                   "diverged": int((~ok).sum()), "error": g.loc[ok, metric].mean(),
                   "error_std": g.loc[ok, metric].std(ddof=0),
                   "estimate": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan, "d": np.nan}
            if name != baseline and len(base) == len(g) and ok.all():
                d = paired_difference(base[metric], g[metric])
                row.update({k: d[k] for k in ("estimate", "lo", "hi", "p", "d")})
            if reference is not None:
                hit = reference[(reference["row"] == key) & (reference["column"] == name)]
                row["paper"] = float(hit["value"].iloc[0]) if len(hit) else float("nan")
                row["paper_std"] = float(hit["std"].iloc[0]) if len(hit) else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


def warmup_effect(runs: pd.DataFrame) -> pd.DataFrame:
    """Per method and warm-up share > 0: its error with the warm-up minus without (share 0),
    paired by seed (error_table with the share as the arm)."""
    table = error_table(runs, by="method", label="warmup", baseline=0.0)
    return table[table["warmup"] > 0]


def curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Figure 7's data: per evaluation, training error (mean batch error since the previous
    evaluation, on augmented batches) and test error of C1, in percent."""
    frames = []
    for _, r in runs.iterrows():
        h = r["result"].history
        if not len(h):
            continue
        frames.append(pd.DataFrame({"backbone": r["backbone"], "method": r["method"], "seed": r["seed"],
                                    "epoch": h["epoch"], "train_error": 100 * (1 - h["train_acc"]),
                                    "test_error": 100 * (1 - h["test_acc"])}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def late_errors(curve: pd.DataFrame, fraction: float = 0.25) -> pd.DataFrame:
    """Per (backbone, method, seed): mean training and test error over the last `fraction`
    of the evaluations (Figure 7's reading: which method ends highest and lowest)."""
    def tail(g):
        k = max(1, int(np.ceil(fraction * len(g))))
        return g.sort_values("epoch").tail(k)[["train_error", "test_error"]].mean()
    return curve.groupby(["backbone", "method", "seed"], sort=False).apply(tail).reset_index()



def gradient_consistency(runs: pd.DataFrame) -> pd.DataFrame:
    """Long table of the probe: one row per (method, seed, epoch, tap, pair) with the mean
    per-image cosine and normalised squared difference of the two classifiers' gradients."""
    rows = []
    for _, r in runs.iterrows():
        h = r["result"].history
        for col in (c for c in h.columns if c.startswith("bgrad_cos:")):
            _, tap, pair = col.split(":")
            for epoch, cos, diff in zip(h["epoch"], h[col], h[f"bgrad_diff:{tap}:{pair}"]):
                rows.append({"method": r["method"], "seed": r["seed"], "epoch": epoch, "tap": tap,
                             "pair": pair, "cosine": cos, "difference": diff})
    return pd.DataFrame(rows)


def consistency_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per (tap, pair): each method's cosine and difference averaged over training, and DKS
    minus DS paired over seeds with its 95% interval."""
    per_seed = (long.groupby(["tap", "pair", "method", "seed"], sort=False)[["cosine", "difference"]].mean()
                .reset_index())
    rows = []
    for (tap, pair), g in per_seed.groupby(["tap", "pair"], sort=False):
        ds, dks = g[g["method"] == "DS"].sort_values("seed"), g[g["method"] == "DKS"].sort_values("seed")
        row = {"tap": tap, "pair": pair}
        for m in ("cosine", "difference"):
            row[f"{m} DS"], row[f"{m} DKS"] = ds[m].mean(), dks[m].mean()
            d = paired_difference(ds[m], dks[m])
            row[f"{m} DKS-DS"], row[f"{m} lo"], row[f"{m} hi"] = d["estimate"], d["lo"], d["hi"]
        rows.append(row)
    return pd.DataFrame(rows)



def ablation_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 6's comparison from a DKS grid over the ABLATION designs: error per warm-up share
    and design, and its paired difference to the original branches at the same share."""
    return error_table(with_warmup(design_runs(runs)), by="warmup", label="design", baseline="Original")


def design_collapse_note(runs: pd.DataFrame) -> str:
    """collapse_note of design_runs per warm-up share, naming the designs none of whose runs
    collapsed: the contrast between designs is the point of Table 6. "" when none collapsed."""
    notes = []
    for share, g in with_warmup(runs).groupby("warmup", sort=True):
        if note := collapse_note(g, label="design", name_the_rest=True):
            notes.append((f"With a {share:.0%} warm-up: " if share > 0 else "Without a warm-up: ")
                         + note[0].lower() + note[1:])
    return " ".join(notes)


def with_warmup(runs: pd.DataFrame) -> pd.DataFrame:
    """`runs` with a `warmup` column (share 0 where it has none: the paper's start)."""
    return runs if "warmup" in runs else runs.assign(warmup=0.0)
