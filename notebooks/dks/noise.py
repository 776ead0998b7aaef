# %% [markdown] tags=[]
# # DKS on noisy data
#
# The main paper also trains on CIFAR-100 with a share of the training labels replaced at random and reports
# that DKS keeps its advantage. Its numbers and noise rates are not in the supplied text, so this page runs the
# comparison at the noise rates of the parameter `noise_rates` and shows ours alone. Symmetric noise: exactly a share `rate`
# of the training labels, picked at random, each moved to a random other class (fixed by `data_seed`, the same
# for every method and seed); test labels stay clean. Rate 0 is the clean run of
# {doc}`main_table`. Each rate also runs with the learning rate warmed up over the first share `warmup_shares`
# of training (our control, as {doc}`warmup`; share 0 is the paper's start at lr 0.1).

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2, 3, 4]   # the paper averages 5 runs; smaller profiles run the first few
backbone: str = "ResNet-32"     # any of aux_core.experiments.dks.BACKBONES
noise_rates: list = [0.0, 0.4]  # shares of training labels replaced at random, each in [0, 1)
warmup_shares: list = [0.0, 0.1]  # shares of the run over which the learning rate rises from 0, each in [0, 1)
epochs: int = 200               # the paper's training length; profiles cap it
cifar100: str = "auto"          # auto (cifar100 if present, else cifar10) | cifar100 | cifar10

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython.display import Markdown

from aux_core.experiments import dks as D
from aux_core import notebook as nb

p = nb.setup(globals(), "dks", "noise",
             backbone=nb.one_of(*D.BACKBONES))
cells = D.noise_grid(profile, p.seeds(seeds), backbone, rates=noise_rates, warmup_shares=warmup_shares,
                     paper_epochs=epochs, cifar100=cifar100)
runs = D.run_grid(cells)
per = D.per_run(runs)
per["setting"] = [f"noise {n:.0%}, warm-up {w:.0%}" for n, w in zip(per["noise"], per["warmup"])]

# %% tags=["hide-input"]
table = D.error_table(per, by="setting")
table.style.format({"error": "{:.2f}", "error_std": "{:.2f}", "estimate": "{:+.2f}", "lo": "{:+.2f}",
                    "hi": "{:+.2f}", "p": "{:.3g}", "d": "{:+.2f}"}, na_rep="")

# %% [markdown] tags=[]
# Which runs collapsed at each noise rate and warm-up, and what their loss terms did (the measures of the warm-up page's
# last section, {doc}`warmup`).

# %% tags=["remove-input"]
anatomy = D.loss_anatomy(runs)
notes = [f"**{setting[0].upper()}{setting[1:]}.** {D.collapse_note(per[per['setting'] == setting]) or 'No run collapsed.'} "
         f"{D.anatomy_note(g)}" for setting, g in anatomy.assign(setting=per["setting"]).groupby("setting", sort=False)]
Markdown("\n\n".join(notes))

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.2))
sns.pointplot(data=per, x="setting", y="test_error", hue="method", errorbar="sd", dodge=0.3, ax=ax)
ax.set_xlabel("")
ax.tick_params(axis="x", labelrotation=20)
ax.set_ylabel("top-1 test error (%)")
ax.set_title(f"{backbone} on {per['dataset_run'].iloc[0]} with label noise (mean ± sd over seeds)")
plt.tight_layout()
