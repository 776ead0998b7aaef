# %% [markdown] tags=[]
# # Tables 7, 8 and 9: few-shot training
#
# *Asymmetric training with heterogeneous losses*, Appendix B.1. The paper trains on 5 to 5000 images per
# class (stratified), tests on the whole test set, and compares plain and asymmetric training over 10 seeds
# with paired t-tests: the MLP on CIFAR-10 (Table 7) and CIFAR-100 (Table 8), the ViT-6L with 20 branches on
# CIFAR-100 (Table 9). Its hypothesis: the auxiliary signal helps most where data are scarce.
#
# Our reading of what the paper leaves open: each network keeps its Table 1 setting (MLP at N = 1, ViT-6L at
# N = 20, with their Table 13 hyperparameters), trains on the whole training pool (nothing is selected on a
# validation split), with batch min(128, training images). Profiles cap the largest level at their training
# subset per class; each table says which levels ran.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for Tables 8 and 9 (the paper's CIFAR-100): auto (cifar100 if present, else cifar10) | cifar100 | cifar10
tables: list = ["Table 7", "Table 8", "Table 9"]  # which of the three tables to run

# %% tags=["hide-input"]
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "few_shot",
             tables=nb.each(nb.one_of(*A.FEW_SHOT)))
run_seeds = p.seeds(seeds)
cells = A.few_shot_cells(profile, run_seeds, tables=tables, cifar100=cifar100, epochs=epochs)
trained = A.run_grid(cells, desc="few-shot runs")
runs = A.per_run(trained)
table = A.compare(runs, ["table", "samples"])
print(f"profile {p.name}: {len(cells)} runs; {cells['config'].iloc[0].epochs} epochs (the paper: {epochs}); "
      f"seeds {run_seeds}; levels run: " + "; ".join(f"{t}: {sorted(set(g['samples']))}" for t, g in cells.groupby("table")))

# %% [markdown] tags=[]
# ## The three tables, ours beside the paper's
#
# Accuracies are fractions on the (profile's) test set, mean ± sample std; Δ is the relative improvement with
# our 95% paired interval; p the paired t-test.

# %% tags=["hide-input"]
shown = {}
for t in tables:
    arch, paper_ds, n, _ = A.FEW_SHOT[t]
    sub = table[table["table"] == t]
    if sub.empty:
        continue
    s = A.beside_paper(sub, t, partial(A.paper_row, t), ["samples"], digits=4)
    s["ran on"] = cells[cells["table"] == t]["dataset_run"].iloc[0]
    shown[t] = s
    glue(f"asym_{t.replace(' ', '').lower()}", s, display=False)
    display(s.style.set_caption(f"{t}: {arch}{f' ({n}x)' if n > 1 else ''}, the paper's {paper_ds}"))

# %% [markdown] tags=[]
# ## Improvement against the number of images per class
#
# Ours with the standard error of the per-seed relative improvement; the paper's dashed.

# %% tags=["hide-input"]
from aux_core import reference as ref
fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.4), squeeze=False)
for ax, t in zip(axes[0], shown):
    arch = A.FEW_SHOT[t][0]
    ours = table[(table["table"] == t) & (table["arm"] == "asymmetric")].sort_values("samples")
    ax.errorbar(ours["samples"], ours["estimate"], yerr=ours["rel_se"], marker="o", capsize=3, label="ours")
    paper = ref.wide("asymmetric", t)
    ks = [int(i.split("|")[0].split("=")[1]) for i in paper.index]
    ax.plot(ks, paper["improvement_pct"], ls="--", marker="s", color="gray", label="paper")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xscale="log", xlabel="training images per class", ylabel="improvement (%)", title=f"{t} ({arch})")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
