# %% [markdown] tags=[]
# # Tables 3 and 4 and Figures 3 and 8: learning dynamics
#
# *Asymmetric training with heterogeneous losses*, Section 4.4.2 and Appendix Figure 8. The paper follows
# plain and asymmetric training of each network through time: when each converges (Table 3), how far
# training accuracy runs ahead of validation accuracy early, midway and late (Table 4), the accuracy, loss
# and gap curves (Figure 3), and the main and auxiliary loss terms and gradient norms (Figure 8). Its
# reading: the asymmetric CNN "converges" early to a far worse solution and its gap turns negative, while
# the asymmetric ViT-6L converges later to a better one with a much smaller gap.
#
# Our definitions (the paper states none): the **convergence epoch** is the epoch of the best validation
# accuracy; the **generalisation gap** is the running training accuracy (batches as trained on) minus the
# validation accuracy, read at epochs 10, 50 and 100 of the paper's 200, i.e. at 5%, 25% and 50% of a run of
# any length. The runs are Table 1's at N = 20 (`n_branches`).

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
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "dynamics")
run_seeds = p.seeds(seeds)
cells = A.table1_cells(profile, run_seeds, branches=[n_branches], arms=["plain", "asymmetric"], cifar100=cifar100,
                       epochs=epochs)
trained = A.run_grid(cells, desc="runs")
hist = A.history(trained)
dyn = A.dynamics(hist)
cfg = cells["config"].iloc[0]
print(f"profile {p.name}: {len(cells)} runs (3 networks x 2 arms x {len(run_seeds)} seeds) at N = {n_branches} on "
      f"{cfg.dataset}, {cfg.epochs} epochs (the paper: {epochs}), {hist.groupby(['arch', 'arm', 'seed']).size().min()} "
      "evaluations per run")

# %% [markdown] tags=[]
# ## Table 3: convergence and final validation accuracy
#
# Ours are means over seeds; the convergence epoch is in our run's epochs (the run length is the last column).

# %% tags=["hide-input"]
paper3 = ref.wide("asymmetric", "Table 3")
m = dyn.groupby(["arch", "arm"])[["convergence_epoch", "final_val_acc", "epochs"]].mean()
rows = []
for arch in A.MODELS:
    if (arch, "plain") not in m.index:
        continue
    row = {"network": arch}
    for arm in ("plain", "asymmetric"):
        row[f"paper epoch ({arm})"] = paper3.loc[arch, f"convergence_epoch_{arm}"]
        row[f"ours epoch ({arm})"] = round(m.loc[(arch, arm), "convergence_epoch"], 2)
    for arm in ("plain", "asymmetric"):
        row[f"paper val acc ({arm})"] = paper3.loc[arch, f"final_val_acc_{arm}"]
        row[f"ours val acc ({arm})"] = round(m.loc[(arch, arm), "final_val_acc"], 4)
    row["our run (epochs)"] = m.loc[(arch, "plain"), "epochs"]
    rows.append(row)
table3 = pd.DataFrame(rows).set_index("network")
glue("asym_table3", table3, display=False)
table3

# %% [markdown] tags=[]
# ## Table 4: the generalisation gap early, midway and late
#
# Training minus validation accuracy (fractions), mean over seeds, at the evaluation nearest to 5%, 25%
# and 50% of the run (the paper's epochs 10, 50 and 100 of 200); the epoch we read is in brackets.

# %% tags=["hide-input"]
paper4 = ref.wide("asymmetric", "Table 4")
phases = {"early": "epoch10", "middle": "epoch50", "late": "epoch100"}
g = dyn.groupby(["arch", "arm"]).mean(numeric_only=True)
rows = []
for arch in A.MODELS:
    if (arch, "plain") not in g.index:
        continue
    row = {"network": arch}
    for phase, col in phases.items():
        for arm in ("plain", "asymmetric"):
            row[f"{phase}: paper {arm}"] = paper4.loc[arch, f"{arm}|{col}"]
            row[f"{phase}: ours {arm}"] = f"{g.loc[(arch, arm), f'gap_{phase}']:+.4f} ({g.loc[(arch, arm), f'gap_{phase}_epoch']:.2g})"
    rows.append(row)
pd.DataFrame(rows).set_index("network").T

# %% [markdown] tags=[]
# ## Figure 3: accuracy, loss and generalisation gap over training
#
# Left: accuracy (dashed: running training accuracy, solid: validation); middle: loss (dashed: training
# objective, solid: validation cross-entropy); right: the gap. Lines are means over seeds. The red line marks the
# first evaluation where the two arms' mean validation accuracies differ by more than one percentage point
# (the paper's "divergence point"; its criterion is not stated).

# %% tags=["hide-input"]
colors = {"plain": "tab:gray", "asymmetric": "tab:purple"}
archs = [a for a in A.MODELS if a in set(hist["arch"])]
fig, axes = plt.subplots(len(archs), 3, figsize=(12, 3 * len(archs)), squeeze=False)
for row, arch in zip(axes, archs):
    h = hist[hist["arch"] == arch]
    mean = h.groupby(["arm", "epoch"]).mean(numeric_only=True).reset_index()
    for arm, c in colors.items():
        a = mean[mean["arm"] == arm]
        row[0].plot(a["epoch"], a["train_acc"], ls="--", color=c)
        row[0].plot(a["epoch"], a["val_acc"], color=c, label=arm)
        row[1].plot(a["epoch"], a["train_loss"], ls="--", color=c)
        row[1].plot(a["epoch"], a["val_loss"], color=c, label=arm)
        row[2].plot(a["epoch"], a["gap"], color=c, label=arm)
    wide = mean.pivot(index="epoch", columns="arm", values="val_acc")
    apart = wide.index[(wide["asymmetric"] - wide["plain"]).abs() > 0.01]
    for ax, name in zip(row, ("accuracy", "loss", "train - val accuracy")):
        if len(apart):
            ax.axvline(apart[0], color="red", lw=1)
        ax.set(title=f"{arch}: {name}", xlabel="epoch")
    row[2].axhline(0, color="k", lw=0.8)
    row[0].legend(fontsize=8)
fig.tight_layout()
glue("asym_fig3", fig, display=False)
plt.show()

# %% [markdown] tags=[]
# ## Figure 8: loss terms and gradient norms
#
# Top: the main (softmax) loss and the auxiliary (sigmoid BCE) loss per tap, unweighted (the weighted sum
# divided by alpha and by the number of taps). Bottom: the norm of the main loss's gradient on the shared
# parameters for both arms, and of the auxiliary gradient for the asymmetric arm, from the gradient
# diagnostics.

# %% tags=["hide-input"]
diag = []
for _, r in trained.iterrows():
    d = r["result"].diagnostics
    diag.append(d.assign(arch=r["arch"], arm=r["arm"], seed=r["seed"], progress=d["step"] / r["result"].metrics["steps"]))
diag = pd.concat(diag, ignore_index=True)
fig, axes = plt.subplots(2, len(archs), figsize=(4 * len(archs), 6), squeeze=False)
for j, arch in enumerate(archs):
    h = hist[(hist["arch"] == arch)]
    aux_cols = [c for c in h.columns if c.startswith("train_aux:")]
    alpha = cells[(cells["arch"] == arch)]["alpha"].iloc[0]
    for arm, c in colors.items():
        a = h[h["arm"] == arm].groupby("progress").mean(numeric_only=True)
        axes[0, j].plot(a.index, a["train_main"], color=c, label=f"main ({arm})")
        if arm == "asymmetric" and aux_cols:
            axes[0, j].plot(a.index, a[aux_cols].sum(axis=1) / (alpha * len(aux_cols)), color=c, ls=":",
                            label="auxiliary BCE per tap")
        d = diag[(diag["arch"] == arch) & (diag["arm"] == arm)].groupby("progress").mean(numeric_only=True)
        axes[1, j].plot(d.index, d["main_grad_norm"], color=c, label=f"|g_main| ({arm})")
        if arm == "asymmetric":
            axes[1, j].plot(d.index, d["aux_grad_norm"], color=c, ls=":", label="|g_aux| (weighted)")
    axes[0, j].set(title=f"{arch}: loss terms", xlabel="fraction of training")
    axes[1, j].set(title=f"{arch}: gradient norms", xlabel="fraction of training", yscale="log")
    axes[0, j].legend(fontsize=7)
    axes[1, j].legend(fontsize=7)
fig.tight_layout()
plt.show()
