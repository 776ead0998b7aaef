# %% [markdown] tags=[]
# # Table 12 and Figure 13: asymmetric backbones
#
# Does the label-weight network need the primary network's architecture? Table 12 crosses three label-weight
# backbones (rows) with three primary backbones (columns) on CIFAR-10 and adds each primary network trained alone
# (*Single Task*). The paper's answer: every pairing beats single-task learning, and the primary backbone matters
# more than the label-weight one. Everything else follows Table 18 (the label-weight learning rate is 1e-2 for a
# ResNet50 label network, Section 5.2). The paper fine-tunes nothing here; like us it trains from scratch, but for
# 200 epochs on all the data.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2]         # smaller profiles run the first few (the paper prints one number per cell)
dataset: str = "CIFAR-10"       # the paper's Table 12 is on CIFAR-10
backbones: list = ["ResNet18", "VGG16", "ResNet50"]  # label-weight and primary backbones (smoke keeps VGG16, cpu VGG16 and ResNet18)

# %% tags=["hide-output"]
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import wamal as W
from aux_core import notebook as nb

p = nb.setup(globals(), "wamal", "backbones",
             dataset=nb.one_of(*W.DATASETS), backbones=nb.each(nb.one_of(*W.BACKBONES)))
chosen = W.sized(profile, "backbones", backbones)
runs = W.run_grid(W.backbone_grid(profile, p.seeds(seeds), backbones=chosen, dataset=dataset))
per_run = W.per_run(runs)
acc = W.accuracy_table(per_run, by=("label_backbone", "backbone"))
paper = ref.table("wamal", "Table 12")

# %% [markdown] tags=[]
# ## Ours beside the paper
#
# Test accuracy in percent (ours: mean over seeds; the paper: one number per cell). Rows: the label-weight
# network's backbone; columns: the primary network's.

# %% tags=["hide-input"]
ours = acc.pivot(index="label_backbone", columns="backbone", values="mean") * 100
theirs = paper.pivot(index="row", columns="column", values="value") * 100
order = [b for b in ["Single Task", *chosen] if b in ours.index]
side = pd.concat({"ours": ours.loc[order, list(chosen)], "paper": theirs.reindex(index=order, columns=list(chosen))}, axis=1)
glue("wamal_table12", side, display=False)
side.style.format("{:.1f}", na_rep="")

# %% [markdown] tags=[]
# ## Figure 13

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6.5, 3.3))
sns.barplot(data=per_run.assign(test_acc=100 * per_run["test_acc"]), x="backbone", y="test_acc",
            hue="label_backbone", hue_order=order, errorbar="sd", ax=ax)
ax.set_xlabel("primary backbone"); ax.set_ylabel("test accuracy (%)")
ax.set_title(f"{dataset}: label-weight backbone (colour) × primary backbone")
ax.legend(title="label-weight net", fontsize=8); plt.tight_layout()

# %% [markdown] tags=[]
# ## Does every pairing beat single-task learning?
#
# Per primary backbone, WAMAL with each label-weight backbone minus single-task, in points, with the Welch 95%
# interval over seeds.

# %% tags=["hide-input"]
rows = []
for b in chosen:
    g = per_run[per_run["backbone"] == b]
    for lb in chosen:
        d = W.welch(g[g["label_backbone"] == lb]["test_acc"], g[g["label_backbone"] == "Single Task"]["test_acc"])
        pv = theirs.loc[lb, b] - theirs.loc["Single Task", b] if lb in theirs.index and b in theirs.columns else float("nan")
        rows.append({"primary": b, "label-weight": lb, "ours (pp)": 100 * d["estimate"], "lo": 100 * d["lo"],
                     "hi": 100 * d["hi"], "paper (pp)": pv})
gain = pd.DataFrame(rows)
glue("wamal_table12_gain", gain, display=False)
gain.style.format({c: "{:+.2f}" for c in ("ours (pp)", "lo", "hi", "paper (pp)")}, na_rep="")
