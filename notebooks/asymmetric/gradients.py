# %% [markdown] tags=[]
# # Tables 2 and 15 and Figure 2: how the main and auxiliary gradients meet
#
# *Asymmetric training with heterogeneous losses*, Section 4.4.1 and Appendix Table 15. During training
# the paper measures the cosine similarity between the gradient of the main (softmax) loss and the
# gradient of the summed auxiliary (sigmoid) losses, both taken on the parameters the two share (the
# backbone), and summarises each network's curve by its final, average, minimum and maximum value. Its
# reading: the ViT-6L's gradients agree on average, the CNN's conflict, the MLP's are nearly orthogonal.
#
# We read the same quantity from the training loop's gradient diagnostics (`aux_core.train.gradient_diagnostics`:
# two extra backward passes at about 50 evenly spaced steps of each run) of the Table 1 runs at N = 20,
# the redundancy the paper's abstract quotes; the paper does not say which N its Table 2 used. The weighted
# auxiliary loss is what the optimiser sees, so the cosine is unaffected by alpha, the norms are not.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for the paper's CIFAR-100 tables: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
n_branches: int = 20            # redundancy whose runs are analysed (Table 1's 1, 7, 10 or 20)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "gradients")
run_seeds = p.seeds(seeds)
cells = A.table1_cells(profile, run_seeds, branches=[n_branches], arms=["asymmetric"], cifar100=cifar100, epochs=epochs)
trained = A.run_grid(cells, desc="asymmetric runs")
curves = A.cosine_curves(trained)
per_seed = A.cosine_summary(curves)
cfg = cells["config"].iloc[0]
print(f"profile {p.name}: {len(cells)} runs (3 networks x {len(run_seeds)} seeds) at N = {n_branches} on {cfg.dataset}, "
      f"{cfg.epochs} epochs; {curves.groupby(['arch', 'seed']).size().min()} gradient measurements per run")

# %% [markdown] tags=[]
# ## Table 2: cosine similarity between main and auxiliary gradients
#
# Ours: mean ± std over seeds of each run's statistic. The paper prints one number per network.

# %% tags=["hide-input"]
paper2 = ref.wide("asymmetric", "Table 2")
cols = ["final_sim", "avg_sim", "min_sim", "max_sim"]
agg = per_seed.groupby("arch", sort=False)[cols].agg(["mean", "std"])
rows = []
for arch in A.MODELS:
    if arch not in agg.index:
        continue
    row = {"network": arch}
    for c in cols:
        row[f"paper {c}"] = paper2.loc[arch, c]
        row[f"ours {c}"] = f"{agg.loc[arch, (c, 'mean')]:+.4f} ± {agg.loc[arch, (c, 'std')]:.4f}"
    rows.append(row)
table2 = pd.DataFrame(rows).set_index("network")
glue("asym_table2", table2, display=False)
table2

# %% [markdown] tags=[]
# ## Figure 2: the cosine over training
#
# Each line is the mean over seeds, the band its range; the horizontal axis is the fraction of the run, so
# runs of any length line up with the paper's.

# %% tags=["hide-input"]
colors = {"MLP": "tab:blue", "CNN": "tab:red", "ViT-6L": "tab:green"}
fig, ax = plt.subplots(figsize=(7, 3.8))
for arch, g in curves.groupby("arch", sort=False):
    m = g.groupby("progress")["cosine"].agg(["mean", "min", "max"])
    ax.plot(m.index, m["mean"], color=colors[arch], label=f"{arch} (ours)")
    ax.fill_between(m.index, m["min"], m["max"], color=colors[arch], alpha=0.15)
    ax.axhline(paper2.loc[arch, "avg_sim"], color=colors[arch], ls="--", lw=1, label=f"{arch}: paper's average")
ax.axhline(0, color="k", lw=0.8)
ax.set(xlabel="fraction of training", ylabel="cos(g_main, g_aux)", ylim=(-1, 1),
       title=f"Gradient alignment at N = {n_branches} ({cfg.dataset})")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
glue("asym_fig2", fig, display=False)
plt.show()

# %% [markdown] tags=[]
# ## The norms behind the cosine
#
# How strong each signal is on the shared parameters: the ratio of the auxiliary to the main gradient norm
# over training (log scale). A cosine says whether the two agree; the ratio says which one the optimiser hears.

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 3.2))
for arch, g in curves.groupby("arch", sort=False):
    m = g.groupby("progress")["norm_ratio"].mean()
    ax.plot(m.index, m.values, color=colors[arch], label=arch)
ax.set(yscale="log", xlabel="fraction of training", ylabel="|g_aux| / |g_main|")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown] tags=[]
# ## What these runs say

# %% tags=["remove-input"]
from aux_core import stats

avg = per_seed.groupby("arch")["avg_sim"]
lines = []
for arch in A.MODELS:
    if arch in avg.groups:
        m, lo, hi = stats.mean_ci95(avg.get_group(arch))
        lines.append(f"- {arch}: average cosine {m:+.3f} (95% interval [{lo:+.3f}, {hi:+.3f}] over {avg.get_group(arch).size} seeds; "
                     f"the paper {paper2.loc[arch, 'avg_sim']:+.3f}).")
        glue(f"asym_cos_{arch.replace('-', '')}", float(m), display=False)
from IPython.display import Markdown
Markdown("\n".join(lines))
