# %% [markdown] tags=[]
# # Intervening on the gradient conflict
#
# The asymmetric paper explains its results by the angle between the main and the auxiliary gradients: they
# conflict in CNNs and align in ViTs. That is a correlation. Here we intervene on it: on the CNN, deep supervision
# and the asymmetric branches train once with the gradients summed (as always) and once with the two gradients on
# the shared weights aggregated by a conflict-resolving rule from TorchJD (`aux_core.methods.aggregation`):
# PCGrad (each gradient's component against the other removed), UPGrad (both projected onto their dual cone)
# and MGDA (the minimum-norm convex combination). Heads and the final classifier get their ordinary gradient.
# If the conflict costs accuracy, removing it should recover some: a claim the ledger can reject. PCGrad and
# UPGrad only remove conflicting components; MGDA also re-weights the two gradients by their norms, so a gain
# under MGDA alone could come from a smaller auxiliary weight, and the reading below says so.

# %% tags=["parameters"]
profile: str = "smoke"       # smoke | tiny | cpu | gpu | paper: sizes of data, steps and seeds (aux_core.profiles)
seeds: list = [0, 1, 2]      # smaller profiles run the first few
steps: int = 3000            # the bench's training length; profiles cap it
backbone: str = "CNN"        # any of aux_core.experiments.bench.BACKBONES (the paper's conflicting one: CNN)

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import seaborn as sns
from myst_nb import glue

from aux_core import notebook as nb
from aux_core.experiments import bench as B
from aux_core.experiments.presentation import Shown, side_by_side

p = nb.setup(globals(), "bench", "intervention", backbone=nb.one_of(*B.BACKBONES))
cells = B.intervention_grid(profile, p.seeds(seeds), backbone, steps=steps)
runs = B.per_run(B.run_grid(cells))
table = B.method_table(runs)
ledger = B.claims_ledger(runs.iloc[0:0], runs, profile=p.name) if backbone == B.CONFLICT_BACKBONE else None

# %% tags=["hide-input"]
side_by_side(table, None, ["method", "aggregator"],
             [Shown("accuracy (%)", ("acc", "acc_std"), digits=1),
              Shown("vs plain (pp)", ("estimate", "lo", "hi"), digits=1, signed=True),
              Shown("seconds", "seconds", digits=1), Shown("gradient cosine", "cosine", digits=3, signed=True)],
             keep=("seeds", "diverged"))

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.2))
sns.pointplot(data=runs[runs["method"] != "plain"], x="aggregator", y="test_acc", hue="method", errorbar="sd",
              dodge=0.3, ax=ax)
ax.axhline(runs[runs["method"] == "plain"]["test_acc"].mean(), color="gray", ls="--", label="plain")
ax.set_ylabel("test accuracy (%)")
ax.set_title(f"{backbone}: summed against aggregated gradients")
ax.legend(fontsize=8)
plt.tight_layout()

# %% [markdown] tags=[]
# ## Claims

# %% tags=["hide-input"]
if ledger is not None:
    lines = B.findings(table, ledger)
    glue("bench_intervention_ledger", ledger, display=False)
    glue("intervention_headline", " ".join(lines[1::2]), display=False)   # the readings, quoted by the introduction
    for line in lines:
        print(line)
ledger
