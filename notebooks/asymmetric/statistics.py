# %% [markdown] tags=[]
# # Appendix E: statistics of every comparison
#
# *Asymmetric training with heterogeneous losses*, Appendix E: "paired t-tests with Bonferroni correction for
# multiple comparisons; effect sizes by Cohen's d (small 0.2, medium 0.5, large 0.8); all main results show
# statistical significance (p < 0.001) with large effect sizes." Here every plain-against-asymmetric
# comparison of the chapter (Tables 1, 7-12, 10 and 16, plus Table 1's parameter-matched control) in one
# family: the two-tailed paired t-test over seeds, its Bonferroni correction over the whole family and within
# each table, and Cohen's d with the pooled standard deviation, `(mean_asym - mean_plain) / sqrt((s_asym² + s_plain²) / 2)`.
#
# The runs are the other notebooks' (the same configurations, so they come from the results cache when those
# ran first at the same parameters).

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for the paper's CIFAR-100 tables: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
alpha_level: float = 0.05       # significance level after correction
grid: int = 51                  # loss-landscape grid points per axis (A.1); profiles cap it
samples: int = 500              # loss-landscape training images per point (A.1); profiles cap it

# %% tags=["hide-input"]
from functools import partial

import numpy as np
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core import reference as ref, stats
from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "statistics")
run_seeds = p.seeds(seeds)
kw = dict(cifar100=cifar100, epochs=epochs)

def family(cells, by, label, table_of, paper_key, arm_col="arm"):
    cmp = A.compare(A.per_run(A.run_grid(cells, desc=label)), by, arm_col=arm_col)
    cmp["table"] = [table_of(r) for _, r in cmp.iterrows()]
    cmp["comparison"] = [", ".join(f"{k}={r[k]}" for k in by if k != "table") + f", {r[arm_col]}" for _, r in cmp.iterrows()]
    cmp["paper p"] = [_paper_p(t, paper_key(r)) for t, (_, r) in zip(cmp["table"], cmp.iterrows())]
    return cmp

def _paper_p(table, key):
    try:
        return ref.value("asymmetric", table, key, "p_value")
    except (KeyError, ValueError):
        return np.nan

parts = [
    family(A.table1_cells(profile, run_seeds, **kw), ["arch", "n"], "Table 1", lambda r: "Table 1",
           lambda r: A.paper_row("Table 1", r) if r["arm"] == "asymmetric" else ""),
    family(A.cifar10_cells(profile, run_seeds, epochs=epochs), ["arch"], "Table 10", lambda r: "Table 10",
           partial(A.paper_row, "Table 10")),
    family(A.few_shot_cells(profile, run_seeds, **kw), ["table", "samples"], "Tables 7-9", lambda r: r["table"],
           lambda r: A.paper_row(r["table"], r)),
    family(A.noise_cells(profile, run_seeds, **kw), ["table", "noise"], "Tables 11-12", lambda r: r["table"],
           lambda r: A.paper_row(r["table"], r)),
    family(A.all_active_cells(profile, run_seeds, **kw), ["arch"], "Table 16", lambda r: "Table 16",
           lambda r: f"N=3|{'all-active' if r['variant'] == 'all active' else 'one-active'}|{r['arch']}", arm_col="variant"),
]
allc = pd.concat(parts, ignore_index=True)
tested = allc["p"].notna()
allc["p (Bonferroni, all)"] = np.nan
allc.loc[tested, "p (Bonferroni, all)"] = stats.bonferroni(allc.loc[tested, "p"])
allc["p (Bonferroni, table)"] = np.nan
for t, g in allc[tested].groupby("table"):
    allc.loc[g.index, "p (Bonferroni, table)"] = stats.bonferroni(g["p"])
allc["effect"] = [stats.effect_size_label(d) if np.isfinite(d) else "n/a" for d in allc["d"]]
print(f"profile {p.name}: {len(allc)} comparisons, {int(tested.sum())} with a defined paired t-test "
      f"({len(run_seeds)} seeds each; a comparison whose per-seed differences are all equal has none)")

# %% [markdown] tags=[]
# ## Every comparison
#
# Δ is the relative improvement (%) of the asymmetric arm (or the variant named) over plain; d is Cohen's d.

# %% tags=["hide-input"]
shown = allc[["table", "comparison", "seeds", "estimate", "p", "p (Bonferroni, table)", "p (Bonferroni, all)",
              "d", "effect", "paper p"]].rename(columns={"estimate": "Δ (%)"})
pd.set_option("display.max_rows", 200)
shown.set_index(["table", "comparison"]).round(4)

# %% [markdown] tags=[]
# ## The paper's claim: "all main results significant (p < 0.001) with large effects"

# %% tags=["remove-input"]
main = allc[(allc["table"] == "Table 1") & (allc["arm"] == "asymmetric")]
sig = main["p (Bonferroni, all)"] < alpha_level
strict = (main["p (Bonferroni, all)"] < 0.001) & (main["d"].abs() >= 0.8)
glue("asym_stats_n", float(len(allc)), display=False)
glue("asym_stats_sig", float((allc["p (Bonferroni, all)"] < alpha_level).sum()), display=False)
glue("asym_stats_main_strict", float(strict.sum()), display=False)
Markdown(f"Of Table 1's {len(main)} plain-against-asymmetric comparisons, {int(sig.sum())} are significant at "
         f"{alpha_level} after a Bonferroni correction over all {int(tested.sum())} tests of the chapter, and "
         f"{int(strict.sum())} reach the paper's standard of p < 0.001 with a large effect (|d| >= 0.8). Over the whole "
         f"family, {int((allc['p (Bonferroni, all)'] < alpha_level).sum())} of {int(tested.sum())} tests are significant "
         f"after correction. With {len(run_seeds)} seeds per arm a paired test has {len(run_seeds) - 1} degrees of freedom; "
         "the paper's 10 seeds give 9.")

# %% [markdown] tags=[]
# ## The mechanistic comparisons
#
# The other sections compare more than accuracies. Here the same tests for their claims, as one family of
# their own: the per-seed average gradient cosine of each network against zero (one-sample t-test; d is the
# mean over the standard deviation), each roughness of the initial surface with N branches against plain
# (paired by seed: the same initial backbone), and each attention metric of the asymmetric ViT-6L against
# plain at the end of training (paired by seed).

# %% tags=["hide-input"]
rows = []
t1 = A.run_grid(A.table1_cells(profile, run_seeds, branches=[20], arms=["asymmetric"], **kw), desc="N = 20 runs")
cos = A.cosine_summary(A.cosine_curves(t1))
for arch, g in cos.groupby("arch", sort=False):
    v = g["avg_sim"].to_numpy()
    ok = len(v) > 1 and v.std() > 0
    rows.append({"family": "gradient cosine (Table 2)", "comparison": f"{arch}: average cosine vs 0", "seeds": len(v),
                 "mean": v.mean(), "p": stats.one_sample_ttest(v).p if ok else np.nan,
                 "d": v.mean() / v.std(ddof=1) if ok else np.nan})
lands = A.landscape_grid(profile, run_seeds, cifar100=cifar100, grid=grid, samples=samples, progress=False)
for (arch, kind), g in lands.groupby(["arch", "kind"], sort=False):
    base = g[g["n"] == 0].set_index("seed")["std_loss"]
    for n, h in g[g["n"] > 0].groupby("n"):
        v = h.set_index("seed")["std_loss"].loc[base.index].to_numpy()
        b = base.to_numpy()
        ok = len(v) > 1 and (v - b).std() > 0
        rows.append({"family": "landscape Std(loss) (Tables 5-6)", "comparison": f"{arch}, {kind} directions: N = {n} vs plain",
                     "seeds": len(v), "mean": 100 * (v / b - 1).mean(), "p": stats.paired_ttest(v, b).p if ok else np.nan,
                     "d": stats.cohens_d(v, b) if ok else np.nan})
vit = A.run_grid(A.table1_cells(profile, run_seeds, archs=["ViT-6L"], branches=[20], arms=["plain", "asymmetric"], **kw),
                  desc="ViT-6L runs")
att = A.attention_table(A.history(vit))
end = att[att["paper_epoch"] == max(A.ATTENTION_FRACTIONS)]
for m in ("peak", "entropy", "gini", "coverage"):
    w = end.pivot_table(index="seed", columns="arm", values=m).dropna()
    a, b = w["asymmetric"].to_numpy(), w["plain"].to_numpy()
    ok = len(a) > 1 and (a - b).std() > 0
    rows.append({"family": "attention (Table 14)", "comparison": f"{m}: asymmetric vs plain", "seeds": len(a),
                 "mean": (a - b).mean(), "p": stats.paired_ttest(a, b).p if ok else np.nan,
                 "d": stats.cohens_d(a, b) if ok else np.nan})
mech = pd.DataFrame(rows)
tested_m = mech["p"].notna()
mech["p (Bonferroni)"] = np.nan
mech.loc[tested_m, "p (Bonferroni)"] = stats.bonferroni(mech.loc[tested_m, "p"])
mech["effect"] = [stats.effect_size_label(d) if np.isfinite(d) else "n/a" for d in mech["d"]]
mech = mech.rename(columns={"mean": "mean (cosine; % change; difference)"})
mech.set_index(["family", "comparison"]).round(4)
