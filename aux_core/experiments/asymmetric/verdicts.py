"""The chapter's claims ledger and the summary its overview page reads (the runs, cosines,
attention and landscapes behind it)."""
from __future__ import annotations


import numpy as np
import pandas as pd

from ... import reference as ref
from ... import ledger
from ...profiles import get_profile
from ..common import collapse_note, collapsed, run_grid
from .cells import (ATTENTION_FRACTIONS, CHAPTER, PAPER_EPOCHS, PAPER_SEEDS, SAME_DATA_TABLES, paper_row,
                    same_data_cells, table1_cells)
from .landscape import landscape_changes, landscape_grid, landscape_size, total_loss_control, TOTAL_LOSS_KIND
from .tables import attention_table, compare, cosine_curves, cosine_summary, history, per_run

# ----------------------------------------------------------------------------- claims

def relative_gains(runs: pd.DataFrame, arch: str, n: int, arm: str = "asymmetric",
                   baseline: str = "plain") -> np.ndarray:
    """Per seed, paired: 100 (arm - baseline) / mean(baseline) in test accuracy, the paper's
    relative improvement seed by seed (its mean is `compare()`'s estimate); seeds where
    either run diverged are left out."""
    if not len(runs):
        return np.array([])
    g = runs[(runs["arch"] == arch) & (runs["n"] == n) & (runs["status"] == "ok")]
    pair = pd.concat({a: g[g["arm"] == a].set_index("seed")["test_acc"] for a in (baseline, arm)}, axis=1).dropna()
    return (100 * (pair[arm] - pair[baseline]) / pair[baseline].mean()).to_numpy() if len(pair) else np.array([])


# What a row of a SAME_DATA_TABLES table is, in words (from its key's fields)
ROW_TEXT = {"Table 7": "{arch} with {samples} training images per class", "Table 10": "{arch} at N = {N}",
            "Table 11": "{arch} with {noise} of its training labels flipped"}


def significant_rows(table: str) -> list[str]:
    """The rows of `table` with the paper's p < 0.05 (its paired t-test over 10 seeds), in printed order:
    the rows it reports as an effect."""
    p = ref.wide("asymmetric", table)["p_value"]
    return [row for row, v in p.items() if v < 0.05]


def row_text(table: str, row: str) -> str:
    """ROW_TEXT for a row key such as 'noise=30%|MLP'."""
    level, arch = row.split("|")
    name, value = level.split("=")
    return ROW_TEXT[table].format(arch=arch, **{name: value})


def claims_ledger(runs: pd.DataFrame, cosines: pd.DataFrame, changes: pd.DataFrame, attention: pd.DataFrame,
                  where: dict[str, str], *, profile: str = "", alpha: float = 0.05) -> pd.DataFrame:
    """The paper's headline claims judged by the ledger kit (aux_core.ledger) on per-seed values,
    Holm-corrected across them. Inputs: `per_run()` of Table 1's runs, `cosine_summary()` of its
    N = 20 runs, `landscape_changes()`, `attention_table()` of the ViT-6L N = 20 runs; `where`
    says what each kind of measurement ran on ("table1", "gradients", "landscape", "attention")."""
    claims, judged = [], []

    def add(cid, text, source, paper, values, on, magnitude=True, rests_on=()):
        values = np.asarray(values, float)
        claims.append(ledger.Claim(cid, text, source, "difference", paper, profile=profile, data=on,
                                   rests_on=rests_on))
        judged.append(ledger.judge("difference", values, paper=paper, magnitude=magnitude, alpha=alpha) if len(values)
                      else ledger.undecidable("difference", 0, "not measured at this profile"))

    def ran(arch, n, arms):
        """Table 1's data line, with the collapsed runs of the claim's arms named (`collapse_note`)."""
        g = runs[(runs["arch"] == arch) & (runs["n"] == n) & runs["arm"].isin(arms)] if len(runs) else runs
        note = collapse_note(g["arm"], collapsed(g["status"], g["test_acc"], g["dataset_run"]), arms) if len(g) else ""
        return where.get("table1", "") + note

    for arch, n in (("ViT-6L", 20), ("CNN", 1), ("MLP", 1)):
        paper = ref.value("asymmetric", "Table 1", f"N={n}|{arch}", "improvement_pct")
        add(f"table1-{arch}-{n}", f"{arch} at N = {n}: asymmetric training changes test accuracy by {paper:+.1f}% "
            "(relative, paired by seed)", "Table 1", paper, relative_gains(runs, arch, n),
            ran(arch, n, ("asymmetric", "plain")),
            rests_on=(("Table 1", f"N={n}|{arch}"), ("Table 1", f"plain|{arch}"))
            + ((("Abstract", "N=20|ViT-6L"),) if (arch, n) == ("ViT-6L", 20) else ()))   # "up to 25% gains"
    for arch in ("ViT-6L", "CNN"):
        # The paper's thesis puts the effect in the heterogeneity of the losses, so the same branches
        # trained with softmax cross-entropy (our symmetric control) should not give it: the sign of
        # Table 1's N = 20 effect, asymmetric against symmetric. The paper states no size for it.
        sign = np.sign(ref.value("asymmetric", "Table 1", f"N=20|{arch}", "improvement_pct"))
        add(f"heterogeneity-{arch}", f"{arch} at N = 20: the effect needs heterogeneous losses: asymmetric "
            f"{'beats' if sign > 0 else 'trails'} the same branches trained with softmax cross-entropy (relative, "
            "paired by seed; our control)", "Sections 1 and 3 (the thesis)", float(sign),
            relative_gains(runs, arch, 20, baseline="symmetric"), ran(arch, 20, ("asymmetric", "symmetric")),
            magnitude=False,
            rests_on=(("Table 1", f"N=20|{arch}"),))
    for arch in ("ViT-6L", "CNN"):
        paper = ref.value("asymmetric", "Table 2", arch, "avg_sim")
        v = cosines[cosines["arch"] == arch]["avg_sim"] if len(cosines) else []
        add(f"cosine-{arch}", f"{arch}: average cosine between main and auxiliary gradients is {paper:+.4f}", "Table 2",
            paper, v, where.get("gradients", ""), rests_on=(("Table 2", arch), ("Abstract", arch)))
    paper = ref.value("asymmetric", "Table 5", "N=300|MLP", "std_loss_change_pct", dataset="CIFAR-10")
    for kind, text in (("paper", f"300 branches smooth the MLP's initial landscape: Std(loss) {paper:+.1f}%"),
                       (TOTAL_LOSS_KIND, "the smoothing survives filter-normalised directions over the parameters "
                                         "the loss reads, with the total training loss (main + auxiliary; our "
                                         "control): Std(loss) falls")):
        v = (changes[(changes["arch"] == "MLP") & (changes["n"] == 300)
                     & (changes["kind"] == kind)]["std_loss_change_pct"]
             if len(changes) else [])
        add(f"landscape-{kind.split(',')[0]}", text, "Table 5", paper, v,
            where.get("landscape", "") + f", {kind} directions", magnitude=kind == "paper",
            rests_on=(("Table 5", "N=300|MLP"),))
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
        where.get("attention", "") + "; coverage of a spectral-residual saliency map (our definition)",
        rests_on=(("Section 4.4.3", "N=20|ViT-6L"),))
    return ledger.table(claims, ledger.correct(judged, alpha))


def same_data_ledger(same_data: dict[str, pd.DataFrame], *, profile: str = "", alpha: float = 0.05) -> pd.DataFrame:
    """The appendix tables the paper ran on CIFAR-10 (SAME_DATA_TABLES), judged where it reports an
    effect (`significant_rows`): a second family beside the headline ledger, Holm-corrected among
    themselves, so that appendix rows neither dilute the abstract's claims nor borrow their
    correction. `same_data` is `per_run()` of each table's runs (a table missing: its claims are
    not decidable)."""
    claims, judged = [], []
    for table in SAME_DATA_TABLES:
        rt = same_data.get(table, pd.DataFrame())
        keys = [paper_row(table, r) for _, r in rt.iterrows()]
        for row in significant_rows(table):
            paper = ref.value("asymmetric", table, row, "improvement_pct")
            g = rt[[k == row for k in keys]] if len(rt) else rt
            on, values = "", np.array([])
            if len(g):
                flags = collapsed(g["status"], g["test_acc"], g["dataset_run"])
                on = (f"{g['dataset_run'].iloc[0]}, {g['seed'].nunique()} seeds, {g['train_images'].iloc[0]} training "
                      f"images, {g['epochs_run'].max():.0f} epochs"
                      + collapse_note(g["arm"], flags, ("asymmetric", "plain")))
                values = relative_gains(g, g["arch"].iloc[0], g["n"].iloc[0])
            claims.append(ledger.Claim(f"{table}-{row}", f"{table}, {row_text(table, row)} on CIFAR-10: asymmetric "
                                       f"training changes test accuracy by {paper:+g}% (relative, paired by seed)",
                                       table, "difference", paper, profile=profile, data=on, rests_on=((table, row),)))
            judged.append(ledger.judge("difference", values, paper=paper, alpha=alpha) if len(values)
                          else ledger.undecidable("difference", 0, "not measured at this profile"))
    return ledger.table(claims, ledger.correct(judged, alpha))


def summary(profile: str, seeds, *, epochs: int = PAPER_EPOCHS, cifar100: str = "auto", n_branches: int = 20,
            grid: int = 51, samples: int = 500, same_data: bool = False, progress: bool = True) -> dict:
    """Everything the claims ledger reads, computed (or fetched from the cache) exactly as the
    chapter's table notebooks do: Table 1's comparison, the gradient cosines and attention
    metrics of its N = `n_branches` runs and the MLP's landscapes; with `same_data`, also the
    runs of the tables on the paper's own data (SAME_DATA_TABLES) and their family of claims.
    `seeds`: the paper's list (the profile takes what it affords: fewer for most grids, more for
    the cheap MLP rows of `same_data`)."""
    paper_seeds, seeds = seeds, get_profile(profile, CHAPTER).seeds(seeds)
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
    lengths: dict[str, dict] = {}   # epochs -> the networks trained that long (the profile caps images, not epochs)
    for arch, res in zip(trained["arch"], trained["result"]):
        lengths.setdefault(f"{res.metrics['epochs']:.0f}", {})[arch] = None
    ran = (f"{first.config['dataset']}, {len(seeds)} seeds, {first.metrics['train_images']} training images, "
           + "; ".join(f"{', '.join(archs)} {e} epochs" for e, archs in lengths.items()))
    g, s = landscape_size(profile, grid, samples)
    where = {"table1": ran, "gradients": f"{ran}, N = {n_branches}",
             "landscape": f"{lands['dataset_run'].iloc[0]}, {len(seeds)} seeds, {g}x{g} grid, {s} images",
             "attention": f"{ran}, N = {n_branches}, last block at the run's end"}
    out = {"runs": runs, "table1": table1, "cosines": cosines, "attention": attn, "landscapes": lands,
           "changes": changes, "ledger": claims_ledger(runs, cosines, changes, attn, where, profile=profile),
           "where": where}
    if same_data:
        out["same_data"] = same_data_runs(profile, paper_seeds, epochs=epochs, progress=progress)
        out["same_data_ledger"] = same_data_ledger(out["same_data"], profile=profile)
    return out


def same_data_runs(profile: str, seeds, *, epochs: int = PAPER_EPOCHS, progress: bool = False) -> dict:
    """{table: per_run() of its runs} for the tables on the paper's own data; `seeds`: the paper's list."""
    cells = same_data_cells(profile, seeds, epochs=epochs)
    return {t: per_run(run_grid(c, progress, f"{t} runs")) for t, c in cells.items()}


def appendix_ledger(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """The second family (`same_data_ledger`) at `profile` with the findings page's defaults."""
    runs = same_data_runs(profile, list(seeds) if seeds else PAPER_SEEDS, progress=progress)
    return same_data_ledger(runs, profile=profile)


def chapter_ledger(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """The claims ledger at `profile` with the overview page's defaults (the runs and landscapes
    through the results cache)."""
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    return summary(profile, seeds, progress=progress)["ledger"]
