# %% [markdown] tags=[]
# # Tables 10 and 17: the three networks on CIFAR-10
#
# *Asymmetric training with heterogeneous losses*, Appendix D (Table 10) and its repetition as Table 17.
# On CIFAR-10 with one branch per tap, the paper finds small significant gains for the MLP and the ViT-6L
# and no significant change for the CNN, unlike its large loss for the CNN on CIFAR-100. Table 17 prints the
# same numbers without stating N; we read both as N = 1 with Table 13's N = 1 hyperparameters (the paper
# gives none for CIFAR-10).

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
dataset: str = "cifar10"        # the paper's CIFAR-10 here; any of aux_core.data.DATASETS

# %% tags=["hide-input"]
from functools import partial

import pandas as pd
from myst_nb import glue

from aux_core.experiments import asymmetric as A
from aux_core import data as data_lib
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "cifar10",
             dataset=nb.one_of(*data_lib.DATASETS))
run_seeds = p.seeds(seeds)
cells = A.cifar10_cells(profile, run_seeds, dataset=dataset, epochs=epochs)
trained = A.run_grid(cells, desc="CIFAR-10 runs")
runs = A.per_run(trained)
table = A.compare(runs, ["arch", "n"])
print(f"profile {p.name}: {len(cells)} runs on {dataset}; {cells['config'].iloc[0].epochs} epochs (the paper: {epochs}), "
      f"{p.train_per_class or 'all'} training images per class, seeds {run_seeds}")

# %% [markdown] tags=[]
# ## Table 10 (= Table 17), ours beside the paper's

# %% tags=["hide-input"]
t10 = A.beside_paper(table, "Table 10", partial(A.paper_row, "Table 10"), ["arch"])
t10["ran on"] = dataset
t10.index.name = "network"
glue("asym_table10", t10, display=False)
t10
