# %% [markdown] tags=[]
# # Figure 11, Figure 3 and per-class weights: what the weight head learns
#
# After training, every WAMAL run reads its weight head over the whole training set (label-weight network in
# evaluation mode, no augmentation). Figure 11 shows the distribution of the *unscaled* weights (the sigmoid output
# $u \in (0, 1)$, before $w = 2^{r(2u-1)}$); the paper finds a normal-like spread that uses much of the range, with a
# bias that differs between set-ups. Figure 3 shows the highest- and lowest-weighted training images. Section 6.2.3
# recommends looking at the weights per class; the table below does.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2]         # smaller profiles run the first few
dataset: str = "CIFAR-10"       # CIFAR-10 (offline here) | CIFAR-100-20 | SVHN
images: int = 8                 # images per row of Figure 3

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from myst_nb import glue

from aux_core import data as data_lib
from aux_core.experiments import wamal as W
from aux_core.experiments import wamal_h100 as H100
from aux_core import notebook as nb

p = nb.setup(globals(), "wamal", "weights",
             dataset=nb.one_of(*W.DATASETS))
runs = W.run_grid(W.grid(profile, p.seeds(seeds), methods=("WAMAL",), dataset=dataset))
weights = W.weights_frame(runs)
names = data_lib.load_dataset(W.run_dataset(dataset)).classes

# %% [markdown] tags=[]
# ## Figure 11: the distribution of unscaled weights
#
# One histogram per seed (this profile's runs), and the committed H100 runs (all 50,000 images, 4 epochs) where
# present.

# %% tags=["hide-input"]
gpu = H100.results()
panels = 2 if "weight_hist" in gpu else 1
fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.2), squeeze=False)
sns.histplot(data=weights, x="unit", hue="seed", bins=40, element="step", ax=axes[0, 0], palette="tab10")
axes[0, 0].set_xlabel("unscaled weight u"); axes[0, 0].set_title(f"{profile} profile, {dataset}")
if panels == 2:
    h = gpu["weight_hist"]
    h = h[h["grid"] == "main"]
    for seed, g in h.groupby("seed"):
        axes[0, 1].step(g["bin_low"], g["count"], where="post", label=f"seed {seed}")
    axes[0, 1].set_xlabel("unscaled weight u"); axes[0, 1].set_title("H100, 50k images, 4 epochs"); axes[0, 1].legend()
plt.tight_layout()
summary = weights.groupby("seed")["unit"].describe()[["mean", "std", "min", "max"]]
glue("wamal_unit_std", float(weights["unit"].std()), display=False)
summary

# %% [markdown] tags=[]
# ## The weights over epochs
#
# The mean and spread of the learnt weights $w$ over each label pass's training images, pass by pass, against their
# ceiling $2^r$: how fast WAMAL's auxiliary loss grows to many times MAXL's (the scale controls of {doc}`ablations`
# ask whether that, rather than the per-sample differences, is its gain). This profile's runs and, where present, the
# committed H100 runs.

# %% tags=["hide-input"]
passes = {f"{profile} profile, {dataset}": W.label_passes(runs, keys=("seed",))}   # none in a 1-epoch run
passes = {k: v for k, v in passes.items() if len(v)}
if "label_passes" in gpu:
    lp = gpu["label_passes"]
    passes["H100, 50k images"] = lp[(lp["grid"] == "main") & (lp["method"] == "WAMAL")]
ceiling = W.WEIGHT_CEILING
panels = max(len(passes), 1)   # one empty panel where there are no label passes
fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.2), squeeze=False)
over_epochs = []
for ax, (where, lp) in zip(axes[0], passes.items()):
    for seed, g in lp.groupby("seed"):
        ax.errorbar(g["epoch"], g["weight_mean"], yerr=g["weight_std"], marker="o", capsize=3, label=f"seed {seed}")
    ax.axhline(ceiling, color="k", ls=":", label=f"ceiling 2^r = {ceiling:g}")
    ax.set(xlabel="label pass after epoch", ylabel="weight w: mean ± std", title=where)
    ax.legend(fontsize=7)
    over_epochs.append(lp.groupby("epoch")[["weight_mean", "weight_std"]].mean().assign(where=where))
plt.tight_layout()
over_epochs = (pd.concat(over_epochs).reset_index().set_index(["where", "epoch"]) if over_epochs else
               pd.DataFrame(columns=["weight_mean", "weight_std"]))
glue("wamal_weights_over_epochs", over_epochs, display=False)
over_epochs.style.format("{:.2f}")

# %% [markdown] tags=[]
# ## Figure 3: the highest- and lowest-weighted training images
#
# From the first seed's run; the title gives each image's class and weight $w$.

# %% tags=["hide-input"]
first = runs.iloc[0]["result"]
ext = W.extreme_images(first, images)
fig, axes = plt.subplots(2, images, figsize=(1.3 * images, 3.2))
for row, name in enumerate(("highest", "lowest")):
    e = ext[name]
    for j in range(images):
        ax = axes[row, j]
        ax.imshow(e["images"][j]); ax.set_xticks([]); ax.set_yticks([])
        ax.set_title(f"{names[e['y'][j]]}\nw={e['weight'][j]:.2f}", fontsize=7)
    axes[row, 0].set_ylabel(name, fontsize=9)
plt.tight_layout()

# %% [markdown] tags=[]
# ## Per-class weight statistics
#
# Mean, spread and median of the learnt weights $w$ of each primary class's training images, over the seeds, and the
# share of images whose auxiliary loss is amplified ($w > 1$); sorted by the mean. The committed H100 runs' table is
# below it where present.

# %% tags=["hide-input"]
per_class = W.class_weight_stats(weights, names)
glue("wamal_class_weights", per_class, display=False)
display(per_class.style.format({"mean": "{:.3f}", "std": "{:.3f}", "median": "{:.3f}", "above_1": "{:.1%}"}))
if "class_weights" in gpu:
    c = gpu["class_weights"].drop(columns=["grid"])
    c.insert(1, "class", [names[i] for i in c["y"]])
    display(c.style.format({"mean": "{:.3f}", "std": "{:.3f}", "median": "{:.3f}", "above_1": "{:.1%}"}))
