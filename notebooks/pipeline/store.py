# %% [markdown] tags=[]
# # The results store: what every page rests on
#
# Every number in this book comes from a record of the results store (`results/store/`, committed
# with the code): one gzip JSON-lines file per chapter and profile, each record with its
# configuration, numbers and provenance (code version, commit, device, library versions, data
# checksum, wall time). A record is found by its result-affecting configuration, its data checksum
# and the numerics version; the code version is provenance only, so a record made by older code is
# still served and counted below as *made by an older code version* (the golden tests guard that
# the numerics did not change). Records made elsewhere, on a GPU machine or another CPU machine,
# are added with `python -m aux_core.store merge`, which refuses a record whose key is stored with
# other numbers.
#
# Each page of the book is shown at its *published profile*: the largest of `paper`, `gpu`, `cpu`,
# `tiny` and `smoke` whose results it needs are all in the store (`aux_core.experiments.chapters`).

# %% tags=["parameters"]
profile: str = "smoke"          # accepted like every notebook's; this page reads the committed results store
cost_profiles: list = ["tiny", "cpu", "gpu"]   # the profiles whose cost is tabled below

# %% tags=[]
import pandas as pd
from myst_nb import glue

from aux_core import notebook as nb
from aux_core.experiments import chapters
from aux_core.profiles import PROFILES
from aux_core.store import Store

nb.setup(globals(), "pipeline", "store", cost_profiles=nb.each(nb.one_of(*PROFILES)))
store = Store()
summary = pd.DataFrame(chapters.summary(store))
print(f"{len(store)} records in {len(store.shards())} shards, {store.size_bytes() / 2**20:.2f} MB")

# %% [markdown] tags=[]
# ## What is stored, per chapter and profile
#
# *runs* and *analyses* count the records of each shard (*migrated* ones carry only what an older
# export kept); *needed stored* how many of the results the chapter's notebooks need at that profile
# are in the store (in any shard); *stale* how many were made by an older code version.

# %% tags=[]
if len(summary):
    shown = summary.assign(devices=[", ".join(f"{d} ({n})" for d, n in v.items()) for v in summary["devices"]],
                           needed_stored=[f"{s} of {n}" for s, n in zip(summary["needed_stored"], summary["needed"])])
    shown = shown[["chapter", "profile", "runs", "analyses", "migrated", "needed_stored", "complete", "stale", "devices"]]
else:
    shown = pd.DataFrame(columns=["chapter", "profile", "runs"])
runs = int(summary["runs"].sum()) if len(summary) else 0
glue("store_records", len(store), display=False)
glue("store_runs", runs, display=False)
glue("store_mb", float(store.size_bytes() / 2**20), display=False)
glue("store_stale", int(summary["stale"].sum()) if len(summary) else 0, display=False)
devices = sorted({d for v in summary.get("devices", []) for d in v})
glue("store_devices", ", ".join(devices) or "none", display=False)
shown.set_index(["chapter", "profile"]) if len(shown) else shown

# %% [markdown] tags=[]
# ## What each profile costs
#
# For each chapter and profile: the distinct results its grids need, how many the store holds and the
# wall time they took where they were made (*measured h*, summed over runs made one at a time), and
# what the missing ones would take on this book's 2 CPU cores and on one GPU (*left h*: the
# campaign's cost table, `python -m aux_core.campaign costs`, measured per training image where the
# store holds runs like them and estimated from FLOPs otherwise; `python -m aux_core.campaign plan`
# says which). Profiles shrink data, length and seeds (`aux_core/profiles.py`).

# %% tags=[]
from aux_core.campaign.plan import profile_costs

costs = profile_costs(cost_profiles)
if len(costs):
    done = costs[costs["stored"] == costs["results"]]
    glue("cost_complete_text", ", ".join(f"{c}/{p} ({h:.1f} h)" for c, p, h in
                                         zip(done["chapter"], done["profile"], done["measured_h"])) or "none", display=False)
costs.set_index(["chapter", "profile"]).round(2) if len(costs) else costs

# %% [markdown] tags=[]
# ## The profile each page is shown at

# %% tags=[]
from aux_core import book

pages = []
for path in book.notebooks():
    chapter, name = path.parent.name, path.stem
    pages.append({"chapter": chapter, "page": name, "published profile": chapters.published_profile(chapter, name, store)})
pages = pd.DataFrame(pages)
counts = pages["published profile"].fillna("none").value_counts()
says = {"published": "the profiles of the chapters it stacks", "none": "no profile (its results are missing)"}
glue("store_pages_text", ", ".join(f"{n} at {says.get(p, p)}" for p, n in counts.items()), display=False)
pages.set_index(["chapter", "page"])
