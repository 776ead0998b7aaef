# %% [markdown] tags=[]
# # Table 6 and Figure 3: which auxiliary classifiers?
#
# The main paper's "analysis of auxiliary classifiers": DKS on ResNet-32 with five designs of its two
# auxiliary classifiers. *Original* is the supplement's Table 2 design (stacks of the backbone's residual blocks,
# with as many down-sampling stages as the main path); *Narrow* halves its widths; *Shallow* halves its block
# counts; *AP+2FC* pools the tap to 4×4 and applies two fully connected layers; *AP+1Conv+2FC* adds a
# convolution before them (widths ours where the supplement's Figure 3 is illegible: see {doc}`designs`). The
# paper's point is that the carefully designed branches are best. Its error numbers for this table are not in
# the supplied text, so only the direction is compared.
#
# Our control: the same five designs with the learning rate ramped linearly from 0 over the first `warmup_shares`
# of training (the paper has none; see {doc}`warmup`). A run that collapses to chance says nothing of its branches,
# so a design comparison on collapsed runs measures which runs collapsed; the note under the figure names any.

# %% tags=["parameters"]
profile: str = "smoke"            # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2, 3, 4]     # the paper averages 5 runs; smaller profiles run the first few
backbone: str = "ResNet-32"       # the paper's ablation backbone
epochs: int = 200                 # the paper's training length; profiles cap it
cifar100: str = "auto"            # auto (cifar100 if present, else cifar10) | cifar100 | cifar10
warmup_shares: list = [0.0, 0.1]  # shares of the run over which the learning rate rises from 0 (0: the paper's start)

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown

from aux_core.experiments import dks as D
from aux_core import notebook as nb

p = nb.setup(globals(), "dks", "ablation",
             backbone=nb.one_of(*D.BACKBONES))
cells = D.ablation_grid(profile, p.seeds(seeds), backbone, warmup_shares=warmup_shares, paper_epochs=epochs,
                        cifar100=cifar100)
runs = D.run_grid(cells)
table = D.ablation_table(runs)
params = D.design_table("Supp. Table 6", 10 if table["dataset_run"].iloc[0] == "cifar10" else 100)
params = params[(params["column"] == "params") & ~params["row"].str.endswith("|C1")].copy()
params["design"] = params["row"].str.split("|").str[1]
params = params.groupby("design")["value"].sum().rename("branch params")

# %% [markdown] tags=[]
# ## Ours
#
# Error of $C_1$ under DKS with each design and warm-up share (mean ± std over seeds), its paired difference to the
# original design at the same share with 95% interval (positive: worse than the original), and the parameters of
# the two branches together (training only; the deployed network is the same ResNet-32 for every design).

# %% tags=["hide-input"]
shown = table.join(params, on="design").set_index(["warmup", "design"])[
    ["dataset_run", "seeds", "error", "error_std", "estimate", "lo", "hi", "p", "branch params"]]
shown.style.format({"error": "{:.2f}", "error_std": "{:.2f}", "estimate": "{:+.2f}", "lo": "{:+.2f}",
                    "hi": "{:+.2f}", "p": "{:.3g}", "branch params": "{:,.0f}"}, na_rep="").format_index(
    lambda s: f"{s:.0%}" if isinstance(s, float) else s, level=0)

# %% tags=["hide-input"]
per = D.design_runs(runs)
fig, ax = plt.subplots(figsize=(6.5, 4))
arm = per["warmup"].map(lambda s: f"warm-up {s:.0%}" if s > 0 else "no warm-up").rename("arm")
sns.barplot(data=per, y="design", x="test_error", hue=arm, errorbar="sd", ax=ax, alpha=0.8)
sns.stripplot(data=per, y="design", x="test_error", hue=arm, dodge=True, ax=ax, palette=["k"] * arm.nunique(),
              size=4, legend=False)
ax.set_xlabel(f"top-1 test error of C1 (%), {per['dataset_run'].iloc[0]}")
ax.set_ylabel("")
ax.set_title(f"{backbone} under DKS: five auxiliary designs")
lo = per["test_error"].min()
ax.set_xlim(max(0, lo - 5), None)
plt.tight_layout()

# %% tags=["remove-input"]
# a collapsed run's error is chance's, whatever its design: the note says which runs the differences above carry
Markdown(D.design_collapse_note(per) or "No run collapsed.")
