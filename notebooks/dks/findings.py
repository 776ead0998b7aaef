# %% [markdown] tags=[]
# # What the reproduction found
#
# The closing page of the chapter: what our runs say about the paper's claims, at the profile this book was built
# with. Every number below is computed from the runs of the preceding sections (fetched from the results cache)
# through `aux_core.experiments.dks.chapter_results`.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2, 3, 4]   # the paper averages 5 runs; smaller profiles run the first few
backbone: str = "ResNet-32"     # the network of the ledger's comparisons
cifar100: str = "auto"          # auto (cifar100 if present, else cifar10) | cifar100 | cifar10

# %% tags=["remove-input"]
from IPython.display import Markdown

from aux_core import notebook as nb
from aux_core.experiments import dks as D
from aux_core.experiments import findings

p = nb.setup(globals(), "dks", "findings",
             backbone=nb.one_of(*D.BACKBONES))
s = D.chapter_results(profile, p.seeds(seeds), backbone=backbone, cifar100=cifar100, progress=False)   # with the claims ledger
lines = findings.dks(s, p.name, backbone)
lines.append("**What was not rerun.** ImageNet (supplement Table 7, Figures 5–7) needs data that are not here; the "
             "ResNet-1202 configuration is built and checked (shapes and parameters) but not trained.")
Markdown("\n\n".join(lines))
