# %% [markdown] tags=[]
# # Figure 7: training and test error over training
#
# The paper's Figure 7 plots top-1 training error (dashed) and test error (solid) of standard training, DS and
# DKS over training, and reads from it that DKS ends with the *highest* training error and the *lowest* test
# error: the synergy term acts as a regulariser. The supplement's curves are for ImageNet, which is not available
# here; we draw the same curves for the CIFAR runs of {doc}`main_table` (the same configurations: they come from
# the results cache). Training error is the mean error on the augmented training batches since the previous
# evaluation, measured before each step's update; test error is $C_1$'s on the test split.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2, 3, 4]   # the paper averages 5 runs; smaller profiles run the first few
backbones: list = ["ResNet-32"] # any of aux_core.experiments.dks.BACKBONES
epochs: int = 200               # the paper's training length; profiles cap it
cifar100: str = "auto"          # auto (cifar100 if present, else cifar10) | cifar100 | cifar10
tail: float = 0.25              # share of the last evaluations averaged for the "ends with" comparison

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from aux_core.experiments import dks as D
from aux_core import notebook as nb

p = nb.setup(globals(), "dks", "curves",
             backbones=nb.each(nb.one_of(*D.BACKBONES, *D.VARIANTS)))
runs = D.run_grid(D.grid(profile, p.seeds(seeds), backbones=tuple(backbones), paper_epochs=epochs, cifar100=cifar100))
curve = D.curves(runs)

# %% tags=["hide-input"]
long = curve.melt(id_vars=["backbone", "method", "seed", "epoch"], value_vars=["train_error", "test_error"],
                  var_name="split", value_name="error")
g = sns.relplot(data=long, x="epoch", y="error", hue="method", style="split", kind="line", col="backbone",
                errorbar="sd", height=3.4, aspect=1.5, dashes={"train_error": (4, 2), "test_error": ""})
g.set_axis_labels("epoch", "top-1 error (%)")
g.figure.suptitle(f"Figure 7 on {runs['dataset_run'].iloc[0]}: training (dashed) and test (solid) error, mean ± sd over seeds",
                  y=1.04)

# %% [markdown] tags=[]
# ## Which method ends highest and lowest
#
# Mean over the last quarter of the evaluations (`tail`), per method, and DKS minus each other method, paired
# over seeds, with 95% intervals.

# %% tags=["hide-input"]
late = D.late_errors(curve, tail)
summary = late.groupby(["backbone", "method"], sort=False)[["train_error", "test_error"]].agg(["mean", "std"]).round(2)
rows = []
for b, g_ in late.groupby("backbone", sort=False):
    for other in ("baseline", "DS"):
        for metric in ("train_error", "test_error"):
            a = g_[g_["method"] == other].sort_values("seed")[metric]
            c = g_[g_["method"] == "DKS"].sort_values("seed")[metric]
            d = D.paired_difference(a, c)
            rows.append({"backbone": b, "DKS minus": other, "metric": metric, "difference": d["estimate"],
                         "95% CI": f"[{d['lo']:+.2f}, {d['hi']:+.2f}]", "p": d["p"]})
display(summary)
pd.DataFrame(rows).round(3)
