# %% [markdown] tags=[]
# # Deeply-supervised knowledge synergy (DKS)
#
# *Deeply-supervised Knowledge Synergy* (Sun, Yao, Zhou & Zhao, CVPR 2019) and its supplementary material.
# This chapter rebuilds the supplement's auxiliary classifiers from `aux_core`'s model definitions, trains
# standard, deeply-supervised (DS) and DKS networks on CIFAR, and checks the paper's claims one by one; this
# page explains the method and holds the claims ledger. The chapter closes with {doc}`findings`.
#
# ## The method in brief
#
# Deep supervision attaches extra classifiers to intermediate layers and trains each with the labels. DKS keeps
# those classifiers and lets them teach one another. With classifiers $C_1$ (the network's own, on top) and the
# auxiliary $C_2, \dots, C_K$ giving logits $o_1, \dots, o_K$ and probabilities $p_k = \mathrm{softmax}(o_k)$,
#
# $$\mathcal{L}_{DS} = \sum_{k=1}^{K} \mathrm{CE}(o_k, y), \qquad
# \mathcal{L}_{DKS} = \mathcal{L}_{DS} + \sum_{i=1}^{K} \sum_{j \ne i} \mathrm{KL}\big(\,\bar p_j \,\|\, p_i\big),$$
#
# where $\bar p_j$ is $p_j$ held fixed: each classifier moves toward every other one's current belief, but not
# the other way through the same term. All weights are 1 and the temperature is 1, as in the authors' code. The
# auxiliary classifiers are not the usual pooled linear heads: each is a small stack of the backbone's own
# blocks, placed so that every path from the input to a classifier passes through the same number of
# down-sampling stages (supplement Section 2). At test time only $C_1$ predicts; the branches are discarded and
# the deployed network is the plain backbone. The supplement's Proposition 1 argues that the synergy term makes
# the gradients that two classifiers send into a shared feature map more alike.
#
# In `aux_core`: the methods `ds` and `dks` (`aux_core/methods/ds.py`, `dks.py`), the branch designs in
# `aux_core/methods/branches.py` (option `branch`), and the backbones `resnet32`, `resnet110`, `wrn28_4`,
# `wrn28_10`, `densenet40_12`, `densenet100_12`, `mobilenet` and `resnet1202` in the model registry.
#
# ## Data
#
# The paper's CIFAR experiments use CIFAR-100. Only CIFAR-10 is available offline here: with the parameter
# `cifar100 = "auto"` the notebooks run CIFAR-100 when its data are present and CIFAR-10 otherwise, and every
# table names the data it ran on.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2, 3, 4]   # the paper averages 5 runs; smaller profiles run the first few
backbone: str = "ResNet-32"     # the network of the ledger's comparisons (aux_core.experiments.dks.BACKBONES)
cifar100: str = "auto"          # auto (cifar100 if present, else cifar10) | cifar100 | cifar10

# %% tags=["hide-output"]
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core.experiments import dks as D
from aux_core import notebook as nb

p = nb.setup(globals(), "dks", "overview",
             backbone=nb.one_of(*D.BACKBONES))
s = D.chapter_results(profile, p.seeds(seeds), backbone=backbone, cifar100=cifar100)
ledger = s["ledger"]

# %% [markdown] tags=[]
# ## Claims ledger
#
# Each headline claim with the paper's number (or the direction it states), judged by the book's one
# ledger kit (`aux_core.ledger`) on this book's profile: the paired difference over seeds (same seed:
# same initial backbone and data order) with its 95% interval. *reproduced* when the interval excludes
# zero on the paper's side and, where the paper gives a size, holds it; *direction only* when the side
# holds but the paper's size lies outside; *contradicted* when it excludes zero on the other side;
# *inconclusive* otherwise; *not decidable* where this profile does not train that network or the
# seeds are too few. p-values are Holm-corrected across the claims and the verdicts use the corrected
# ones. Errors are top-1 test errors of $C_1$ in percentage points.
# The `audit` column names the printed numbers a claim rests on that the paper's own other numbers contradict
# (the statistics audit, {doc}`../audit/dks`); it is empty where the audit flags none of them.

# %% tags=["hide-input"]
from aux_core import audit, ledger as ledger_kit

pd.set_option("display.max_colwidth", None)
shown = ledger_kit.shown(audit.linked(ledger, "dks"))   # audit: flagged paper numbers the claim rests on
glue("dks_ledger", shown, display=False)
counts = ledger["verdict"].value_counts()
shown

# %% [markdown] tags=[]
# ## The sections
#
# | section | the paper's tables and figures |
# |---|---|
# | {doc}`designs` | Supplement Tables 1–6, Figure 3's designs; ImageNet's Table 7 and Figures 5–7 (no data here) |
# | {doc}`main_table` | the main paper's CIFAR-100 comparison (Table 1): baseline, DS, DKS |
# | {doc}`curves` | Figure 7: training and test error over training |
# | {doc}`ablation` | Table 6 and Figure 3: five auxiliary designs on ResNet-32 |
# | {doc}`gradients` | Proposition 1, measured |
# | {doc}`noise` | DKS on noisy data |
# | {doc}`warmup` | our control: the main comparison with a learning-rate warm-up (the paper has none) |
# | {doc}`findings` | what the reproduction found |

# %% tags=["remove-input"]
run = s["main_runs"]
designs = D.design_collapse_note(s["design_runs"])   # "" when none collapsed
Markdown(f"The ledger above ran at profile `{p.name}` on `{run['dataset_run'].iloc[0]}` with {backbone}, "
         f"{len(s['seeds'])} seeds: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + f" of {len(ledger)} claims. "
         + D.collapse_note(run) + (f" In the design ablation (Table 6): {designs[0].lower()}{designs[1:]}" if designs else ""))
