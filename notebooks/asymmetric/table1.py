# %% [markdown] tags=[]
# # Table 1, Table 13 and Figure 5: plain against asymmetric training at N = 1, 7, 10, 20
#
# *Asymmetric training with heterogeneous losses*, Sections 4.3 and 5, Appendix C.1. Each of the three
# networks (MLP-6, CNN-6, ViT-6L) is trained plainly with softmax cross-entropy, and again with the
# asymmetric paradigm: at every tap, N parallel orthogonally initialised linear branches of which only the
# last is trained, each tap adding alpha times a per-class sigmoid BCE loss. The paper reports the test
# accuracy (mean ± std over seeds 42-51), the relative improvement and a two-tailed paired t-test; the
# hyperparameters come from its Table 13 (a learning rate and weight decay tuned for the plain network,
# then alpha tuned for the asymmetric one).
#
# We add a column the paper lacks: the **symmetric control**, the same branches (same number, same
# initialisation, same alpha) trained with the main loss's softmax cross-entropy instead of the sigmoid
# BCE. The paper's argument is about *heterogeneous* losses; this control keeps everything but the
# heterogeneity, so asymmetric against symmetric measures what the different loss adds.
#
# How we run it (`aux_core.experiments.asymmetric`): AdamW at a constant learning rate, batch 128, no
# augmentation (the paper states neither), 80/20 stratified training/validation split, accuracy of the
# final classifier on the test split after the last epoch. `hparams="search"` reruns the paper's
# three-stage search (learning rate, then weight decay, then alpha) through the results cache instead of
# taking Table 13.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for the paper's CIFAR-100 tables: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
archs: list = ["MLP", "CNN", "ViT-6L"]  # architectures (rows of Table 1)
branches: list = [1, 7, 10, 20] # redundancy levels N_branches
hparams: str = "table13"        # table13: the paper's Table 13 | search: the three-stage search of C.1
search_epochs: int = 150        # training length of each search run (C.1); profiles cap it

# %% tags=["hide-input"]
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import asymmetric as A
from aux_core.experiments.common import dataset_for
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "table1",
             archs=nb.each(nb.one_of(*A.MODELS)), branches=nb.each(nb.between(1, integer=True)),
             hparams=nb.one_of("table13", "search"))
branches = list(p.sized("branches", branches))   # a profile may narrow the N (smoke, cpu: 1 and 20)
run_seeds = p.seeds(seeds)
found, trials = (A.search_hparams(profile, run_seeds[0], archs=archs, branches=branches, cifar100=cifar100,
                                  epochs=search_epochs) if hparams == "search" else (None, None))
cells = A.table1_cells(profile, run_seeds, archs=archs, branches=branches, cifar100=cifar100, epochs=epochs, hparams=found)
cfg = cells["config"].iloc[0]
print(f"profile {p.name}: {len(cells)} runs = {len(archs)} networks x {len(branches)} N x 3 arms x {len(run_seeds)} seeds; "
      f"{cfg.epochs} epochs (the paper: {epochs}), {p.train_per_class or 'all'} training images per class, "
      f"{p.test_per_class or 'all'} test images per class; the paper's CIFAR-100 runs on {dataset_for('CIFAR-100', cifar100)}")

# %% [markdown] tags=[]
# ## Table 13: the hyperparameters
#
# Learning rate and weight decay apply to the plain and the asymmetric network alike; alpha only to the
# asymmetric one. With `hparams="search"` the table shows what our search selected beside the paper's values,
# and the trials below it.

# %% tags=["hide-input"]
t13 = ref.wide("asymmetric", "Table 13")
used = cells.drop_duplicates(["arch", "n"]).set_index(["arch", "n"])
rows = []
for (arch, n), u in used.iterrows():
    row = {"N": n, "network": arch}
    for col, name in (("learning_rate", "lr"), ("weight_decay", "weight_decay"), ("alpha", "alpha")):
        row[f"paper {name}"] = t13.loc[f"N={n}|{arch}", col] if f"N={n}|{arch}" in t13.index else np.nan
        row[f"ours {name}"] = u[name]
    rows.append(row)
pd.DataFrame(rows).set_index(["N", "network"])

# %% tags=["hide-input"]
if trials is not None:
    display(trials.pivot_table(index=["arch", "n", "stage", "field", "value"], values="score").round(4))

# %% [markdown] tags=[]
# ## Training
#
# Identical configurations train once: the plain network does not depend on N, so wherever Table 13 gives
# the same learning rate and weight decay for two values of N, its runs come from the results cache.

# %% tags=["hide-input"]
trained = A.run_grid(cells, desc="Table 1 runs")
runs = A.per_run(trained)
table = A.compare(runs, ["arch", "n"])
print(f"{sum(r.cached for r in trained['result'])} of {len(trained)} runs came from the cache; "
      f"{int((runs['status'] != 'ok').sum())} diverged; device {trained['result'].iloc[0].provenance['device']}")

# %% [markdown] tags=[]
# ## Table 1: test accuracy, ours beside the paper's
#
# Accuracies are fractions, mean ± sample std over seeds. Δ is the relative improvement of the asymmetric
# network over plain, `100 (asym - plain) / plain`; our interval is the 95% paired-t interval of the
# per-seed differences, in percent of the plain mean; p is the two-tailed paired t-test. The last columns are
# the symmetric control and the data the row ran on.

# %% tags=["hide-input"]
asym = table[table["arm"] == "asymmetric"]
shown = A.beside_paper(asym, "Table 1", partial(A.paper_row, "Table 1"), ["n", "arch"])
ctrl = table[table["arm"] == "symmetric"].set_index(["n", "arch"])
shown["symmetric"] = [A.mean_std_text(ctrl.loc[i, "arm_mean"], ctrl.loc[i, "arm_std"], 3) for i in shown.index]
shown["ran on"] = cells.drop_duplicates(["arch", "n"]).set_index(["n", "arch"]).loc[shown.index, "dataset_run"]
shown.index.names = ["N", "network"]
glue("asym_table1", shown, display=False)
shown

# %% [markdown] tags=[]
# ## The symmetric control
#
# Asymmetric against symmetric training, paired by seed: the relative difference in test accuracy,
# `100 (asym - sym) / sym`, its 95% paired interval and the paired t-test. Both arms carry the same
# branches with the same weight alpha; only the branches' loss differs (sigmoid BCE against softmax
# cross-entropy), so this is the heterogeneity the paper's title names.

# %% tags=["hide-input"]
vs = A.compare(runs[runs["arm"].isin(["symmetric", "asymmetric"])], ["arch", "n"], baseline="symmetric")
glue("asym_vs_symmetric_max_abs_pct", float(vs["estimate"].abs().max()), display=False)
vs.set_index(["arch", "n"])[["seeds", "plain_mean", "arm_mean", "estimate", "lo", "hi", "p"]].rename(
    columns={"plain_mean": "symmetric", "arm_mean": "asymmetric", "estimate": "asym vs sym (%)"})

# %% [markdown] tags=[]
# ## Figure 5: the dose-response curves
#
# Relative improvement against N for each network; our error bars are the standard error of the per-seed
# relative improvement (the paper's are the standard error over its 10 seeds, which it does not print). The
# paper's curves are drawn dashed.

# %% tags=["hide-input"]
colors = {"MLP": "tab:blue", "CNN": "tab:red", "ViT-6L": "tab:green"}
paper1 = ref.wide("asymmetric", "Table 1")
fig, ax = plt.subplots(figsize=(6.4, 4))
for arch in archs:
    ours = asym[asym["arch"] == arch].sort_values("n")
    ax.errorbar(ours["n"], ours["estimate"], yerr=ours["rel_se"], marker="o", capsize=3,
                color=colors[arch], label=f"{arch} (ours)")
    pn = [n for n in branches if f"N={n}|{arch}" in paper1.index]
    ax.plot(pn, [paper1.loc[f"N={n}|{arch}", "improvement_pct"] for n in pn], ls="--", marker="s", alpha=0.6,
            color=colors[arch], label=f"{arch} (paper)")
ax.axhline(0, color="k", lw=0.8)
ax.set(xlabel="N_branches (redundancy)", ylabel="improvement over plain (%)", xticks=branches,
       title=f"Dose-response ({dataset_for('CIFAR-100', cifar100)}; the paper: CIFAR-100)")
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
glue("asym_fig5", fig, display=False)
plt.show()

# %% [markdown] tags=[]
# ## Provenance
#
# Each run records its configuration, code version, data checksum, device and wall time; here the first
# run's record and the total training time behind this table.

# %% tags=["hide-input"]
first = trained["result"].iloc[0]
print(f"total wall time of the runs behind this table: {runs.drop_duplicates('run_key')['wall_time_s'].sum():.0f} s")
pd.Series({**first.provenance, "cache key": first.key[:16]}, name="provenance").to_frame()
