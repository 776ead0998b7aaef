"""The four papers' methods on one bench (a chapter no paper has): plain training, deep supervision
with He-initialised and with zero-initialised heads (LION-DG), sigmoid/BCE asymmetric branches, DKS,
MAXL and WAMAL on the asymmetric paper's three networks (MLP, CNN, ViT-6L), under one protocol,
with the same data, seeds and number of steps; and the intervention that tests the asymmetric
paper's gradient-conflict explanation: the same auxiliary losses with their gradients on the
shared weights aggregated by PCGrad, UPGrad or MGDA (`aux_core.methods.aggregation`).

Protocol (ours: no paper fixes one for all of them): AdamW at lr 1e-3 with weight decay 1e-4 (the
asymmetric paper's search start), a cosine schedule over `BENCH_STEPS` steps of batch 128, pad-4
crop and flip, every method at its paper's defaults (DS alpha 0.3 as LION-DG; asymmetric alpha 1
with one branch; DKS with the linear heads every backbone can carry; MAXL and WAMAL psi 5 with
their label networks a copy of the backbone). Accuracy is the final test accuracy; the second
view compares the methods at equal wall time: each run's test accuracy at the time its backbone's
plain run took (the meta-learners spend more per step).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import ledger, stats
from ..config import RunConfig
from ..methods.aggregation import AGGREGATORS
from ..profiles import get_profile
from .common import Cell, collapse_note, collapsed, grid_frame, per_run_frame, run_grid

CHAPTER = "bench"
BACKBONES = {"MLP": "mlp6", "CNN": "cnn6", "ViT-6L": "vit6"}
METHODS = {  # label: (method, options, init)
    "plain": ("plain", {}, "default"),
    "DS (He heads)": ("ds", {"alpha": 0.3}, "default"),
    "DS (zero heads)": ("ds", {"alpha": 0.3}, "lion_dg"),
    "asymmetric": ("asymmetric", {"alpha": 1.0}, "default"),
    "DKS": ("dks", {"branch": "linear"}, "default"),
    "MAXL": ("maxl", {}, "default"),
    "WAMAL": ("wamal", {}, "default"),
}
INTERVENED = ("DS (He heads)", "asymmetric")   # the methods whose auxiliary gradients are aggregated
CONFLICT_BACKBONE = "CNN"                      # where the asymmetric paper reports conflicting gradients
SEEDS = (0, 1, 2)
BENCH_STEPS = 3000
LR, WEIGHT_DECAY, BATCH = 1e-3, 1e-4, 128


def protocol(profile: str, backbone: str = "CNN", method: str = "plain", *, aggregator: str = "sum",
             seed: int = SEEDS[0], steps: int = BENCH_STEPS, **changes) -> RunConfig:
    """One bench run at a profile's size: `method` a METHODS label, `aggregator` the backward on
    the shared weights (AGGREGATORS; not 'sum' only for a method with auxiliary losses)."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown bench backbone {backbone!r}; available: {', '.join(BACKBONES)}")
    if method not in METHODS:
        raise ValueError(f"unknown bench method {method!r}; available: {', '.join(METHODS)}")
    if aggregator not in AGGREGATORS:
        raise ValueError(f"aggregator must be one of {', '.join(AGGREGATORS)}, got {aggregator!r}")
    if aggregator != "sum" and method not in INTERVENED:
        raise ValueError(f"an aggregated backward applies to {', '.join(INTERVENED)}, not {method!r}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    p = get_profile(profile, CHAPTER)
    name, options, init = METHODS[method]
    total = p.steps(steps)
    cfg = dict(dataset="cifar10", model=BACKBONES[backbone], method=name,
               method_options={**options, **({"aggregator": aggregator} if aggregator != "sum" else {})},
               init=init, optimizer="adamw", lr=LR, weight_decay=WEIGHT_DECAY, schedule="cosine", epochs=None,
               steps=total, batch_size=p.batch(BATCH), augment="crop_flip", eval_every=max(1, total // 5),
               grad_diag_every=max(1, total // 10), seed=seed, **p.data())
    cfg.update(changes)
    return RunConfig(**cfg)


def grid(profile: str, seeds, backbones=None, methods=tuple(METHODS), **changes) -> pd.DataFrame:
    """Every (backbone, method, seed) at equal steps (`backbones` None: the profile's, all but at smoke)."""
    backbones = get_profile(profile, CHAPTER).sized("backbones", BACKBONES) if backbones is None else backbones
    return grid_frame(Cell(protocol(profile, b, m, seed=s, **changes), backbone=b, method=m, aggregator="sum", seed=s)
                      for b in backbones for m in methods for s in seeds)


def intervention_grid(profile: str, seeds, backbone: str = CONFLICT_BACKBONE, methods=INTERVENED,
                      aggregators=AGGREGATORS, **changes) -> pd.DataFrame:
    """The intervened methods with each backward (sum: as in `grid`, so those runs are shared),
    beside plain on the same backbone."""
    rows = [Cell(protocol(profile, backbone, "plain", seed=s, **changes), backbone=backbone, method="plain",
                 aggregator="sum", seed=s) for s in seeds]
    rows += [Cell(protocol(profile, backbone, m, aggregator=a, seed=s, **changes), backbone=backbone, method=m,
                  aggregator=a, seed=s) for m in methods for a in aggregators for s in seeds]
    return grid_frame(rows)


def chapter_grids(profile: str) -> dict[str, pd.DataFrame]:
    seeds = get_profile(profile, CHAPTER).seeds(SEEDS)
    return {"bench": grid(profile, seeds), "intervention": intervention_grid(profile, seeds)}


NOTEBOOK_GRIDS = {"bench": ("bench",), "intervention": ("intervention",)}
LEDGER_NOTEBOOKS = ("bench", "intervention")   # the notebooks that show the claims ledger
ANALYSES: dict = {}


# ----------------------------------------------------------------------------- tables

def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: final test accuracy (%), the mean main/auxiliary gradient cosine and norm
    ratio on the shared weights, and the test accuracy at the wall time of the backbone's plain run."""
    def measures(res) -> dict:
        ok, nan = res.status == "ok", float("nan")
        d = res.diagnostics
        return {"dataset_run": res.config["dataset"], "test_acc": 100 * res.metrics["final_test_acc"] if ok else nan,
                "cosine": float(d["cosine"].mean()) if len(d) and d["cosine"].notna().any() else nan,
                "norm_ratio": float(d["norm_ratio"].mean()) if len(d) and d["norm_ratio"].notna().any() else nan,
                "train_time_s": res.metrics["train_time_s"], "steps": res.metrics["steps"],
                "_curve": (res.history["step"].to_numpy(float) / max(res.metrics["steps"], 1)
                           * res.metrics["train_time_s"], 100 * res.history["test_acc"].to_numpy(float))}
    runs = per_run_frame(df, measures)
    budget = runs[runs["method"] == "plain"].groupby(["backbone", "seed"])["train_time_s"].first()
    runs["acc_at_plain_time"] = [_acc_at(c, budget.get((b, s), np.nan))
                                 for c, b, s in zip(runs["_curve"], runs["backbone"], runs["seed"])]
    return runs.drop(columns="_curve")


def _acc_at(curve, seconds: float) -> float:
    """Test accuracy of the last evaluation within `seconds` of training (NaN: none was)."""
    t, acc = curve
    within = t <= seconds * (1 + 1e-9)
    return float(acc[within][-1]) if np.isfinite(seconds) and within.any() else float("nan")


def method_table(runs: pd.DataFrame, baseline: str = "plain") -> pd.DataFrame:
    """Per (backbone, method, aggregator): accuracy mean ± std, how many runs diverged or collapsed
    (`common.collapsed`: diverged or within 1.5x chance), cost, gradient cosine, and the paired
    comparison with `baseline` (stats.comparison) at equal steps and at equal time."""
    rows = []
    for (b, m, a), g in runs.groupby(["backbone", "method", "aggregator"], sort=False):
        base = runs[(runs["backbone"] == b) & (runs["method"] == baseline)].set_index("seed")
        g = g.set_index("seed")
        seeds = sorted(set(g.index) & set(base.index))
        row = {"backbone": b, "method": m, "aggregator": a, "seeds": len(g),
               "diverged": int((g["status"] != "ok").sum()),
               "collapsed": int(collapsed(g["status"], g["test_acc"] / 100, g["dataset_run"]).sum()),
               "acc": g["test_acc"].mean(), "acc_std": g["test_acc"].std(ddof=1), "cosine": g["cosine"].mean(),
               "seconds": g["train_time_s"].mean(), "acc_at_plain_time": g["acc_at_plain_time"].mean()}
        same = (m, a) == (baseline, "sum")
        steps = stats.comparison(g.loc[seeds, "test_acc"], base.loc[seeds, "test_acc"], paired=True)
        timed = stats.comparison(g.loc[seeds, "acc_at_plain_time"], base.loc[seeds, "test_acc"], paired=True)
        row.update({k: np.nan if same else steps[k] for k in ("estimate", "lo", "hi", "p", "d")})
        row.update({f"time_{k}": np.nan if same else timed[k] for k in ("estimate", "lo", "hi")})
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- claims ledger

def claims_ledger(bench: pd.DataFrame, intervention: pd.DataFrame | None = None, *, profile: str = "",
                  alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's questions as claims (no paper states them, so each is a direction: +1 or -1
    as the claim's sign), judged with the ledger kit on per-seed accuracies, Holm across them;
    the ledger's one schema, indexed by claim id."""
    claims, judged = [], []

    def acc(runs, b, m, a="sum", col="test_acc"):
        g = runs[(runs["backbone"] == b) & (runs["method"] == m) & (runs["aggregator"] == a) & (runs["status"] == "ok")]
        return g.sort_values("seed")[col].to_numpy(float)

    def add(cid, text, kind, paper, judgement, data):
        claims.append(ledger.Claim(cid, text, "this chapter", kind, paper, profile=profile, data=data))
        judged.append(judgement)

    def data_of(runs, col, arms):
        """What a claim ran on, with the collapsed runs among its arms named (`collapse_note`)."""
        if not len(runs):
            return ""
        sub = runs[runs[col].isin(arms)]
        flags = collapsed(sub["status"], sub["test_acc"] / 100, sub["dataset_run"])
        return f"{runs['dataset_run'].iloc[0]}, {runs['seed'].nunique()} seeds" + collapse_note(sub[col], flags, arms)

    for b in dict.fromkeys(bench["backbone"]):
        arms = {m: v for m in dict.fromkeys(bench["method"]) if len(v := acc(bench, b, m))}
        best = max(arms, key=lambda m: arms[m].mean()) if arms else None
        add(f"rank-{b}", f"{b}: {best} ranks first of the {len(arms)} methods", "rank", [best],
            ledger.judge("rank", arms, paper=[best]) if len(arms) > 1 else
            ledger.undecidable("rank", 0, "fewer than two methods ran"),
            data_of(bench[(bench["backbone"] == b) & (bench["aggregator"] == "sum")], "method",
                    list(dict.fromkeys(bench["method"]))))
        for m in ("DS (zero heads)", "asymmetric", "WAMAL"):
            x, p = acc(bench, b, m), acc(bench, b, "plain")
            add(f"{m}-vs-plain-{b}", f"{b}: {m} beats plain training at equal steps", "difference", 1.0,
                ledger.judge("difference", x, p, paper=1.0, paired=True, alpha=alpha, magnitude=False)
                if len(x) == len(p) > 1 else ledger.undecidable("difference", 0, f"{m} or plain did not run"),
                data_of(bench[(bench["backbone"] == b) & (bench["aggregator"] == "sum")], "method", (m, "plain")))
    if intervention is not None and len(intervention):
        b = CONFLICT_BACKBONE
        for m in INTERVENED:
            base = acc(intervention, b, m, "sum")
            for a in (x for x in AGGREGATORS if x != "sum"):
                x = acc(intervention, b, m, a)
                add(f"{a}-{m}", f"{b}: {m} with {a} beats its summed gradients (the conflict costs accuracy)",
                    "difference", 1.0,
                    ledger.judge("difference", x, base, paper=1.0, paired=True, alpha=alpha, magnitude=False)
                    if len(x) == len(base) > 1 else ledger.undecidable("difference", 0, "not run"),
                    data_of(intervention[(intervention["backbone"] == b) & (intervention["method"] == m)],
                            "aggregator", (a, "sum")))
    out = ledger.table(claims, ledger.correct(judged, alpha))
    out.index = pd.Index([c.id for c in claims], name="id")   # the ids the page's sentences look up
    return out


def chapter_results(profile: str, seeds=None, progress: bool = True) -> dict:
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(SEEDS)
    bench = per_run(run_grid(grid(profile, seeds), progress, "bench"))
    inter = per_run(run_grid(intervention_grid(profile, seeds), progress, "intervention"))
    return {"seeds": seeds, "bench": bench, "intervention": inter,
            "ledger": claims_ledger(bench, inter, profile=profile)}


def chapter_ledger(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    return chapter_results(profile, seeds, progress=progress)["ledger"]


def findings(table: pd.DataFrame, ledger_table: pd.DataFrame) -> list[str]:
    """The page's sentences, each built from the numbers (a change in the runs changes them)."""
    lines = []
    for b, g in table[table["aggregator"] == "sum"].groupby("backbone", sort=False):
        if f"rank-{b}" not in ledger_table.index:   # a page without the bench's ranking (the intervention)
            continue
        g = g.sort_values("acc", ascending=False)
        top, plain = g.iloc[0], g[g["method"] == "plain"]
        verdict = ledger_table.loc[f"rank-{b}", "verdict"]
        against = (": no method with an auxiliary loss beats it on average" if top["method"] == "plain" else
                   f" against plain's {plain['acc'].iloc[0]:.1f}%" if len(plain) else "")
        text = (f"On the {b}, {top['method']} has the highest mean test accuracy ({top['acc']:.1f}%){against}; "
                f"its first rank is {verdict}. Mean main/auxiliary gradient cosine over the methods with auxiliary "
                f"losses: {g['cosine'].mean():+.3f}.")
        arms_fell = [f"{r['method']} {r['collapsed']} of {r['seeds']}" for _, r in g.iterrows() if r["collapsed"]]
        if arms_fell:   # an arm's mean over runs that never trained ranks the runs, not the method
            text += f" Runs that collapsed (diverged or within 1.5x chance): {', '.join(arms_fell)}."
        lines.append(text)
    inter = table[(table["aggregator"] != "sum") & (table["backbone"] == CONFLICT_BACKBONE)]

    def fell(row) -> str:
        return f"{row['collapsed']} of {row['seeds']} runs collapsed" if row.get("collapsed", 0) else ""

    if len(inter):
        led = ledger_table
        for m, g in inter.groupby("method", sort=False):
            parts = [f"{r['aggregator']} {r['acc']:.1f}% ("
                     + "; ".join(filter(None, (led["verdict"].get(f"{r.aggregator}-{m}", "not judged"), fell(r))))
                     + ")" for _, r in g.iterrows()]
            base = table[(table["backbone"] == CONFLICT_BACKBONE) & (table["method"] == m)
                         & (table["aggregator"] == "sum")]
            lines.append(f"On the {CONFLICT_BACKBONE}, {m} with summed gradients reaches "
                         f"{base['acc'].iloc[0]:.1f}%" + (f" ({note})" if (note := fell(base.iloc[0])) else "")
                         + "; with aggregated gradients " + ", ".join(parts) + ".")
            verdict = {a: led["verdict"].get(f"{a}-{m}", "not decidable") for a in g["aggregator"]}
            mean_cos = base["cosine"].iloc[0]
            lines.append(f"With a mean main/auxiliary cosine of {mean_cos:+.3f} under summed gradients"
                         + (" (on average they do not conflict)" if mean_cos >= 0 else "")
                         + f", the intervention on {m} {intervention_reading(verdict)}.")
    return lines


# PCGrad and UPGrad remove the conflicting components and leave the balance of the main and the
# auxiliary gradient alone (UPGrad averages where the sum adds: a factor AdamW does not see). MGDA's
# minimum-norm convex combination also re-weights the two by their norms, so a gain under MGDA alone
# would follow as well from a smaller auxiliary weight: it does not isolate the conflict.
CONFLICT_ONLY = ("pcgrad", "upgrad")


def intervention_reading(verdicts: dict[str, str]) -> str:
    """What the aggregators' verdicts ({aggregator: verdict}) say about the gradient-conflict
    explanation, as the end of a sentence."""
    pure = {a: v for a, v in verdicts.items() if a in CONFLICT_ONLY}
    helped = [a for a, v in pure.items() if v == "reproduced"]
    if helped:
        return ("supports the gradient-conflict explanation: removing the conflicting components ("
                + ", ".join(helped) + ") recovers accuracy")
    if any(v == "reproduced" for a, v in verdicts.items() if a not in CONFLICT_ONLY):
        return ("does not isolate the conflict: only an aggregator that also re-weights the main against the "
                "auxiliary gradient (" + ", ".join(a for a, v in verdicts.items() if v == "reproduced"
                                                   and a not in CONFLICT_ONLY)
                + ") recovers accuracy, which a smaller auxiliary weight would explain as well")
    if pure and set(pure.values()) == {"contradicted"}:
        return "speaks against the gradient-conflict explanation: removing the conflict costs accuracy"
    return "does not decide the gradient-conflict explanation at this scale"
