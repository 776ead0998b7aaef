# %% [markdown] tags=[]
# # Asymmetric training with heterogeneous losses
#
# *Asymmetric Training with Heterogeneous Losses: A Probe into Architectural Resonance* (anonymous, under
# review). This chapter reruns every table and figure of the paper; this page explains the method, lists the
# paper's headline claims beside our measurements, and points to the sections that follow. The chapter closes
# with {doc}`findings`.
#
# ## The method in brief
#
# A classifier trained with softmax cross-entropy is a contest: raising one class's logit lowers every other
# class's probability. The paper adds, during training only, a second kind of supervision that is no contest
# at all: at each of K intermediate points ("taps") of the network, a linear layer maps the features to one
# logit per class, and each logit is judged on its own by a sigmoid,
#
# $$\mathcal{L}_{aux} = -\frac{1}{C}\sum_{i=1}^{C}\big[y_i \log\sigma(z_i) + (1-y_i)\log(1-\sigma(z_i))\big],
# \qquad \mathcal{L} = \mathcal{L}_{main} + \alpha \sum_{k=1}^{K} \mathcal{L}_{aux}^{(k)} .$$
#
# Two knobs shape the "dialogue" between the objectives: its strength $\alpha$, and the *redundancy*
# $N_{branches}$: each tap carries N parallel, orthogonally initialised linear branches, of which only the last
# is ever used. The other N - 1 are never called, never receive a gradient and keep their initial values; they
# exist only as parameters. The paper's premise is that these idle branches smooth the initial loss landscape,
# and its result that the effect on accuracy depends on the architecture ("architectural resonance"): large
# gains for a 6-block ViT on CIFAR-100, large losses for a 6-layer CNN, a mixed picture for a 6-layer MLP,
# traced to gradients that agree (ViT) or conflict (CNN). The ledger below gives the paper's numbers beside
# ours. At test time the branches are gone: the evaluated network is the plain one.
#
# In `aux_core` the method is `asymmetric` (`aux_core/methods/asymmetric.py`): options `alpha`,
# `n_branches`, `activation` (`last`, or `all` for Table 16) and `objective` (`softmax` gives our
# symmetric control: the same branches trained with softmax cross-entropy; `none`, branches no loss
# reads, trains exactly as plain).
#
# ## Data
#
# The paper ran CIFAR-100 (and CIFAR-10 for Tables 5, 7, 10, 11). Only CIFAR-10 is available offline here, as
# JPEGs; the CIFAR-100 tables run on `cifar100` when its data are present (`cifar100` parameter, default
# `auto`) and otherwise on this CIFAR-10, with 10 instead of 100 classes. Every table says which data it ran
# on.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for the paper's CIFAR-100 tables: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
grid: int = 51                  # loss-landscape grid points per axis (A.1); profiles cap it
samples: int = 500              # loss-landscape training images per point (A.1); profiles cap it

# %% tags=["hide-output"]
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core.experiments import asymmetric as A
from aux_core import notebook as nb

p = nb.setup(globals(), "asymmetric", "overview")
run_seeds = p.seeds(seeds)
s = A.summary(profile, run_seeds, epochs=epochs, cifar100=cifar100, grid=grid, samples=samples)
ledger = s["ledger"]

# %% [markdown] tags=[]
# ## Claims ledger
#
# Each headline claim judged by the book's one ledger kit (`aux_core.ledger`) on per-seed values at this
# book's profile: the relative improvement paired by seed, the per-seed cosines, landscape changes and
# attention coverages, each with its 95% interval. *reproduced* needs the interval to exclude zero on the
# paper's side and to hold the paper's number; *direction only* the side alone; *contradicted* the other
# side; *inconclusive* an interval that decides neither; *not decidable* too few seeds, zero variance or
# nothing measured (the reason says which). p-values are Holm-corrected across the claims and the verdicts
# use the corrected ones. The last column says what each measurement ran on.
# The `audit` column names the printed numbers a claim rests on that the paper's own other numbers contradict
# (the statistics audit, {doc}`../audit/asymmetric`); it is empty where the audit flags none of them.

# %% tags=["hide-input"]
from aux_core import audit, ledger as ledger_kit

pd.set_option("display.max_colwidth", None)
shown = ledger_kit.shown(audit.linked(ledger, "asymmetric"))   # audit: flagged paper numbers the claim rests on
glue("asym_ledger", shown, display=False)
counts = ledger["verdict"].value_counts()
glue("asym_n_claims", float(len(ledger)), display=False)
glue("asym_n_reproduced", float(counts.get("reproduced", 0)), display=False)
glue("asym_n_contradicted", float(counts.get("contradicted", 0)), display=False)
shown

# %% [markdown] tags=[]
# ## The sections
#
# | section | the paper's tables and figures |
# |---|---|
# | {doc}`table1` | Table 1, Table 13, Figure 5; the three-stage search of C.1; the symmetric control |
# | {doc}`gradients` | Tables 2 and 15, Figure 2 |
# | {doc}`dynamics` | Tables 3 and 4, Figures 3 and 8 |
# | {doc}`landscape` | Tables 5 and 6, Figure 6, and the active-parameter control |
# | {doc}`attention` | Table 14, Figures 4, 7 and 9, Appendix D.3 |
# | {doc}`few_shot` | Tables 7, 8 and 9 |
# | {doc}`noise` | Tables 11 and 12 |
# | {doc}`cifar10` | Tables 10 and 17 |
# | {doc}`all_active` | Table 16 |
# | {doc}`statistics` | Appendix E: paired t-tests, Bonferroni, Cohen's d |
# | {doc}`findings` | what the reproduction found |

# %% tags=["remove-input"]
Markdown(f"The ledger above ran at profile `{p.name}`: {s['where']['table1']}. Of its {len(ledger)} claims: "
         + ", ".join(f"{n} {v}" for v, n in counts.items()) + ".")
