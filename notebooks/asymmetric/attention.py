# %% [markdown] tags=[]
# # Table 14 and Figures 4, 7 and 9: attention of the ViT-6L
#
# *Asymmetric training with heterogeneous losses*, Section 4.4.3 and Appendix D. The paper looks at where
# the class token of the ViT-6L attends, over training, for plain and asymmetric (N = 20) training: peak
# strength, map entropy, Gini sparsity and "object coverage" at epochs 20, 60 and 100 (Table 14), their
# evolution (Figure 9), maps of test images (Figures 4 and 7) and how the layers differ (D.3). Its reading:
# asymmetric training spreads attention more evenly and covers more of the object (the numbers are in the
# tables below, beside ours).
#
# What we measure (`aux_core.analysis.attention`): the probe of the training loop reads, at every
# evaluation, the class token's attention over the 64 patches in each block (averaged over heads, renormalised
# over the patches) on the same 100 test images for every run. **Coverage** needs the object, and CIFAR has no
# object masks; we define it as the share of an image's saliency that falls inside the smallest set of
# patches holding 90% of the attention, with a model-independent saliency map (the spectral residual of Hou &
# Zhang, 2007, pooled to the patch grid) standing in for the object. Table 14 reads the last block at the
# evaluation nearest to 10%, 30% and 50% of the run (the paper's epochs 20, 60, 100 of 200).

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for the paper's CIFAR-100 tables: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
n_branches: int = 20            # the asymmetric ViT-6L's redundancy (the paper: 20)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core import data as data_lib
from aux_core import reference as ref
from aux_core.analysis import attention as att
from aux_core.experiments import asymmetric as A
from aux_core.build import probe_batch
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "attention")
run_seeds = p.seeds(seeds)
cells = A.table1_cells(profile, run_seeds, archs=["ViT-6L"], branches=[n_branches], arms=["plain", "asymmetric"],
                       cifar100=cifar100, epochs=epochs)
trained = A.run_grid(cells, desc="ViT-6L runs")
hist = A.history(trained)
table = A.attention_table(hist)
cfg = cells["config"].iloc[0]
print(f"profile {p.name}: {len(cells)} runs (plain and N = {n_branches}, {len(run_seeds)} seeds) on {cfg.dataset}, "
      f"{cfg.epochs} epochs (the paper: {epochs}); {cfg.probe_images} probe images, "
      f"{hist.groupby(['arm', 'seed']).size().min()} evaluations per run")

# %% [markdown] tags=[]
# ## Table 14: attention metrics over training
#
# Means over seeds (our epoch in brackets). Peak strength and Gini are on the same scale as the paper's;
# entropy is in nats (ln 64 = 4.16 for a uniform map); coverage follows our definition above.

# %% tags=["hide-input"]
paper14 = ref.wide("asymmetric", "Table 14")
names = {"peak": "peak_strength", "entropy": "map_entropy", "gini": "sparsity_gini", "coverage": "object_coverage"}
mean = table.groupby(["arm", "paper_epoch"]).mean(numeric_only=True)
rows = []
for m, key in names.items():
    for arm in ("plain", "asymmetric"):
        row = {"metric": m, "arm": arm}
        for e in A.ATTENTION_FRACTIONS:
            row[f"paper epoch {e}"] = paper14.loc[f"{key}|ViT-6L", f"{arm}|epoch{e}"]
            row[f"ours epoch {e}"] = f"{mean.loc[(arm, e), m]:.3f} ({mean.loc[(arm, e), 'epoch']:.2g})"
        rows.append(row)
table14 = pd.DataFrame(rows).set_index(["metric", "arm"])
glue("asym_table14", table14, display=False)
table14

# %% [markdown] tags=[]
# ## Figure 9: the four metrics over training (last block)
#
# Lines are means over seeds, bands the range.

# %% tags=["hide-input"]
colors = {"plain": "tab:gray", "asymmetric": "tab:purple"}
last = max(int(c.rsplit("L", 1)[1]) for c in hist.columns if c.startswith("attn_peak_L"))
fig, axes = plt.subplots(2, 2, figsize=(10, 6))
for ax, m in zip(axes.flat, ("entropy", "coverage", "peak", "gini")):
    for arm, c in colors.items():
        g = hist[hist["arm"] == arm].groupby("epoch")[f"attn_{m}_L{last}"].agg(["mean", "min", "max"])
        ax.plot(g.index, g["mean"], color=c, label=arm, marker=".")
        ax.fill_between(g.index, g["min"], g["max"], color=c, alpha=0.15)
    ax.set(title=m, xlabel="epoch")
axes[0, 0].legend()
fig.tight_layout()
glue("asym_fig9", fig, display=False)
plt.show()

# %% [markdown] tags=[]
# ## Figures 4 and 7: attention maps of test images
#
# The class token's attention in the last block, on the first probe images, for the first seed: at the end of
# training (Figure 4) and at the evaluations nearest to the paper's epochs 20, 60 and 100 (Figure 7). The
# right-most column of Figure 4 is the saliency map that coverage compares against.

# %% tags=["hide-input"]
ds = data_lib.load_dataset(cfg.dataset)
batch = probe_batch(cfg, ds)
raw = batch.raw[:att.MAP_IMAGES].permute(0, 2, 3, 1).numpy()
sal = att.patch_saliency(batch.raw[:att.MAP_IMAGES], 8)
first = {arm: trained[(trained["arm"] == arm) & (trained["seed"] == run_seeds[0])]["result"].iloc[0] for arm in colors}

def overlay(ax, img, m, title=""):
    ax.imshow(img)
    ax.imshow(np.asarray(m).reshape(8, 8), cmap="inferno", alpha=0.6, extent=(-0.5, 31.5, 31.5, -0.5))
    ax.set(title=title, xticks=[], yticks=[])

fig, axes = plt.subplots(att.MAP_IMAGES, 4, figsize=(7, 1.9 * att.MAP_IMAGES))
for i in range(att.MAP_IMAGES):
    axes[i, 0].imshow(raw[i]); axes[i, 0].set(xticks=[], yticks=[], title=ds.classes[int(batch.y[i])])
    for j, arm in enumerate(colors, start=1):
        overlay(axes[i, j], raw[i], first[arm].history[f"attn_maps_L{last}"].iloc[-1][i], arm if i == 0 else "")
    overlay(axes[i, 3], raw[i], sal[i], "saliency" if i == 0 else "")
fig.tight_layout()
glue("asym_fig4", fig, display=False)
plt.show()

# %% tags=["hide-input"]
fig, axes = plt.subplots(2, 6, figsize=(12, 4.4))
for r, arm in enumerate(colors):
    h = first[arm].history.assign(progress=lambda d: d["step"] / d["step"].max())
    for k, (e, f) in enumerate(A.ATTENTION_FRACTIONS.items()):
        row = A.at_fraction(h, f)
        for i in range(2):
            overlay(axes[r, 2 * k + i], raw[i], row[f"attn_maps_L{last}"][i],
                    f"{arm}, epoch {row['epoch']:.2g} (≈{e})" if i == 0 else "")
fig.tight_layout()
plt.show()

# %% [markdown] tags=[]
# ## Layer-wise development (Appendix D.3)
#
# Each metric per block at the end of training, mean over seeds: where in depth the two arms part.

# %% tags=["hide-input"]
end = hist.sort_values("step").groupby(["arm", "seed"]).tail(1)
blocks = range(1, last + 1)
fig, axes = plt.subplots(1, 4, figsize=(13, 3))
for ax, m in zip(axes, ("entropy", "coverage", "peak", "gini")):
    for arm, c in colors.items():
        e = end[end["arm"] == arm]
        ax.plot(list(blocks), [e[f"attn_{m}_L{b}"].mean() for b in blocks], color=c, marker="o", label=arm)
    ax.set(title=m, xlabel="block")
axes[0].legend()
fig.tight_layout()
plt.show()

# %% [markdown] tags=[]
# ## Coverage at the end of training (Section 4.4.3)

# %% tags=["remove-input"]
from aux_core import stats

late = table[table["paper_epoch"] == max(A.ATTENTION_FRACTIONS)].pivot_table(index="seed", columns="arm", values="coverage")
diff = 100 * (late["asymmetric"] - late["plain"])
m, lo, hi = stats.mean_ci95(diff)
pc = ref.value("asymmetric", "Section 4.4.3", "N=20|ViT-6L", "object_coverage_plain")
ac = ref.value("asymmetric", "Section 4.4.3", "N=20|ViT-6L", "object_coverage_asymmetric")
glue("asym_coverage_diff", float(m), display=False)
Markdown(f"At the evaluation nearest to the paper's epoch 100, coverage was {100 * late['plain'].mean():.1f}% for plain and "
         f"{100 * late['asymmetric'].mean():.1f}% for asymmetric training: a difference of {m:+.1f} points "
         f"(95% interval [{lo:+.1f}, {hi:+.1f}] over {len(diff)} seeds). The paper reports {pc:.1f}% and {ac:.1f}% "
         f"({ac - pc:+.1f} points) with its own, unstated, definition of the object.")
