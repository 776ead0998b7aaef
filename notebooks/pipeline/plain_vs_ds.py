# %% [markdown] tags=[]
# # The pipeline: plain training versus deep supervision on five models
#
# This chapter is the template every paper chapter follows. It trains the five models of the
# first two papers (MLP-6, CNN-6 and ViT-6L of *Asymmetric training*; DenseNet-DS and ResNet-DS of
# *LION-DG*) with and without deep supervision (a GAP + linear cross-entropy head on every tap,
# weight alpha), using the LION-DG training recipe (its Table 4: AdamW, lr 1e-3, betas 0.9/0.999,
# weight decay 0.05, batch 128, alpha 0.3). Everything below is computed by `aux_core` when the
# notebook runs; nothing is pasted.
#
# **Data.** CIFAR-10 from the offline bundle: the source images are JPEGs (quality about 75), which
# costs about 2-3 points of accuracy against the lossless CIFAR-10 the papers used. Profiles other
# than `paper` train on a stratified subset and for fewer epochs (see the run plan below).

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
dataset: str = "cifar10"        # cifar10 | cifar100 | cifar100-20 | svhn
models: list = ["mlp6", "cnn6", "vit6", "densenet_ds", "resnet_ds"]  # any of aux_core.models.list_models()
methods: list = ["plain", "ds"]  # any of aux_core.methods.list_methods()
seeds: list = [42, 123, 456]    # the LION-DG seeds; smaller profiles run the first few
epochs: int = 15                # the protocol's length; smaller profiles cap it
alpha: float = 0.3              # weight of each auxiliary cross-entropy
lr: float = 0.001               # AdamW learning rate
weight_decay: float = 0.05      # AdamW weight decay
batch_size: int = 128           # training batch size

# %% tags=[]
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from myst_nb import glue

from aux_core import notebook as nb
from aux_core import reference, stats
from aux_core.data import DATASETS
from aux_core.experiments import pipeline as P
from aux_core.experiments.common import describe
from aux_core.methods import list_methods
from aux_core.models import create_model, list_models, num_params
from aux_core.runner import run_all, summarize

p = nb.setup(globals(), "pipeline", "plain_vs_ds",
             dataset=nb.one_of(*DATASETS), models=nb.each(nb.one_of(*list_models())),
             methods=nb.each(nb.one_of(*list_methods())))
run_seeds, run_epochs = p.seeds(seeds), p.epochs(epochs)
configs = list(P.grid(profile, seeds, dataset=dataset, models=models, methods=methods, epochs=epochs, alpha=alpha, lr=lr,
                      weight_decay=weight_decay, batch_size=batch_size)["config"])
print(f"profile {p.name}: {len(configs)} runs = {len(models)} models x {len(methods)} methods x "
      f"{len(run_seeds)} seeds {run_seeds}, {run_epochs} epochs, "
      f"train {p.train_per_class or 'all'} / test {p.test_per_class or 'all'} images per class")

# %% [markdown] tags=[]
# ## The models and their taps
#
# Parameter counts are those of the backbone with its final classifier; `ds` adds one linear head per tap.

# %% tags=[]
# NBVAL_CHECK_OUTPUT
num_classes = 100 if dataset == "cifar100" else 20 if dataset == "cifar100-20" else 10
pd.DataFrame([{"model": m, "parameters": num_params(create_model(m, num_classes)),
               "taps": ", ".join(create_model(m, num_classes).tap_names)} for m in models]).set_index("model")

# %% [markdown] tags=[]
# ## Training
#
# Each run comes from the results store (or this machine's cache) when an identical run (same
# configuration and data, under the same numerics version) was computed before; the line below says
# what the numbers rest on.

# %% tags=[]
results = run_all(configs, desc=f"{profile} runs")
runs = summarize(results)
print(describe(results))
print(f"{sum(r.status != 'ok' for r in results)} diverged; training time {runs['train_time_s'].sum():.0f} s")

# %% [markdown] tags=[]
# ## Test accuracy, mean ± std over seeds
#
# `Δ` is deep supervision minus plain in accuracy points; `p` a two-tailed paired t-test over seeds
# (needs at least two seeds). The last column shows the closest published number for each model:
# the plain CIFAR-10 accuracy of *Asymmetric training* (Table 10, 200 epochs) for the paper-1 models
# and the He-init deep-supervision accuracy of *LION-DG* (Table 1, 3000 steps) for the paper-2 models.
# Our runs use other lengths and, below the `paper` profile, far less data: the published numbers are
# context, not targets.

# %% tags=["hide-input"]
PAPER = {  # (paper, table, row, column): the closest published CIFAR-10 number per model
    "mlp6": ("asymmetric", "Table 10", "N=1|MLP", "plain"),
    "cnn6": ("asymmetric", "Table 10", "N=1|CNN", "plain"),
    "vit6": ("asymmetric", "Table 10", "N=1|ViT-6L", "plain"),
    "densenet_ds": ("lion_dg", "Table 1", "DenseNet-DS|He-init", "val_acc"),
    "resnet_ds": ("lion_dg", "Table 1", "ResNet-DS|He-init", "val_acc"),
}

def paper_number(model):
    if model not in PAPER or dataset != "cifar10":
        return "not reported"
    paper, table, row, column = PAPER[model]
    v = reference.value(paper, table, row, column, dataset="CIFAR-10")
    v = v * 100 if v <= 1 else v
    return f"{v:.2f} ({paper} {table})"

rows = []
for m in models:
    acc = {meth: runs.query("model == @m and method == @meth").sort_values("seed")["final_test_acc"].to_numpy() * 100
           for meth in methods}
    row = {"model": m, **{meth: stats.fmt_mean_std(acc[meth], 2) for meth in methods}}
    if {"plain", "ds"} <= set(methods):
        row["Δ (points)"] = f"{acc['ds'].mean() - acc['plain'].mean():+.2f}"
        row["p (paired t)"] = f"{stats.paired_ttest(acc['ds'], acc['plain']).p:.3f}" if len(run_seeds) > 1 else "n/a"
        glue(f"{m}_plain_acc", float(acc["plain"].mean()), display=False)
        glue(f"{m}_ds_acc", float(acc["ds"].mean()), display=False)
    row["paper (CIFAR-10)"] = paper_number(m)
    rows.append(row)
table = pd.DataFrame(rows).set_index("model")
glue("pipeline_table", table, display=False)
table

# %% [markdown] tags=[]
# ## Learning curves
#
# Test accuracy after every epoch; lines are the mean over seeds and bands their 95% interval.

# %% tags=["hide-input"]
curves = pd.concat([r.history.assign(model=r.config["model"], method=r.config["method"], seed=r.config["seed"])
                    for r in results if len(r.history)])
g = sns.relplot(data=curves, x="epoch", y="test_acc", hue="method", col="model", col_wrap=3, kind="line",
                marker="o", height=2.8, aspect=1.2, facet_kws={"sharey": False})
g.set_axis_labels("epoch", "test accuracy")
glue("pipeline_curves", g.figure, display=False)
plt.show()

# %% [markdown] tags=[]
# ## Provenance
#
# Every result records what made it; this is the first run's record.

# %% tags=["hide-input"]
pd.Series({**results[0].provenance, "cache key": results[0].key[:16]}, name="provenance").to_frame()
