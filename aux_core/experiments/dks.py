"""The DKS paper's experiments (Sun et al., CVPR 2019, and its supplement): backbones, the
auxiliary-branch design tables, the CIFAR protocol and its grids.

Protocol (the authors' CIFAR schedule): SGD momentum 0.9, lr 0.1, batch 128, 200 epochs,
lr x 0.2 at epochs 60, 120 and 160, weight decay 5e-4, pad-4 crop and horizontal flip. A
profile caps the epochs; the milestones keep their fractions of the run (30%, 60%, 80%).
Baseline: the backbone alone (`plain`); DS: cross-entropy on C1 and on the two DKS-designed
branches, all weights 1; DKS: DS plus the pairwise knowledge matching. The error reported is
the top-1 test error of C1 at the end of training, in percent.

The notebooks under notebooks/dks/ call these; the reference numbers come from
`aux_core.reference` ("dks").
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..methods.branches import branch_plan, build_branches, check_design, classifier_names
from ..models import create_model, num_params
from ..models.densenet import DenseNetDS
from ..models.mobilenet import MobileNet
from .. import stats
from .. import ledger
from ..profiles import get_profile
from ..config import RunConfig
from .common import dataset_for, per_run_frame, run_grid

BACKBONES = {"ResNet-32": "resnet32", "ResNet-110": "resnet110", "WRN-28-4": "wrn28_4",
             "WRN-28-10": "wrn28_10", "DenseNet-40-12": "densenet40_12",
             "DenseNet-100-12": "densenet100_12", "MobileNet": "mobilenet"}
# rows of the main comparison that are a backbone with options ("DKS with strong regularisation")
VARIANTS = {"WRN-28-10|dropout": ("WRN-28-10", {"dropout": 0.3})}
DESIGN_TABLES = {"Supp. Table 2": ("ResNet-32", "ResNet-110"), "Supp. Table 3": ("WRN-28-4", "WRN-28-10"),
                 "Supp. Table 4": ("DenseNet-40-12", "DenseNet-100-12"), "Supp. Table 5": ("MobileNet",)}
ABLATION = {"Original": "dks", "AP+2FC": "ap2fc", "AP+1Conv+2FC": "ap1conv2fc", "Narrow": "narrow",
            "Shallow": "shallow"}  # Table 6 / Figure 3, on ResNet-32
METHODS = {"baseline": ("plain", {}), "DS": ("ds", {"alpha": 1.0}), "DKS": ("dks", {})}
CHAPTER = "dks"
PAPER_SEEDS = (0, 1, 2, 3, 4)      # the paper reports the mean of 5 runs
PAPER_EPOCHS = 200
PAPER_MILESTONES = (60, 120, 160)
NOISE_RATES = (0.0, 0.4)           # the noisy-label notebook's default rates (the paper's are not in the supplement)


# ----------------------------------------------------------------------------- protocol

def milestones_for(epochs: int) -> tuple[int, ...]:
    """The paper's milestones at the same fractions of a shorter run (at least epoch 1)."""
    return tuple(max(1, round(m * epochs / PAPER_EPOCHS)) for m in PAPER_MILESTONES)


def protocol(profile: str, backbone: str = "ResNet-32", method: str = "DKS", design: str = "dks",
             paper_epochs: int = PAPER_EPOCHS, evals: int = 10, cifar100: str = "auto", **changes) -> RunConfig:
    """One run of the paper's CIFAR-100 protocol at a profile's size. `method` is one of
    METHODS' labels, `design` the branches of DS and DKS (aux_core.methods.branches.DESIGNS),
    `evals` about how many test evaluations the run records (for the error curves)."""
    if backbone not in BACKBONES and backbone not in VARIANTS:
        raise ValueError(f"unknown DKS backbone {backbone!r}; available: {', '.join([*BACKBONES, *VARIANTS])}")
    base, model_options = VARIANTS.get(backbone, (backbone, {}))
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
    check_design(design)
    if evals < 1:
        raise ValueError(f"evals must be >= 1, got {evals}")
    p = get_profile(profile, CHAPTER)
    name, options = METHODS[method]
    options = {**options, "branch": design} if name != "plain" else {}
    dataset = dataset_for("CIFAR-100", cifar100)
    n_train = (p.train_per_class or 0) * (100 if dataset == "cifar100" else 10) or 50_000
    epochs = p.epochs(paper_epochs, model=BACKBONES[base], n_train=n_train)
    steps = epochs * max(1, n_train // 128)
    cfg = dict(dataset=dataset, augment="crop_flip", model=BACKBONES[base], model_options=model_options, method=name,
               method_options=options, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4,
               schedule="multistep", milestones=milestones_for(epochs), gamma=0.2, epochs=epochs,
               batch_size=128, eval_every=max(1, steps // evals), seed=PAPER_SEEDS[0], **p.data())
    cfg.update(changes)
    return RunConfig(**cfg)


def grid(profile: str, seeds, backbones=("ResNet-32",), methods=tuple(METHODS), designs=("dks",),
         **changes) -> pd.DataFrame:
    """One row per run (backbone, method, design, seed) with its RunConfig. The baseline has
    no branches, so it appears once per backbone whatever the designs."""
    rows = []
    for b in backbones:
        for m in methods:
            for d in (designs if m != "baseline" else designs[:1]):
                for seed in seeds:
                    cfg = protocol(profile, b, m, d, seed=seed, **changes)
                    rows.append({"backbone": b, "method": m, "design": d if m != "baseline" else "",
                                 "seed": seed, "dataset_run": cfg.dataset, "config": cfg})
    return pd.DataFrame(rows)


def ablation_grid(profile: str, seeds, backbone: str = "ResNet-32", **changes) -> pd.DataFrame:
    """Table 6: DKS with each of the supplement's branch designs."""
    return grid(profile, seeds, backbones=(backbone,), methods=("DKS",), designs=tuple(ABLATION.values()), **changes)


def noise_grid(profile: str, seeds, backbone: str = "ResNet-32", rates=NOISE_RATES, **changes) -> pd.DataFrame:
    """The main comparison with a share `rate` of the training labels replaced at random."""
    return pd.concat([grid(profile, seeds, backbones=(backbone,), label_noise=float(rate), **changes)
                      .assign(noise=float(rate)) for rate in rates], ignore_index=True)


def chapter_grids(profile: str) -> dict[str, pd.DataFrame]:
    """Every grid the chapter's notebooks train at their defaults, by name (NOTEBOOK_GRIDS says
    which notebook reads which); the notebooks build their cells with the same functions."""
    seeds = get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    return {"main": grid(profile, seeds), "gradients": gradient_grid(profile, seeds),
            "ablation": ablation_grid(profile, seeds), "noise": noise_grid(profile, seeds)}


NOTEBOOK_GRIDS = {"main_table": ("main",), "curves": ("main",), "ablation": ("ablation",), "gradients": ("gradients",),
                  "noise": ("noise",), "overview": ("main", "gradients", "ablation"),
                  "findings": ("main", "gradients", "ablation"), "designs": ()}
LEDGER_NOTEBOOKS = ("overview", "findings")   # the notebooks that show the claims ledger (a test checks)
ANALYSES: dict = {}                            # analysis name -> compute(config, cache): none here


def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: final top-1 test error and training error of C1 (percent), status."""
    return per_run_frame(df, lambda res: {"test_error": 100 * (1 - res.metrics["final_test_acc"]),
                                          "train_error": 100 * (1 - res.metrics["final_train_acc"])})


def _meta_model(model_name: str, num_classes: int):
    """The backbone on the meta device: its structure and parameter counts, no weights."""
    with torch.device("meta"):
        return create_model(model_name, num_classes)


def _stage_rows(label: str, clf: str, first_stage: int, plan, dense: bool) -> list[dict]:
    width = "growth_rate" if dense else "channels"
    rows = []
    for k, (w, n) in enumerate(plan):
        row = f"{label}|{clf}|conv{first_stage + k + 1}_x"
        rows += [{"row": row, "column": width, "value": w}, {"row": row, "column": "blocks", "value": n}]
    return rows


def _mobilenet_rows(label: str, clf: str, first_stage: int, plan) -> list[dict]:
    """Table 5's layer columns: L7 (first 512, s2), L8 (the other 512s), L9a (first 1024, s2), L9b."""
    rows = []
    for k, (w, n) in enumerate(plan):
        a, b = ("L7", "L8") if first_stage + k == 1 else ("L9a", "L9b")
        rows += [{"row": f"{label}|{clf}|{a}", "column": "channels", "value": w},
                 {"row": f"{label}|{clf}|{a}", "column": "stride", "value": 2},
                 {"row": f"{label}|{clf}|{b}", "column": "channels", "value": w}]
        if b == "L8":
            rows.append({"row": f"{label}|{clf}|{b}", "column": "blocks", "value": n - 1})
    return rows


def design_rows(label: str, design: str = "dks", num_classes: int = 100, prefix: str | None = None) -> pd.DataFrame:
    """One backbone's classifiers as the supplement tabulates them, generated from our model
    and branch definitions (long format: row, column, value), with parameter counts."""
    if label not in BACKBONES:
        raise ValueError(f"unknown DKS backbone {label!r}; available: {', '.join(BACKBONES)}")
    model = _meta_model(BACKBONES[label], num_classes)
    dense, mobile = isinstance(model, DenseNetDS), isinstance(model, MobileNet)
    name = prefix or label
    rows = []
    if mobile:
        rows.append({"row": f"{name}|C1|L1", "column": "channels", "value": model.stem[0].out_channels})
        for j, layer in enumerate(model.stages[0]):
            rows.append({"row": f"{name}|C1|L{j + 2}", "column": "channels", "value": layer.pw.out_channels})
        rows += _mobilenet_rows(name, "C1", 1, [model.stage_plan[1], model.stage_plan[2]])
    else:
        stem = model.stem if dense else model.stem[0] if isinstance(model.stem, torch.nn.Sequential) else model.stem
        rows.append({"row": f"{name}|C1|conv1", "column": "channels", "value": stem.out_channels})
        rows += _stage_rows(name, "C1", 1, model.stage_plan, dense)
    rows.append({"row": f"{name}|C1", "column": "params", "value": num_params(model)})
    plan = branch_plan(model, design)
    names = classifier_names(model)
    with torch.device("meta"):
        branches = build_branches(model, design, num_classes)
    for i, tap in enumerate(model.tap_names):
        clf = names[tap]
        if design in ("dks", "narrow", "shallow"):
            rows += (_mobilenet_rows(name, clf, i + 1, plan[tap]) if mobile
                     else _stage_rows(name, clf, i + 2, plan[tap], dense))
        rows.append({"row": f"{name}|{clf}", "column": "params", "value": num_params(branches[tap])})
    return pd.DataFrame(rows)


def design_table(table: str, num_classes: int = 100) -> pd.DataFrame:
    """Our version of one of the supplement's design tables (Tables 2-6)."""
    if table == "Supp. Table 6":
        return pd.concat([design_rows("ResNet-32", d, num_classes, prefix=f"ResNet-32|{k}")
                          for k, d in ABLATION.items()], ignore_index=True)
    if table not in DESIGN_TABLES:
        raise ValueError(f"unknown design table {table!r}; available: {', '.join([*DESIGN_TABLES, 'Supp. Table 6'])}")
    return pd.concat([design_rows(b, "dks", num_classes) for b in DESIGN_TABLES[table]], ignore_index=True)


def compare_design(table: str, reference: pd.DataFrame, num_classes: int = 100) -> pd.DataFrame:
    """Ours beside the supplement's: every reference cell with our value, and our cells the
    supplement leaves out or cannot be read (reference NaN)."""
    ours = design_table(table, num_classes).rename(columns={"value": "ours"})
    ref = reference[["row", "column", "value"]].rename(columns={"value": "paper"})
    out = ours.merge(ref, on=["row", "column"], how="outer")
    out["match"] = out["paper"].isna() | (out["ours"] == out["paper"])
    return out


def resnet1202_params(num_classes: int = 100) -> int:
    return num_params(_meta_model("resnet1202", num_classes))


def resnet1202_table(num_classes: int = 100) -> pd.DataFrame:
    """Supplement Table 1 from our `resnet1202` and its `wide_shallow` branches: one row per
    convolution (classifier, layer, filters, kernel, stride, tap, tap shape)."""
    from ..models import tap_shapes
    model = _meta_model("resnet1202", num_classes)
    shapes = tap_shapes(model)
    with torch.device("meta"):
        heads = build_branches(model, "wide_shallow", num_classes)
    rows = []
    for tap, clf in classifier_names(model).items():
        convs = [m for m in heads[tap].modules() if isinstance(m, torch.nn.Conv2d)]
        for k, c in enumerate(convs):
            rows.append({"classifier": clf, "layer": f"conv{k + 1}", "filters": c.out_channels,
                         "kernel": f"{c.kernel_size[0]}x{c.kernel_size[1]}", "stride": c.stride[0],
                         "tap": tap, "tap shape": "x".join(map(str, shapes[tap])),
                         "branch params": num_params(heads[tap])})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- comparisons

def paired_difference(a, b) -> dict:
    """b - a over seeds paired by position (same seed: same backbone initialisation and data
    order), in the one comparison schema (`stats.comparison`)."""
    return stats.comparison(np.asarray(b, float), np.asarray(a, float), paired=True)


def error_table(runs: pd.DataFrame, reference: pd.DataFrame | None = None, by: str = "backbone",
                metric: str = "test_error", baseline: str = "baseline", label: str = "method") -> pd.DataFrame:
    """Per (`by`, `label`): error mean ± std over seeds (population std, as the paper), the
    paired difference to `baseline` with its 95% interval and p-value, and the paper's
    number where `reference` (columns row, column, value, std) has it."""
    rows = []
    for key, group in runs.groupby(by, sort=False):
        base = group[group[label] == baseline].sort_values("seed")
        for name, g in group.groupby(label, sort=False):
            g = g.sort_values("seed")
            ok = g["status"] == "ok"
            row = {by: key, label: name, "dataset_run": g["dataset_run"].iloc[0], "seeds": len(g),
                   "diverged": int((~ok).sum()), "error": g.loc[ok, metric].mean(),
                   "error_std": g.loc[ok, metric].std(ddof=0),
                   "estimate": np.nan, "lo": np.nan, "hi": np.nan, "p": np.nan, "d": np.nan}
            if name != baseline and len(base) == len(g) and ok.all():
                d = paired_difference(base[metric], g[metric])
                row.update({k: d[k] for k in ("estimate", "lo", "hi", "p", "d")})
            if reference is not None:
                hit = reference[(reference["row"] == key) & (reference["column"] == name)]
                row["paper"] = float(hit["value"].iloc[0]) if len(hit) else float("nan")
                row["paper_std"] = float(hit["std"].iloc[0]) if len(hit) else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


def curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Figure 7's data: per evaluation, training error (mean batch error since the previous
    evaluation, on augmented batches) and test error of C1, in percent."""
    frames = []
    for _, r in runs.iterrows():
        h = r["result"].history
        if not len(h):
            continue
        frames.append(pd.DataFrame({"backbone": r["backbone"], "method": r["method"], "seed": r["seed"],
                                    "epoch": h["epoch"], "train_error": 100 * (1 - h["train_acc"]),
                                    "test_error": 100 * (1 - h["test_acc"])}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def late_errors(curve: pd.DataFrame, fraction: float = 0.25) -> pd.DataFrame:
    """Per (backbone, method, seed): mean training and test error over the last `fraction`
    of the evaluations (Figure 7's reading: which method ends highest and lowest)."""
    def tail(g):
        k = max(1, int(np.ceil(fraction * len(g))))
        return g.sort_values("epoch").tail(k)[["train_error", "test_error"]].mean()
    return curve.groupby(["backbone", "method", "seed"], sort=False).apply(tail).reset_index()


# ----------------------------------------------------------------------------- Proposition 1

def gradient_grid(profile: str, seeds, backbone: str = "ResNet-32", **changes) -> pd.DataFrame:
    """DS and DKS runs with the branch_gradients probe at every evaluation."""
    return grid(profile, seeds, backbones=(backbone,), methods=("DS", "DKS"), probes=("branch_gradients",),
                **changes)


def gradient_consistency(runs: pd.DataFrame) -> pd.DataFrame:
    """Long table of the probe: one row per (method, seed, epoch, tap, pair) with the mean
    per-image cosine and normalised squared difference of the two classifiers' gradients."""
    rows = []
    for _, r in runs.iterrows():
        h = r["result"].history
        for col in (c for c in h.columns if c.startswith("bgrad_cos:")):
            _, tap, pair = col.split(":")
            for epoch, cos, diff in zip(h["epoch"], h[col], h[f"bgrad_diff:{tap}:{pair}"]):
                rows.append({"method": r["method"], "seed": r["seed"], "epoch": epoch, "tap": tap,
                             "pair": pair, "cosine": cos, "difference": diff})
    return pd.DataFrame(rows)


def consistency_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per (tap, pair): each method's cosine and difference averaged over training, and DKS
    minus DS paired over seeds with its 95% interval."""
    per_seed = (long.groupby(["tap", "pair", "method", "seed"], sort=False)[["cosine", "difference"]].mean()
                .reset_index())
    rows = []
    for (tap, pair), g in per_seed.groupby(["tap", "pair"], sort=False):
        ds, dks = g[g["method"] == "DS"].sort_values("seed"), g[g["method"] == "DKS"].sort_values("seed")
        row = {"tap": tap, "pair": pair}
        for m in ("cosine", "difference"):
            row[f"{m} DS"], row[f"{m} DKS"] = ds[m].mean(), dks[m].mean()
            d = paired_difference(ds[m], dks[m])
            row[f"{m} DKS-DS"], row[f"{m} lo"], row[f"{m} hi"] = d["estimate"], d["lo"], d["hi"]
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- claims ledger

def claims_ledger(main_runs: pd.DataFrame, reference: pd.DataFrame, late: pd.DataFrame | None = None,
                  probe: pd.DataFrame | None = None, ablation: pd.DataFrame | None = None, *,
                  profile: str = "", alpha: float = 0.05) -> pd.DataFrame:
    """The chapter's headline claims judged by the ledger kit (aux_core.ledger) on per-seed
    data, paired by seed, Holm-corrected across them. `main_runs` is per_run of the main grid,
    `late` late_errors of its curves, `probe` gradient_consistency of Proposition 1's runs,
    `ablation` per_run of the Table 6 runs with `design` labelled as ABLATION's keys."""
    claims, judged = [], []

    def add(cid, text, source, paper, a, b, on, magnitude=True):
        claims.append(ledger.Claim(cid, text, source, "difference", paper, profile=profile, data=on))
        if len(a) == 0 or len(b) == 0:
            judged.append(ledger.undecidable("difference", 0, f"not run at this profile ({on or 'no runs'})"))
        elif len(a) != len(b):
            judged.append(ledger.undecidable("difference", min(len(a), len(b)), "the arms have different seeds"))
        else:
            judged.append(ledger.judge("difference", a, b, paper=paper, paired=True, magnitude=magnitude, alpha=alpha))

    def arm(frame, method, metric, key=("seed",), col="method"):
        return frame[frame[col] == method].sort_values(list(key))[metric].to_numpy(float)

    def on_of(frame):
        return (f"{frame['dataset_run'].iloc[0]}, {frame['seed'].nunique()} seeds"
                if len(frame) and "dataset_run" in frame else "")

    main_ref = reference[reference["table"] == "Main Table 1"]
    for backbone in dict.fromkeys(main_ref["row"]):
        paper = main_ref[main_ref["row"] == backbone].set_index("column")["value"]
        g = main_runs[main_runs["backbone"] == backbone]
        for other in ("baseline", "DS"):
            if other in paper and "DKS" in paper:
                change = round(float(paper["DKS"] - paper[other]), 2)
                add(f"main-{backbone}-{other}",
                    f"{backbone}: DKS changes top-1 error vs {other} by {change:+.2f} points",
                    "Main Table 1", change, arm(g, "DKS", "test_error"), arm(g, other, "test_error"), on_of(g))
    if late is not None and len(late):
        on = on_of(main_runs)
        for metric, sign, text in (("train_error", +1, "the highest training error"),
                                   ("test_error", -1, "the lowest test error")):
            for other in ("baseline", "DS"):
                key = ("backbone", "seed")
                add(f"late-{metric}-{other}", f"DKS ends with {text}: DKS - {other}, last quarter of training",
                    "Figure 7", float(sign), arm(late, "DKS", metric, key), arm(late, other, metric, key), on,
                    magnitude=False)
    if probe is not None and len(probe):
        per_seed = probe.groupby(["tap", "pair", "method", "seed"], sort=False)["cosine"].mean().reset_index()
        for (tap, pair), g in per_seed[per_seed["pair"].str.startswith("C1-")].groupby(["tap", "pair"], sort=False):
            add(f"align-{pair}-{tap}", f"DKS aligns the gradients of {pair} at {tap}: cosine DKS - DS",
                "Proposition 1", 1.0, arm(g, "DKS", "cosine"), arm(g, "DS", "cosine"), on_of(main_runs),
                magnitude=False)
    if ablation is not None and len(ablation):
        for design in (d for d in dict.fromkeys(ablation["design"]) if d != "Original"):
            add(f"ablation-{design}", f"the original branches beat {design}: error {design} - Original",
                "Table 6", 1.0, arm(ablation, design, "test_error", col="design"),
                arm(ablation, "Original", "test_error", col="design"), on_of(ablation),
                magnitude=False)
    return ledger.table(claims, ledger.correct(judged, alpha))


# ----------------------------------------------------------------------------- the chapter's runs

def ablation_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Table 6's comparison from a DKS grid over the ABLATION designs: error per design and
    its paired difference to the original branches."""
    pr = per_run(runs)
    pr["design"] = pr["design"].map({v: k for k, v in ABLATION.items()})
    return error_table(pr, by="backbone", label="design", baseline="Original")


def chapter_results(profile: str, seeds=None, backbone: str = "ResNet-32", cifar100: str = "auto",
                    progress: bool = True) -> dict:
    """Every run the claims ledger reads (the main comparison, its curves, Proposition 1's
    probe runs, Table 6's designs), through the results cache: the notebooks that show each
    of them build the same configurations, so the ledger trains nothing they have trained."""
    seeds = list(seeds) if seeds else get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    main = run_grid(grid(profile, seeds, backbones=(backbone,), cifar100=cifar100), progress, "DKS main")
    probe = run_grid(gradient_grid(profile, seeds, backbone, cifar100=cifar100), progress, "DKS gradients")
    ablation = run_grid(ablation_grid(profile, seeds, backbone, cifar100=cifar100), progress, "DKS designs")
    long = gradient_consistency(probe)
    designs = per_run(ablation)
    designs["design"] = designs["design"].map({v: k for k, v in ABLATION.items()})
    out = {"seeds": seeds, "main": main, "main_runs": per_run(main), "late": late_errors(curves(main)),
           "consistency": consistency_summary(long), "ablation": ablation_table(ablation)}
    from .. import reference
    out["ledger"] = claims_ledger(out["main_runs"], reference.load("dks"), out["late"], long, designs, profile=profile)
    return out


def chapter_ledger(profile: str, seeds=None, progress: bool = False) -> pd.DataFrame:
    """The claims ledger at `profile` with the overview page's defaults (`chapter_results`)."""
    return chapter_results(profile, seeds, progress=progress)["ledger"]
