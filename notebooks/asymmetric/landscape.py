# %% [markdown] tags=[]
# # Tables 5 and 6 and Figure 6: the initial loss landscape
#
# *Asymmetric training with heterogeneous losses*, Section 4.2 and Appendix A.1. Following Li et al.
# (2018), the paper evaluates the loss on a 51 x 51 grid around the initial weights, along two random
# Gaussian directions "normalised to unit variance", on 500 training images, and reports the surface's
# standard deviation, range and mean gradient magnitude for the plain network and for N = 1, 20 and 300
# branches per tap. It finds the surface flatter the more branches there are and reads this as "redundancy
# smooths the initial landscape".
#
# The inactive branches never enter the loss. If a direction is drawn over *all* parameters and scaled to
# unit norm, every inactive parameter takes a share of that unit step, and the step that actually moves
# the loss shrinks by about sqrt(P_active / P_all) (the *active share* column below): the surface flattens by
# this arithmetic alone, whatever the landscape. We therefore compute two readings (`aux_core.analysis.landscape`):
#
# - **paper**: one Gaussian draw per parameter of the whole network, branches included, scaled to unit norm
#   over all of them (the reading that gives losses as flat as the paper's);
# - **filter**: filter-normalised directions (Li et al.) over the parameters the loss reads only, the
#   same step whatever the number of inactive branches.
#
# The loss is the main cross-entropy at the initial point (`loss="total"` adds the auxiliary terms). With the main
# loss, the filter reading cannot change with the branches (the loss never reads them): it is a check of the code,
# not a control. The control is the filter reading with the **total training loss** (main plus alpha times the
# auxiliary terms), computed for the MLP at N = 0 and 300 whatever `loss` is; the claims ledger judges it. The
# backbone's share of each direction is the same random draw for every row, so rows differ only in what
# the branches do to the directions.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: grid size, images and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # initialisation and direction seeds; smaller profiles run the first few
cifar100: str = "auto"          # data for Table 6 (the paper's CIFAR-100): auto (cifar100 if present, else cifar10) | cifar100 | cifar10
grid: int = 51                  # grid points per axis (A.1); profiles cap it
samples: int = 500              # training images per grid point (A.1); profiles cap it
span: float = 1.0               # the grid covers [-span, span] along each direction
loss: str = "main"              # main: the cross-entropy | total: the training objective with the auxiliary terms
alpha: float = 1.0              # weight of the auxiliary terms when loss="total"

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "landscape",
             loss=nb.one_of("main", "total"))
run_seeds = p.seeds(seeds)
lands = A.landscape_grid(profile, run_seeds, cifar100=cifar100, grid=grid, samples=samples, span=span, alpha=alpha,
                         loss=loss)
total = A.total_loss_control(profile, run_seeds, cifar100=cifar100, grid=grid, samples=samples,
                             span=span)   # the control the claims judge
changes = A.landscape_changes(pd.concat([lands, total], ignore_index=True))
g, s = A.landscape_size(profile, grid, samples)
print(f"profile {p.name}: {len(lands)} landscapes = 3 networks x 4 rows x 2 direction kinds x {len(run_seeds)} seeds; "
      f"{g}x{g} grid (the paper: 51x51), {s} training images per point (the paper: 500); "
      f"MLP on {lands[lands.arch == 'MLP'].dataset_run.iloc[0]}, CNN and ViT-6L on {lands[lands.arch == 'CNN'].dataset_run.iloc[0]}; "
      f"{lands['wall_time_s'].sum():.0f} s of computation")


# %% [markdown] tags=[]
# ## Tables 5 and 6: roughness of the initial surface
#
# For each network and row: the parameter count (millions) and the active share, the three roughness
# measures (mean over seeds) and their change against plain (mean of the per-seed changes, paired by seed:
# the same initial backbone). *dilution* is the change a linear surface would show from the shrinking step
# alone, `100 (sqrt(P_active / P_all) - 1)`.

# %% tags=["hide-input"]
def rows_for(kind):
    out = []
    mean = lands[lands["kind"] == kind].groupby(["arch", "n"]).mean(numeric_only=True)
    ch = changes[changes["kind"] == kind].groupby(["arch", "n"]).mean(numeric_only=True)
    for arch in A.MODELS:
        table, dataset = ("Table 5", "CIFAR-10") if arch == "MLP" else ("Table 6", "CIFAR-100")
        paper = ref.wide("asymmetric", table, dataset=dataset)
        for n in (0, *A.LANDSCAPE_BRANCHES):
            if (arch, n) not in mean.index:
                continue
            key = f"{'plain' if n == 0 else f'N={n}'}|{arch}"
            r = mean.loc[(arch, n)]
            row = {"network": arch, "row": "plain" if n == 0 else f"N = {n}",
                   "paper params (M)": paper.loc[key, "params"], "ours params (M)": round(r["params"] / 1e6, 2),
                   "active share": round(r["active_params"] / r["params"], 3)}
            for m in ("std_loss", "range_loss", "mean_grad"):
                row[f"paper {m}"] = paper.loc[key, m]
                row[f"ours {m}"] = float(f"{r[m]:.3g}")
            for m in ("std_loss", "mean_grad"):
                row[f"paper {m} Δ%"] = paper.loc[key, f"{m}_change_pct"] if n else np.nan
                row[f"ours {m} Δ%"] = round(ch.loc[(arch, n), f"{m}_change_pct"], 1) if n else np.nan
            row["dilution Δ%"] = round(100 * (np.sqrt(r["active_params"] / r["params"]) - 1), 1)
            out.append(row)
    return pd.DataFrame(out).set_index(["network", "row"])

paper_reading = rows_for("paper")
glue("asym_table5_6", paper_reading, display=False)
paper_reading

# %% [markdown] tags=[]
# ### The control: filter-normalised directions over the active parameters
#
# The same table with our control directions. The paper's columns are repeated for reference; the paper
# did not compute this reading.

# %% tags=["hide-input"]
rows_for("filter")

# %% [markdown] tags=[]
# ## Figure 6: the MLP's surfaces
#
# Contours of the loss around the initial point for the plain MLP and for 1, 20 and 300 branches (first
# seed), under both readings; each row shares one colour scale, so a flatter surface shows fewer contour
# bands.

# %% tags=["hide-input"]
mlp = lands[(lands["arch"] == "MLP") & (lands["seed"] == run_seeds[0])]
fig, axes = plt.subplots(2, 4, figsize=(13, 6), squeeze=False)
for i, kind in enumerate(("paper", "filter")):
    k = mlp[mlp["kind"] == kind].sort_values("n")
    lo = min(z.min() for z in k["surface"])
    hi = max(z.max() for z in k["surface"])
    levels = np.linspace(lo, hi, 15) if hi > lo else 15
    for ax, (_, r) in zip(axes[i], k.iterrows()):
        z = r["surface"]
        c = np.linspace(-span, span, len(z))
        cs = ax.contourf(c, c, z.T, levels=levels, cmap="viridis")
        ax.set(title=f"{'plain' if r['n'] == 0 else f'N = {r.n}'} ({kind}): std {r['std_loss']:.2g}",
               xlabel="d1", ylabel="d2" if ax is axes[i][0] else "")
    fig.colorbar(cs, ax=axes[i].tolist(), shrink=0.8, label="loss")
glue("asym_fig6", fig, display=False)
plt.show()

# %% [markdown] tags=[]
# The same two MLP surfaces as the paper draws them, plain against 300 branches under the paper's directions,
# on one vertical scale:

# %% tags=["hide-input"]
pair = mlp[(mlp["kind"] == "paper") & mlp["n"].isin([0, 300])].sort_values("n")
fig = plt.figure(figsize=(10, 4))
zlo = min(z.min() for z in pair["surface"])
zhi = max(z.max() for z in pair["surface"])
for k, (_, r) in enumerate(pair.iterrows(), start=1):
    ax = fig.add_subplot(1, 2, k, projection="3d")
    c = np.linspace(-span, span, len(r["surface"]))
    X, Y = np.meshgrid(c, c, indexing="ij")
    ax.plot_surface(X, Y, r["surface"], cmap="viridis", vmin=zlo, vmax=zhi)
    ax.set(zlim=(zlo, zhi), title=f"{'plain' if r['n'] == 0 else f'N = {r.n}'} (paper directions)", xlabel="d1", ylabel="d2")
fig.tight_layout()
plt.show()

# %% [markdown] tags=[]
# ## Which reading the data support

# %% tags=["remove-input"]
from aux_core.experiments import findings

lines = findings.asymmetric_landscape(changes, paper_reading)
for arch in A.MODELS:
    for kind in ("paper", "filter"):
        v = changes[(changes["arch"] == arch) & (changes["kind"] == kind) & (changes["n"] == 300)]["std_loss_change_pct"]
        glue(f"asym_land_{arch.replace('-', '')}_{kind}_300", float(v.mean()), display=False)
glue("asym_landscape_verdict", Markdown("\n".join(lines)), display=False)
Markdown("\n".join(lines))
