# %% [markdown] tags=[]
# # The four methods on one bench
#
# No paper compares its method with the others'. Here plain training, deep supervision with He-initialised and
# with zero-initialised heads (LION-DG), sigmoid/BCE asymmetric branches, DKS, MAXL and WAMAL train on the same
# three networks (the asymmetric paper's MLP, CNN and ViT-6L) under one protocol (`aux_core.experiments.bench`):
# the same CIFAR-10 data, seeds and number of steps. The table gives each method's test accuracy, its paired
# difference to plain at equal steps and at equal wall time (each run's accuracy at the time its backbone's plain
# run took), its training seconds, and the mean cosine between the main and the summed auxiliary gradients on the
# shared weights. The ranking's uncertainty and the claims go through the shared ledger.

# %% tags=["parameters"]
profile: str = "smoke"       # smoke | tiny | cpu | gpu | paper: sizes of data, steps and seeds (aux_core.profiles)
seeds: list = [0, 1, 2]      # smaller profiles run the first few
steps: int = 3000            # the bench's training length; profiles cap it

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import seaborn as sns
from myst_nb import glue

from aux_core import notebook as nb
from aux_core.experiments import bench as B
from aux_core.experiments.presentation import Shown, side_by_side

p = nb.setup(globals(), "bench", "bench")
cells = B.grid(profile, p.seeds(seeds), steps=steps)
runs = B.per_run(B.run_grid(cells))
table = B.method_table(runs)
ledger = B.claims_ledger(runs, profile=p.name)

# %% tags=["hide-input"]
side_by_side(table, None, ["backbone", "method"],
             [Shown("accuracy (%)", ("acc", "acc_std"), digits=1),
              Shown("vs plain, equal steps (pp)", ("estimate", "lo", "hi"), digits=1, signed=True),
              Shown("vs plain, equal time (pp)", ("time_estimate", "time_lo", "time_hi"), digits=1, signed=True),
              Shown("seconds", "seconds", digits=1), Shown("gradient cosine", "cosine", digits=3, signed=True)],
             keep=("seeds", "diverged"))

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(8, 3.4))
sns.barplot(data=runs, x="backbone", y="test_acc", hue="method", errorbar="sd", ax=ax, alpha=0.85)
ax.set_ylabel("test accuracy (%)")
ax.set_title("one protocol, equal steps (mean ± sd over seeds)")
ax.legend(fontsize=7, ncols=2)
plt.tight_layout()

# %% [markdown] tags=[]
# ## Claims

# %% tags=["hide-input"]
glue("bench_ledger", ledger, display=False)
ledger

# %% tags=["hide-input"]
lines = B.findings(table, ledger)
glue("bench_headline", " ".join(lines), display=False)   # quoted by the book's introduction
for line in lines:
    print(line)
