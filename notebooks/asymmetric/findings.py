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
s = A.summary(profile, seeds, epochs=epochs, cifar100=cifar100, grid=grid, samples=samples, same_data=True,
              progress=False)   # runs, landscapes, claims ledger, the tables on the paper's own data
text = "\n\n".join(findings.asymmetric(s, p.name))
glue("asym_findings", Markdown(text), display=False)
Markdown(text)

# %% [markdown] tags=[]
# ## The appendix tables on the paper's own data
#
# The paper ran Tables 7 (few-shot), 10 (the three networks at N = 1) and 11 (label noise) on CIFAR-10, the one
# dataset this book has offline, so these rows compare with the paper on its own data. Each row the paper
# reports with p < 0.05 is judged by the same ledger kit as the headline claims, as a second family: Holm's
# correction runs over these rows only, so they neither dilute the abstract's claims nor borrow their
# correction. The last column says what each ran on.

# %% tags=["hide-input"]
from aux_core import audit, ledger as ledger_kit

same_data = ledger_kit.shown(audit.linked(s["same_data_ledger"], "asymmetric"))
glue("asym_same_data_ledger", same_data, display=False)
same_data
