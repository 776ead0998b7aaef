# %% [markdown] tags=[]
# # Supplement Tables 1–6: the auxiliary classifiers, generated from our definitions
#
# *Deeply-supervised knowledge synergy*, supplement Section 2. DKS attaches two auxiliary classifiers
# to every CIFAR backbone (three to ResNet-1202), built from the backbone's own blocks so that every
# path from the input to a classifier passes through the same number of down-sampling stages. The
# tables below are generated from `aux_core`'s model registry and `aux_core.methods.branches`, with
# the supplement's legible cells beside ours; a cell the extracted text lost shows an empty *paper*
# value. Naming follows the paper: C1 is the backbone's own classifier, C2 the branch on the later tap,
# C3 the one on the earlier tap. These tables train nothing: they are the same at every profile.

# %% tags=["parameters"]
profile: str = "smoke"          # accepted like every notebook's; these tables train nothing
num_classes: int = 100          # classifier width (the supplement's tables are for CIFAR-100)

# %% tags=["hide-input"]
import pandas as pd
from myst_nb import glue

from aux_core import reference as ref
from aux_core.experiments import dks as D
from aux_core import notebook as nb
nb.setup(globals(), "dks", "designs")

tables = {t: D.compare_design(t, ref.table("dks", t), num_classes) for t in [*D.DESIGN_TABLES, "Supp. Table 6"]}
matched = {t: (int(c["paper"].notna().sum()), int(c.loc[c["paper"].notna(), "match"].sum())) for t, c in tables.items()}
glue("dks_design_cells", sum(n for n, _ in matched.values()), display=False)
glue("dks_design_matched", sum(m for _, m in matched.values()), display=False)
pd.DataFrame(matched, index=["legible cells in the supplement", "cells where ours equal them"]).T


# %% [markdown] tags=[]
# ## Tables 2–5: the branches of the seven CIFAR backbones
#
# Each block is written as (channels or growth rate, number of blocks); the first block of every
# branch stage has stride 2. *params* counts every parameter of a classifier's own layers (C1: the
# whole backbone). The parameter counts are ours: the supplement gives none.

# %% tags=["hide-input"]
def shaped(cmp: pd.DataFrame) -> pd.DataFrame:
    """Long rows -> one row per (backbone, classifier, stage), ours and the paper's side by side."""
    df = cmp.copy()
    parts = df["row"].str.split("|")
    df["backbone"] = parts.str[:-2].str.join("|").where(parts.str.len() > 2, parts.str[0])
    df["classifier"] = parts.str[-2].where(parts.str.len() > 2, parts.str[-1])
    df["stage"] = parts.str[-1].where(parts.str.len() > 2, "")
    wide = df.pivot_table(index=["backbone", "classifier", "stage"], columns="column",
                          values=["ours", "paper"], aggfunc="first")
    wide.columns = [f"{c} ({w})" for w, c in wide.columns]
    return wide[sorted(wide.columns)]

for t in D.DESIGN_TABLES:
    display(shaped(tables[t]).style.format(precision=0, na_rep="").set_caption(t))

# %% [markdown] tags=[]
# ## Table 6 and Figure 3: the five designs compared on ResNet-32
#
# *Original* is Table 2's design. *Narrow* halves its widths; *Shallow* halves its block counts (the
# supplement's block counts for it are illegible except C3's last stage, one block, which halving
# reproduces). *AP+2FC* and *AP+1Conv+2FC* pool to 4×4 before fully connected layers; Figure 3 gives
# their widths only in a drawing that the text lost, so we use a 128-channel 3×3 convolution and a
# 256-unit hidden layer (`aux_core.methods.branches.AP_CONV`, `AP_HIDDEN`).

# %% tags=["hide-input"]
shaped(tables["Supp. Table 6"]).style.format(precision=0, na_rep="").set_caption("Supp. Table 6")

# %% tags=["hide-input"]
params = tables["Supp. Table 6"].query("column == 'params'").copy()
params["design"] = params["row"].str.split("|").str[1]
params["classifier"] = params["row"].str.split("|").str[2]
branch_params = params[params["classifier"] != "C1"].pivot_table(index="design", columns="classifier", values="ours")
branch_params = (branch_params / 1e6).round(3).loc[list(D.ABLATION)]
branch_params.columns = [f"{c} (M params)" for c in branch_params.columns]
ax = branch_params.plot.barh(figsize=(6, 3))
ax.set_xlabel("parameters of the auxiliary classifier (millions)")
ax.set_title("ResNet-32: the five auxiliary designs of Table 6")
branch_params

# %% [markdown] tags=[]
# ## Supplement Table 1: ResNet-1202 with three wide, shallow branches
#
# For the 1202-layer ResNet the supplement uses stride-1 3×3 convolutions instead (C2: 512 filters;
# C3: 256, 512; C4: 128, 256, 512), each followed by global pooling and a linear classifier. Its
# Figure 4(a), which places them, is a drawing the text lost; we attach C4 after stage 1, C3 after
# stage 2 and C2 half-way through stage 3 (`resnet1202`, taps `stage1`, `stage2`, `stage3_mid`).
# The model is built on PyTorch's meta device: its structure and parameter counts without weights.

# %% tags=["hide-input"]
r1202 = D.resnet1202_table(num_classes)
paper_t1 = ref.table("dks", "Supp. Table 1")[["row", "value"]].rename(columns={"value": "paper"})
paper_t1[["classifier", "layer"]] = paper_t1["row"].str.split("|", expand=True)[[1, 2]]
r1202 = r1202.merge(paper_t1[["classifier", "layer", "paper"]], on=["classifier", "layer"], how="left")
glue("dks_resnet1202_params_m", float(D.resnet1202_params(num_classes) / 1e6), display=False)
r1202

# %% [markdown] tags=[]
# The backbone has {glue:text}`dks_resnet1202_params_m:.1f` M parameters, the size He et al. give for their 1202-layer CIFAR ResNet (checked in `tests/test_dks.py`).
#
# ## Supplement Table 7 and Figures 5–7: ImageNet
#
# The ImageNet experiments (ResNet-18, -50, -152 with up to three auxiliary classifiers, Figure 5 and Table 7;
# training curves in Figure 7) need the ImageNet training set, which is not available here, and the extracted
# text of Table 7 is not legible enough to store as reference numbers. This companion does not build the
# ImageNet backbones; {doc}`curves` draws Figure 7's comparison for the CIFAR runs instead. The one ImageNet
# structure the text does give is Figure 6's "simple" auxiliary classifier for ResNet-18 (used for the main
# paper's "DS with simple aux. classifiers"): an average pooling that brings either tap to 4×4 before one fully
# connected layer. Its pooling settings below are the supplement's; the output size is computed with PyTorch on
# the ResNet-18 feature maps the notes assign them to (conv4_x: 14×14×256, conv3_x: 28×28×128).

# %% tags=["hide-input"]
import torch

fig6 = ref.table("dks", "Figure 6").pivot_table(index="row", columns="column", values="value", aggfunc="first")
inputs = {"ResNet-18|C2|avgpool": (256, 14), "ResNet-18|C3|avgpool": (128, 28)}
fig6["output (computed)"] = [
    "x".join(map(str, torch.nn.AvgPool2d(int(r["kernel"]), int(r["stride"]), int(r["padding"]))(
        torch.zeros(1, inputs[k][0], inputs[k][1], inputs[k][1])).shape[1:]))
    for k, r in fig6.iterrows()]
fig6
