# %% [markdown] tags=[]
# # A learning-rate warm-up control (ours)
#
# The paper trains every method at learning rate 0.1 from the first step, with no warm-up. A run started that
# hard can blow up in its first steps and end at chance; whether any run did here, and what its loss terms did,
# is what the collapse lines and the last section below say, from the runs. A collapsed run says
# nothing of the method once it trains, so this page reruns the main comparison with the learning rate raised
# linearly from 0 to 0.1 over the first share `warmup_shares` of training (He et al. 2016 warmed ResNet-110 up
# for the same reason), everything else as {doc}`main_table`. Share 0 is the main table's runs themselves. The claims
# ledger restates Main Table 1's claims on the warmed-up runs ({doc}`findings`).

# %% tags=["parameters"]
profile: str = "smoke"              # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2, 3, 4]       # the paper averages 5 runs; smaller profiles run the first few
backbone: str = "ResNet-32"         # any of aux_core.experiments.dks.BACKBONES
warmup_shares: list = [0.0, 0.1]    # shares of the run over which the learning rate rises from 0, each in [0, 1)
epochs: int = 200                   # the paper's training length; profiles cap it
cifar100: str = "auto"              # auto (cifar100 if present, else cifar10) | cifar100 | cifar10

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import Markdown

from aux_core.experiments import dks as D
from aux_core import notebook as nb

p = nb.setup(globals(), "dks", "warmup",
             backbone=nb.one_of(*D.BACKBONES))
cells = D.warmup_grid(profile, p.seeds(seeds), backbone, shares=warmup_shares, paper_epochs=epochs,
                      cifar100=cifar100)
runs = D.run_grid(cells)
per = D.per_run(runs)

# %% [markdown] tags=[]
# ## Error with and without warm-up
#
# *error* is ours (mean ± std over seeds, percent); *estimate* the paired difference to the baseline at the
# same warm-up, in points, with its 95% interval and paired-t p-value. The paper has no warm-up and no number
# for this control.

# %% tags=["hide-input"]
table = D.error_table(per, by="warmup")
table.style.format({"error": "{:.2f}", "error_std": "{:.2f}", "estimate": "{:+.2f}", "lo": "{:+.2f}",
                    "hi": "{:+.2f}", "p": "{:.3g}", "d": "{:+.2f}", "warmup": "{:.0%}"}, na_rep="")

# %% [markdown] tags=[]
# What the warm-up changes for each method: its error with the warm-up minus its error without, paired by seed
# (the same seed starts from the same network and sees the same batches), in points with the 95% interval.

# %% tags=["hide-input"]
effect = D.warmup_effect(per)[["method", "warmup", "seeds", "error", "estimate", "lo", "hi", "p"]]
effect.style.format({"error": "{:.2f}", "estimate": "{:+.2f}", "lo": "{:+.2f}", "hi": "{:+.2f}", "p": "{:.3g}",
                     "warmup": "{:.0%}"}, na_rep="").hide(axis="index")

# %% tags=["remove-input"]
Markdown("\n\n".join(f"**Warm-up {share:.0%}.** {D.collapse_note(g) or 'No run collapsed.'}"
                     for share, g in per.groupby("warmup")))

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.2))
sns.pointplot(data=per, x="warmup", y="test_error", hue="method", errorbar="sd", dodge=0.3, ax=ax)
ax.set_xticks(range(per["warmup"].nunique()), [f"{s:.0%}" for s in sorted(per["warmup"].unique())])
ax.set_xlabel("share of training with the learning rate warming up")
ax.set_ylabel("top-1 test error (%)")
ax.set_title(f"{backbone} on {per['dataset_run'].iloc[0]}, lr 0.1 with and without warm-up (mean ± sd)")
plt.tight_layout()

# %% [markdown] tags=[]
# ## What the loss terms did
#
# Each run's logged loss terms, medians per warm-up share, method and collapsed or not: *loss_peak_x*, the total
# loss's peak in the first quarter of training as a multiple of its first step's; *synergy_peak*, DKS's matching
# term's peak there; over the last tenth of training, *end_ce_chance*, $C_1$'s cross-entropy in units of a uniform
# guess's ($\ln K$: 1 is chance), and *end_synergy*, the matching term (0 when every classifier predicts the same).

# %% tags=["hide-input"]
anatomy = D.loss_anatomy(runs)
D.anatomy_table(anatomy, by=("warmup", "method")).style.format(
    {"test_error": "{:.2f}", "loss_peak_x": "{:.2f}", "synergy_peak": "{:.2f}", "end_ce_chance": "{:.2f}",
     "end_synergy": "{:.3f}", "warmup": "{:.0%}"}, na_rep="").hide(axis="index")

# %% tags=["remove-input"]
Markdown("\n\n".join(f"**Warm-up {share:.0%}.** {D.anatomy_note(g)}" for share, g in anatomy.groupby("warmup")))
