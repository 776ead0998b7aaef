# %% [markdown] tags=[]
# # Tables 11 and 12: symmetric label noise
#
# *Asymmetric training with heterogeneous losses*, Appendix B.2. A fraction of the training labels (0% to
# 90%) is moved to another class at random, the test labels stay clean, and plain and asymmetric training of
# the MLP are compared over 10 seeds: CIFAR-10 (Table 11) and CIFAR-100 (Table 12). The paper finds small
# gains at moderate noise on CIFAR-10 and larger ones on CIFAR-100.
#
# Noise (`aux_core.subsets.add_label_noise`) flips exactly round(rate x N) labels, each to a uniformly chosen
# *other* class, with the data seed, so every seed and both arms see the same noisy labels. The MLP keeps its
# Table 1 setting (N = 1, Table 13's hyperparameters) and trains on the whole training pool (the profile's
# subset).

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for Table 12 (the paper's CIFAR-100): auto (cifar100 if present, else cifar10) | cifar100 | cifar10
rates: list = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # label noise rates (Tables 11, 12), each in [0, 1)

# %% tags=["hide-input"]
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "noise")
run_seeds = p.seeds(seeds)
cells = A.noise_cells(profile, run_seeds, rates=rates, cifar100=cifar100, epochs=epochs)
trained = A.run_grid(cells, desc="label-noise runs")
runs = A.per_run(trained)
table = A.compare(runs, ["table", "noise"])
cfg = cells["config"].iloc[0]
print(f"profile {p.name}: {len(cells)} runs; {cfg.epochs} epochs (the paper: {epochs}), {p.train_per_class or 'all'} "
      f"training images per class, seeds {run_seeds}")

# %% [markdown] tags=[]
# ## The two tables, ours beside the paper's

# %% tags=["hide-input"]
for t in A.NOISE:
    sub = table[table["table"] == t]
    s = A.beside_paper(sub, t, partial(A.paper_row, t), ["noise"], digits=4)
    s["ran on"] = cells[cells["table"] == t]["dataset_run"].iloc[0]
    glue(f"asym_{t.replace(' ', '').lower()}", s, display=False)
    display(s.style.set_caption(f"{t}: MLP, the paper's {A.NOISE[t][1]}"))

# %% [markdown] tags=[]
# ## Accuracy against noise
#
# Plain and asymmetric test accuracy, ours (solid, mean over seeds with their range) and the paper's (dashed).

# %% tags=["hide-input"]
colors = {"plain": "tab:gray", "asymmetric": "tab:purple"}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, t in zip(axes, A.NOISE):
    r = runs[runs["table"] == t]
    paper = ref.wide("asymmetric", t)
    for arm, c in colors.items():
        g = r[r["arm"] == arm].groupby("noise")["test_acc"].agg(["mean", "min", "max"])
        ax.plot(g.index, g["mean"], color=c, marker="o", label=f"{arm} (ours)")
        ax.fill_between(g.index, g["min"], g["max"], color=c, alpha=0.15)
        xs = [float(i.split("|")[0].split("=")[1].rstrip("%")) / 100 for i in paper.index]
        ax.plot(xs, paper[arm], color=c, ls="--", alpha=0.7, label=f"{arm} (paper)")
    ax.set(title=f"{t} ({r['dataset_run'].iloc[0]}; the paper: {A.NOISE[t][1]})", xlabel="label noise rate",
           ylabel="test accuracy")
    ax.legend(fontsize=7)
fig.tight_layout()
plt.show()
