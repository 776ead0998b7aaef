# %% [markdown] tags=[]
# # The cost of the meta-update
#
# The label pass is WAMAL's expensive part: for every batch it differentiates the primary network's training loss,
# keeps that graph, runs the network again at the look-ahead parameters, and back-propagates through both (in
# float32: it differentiates through a gradient). MAXL's authors report about 30 hours per run on a GTX 1080
# against 2–4 hours for their baselines. Here every run records its training time and the time of each label pass
# (synchronised on CUDA), which gives the seconds of a primary epoch and of a label pass. AuxiLearn's implicit
# hypergradient (three Hessian-vector products per label-network step, a step every 5 primary steps) is timed the
# same way, its label-network steps summed per epoch.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, epochs and seeds (aux_core.profiles)
seeds: list = [0, 1, 2]         # smaller profiles run the first few
dataset: str = "CIFAR-10"       # CIFAR-10 (offline here) | CIFAR-100-20 | SVHN

# %% tags=["hide-output"]
import pandas as pd
from myst_nb import glue

from aux_core.experiments import wamal as W
from aux_core.experiments import wamal_h100 as H100
from aux_core import notebook as nb

p = nb.setup(globals(), "wamal", "cost",
             dataset=nb.one_of(*W.DATASETS))
runs = W.run_grid(W.grid(profile, p.seeds(seeds), dataset=dataset))
auxilearn = W.aux_set_grid(profile, p.seeds(seeds), dataset=dataset)
auxilearn = W.run_grid(auxilearn[auxilearn["variant"] == "AuxiLearn"].assign(method="AuxiLearn"), desc="AuxiLearn")
runs = pd.concat([runs, auxilearn], ignore_index=True)
cost = W.meta_cost(W.epoch_seconds(runs))

# %% [markdown] tags=[]
# ## At this profile
#
# Seconds per epoch on the machine that made each run (its `device`); *vs single task* is a whole MAXL or WAMAL
# epoch (primary pass plus label pass) over a single-task epoch on the same device and data (AuxiLearn's primary
# pass skips its held-out images only where the profile uses all the data). At the `smoke` profile the one-epoch
# runs end before their first label pass.

# %% tags=["hide-input"]
fmt = {"primary_epoch_s": "{:.2f}", "label_pass_s": "{:.2f}", "epoch_s": "{:.2f}", "vs_single_task": "{:.1f}×"}
cost.style.format(fmt, na_rep="—")

# %% [markdown] tags=[]
# ## At GPU scale (committed results)
#
# The *timing* runs of the results store (shard `wamal/gpu`): VGG16 on all 50,000 CIFAR-10 images, 2 epochs, each run
# alone on an H100 (bf16 autocast for the primary pass, float32 for the label pass). The other committed H100 runs
# shared the GPU with 8 to 13 others and are not used for timing.

# %% tags=["hide-input"]
gpu = H100.results()
if "runs" in gpu:
    g = gpu["runs"][gpu["runs"]["grid"] == "timing"].assign(status="ok")
    gcost = W.meta_cost(g.assign(train_images=50000)[["method", "seed", "status", "device", "train_images",
                                                      "primary_epoch_s", "label_pass_s"]])
    glue("wamal_gpu_cost", gcost, display=False)
    for _, r in gcost.iterrows():
        glue(f"wamal_gpu_epoch_s_{r['method'].replace(' ', '_')}", float(r["epoch_s"]), display=False)
        glue(f"wamal_gpu_ratio_{r['method'].replace(' ', '_')}", float(r["vs_single_task"]), display=False)
    display(gcost.style.format(fmt, na_rep="—"))
else:
    print("no GPU results in the results store (shard wamal/gpu)")
