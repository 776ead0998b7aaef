# %% [markdown] tags=[]
# # Table 16: one active branch against all active
#
# *Asymmetric training with heterogeneous losses*, Appendix Table 16. With three branches per tap the paper
# compares its "single activation" (only the last branch is called and trained; the other two stay at their
# initial values) with "all active" (every branch contributes its own sigmoid loss and is trained). There,
# unlike Table 1, learning rate and weight decay were tuned separately for each arm; the tuned values are not
# printed, so by default we use Table 13's row for the nearest N on a log scale (N = 7) for every arm.
#
# In the all-active variant the auxiliary loss of a tap is the sum of its branches' BCE terms
# (`aux_core.methods.asymmetric`, `activation="all"`).

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for the paper's CIFAR-100 tables: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
n_branches: int = 3             # branches per tap (the paper: 3)

# %% tags=["hide-input"]
import pandas as pd
from myst_nb import glue

from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "all_active")
run_seeds = p.seeds(seeds)
cells = A.all_active_cells(profile, run_seeds, n_branches=n_branches, cifar100=cifar100, epochs=epochs)
trained = A.run_grid(cells, desc="Table 16 runs")
runs = A.per_run(trained)
table = A.compare(runs, ["arch"], arm_col="variant")
cfg = cells["config"].iloc[0]
print(f"profile {p.name}: {len(cells)} runs on {cfg.dataset}; {cfg.epochs} epochs (the paper: {epochs}), seeds {run_seeds}; "
      f"hyperparameters: " + "; ".join(f"{a}: lr {A.table13(a, n_branches)[0]}, wd {A.table13(a, n_branches)[1]}, "
                                       f"alpha {A.table13(a, n_branches)[2]}" for a in A.MODELS))

# %% [markdown] tags=[]
# ## Table 16, ours beside the paper's

# %% tags=["hide-input"]
table["key"] = [f"N={n_branches}|{'all-active' if v == 'all active' else 'one-active'}|{a}" for v, a in zip(table["variant"], table["arch"])]
t16 = A.beside_paper(table, "Table 16", lambda r: r["key"], ["variant", "arch"])
t16["ran on"] = cfg.dataset
glue("asym_table16", t16, display=False)
t16
