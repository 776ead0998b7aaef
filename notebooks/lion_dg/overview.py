# %% [markdown] tags=[]
# # LION-DG: zero-initialised auxiliary heads
#
# *LION-DG: Layer-Informed Initialization with Deep Gradient Protocols for Accelerated Neural Network
# Training.* This chapter reruns every table and figure of the paper and checks its theory; this page
# explains the method, lists the paper's headline claims beside our measurements, and says what the
# reproduction found. The sections after it hold the tables and figures.
#
# ## The method in brief
#
# A deeply-supervised network adds small classifiers ("auxiliary heads") to intermediate layers and
# trains on
#
# $$\mathcal{L} = \mathcal{L}_{main} + \alpha \sum_k \mathcal{L}_{aux}^{(k)}, \qquad \alpha = 0.3 .$$
#
# Usually every weight, heads included, starts from the same random initialisation, so at step 0 the
# untrained heads already push their own gradients into the backbone. **LION-DG** keeps He
# initialisation for the backbone and sets every auxiliary head to exactly zero. A head computes
# $z_k = W_k h_k + b_k$ from the features $h_k$ it taps, so the auxiliary gradient on the backbone,
# $\nabla_{\theta_b} \mathcal{L}_{aux} = (\partial h_k / \partial \theta_b)^\top W_k^\top \delta_k$, vanishes while
# $W_k = 0$ (Proposition 1). The heads' own gradient $\delta_k h_k^\top$ does not vanish, so $W_k$ grows,
# about linearly in the first steps (Proposition 2), and the auxiliary signal phases in by itself: a
# warm-up of the auxiliary weight without a schedule to tune (Corollary 1). This needs the heads to sit
# beside the main path (DenseNet's concatenation, or side taps on a ResNet); a head whose output is
# added back into a residual stream leaves a dead zone at zero (Theorem 1).
#
# The paper compares LION-DG with He, LSUV (data-driven unit-variance scaling), their combination
# "Hybrid" (LSUV backbone with zero heads), Fixup and ReZero, on DenseNet-DS and ResNet-DS trained for
# at most 3000 AdamW steps; convergence is measured as steps to 70% training accuracy.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, steps and seeds (aux_core.profiles)
seeds: list = [42, 123, 456]    # the paper's seeds; smaller profiles run the first few
steps: int = 3000               # the paper's step budget (Table 4); profiles cap it
threshold: float = 0.7          # convergence target: smoothed training accuracy (Table 4)
alpha: float = 0.3              # weight of each auxiliary cross-entropy (Table 4)
cifar100: str = "auto"          # data for the paper's CIFAR-100 rows: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
warmup_fraction: float = 0.1    # explicit warm-up length T as a fraction of the run (Corollary 1)

# %% tags=[]
import numpy as np
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import lion_dg as L
from aux_core import notebook as nb

p = nb.setup(globals(), "lion_dg", "overview")
run_seeds = p.seeds(seeds)
main_cells = L.grid(profile, run_seeds, cifar100=cifar100, paper_steps=steps, alpha=alpha)
base_cells = L.baselines_grid(profile, run_seeds, warmup_fraction=warmup_fraction, paper_steps=steps, alpha=alpha)
cfg = main_cells["config"].iloc[0]
scale = (f"profile `{p.name}`: {cfg.steps} steps of batch {cfg.batch_size} (the paper: {steps}), "
         f"{p.train_per_class or 'all'} training images per class, seeds {run_seeds}; "
         f"the CIFAR-100 rows ran on `{L.dataset_for('CIFAR-100', cifar100)}`")
glue("lion_dg_scale", Markdown(scale), display=False)
print(scale)

# %% tags=["hide-output", "hide-input"]
main = L.run_grid(main_cells, desc="Table 1 runs")
thresholds = L.group_thresholds(main, threshold)
table1 = L.compare(L.per_run(main, thresholds=thresholds))
base = L.run_grid(base_cells, desc="baseline runs")
residual = L.compare(L.per_run(base, thresholds=thresholds))
ledger = L.claims_ledger(main, base, ref, profile=p.name, threshold=threshold)
flow = L.gradient_flow_table(L.ARCHS, L.INITS)   # Proposition 1: the step-0 gradient norms

# %% [markdown] tags=[]
# ## Claims ledger
#
# Each headline claim of the paper judged by the book's one ledger kit (`aux_core.ledger`), on this
# book's profile: a speed-up is a time to the paper's threshold, with runs that never reach it
# censored at the budget (Kaplan-Meier medians, a log-rank test, a bootstrap interval of the
# speed-up); "best" is the bootstrap probability over seeds that the ranking holds; "no benefit" is
# an equivalence test against a stated margin. *reproduced* needs the paper's side and the paper's
# size; *direction only* the side alone; *contradicted* the other side; *inconclusive* an interval
# that decides neither; *not decidable* too little data or a paper number that cannot be right as
# printed (the reason says which). p-values are Holm-corrected across the claims (`p_holm`), and the
# verdicts use the corrected ones.
# The `audit` column names the printed numbers a claim rests on that the paper's own other numbers contradict
# (the statistics audit, {doc}`../audit/lion_dg`); it is empty where the audit flags none of them.

# %% tags=["hide-input"]
pd.set_option("display.max_colwidth", None)
from aux_core import audit, ledger as ledger_kit

shown = ledger_kit.shown(audit.linked(ledger, "lion_dg"))   # audit: flagged paper numbers the claim rests on
glue("lion_dg_ledger", shown, display=False)
shown

# %% [markdown] tags=[]
# ## What the reproduction found
#
# ```{glue:md} lion_dg_findings
# :format: myst
# ```

# %% tags=["remove-output", "hide-input"]
from aux_core.experiments import findings

lines = findings.lion_dg(table1, residual, ledger, flow, scale, threshold)
lion_dn = table1[(table1["dataset"] == "CIFAR-10") & (table1["arch"] == "DenseNet-DS") & (table1["init"] == "LION-DG")].iloc[0]
glue("lion_dg_findings", Markdown("\n\n".join(lines)), display=False)
glue("lion_dg_speedup_c10_densenet", float(lion_dn["estimate"]), display=False)
glue("lion_dg_n_reproduced", float((ledger["verdict"] == "reproduced").sum()), display=False)
glue("lion_dg_n_claims", float(len(ledger)), display=False)
Markdown("\n\n".join(lines))
