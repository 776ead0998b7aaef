# %% [markdown] tags=[]
# # Performance: training throughput, multi-seed training and chapter times
#
# The papers' models are small (77K to a few million parameters) and their protocols need many runs,
# so how fast one small model trains decides how much of each protocol fits on a machine. This page
# shows what `benchmarks/train_speed.py` measured, side by side in one process, for every registered
# model with `plain` and with `ds` (batch 128, AdamW, real CIFAR-10 with crop and flip):
#
# * **baseline**: the textbook loop: torchvision transforms on PIL images in a `DataLoader` with 2
#   workers, a host-to-device copy per batch, fp32, a `loss.item()` per step, one seed at a time;
# * **aux_core**: our loop with one seed: data and augmentation on the device, no host sync inside
#   a step, channels-last memory, and on CUDA bf16 autocast and fused optimisers;
# * **vmap ×S**: `aux_core.multiseed`: S seeds stacked along a leading axis and trained as one
#   batched computation (`torch.func.stack_module_state` + `vmap`; S convolutions become one grouped
#   convolution). Throughput counts every seed's images.
#
# `run_all(engine="auto")`, which every notebook uses, groups seeds with vmap on CUDA and trains them
# one after another on the CPU; the tables below are why. The numbers are read from the committed
# results files, each with the commit, device and library versions that produced it.

# %% tags=["parameters"]
profile: str = "smoke"        # accepted like every notebook's; this page reads committed measurements
book_profile: str = "cpu"     # whose chapter times to show: the book built at this profile
check_seeds: int = 2          # seeds in the live multi-seed vs single-run check below

# %% tags=["hide-input"]
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from IPython.display import Markdown, display
from myst_nb import glue

from aux_core import notebook as nb
from aux_core.experiments import performance as perf
from aux_core.settings import REPO_ROOT
nb.setup(globals(), "performance", "speed")

BENCH = REPO_ROOT / "results" / "benchmarks"

speed, provenance = {}, {}
for kind in ("cpu", "cuda"):
    path = BENCH / f"train_speed-{kind}.json"
    if path.exists():
        record = json.loads(path.read_text())
        speed[kind], provenance[kind] = pd.DataFrame(record["rows"]), record["provenance"]
missing = [k for k in ("cpu", "cuda") if k not in speed]
display(Markdown("Measured on: " + "; ".join(f"**{k}**: {p['device']}, torch {p['torch']}, commit `{p['git_commit'][:12]}`, "
                                            f"{p['created_utc'][:10]}" for k, p in provenance.items())
                 + ("" if not missing else f". **Not measured**: {', '.join(missing)} (no such device was lent "
                    "to the sessions that built this book; run `make benchmark` on one to add it).")))


# %% [markdown] tags=[]
# ## Images per second

# %% tags=["hide-input"]
def wide(frame):
    label = frame["loop"].where(frame["seeds"] == 1, "vmap x" + frame["seeds"].astype(str))
    return frame.assign(loop=label).pivot_table(index=["model", "method"], columns="loop", values="images_per_s",
                                                sort=False)

for kind, frame in speed.items():
    table = wide(frame)
    display(Markdown(f"**{kind.upper()}**: images per second (all seeds' images), and speed-up over the baseline loop"))
    ratio = table.div(table["baseline"], axis=0).drop(columns="baseline").add_suffix(" / baseline")
    display(pd.concat([table.round(0), ratio.round(2)], axis=1))
if "cpu" in speed:
    single = wide(speed["cpu"])
    glue("cpu_single_speedup_gmean", float(np.exp(np.log(single["aux_core"] / single["baseline"]).mean())), display=False)

# %% tags=["hide-input"]
for kind, frame in speed.items():
    frame = frame.assign(config=frame["loop"].where(frame["seeds"] == 1, "vmap x" + frame["seeds"].astype(str)))
    grid = sns.catplot(frame, x="model", y="images_per_s", hue="config", col="method", kind="bar", height=3.6,
                       aspect=1.5)
    grid.set(yscale="log")
    grid.tick_params(axis="x", rotation=25)
    grid.set_axis_labels("", "images / s (log scale)")
    grid.figure.suptitle(f"{kind.upper()}: training throughput, {provenance[kind]['device']}", y=1.03)
    plt.show()

# %% [markdown] tags=[]
# How throughput scales with the number of seeds trained together: images per second of a vmapped
# group of S seeds, relative to one seed in our loop (1 = as fast per image as training the seeds one after
# another; above 1, batching pays).

# %% tags=["hide-input"]
for kind, frame in speed.items():
    ours = frame[frame["loop"].isin(["aux_core", "vmap"])].copy()
    single = ours[ours["loop"] == "aux_core"].set_index(["model", "method"])["images_per_s"]
    ours["relative to one seed"] = [r.images_per_s / single[(r.model, r.method)] for r in ours.itertuples()]
    grid = sns.relplot(ours, x="seeds", y="relative to one seed", hue="model", col="method", kind="line", marker="o",
                       height=3.4, aspect=1.3)
    for ax in grid.axes.flat:
        ax.axhline(1, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 4, 8, 16], ["1", "4", "8", "16"])
    grid.figure.suptitle(f"{kind.upper()}: multi-seed throughput per image, relative to one seed", y=1.03)
    plt.show()

# %% [markdown] tags=[]
# ## The targets, checked against the measurements
#
# On the CPU the multi-seed target is that training several seeds is no slower per image than one
# seed. `engine="auto"` trains them one after another there, so it holds by construction; the vmap
# rows show what batching would cost on this CPU (grouped convolutions run slower per image than
# separate ones on two cores).

# %% tags=["hide-input"]
SMALL = ["mlp6", "densenet_ds", "vit6", "resnet_ds"]
checks = []
for kind, frame in speed.items():
    table = wide(frame)
    vmap_cols = [c for c in table.columns if c.startswith("vmap")]
    for (model, method), row in table.iterrows():
        single = row["aux_core"] / row["baseline"]
        best_vmap = row[vmap_cols].max() if vmap_cols else np.nan
        if kind == "cpu":
            checks.append({"device": kind, "model": model, "method": method, "target": "one seed >= 1.3x baseline",
                           "measured": f"{single:.2f}x", "met": single >= 1.3})
            # the auto engine trains CPU seeds one after another: per image exactly one seed's speed
            checks.append({"device": kind, "model": model, "method": method,
                           "target": "several seeds (auto engine) no slower per image than one",
                           "measured": f"1.00x (vmap alone: {best_vmap / row['aux_core']:.2f}x)", "met": True})
        elif model in SMALL:
            checks.append({"device": kind, "model": model, "method": method, "target": "one seed >= 2x baseline",
                           "measured": f"{single:.2f}x", "met": single >= 2})
            checks.append({"device": kind, "model": model, "method": method, "target": "several seeds >= 10x baseline",
                           "measured": f"{best_vmap / row['baseline']:.1f}x", "met": best_vmap / row["baseline"] >= 10})
checks = pd.DataFrame(checks)
if "cuda" not in speed:
    display(Markdown("The CUDA targets (one seed at least 2x the baseline loop, several seeds at least 10x, for "
                     "`mlp6`, `densenet_ds`, `vit6`, `resnet_ds`) are **not measured here**: no GPU was lent."))
checks

# %% [markdown] tags=[]
# ## Multi-seed training gives each seed's own run
#
# A check that can fail, kept in the results store with its provenance (`aux_core.experiments.performance`):
# `check_seeds` seeds of `resnet_ds` with deep supervision (batch norm and auxiliary heads) for a few steps on
# real CIFAR-10, trained one at a time and then as one vmapped group, in float64. Every per-step loss, batch accuracy and evaluation agrees to rounding (the batched kernels
# sum in another order); the test suite checks the same for every model family and method.

# %% tags=["hide-input"]
equivalence = perf.engine_check(check_seeds)
assert (equivalence.filter(like="max rel").to_numpy() < 1e-9).all()
equivalence

# %% [markdown] tags=[]
# ## Time to build each chapter
#
# The book driver (`python -m aux_core.book`) records each notebook's wall time and how many runs it
# trained (0: every result came from the results cache) in `results/benchmarks/book-<profile>-<device>.json`.
# The target for the `cpu` profile is the whole book in under an hour on 2 CPU cores from a cold cache.

# %% tags=["hide-input"]
for kind in ("cpu", "cuda"):
    path = BENCH / f"book-{book_profile}-{kind}.json"
    if not path.exists():
        display(Markdown(f"**{kind.upper()}**: the `{book_profile}` profile's chapter times were not measured on a "
                         f"{kind.upper()} machine ({'no GPU was lent to the sessions that built this book' if kind == 'cuda' else 'run `make book` to add them'})."))
        continue
    record = json.loads(path.read_text())
    times = pd.DataFrame.from_dict(record["notebooks"], orient="index").rename_axis("notebook").reset_index()
    times["chapter"] = times["notebook"].str.split("/").str[0]
    times["minutes"] = (times["seconds"] / 60).round(1)
    display(Markdown(f"**{kind.upper()}**, profile `{book_profile}`: {record['total_s'] / 60:.1f} minutes of notebook "
                     f"execution in all ({times['runs_trained'].sum()} runs trained), on {times['device'].iloc[0]}."))
    glue(f"book_{book_profile}_{kind}_minutes", record["total_s"] / 60, display=False)
    display(times.groupby("chapter", sort=False)[["minutes", "runs_trained"]].sum())
    display(times[["notebook", "minutes", "runs_trained", "git_commit", "measured_utc"]])
