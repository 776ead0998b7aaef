"""The DKS chapter's claims ledger (the ledger kit, Holm across the claims) and the runs it reads."""
from __future__ import annotations

import pandas as pd

from ... import ledger
from ...profiles import get_profile
from ..common import collapse_note, run_grid
from .cells import CHAPTER, PAPER_SEEDS, WARMUP_SHARE, ablation_grid, gradient_grid, grid, warmup_grid
from .tables import (ablation_table, consistency_summary, curves, design_runs, gradient_consistency, late_errors,
                     per_run, run_collapsed, with_warmup)

__all__ = ["claims_ledger", "chapter_results", "chapter_ledger"]

# ----------------------------------------------------------------------------- claims ledger

def claims_ledger(main_runs: pd.DataFrame, reference: pd.DataFrame, late: pd.DataFrame | None = None,
                  probe: pd.DataFrame | None = None, ablation: pd.DataFrame | None = None,
                  warmup: pd.DataFrame | None = None, *, profile: str = "", alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's headline claims judged by the ledger kit (aux_core.ledger) on per-seed
    data, paired by seed, Holm-corrected across them. `main_runs` is per_run of the main grid,
    `late` late_errors of its curves, `probe` gradient_consistency of Proposition 1's runs,
    `ablation` design_runs of the Table 6 runs (`design` named as Table 6 names it; column
    `warmup` where it has warmed-up runs too, whose claims restate Table 6's on them), `warmup`
    per_run of the warm-up control (column `warmup`, the share of the run; our control, whose
    claims restate Main Table 1's for the backbones it ran)."""
    claims, judged = [], []

    def add(cid, text, source, paper, a, b, on, magnitude=True, rests_on=()):
        claims.append(ledger.Claim(cid, text, source, "difference", paper, profile=profile, data=on,
                                   rests_on=rests_on))
        if len(a) == 0 or len(b) == 0:
            judged.append(ledger.undecidable("difference", 0, f"not run at this profile ({on or 'no runs'})"))
        elif len(a) != len(b):
            judged.append(ledger.undecidable("difference", min(len(a), len(b)), "the arms have different seeds"))
        else:
            judged.append(ledger.judge("difference", a, b, paper=paper, paired=True, magnitude=magnitude, alpha=alpha))

    def arm(frame, method, metric, key=("seed",), col="method"):
        return frame[frame[col] == method].sort_values(list(key))[metric].to_numpy(float)

    def on_of(frame, col=None, arms=()):
        """The data a claim ran on and, where its arms hold collapsed runs, how many: a verdict
        on collapsed runs says which runs collapsed, and the ledger's summary must say so too."""
        if not len(frame) or "dataset_run" not in frame:
            return ""
        text = f"{frame['dataset_run'].iloc[0]}, {frame['seed'].nunique()} seeds"
        if col is None or "test_error" not in frame:
            return text
        sub = frame[frame[col].isin(arms)]
        return text + collapse_note(sub[col], run_collapsed(sub), arms)

    main_ref = reference[reference["table"] == "Main Table 1"]
    warmed = warmup[warmup["warmup"] > 0] if warmup is not None and len(warmup) else None
    for backbone in dict.fromkeys(main_ref["row"]):
        paper = main_ref[main_ref["row"] == backbone].set_index("column")["value"]
        g = main_runs[main_runs["backbone"] == backbone]
        for other in ("baseline", "DS"):
            if other in paper and "DKS" in paper:
                change = round(float(paper["DKS"] - paper[other]), 2)
                add(f"main-{backbone}-{other}",
                    f"{backbone}: DKS changes top-1 error vs {other} by {change:+.2f} points",
                    "Main Table 1", change, arm(g, "DKS", "test_error"), arm(g, other, "test_error"),
                    on_of(g, "method", ("DKS", other)),
                    rests_on=(("Main Table 1", backbone),))
                # the same claim where the learning rate starts low (a DKS run that stalls in the
                # first steps at lr 0.1 says nothing of the method once it trains)
                controls = () if warmed is None else warmed[warmed["backbone"] == backbone].groupby("warmup")
                for share, w in controls:
                    add(f"warmup-{backbone}-{other}",
                        f"{backbone} with a linear learning-rate warm-up over the first {share:.0%} of training "
                        f"(our control): DKS changes top-1 error vs {other} by {change:+.2f} points",
                        "Main Table 1", change, arm(w, "DKS", "test_error"), arm(w, other, "test_error"),
                        on_of(w, "method", ("DKS", other)),
                        rests_on=(("Main Table 1", backbone),))
    if late is not None and len(late):
        on = on_of(main_runs)
        for metric, sign, text in (("train_error", +1, "the highest training error"),
                                   ("test_error", -1, "the lowest test error")):
            for other in ("baseline", "DS"):
                key = ("backbone", "seed")
                add(f"late-{metric}-{other}", f"DKS ends with {text}: DKS - {other}, last quarter of training",
                    "Figure 7", float(sign), arm(late, "DKS", metric, key), arm(late, other, metric, key), on,
                    magnitude=False)
    if probe is not None and len(probe):
        per_seed = probe.groupby(["tap", "pair", "method", "seed"], sort=False)["cosine"].mean().reset_index()
        for (tap, pair), g in per_seed[per_seed["pair"].str.startswith("C1-")].groupby(["tap", "pair"], sort=False):
            add(f"align-{pair}-{tap}", f"DKS aligns the gradients of {pair} at {tap}: cosine DKS - DS",
                "Proposition 1", 1.0, arm(g, "DKS", "cosine"), arm(g, "DS", "cosine"), on_of(main_runs),
                magnitude=False)
    if ablation is not None and len(ablation):
        for share, g in with_warmup(ablation).groupby("warmup", sort=True):
            # with a warm-up (our control), a design's claim no longer rests on which runs collapsed
            cid, lead = (("ablation", "") if share == 0 else
                         ("ablation-warmup", f"With a linear learning-rate warm-up over the first {share:.0%} of "
                                             "training (our control): "))
            for design in (d for d in dict.fromkeys(g["design"]) if d != "Original"):
                add(f"{cid}-{design}", f"{lead}the original branches beat {design}: error {design} - Original",
                    "Table 6", 1.0, arm(g, design, "test_error", col="design"),
                    arm(g, "Original", "test_error", col="design"), on_of(g, "design", (design, "Original")),
                    magnitude=False)
    return ledger.table(claims, ledger.correct(judged, alpha))



def chapter_results(profile: str, seeds=None, backbone: str = "ResNet-32", cifar100: str = "auto",
                    progress: bool = True) -> dict:
    """Every run the claims ledger reads (the main comparison, its curves, Proposition 1's
    probe runs, Table 6's designs), through the results cache: the notebooks that show each
    of them build the same configurations, so the ledger trains nothing they have trained."""
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    main = run_grid(grid(profile, seeds, backbones=(backbone,), cifar100=cifar100), progress, "DKS main")
    probe = run_grid(gradient_grid(profile, seeds, backbone, cifar100=cifar100), progress, "DKS gradients")
    ablation = run_grid(ablation_grid(profile, seeds, backbone, warmup_shares=(0.0, WARMUP_SHARE), cifar100=cifar100),
                        progress, "DKS designs")
    warmup = run_grid(warmup_grid(profile, seeds, backbone, shares=(WARMUP_SHARE,), cifar100=cifar100), progress,
                      "DKS warm-up control")
    long = gradient_consistency(probe)
    designs = design_runs(ablation)
    out = {"seeds": seeds, "main": main, "main_runs": per_run(main), "late": late_errors(curves(main)),
           "consistency": consistency_summary(long), "ablation": ablation_table(ablation),
           "warmup": warmup, "warmup_runs": per_run(warmup), "design_runs": designs}
    from ... import reference
    out["ledger"] = claims_ledger(out["main_runs"], reference.load("dks"), out["late"], long, designs,
                                  out["warmup_runs"], profile=profile)
    return out


def chapter_ledger(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """The claims ledger at `profile` with the overview page's defaults (`chapter_results`)."""
    return chapter_results(profile, seeds, progress=progress)["ledger"]
