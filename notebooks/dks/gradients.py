# %% [markdown] tags=[]
# # Proposition 1, measured: do the classifiers agree on their shared features?
#
# The supplement's Proposition 1 considers two classifiers reading one feature map $z$ and shows that the
# synergy term penalises the difference of their gradients with respect to $z$: under DKS the classifiers
# should pull a shared feature map in more similar directions than under DS. We measure it directly. At every
# evaluation, for every tap $z$ and every pair of classifiers that read it ($C_1$, the branch on $z$, and the
# branches on later taps), we take each classifier's cross-entropy gradient $g = \partial \mathrm{CE}/\partial z$
# per image on a fixed set of test images and report the mean cosine similarity and the normalised squared
# difference $\lVert g_a - g_b \rVert^2 / (\lVert g_a \rVert^2 + \lVert g_b \rVert^2)$ (0: identical, 1:
# orthogonal, 2: opposite). Probe: `aux_core.analysis.branch_gradients`; networks in evaluation mode.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2, 3, 4]   # the paper averages 5 runs; smaller profiles run the first few
backbone: str = "ResNet-32"     # any of aux_core.experiments.dks.BACKBONES
epochs: int = 200               # the paper's training length; profiles cap it
cifar100: str = "auto"          # auto (cifar100 if present, else cifar10) | cifar100 | cifar10

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import Markdown

from aux_core.experiments import dks as D
from aux_core import notebook as nb

p = nb.setup(globals(), "dks", "gradients",
             backbone=nb.one_of(*D.BACKBONES))
runs = D.run_grid(D.gradient_grid(profile, p.seeds(seeds), backbone, paper_epochs=epochs, cifar100=cifar100))
long = D.gradient_consistency(runs)
long["tap / pair"] = long["tap"] + ": " + long["pair"]

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
for ax, metric in zip(axes, ("cosine", "difference")):
    sns.lineplot(data=long, x="epoch", y=metric, hue="tap / pair", style="method", errorbar="sd", ax=ax, marker="o")
    ax.set_title(f"{metric} of the two classifiers' gradients, mean ± sd over seeds")
axes[0].axhline(0, color="grey", lw=0.8)
axes[1].get_legend().remove()
plt.tight_layout()

# %% [markdown] tags=[]
# ## Averaged over training
#
# Each method's mean over the evaluations, and DKS minus DS paired over seeds with its 95% interval. Proposition 1
# predicts a positive cosine difference and a negative squared-difference change.

# %% tags=["hide-input"]
summary = D.consistency_summary(long)
summary.round(4)

# %% tags=["remove-input"]
# a collapsed network's classifiers agree on chance, so its gradients say little of Proposition 1: the note names them
Markdown(D.collapse_note(D.per_run(runs), measures="gradient measures") or "No run collapsed.")
