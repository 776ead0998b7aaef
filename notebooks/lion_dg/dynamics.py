# %% [markdown] tags=[]
# # Figure 1 and the theory: gradient awakening, weight growth and the on-path dead zone
#
# *LION-DG*, Sections 4 and 5.3 and Appendix C, checked numerically.
#
# - **Figure 1**: training and validation accuracy of He and LION-DG on CIFAR-10 DenseNet-DS, and
#   the ratio of the auxiliary to the main gradient norm on the backbone over training.
# - **Proposition 1**: with the auxiliary heads at zero, the auxiliary losses' gradient on every
#   backbone parameter is exactly zero at step 0, since it passes through $W_{aux}^\top = 0$:
#   $\nabla_{\theta_b}\mathcal{L}_{aux} = (\partial h/\partial\theta_b)^\top W_{aux}^\top\,\delta = 0$.
# - **Proposition 2**: the heads' own gradient $\delta\,h^\top$ is not zero, so under gradient
#   descent their norm grows about linearly at first, $\|W_{aux}(t)\| \approx \eta\,\|\nabla W_{aux}\|\,t$,
#   and the auxiliary gradients "awaken" with it. We show SGD and, since the paper trains with AdamW, what AdamW does.
# - **Theorem 1**: the benefit needs the heads to sit *beside* the main path. We build a ResNet-DS
#   variant whose auxiliary output is fed back into the residual stream ($h \leftarrow h + U z$,
#   $z = W_{aux}\,\mathrm{GAP}(h)$) and compare it with the side-tap ResNet-DS.

# %% tags=["parameters"]
profile: str = "smoke"          # smoke | cpu | gpu | paper: sizes of data, steps and seeds (aux_core.profiles)
seeds: list = [42, 123, 456]    # the paper's seeds; smaller profiles run the first few
steps: int = 3000               # the paper's step budget (Table 4); profiles cap it
threshold: float = 0.7          # convergence target: smoothed training accuracy (Table 4)
alpha: float = 0.3              # weight of each auxiliary cross-entropy (Table 4)
cifar100: str = "auto"          # data for the paper's CIFAR-100 rows: auto (cifar100 if present, else cifar10) | cifar100 | cifar10
growth_steps: int = 40          # early steps in which Proposition 2 tracks the head norm (every step diagnosed)
sgd_lr: float = 0.05            # learning rate of the plain-SGD run of Proposition 2

# %% tags=[]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from myst_nb import glue

from aux_core.experiments import lion_dg as L
from aux_core import notebook as nb

p = nb.setup(globals(), "lion_dg", "dynamics")
run_seeds = p.seeds(seeds)
fig1_cells = L.grid(profile, run_seeds, datasets=("CIFAR-10",), archs={"DenseNet-DS": "densenet_ds"},
                    inits={"He-init": "he", "LION-DG": "lion_dg"}, paper_steps=steps, alpha=alpha)
print(f"profile {p.name}: Figure 1 from {len(fig1_cells)} runs of {fig1_cells['config'].iloc[0].steps} steps (shared with Table 1)")

# %% [markdown] tags=[]
# ## Figure 1: accuracy curves and the gradient ratio
#
# Left: smoothed training accuracy (the convergence rule's trailing mean of batch accuracy) and
# validation accuracy at each evaluation, mean over seeds. Right: $\|\nabla_{\theta_b}\mathcal{L}_{aux}\| / \|\nabla_{\theta_b}\mathcal{L}_{main}\|$
# at the diagnosed steps (every tenth of the run, step 0 included), one line per seed.

# %% tags=["hide-input"]
fig1 = L.run_grid(fig1_cells, desc="Figure 1 runs")
train_curves = pd.concat([L.smoothed_train_acc(r).rename("acc").reset_index().assign(init=i, seed=s, split="train (smoothed)")
                          for i, s, r in zip(fig1["init"], fig1["seed"], fig1["result"])]).dropna()
val_curves = pd.concat([r.history[["step", "test_acc"]].rename(columns={"test_acc": "acc"}).assign(init=i, seed=s, split="validation")
                        for i, s, r in zip(fig1["init"], fig1["seed"], fig1["result"])])
ratio = pd.concat([r.diagnostics.assign(init=i, seed=s) for i, s, r in zip(fig1["init"], fig1["seed"], fig1["result"])])
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
sns.lineplot(data=pd.concat([train_curves, val_curves]), x="step", y="acc", hue="init", style="split", errorbar=None, ax=a)
a.axhline(threshold, color="grey", lw=0.8, ls=":")
a.set(ylabel="accuracy", title="CIFAR-10 DenseNet-DS")
sns.lineplot(data=ratio, x="step", y="norm_ratio", hue="init", units="seed", estimator=None, marker="o", ax=b)
b.set(ylabel="|grad aux| / |grad main| (backbone)", title="gradient awakening")
fig.tight_layout()
glue("lion_dg_fig1", fig, display=False)
plt.show()

# %% [markdown] tags=[]
# ## Proposition 1: the auxiliary gradient on the backbone at step 0
#
# Computed with autograd on one batch of 128 real CIFAR-10 training images, for each initialisation
# and both networks: the norm of the auxiliary losses' gradient on all backbone parameters, of the
# main loss's, and of the gradients reaching the heads. The last column reads the same quantity from
# the first step of the Table 1 training runs.

# %% tags=[]
NORMS = {"backbone_from_aux": "|grad aux| on backbone", "backbone_from_main": "|grad main| on backbone",
         "heads_from_main": "|grad main| on heads", "heads_from_aux": "|grad aux| on heads"}
prop1 = L.gradient_flow_table(L.ARCHS, L.INITS).rename(columns=NORMS).drop(columns="|grad main| on heads")
prop1["exactly zero"] = prop1["|grad aux| on backbone"] == 0.0
prop1 = prop1.set_index(["network", "init"])
in_runs = {(a, i): r.diagnostics.query("step == 0")["aux_grad_norm"].iloc[0]
           for a, i, r in zip(*L.run_grid(L.grid(profile, run_seeds[:1], datasets=("CIFAR-10",), paper_steps=steps, alpha=alpha),
                                          desc="Table 1 runs")[["arch", "init", "result"]].T.values)}
prop1["in the training run, step 0"] = [in_runs[k] for k in prop1.index]
zero_heads = prop1.xs("LION-DG", level="init")["|grad aux| on backbone"]
glue("prop1_max_lion", float(zero_heads.max()), display=False)
glue("prop1_min_he", float(prop1.xs("He-init", level="init")["|grad aux| on backbone"].min()), display=False)
prop1

# %% [markdown] tags=[]
# ## Proposition 2: how fast the zero heads grow
#
# LION-DG on CIFAR-10 DenseNet-DS, diagnosed at every one of the first steps: once with plain SGD
# (no momentum, no weight decay), the setting of the proposition, and once with the paper's AdamW.
# Dashed lines are least-squares fits over those steps. Under SGD the first update is
# $\eta\,\|\nabla W_{aux}\|$; AdamW normalises each coordinate, so its first update moves every head
# weight by about the learning rate and the norm grows like $\eta\sqrt{n}\,t$ whatever the gradient's size.

# %% tags=[]
growth = L.run_grid(L.growth_grid(profile, run_seeds[0], paper_steps=steps, alpha=alpha, growth_steps=growth_steps,
                                  sgd_lr=sgd_lr), desc="Proposition 2 runs")
growth_runs = dict(zip(growth["optimizer"], growth["result"]))
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
fits = []
for ax, (name, r) in zip(axes, growth_runs.items()):
    d = L.weight_growth(r)
    slope, icpt, r2 = L.linear_fit(d["step"], d["aux_weight_norm"])
    fits.append({"optimizer": name, "lr": r.config["lr"], "slope per step": slope, "R²": r2,
                 "|W_aux| at step 0": d["aux_weight_norm"].iloc[0], "|W_aux| at the end": d["aux_weight_norm"].iloc[-1]})
    ax.plot(d["step"], d["aux_weight_norm"], "o", ms=3, label="measured")
    ax.plot(d["step"], slope * d["step"] + icpt, "--", label=f"linear fit, R² = {r2:.3f}")
    ax.set(title=f"{name} (lr {r.config['lr']:g})", xlabel="step", ylabel="|W_aux| (all head weights)")
    ax.legend()
fig.tight_layout()
glue("lion_dg_prop2", fig, display=False)
plt.show()
fits = pd.DataFrame(fits).set_index("optimizer")
glue("prop2_r2_sgd", float(fits.loc["SGD", "R²"]), display=False)
glue("prop2_r2_adamw", float(fits.loc["AdamW", "R²"]), display=False)
fits

# %% [markdown] tags=[]
# ## Theorem 1: side-tap against on-path heads on ResNet-DS
#
# At step 0, on the same batch: with zero heads the on-path branch adds nothing to the stream, and
# no gradient of either loss reaches its back-projection $U$; only the auxiliary loss moves $W_{aux}$,
# and the main loss starts to use the branch only once both have grown (a saddle at zero: the "dead
# zone"). Side taps never touch the stream, so their zero heads cost the main path nothing. Below
# the gradients at step 0, then He against LION-DG trained on each design.

# %% tags=[]
designs = L.DESIGNS
flow = L.gradient_flow_table(designs, {k: L.INITS[k] for k in ("He-init", "LION-DG")})
flow.rename(columns={**NORMS, "network": "design"}).set_index(["design", "init"])

# %% tags=[]
thm = L.run_grid(L.designs_grid(profile, run_seeds, paper_steps=steps, alpha=alpha), desc="Theorem 1 runs")
thm_table = L.compare(L.per_run(thm, threshold))
for design in designs:
    row = thm_table[(thm_table["arch"] == design) & (thm_table["init"] == "LION-DG")].iloc[0]
    glue(f"thm1_speedup_{designs[design]}", float(row["estimate"]), display=False)
thm_table.set_index(["arch", "init"])[["val_acc", "val_acc_std", "steps", "reached", "threshold", "estimate",
                                       "lo", "hi", "p"]].rename(columns={"estimate": "speed-up (%)"}).round(3)
