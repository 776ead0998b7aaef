# %% [markdown] tags=[]
# # What the reproduction found
#
# The closing page of the chapter: what our runs say about each of the paper's claims, at the profile this
# book was built with. Every number below is computed from the runs and landscapes of the preceding sections
# (fetched from the results cache), through `aux_core.experiments.asymmetric.summary`.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [42, 43, 44, 45, 46, 47, 48, 49, 50, 51]  # the paper's seeds (C.2); smaller profiles run the first few
epochs: int = 200               # the paper's training length (C.2); profiles cap it
cifar100: str = "auto"          # data for the paper's CIFAR-100 tables: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
grid: int = 51                  # loss-landscape grid points per axis (A.1); profiles cap it
samples: int = 500              # loss-landscape training images per point (A.1); profiles cap it

# %% tags=["remove-input"]
from IPython.display import Markdown
from myst_nb import glue

from aux_core import notebook as nb
from aux_core.experiments import asymmetric as A
from aux_core.experiments import findings

p = nb.setup(globals(), "asymmetric", "findings")
s = A.summary(profile, p.seeds(seeds), epochs=epochs, cifar100=cifar100, grid=grid, samples=samples, progress=False)   # runs, landscapes, claims ledger
text = "\n\n".join(findings.asymmetric(s, p.name))
glue("asym_findings", Markdown(text), display=False)
Markdown(text)
