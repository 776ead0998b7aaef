"""The chapters' findings as sentences generated from their results, never fixed text: each
function takes the tables a chapter's page computed and returns its paragraphs, so that other
numbers give other sentences (a test swaps the results and reads the text)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def lion_dg(table1: pd.DataFrame, residual: pd.DataFrame, ledger: pd.DataFrame, flow: pd.DataFrame, scale: str,
            threshold: float) -> list[str]:
    """LION-DG's overview: `compare()` of Table 1's and of the baselines' runs, the claims
    ledger, the step-0 gradient table (Proposition 1), the scale in words and the paper's
    threshold."""
    c10 = table1[table1["dataset"] == "CIFAR-10"].set_index(["arch", "init"])
    res = residual.set_index("init")
    counts = ", ".join(f"{n} {k}" for k, n in ledger["verdict"].value_counts().items())
    n_rep = int((ledger["verdict"] == "reproduced").sum())
    lion, he = c10.loc[("DenseNet-DS", "LION-DG")], c10.loc[("DenseNet-DS", "He-init")]
    best = c10.loc["DenseNet-DS"]["val_acc"].idxmax()
    thr = 100 * lion["threshold"]
    lines = [
        f"At this book's scale ({scale}), {n_rep} of the {len(ledger)} headline claims "
        f"{'was' if n_rep == 1 else 'were'} reproduced ({counts}).",
        f"On CIFAR-10 DenseNet-DS, LION-DG reached {thr:.0f}% smoothed training accuracy in {lion['steps']:.0f} steps "
        f"against He's {he['steps']:.0f} (speed-up {lion['estimate']:+.1f}%, 95% interval "
        f"[{lion['lo']:+.1f}, {lion['hi']:+.1f}]%), with final accuracy {lion['val_acc']:.2f}% against "
        f"{he['val_acc']:.2f}%.",
        f"The most accurate initialisation on DenseNet-DS was {best} "
        f"({c10.loc[('DenseNet-DS', best), 'val_acc']:.2f}%).",
    ]
    if "He + warm-up" in res.index and "LION-DG" in res.index:
        lines.append(f"The explicit warm-up of the auxiliary weight gave a speed-up of "
                     f"{res.loc['He + warm-up', 'estimate']:+.1f}% against LION-DG's "
                     f"{res.loc['LION-DG', 'estimate']:+.1f}% over the same He runs (see the Table 7 section).")
    zero, nonzero = flow[flow["backbone_from_aux"] == 0], flow[flow["backbone_from_aux"] != 0]
    largest = f" (largest norm {nonzero['backbone_from_aux'].max():.3g})" if len(nonzero) else ""
    lines.append("At step 0 the auxiliary gradient on the backbone is exactly 0 under "
                 + (", ".join(sorted(set(zero["init"]))) or "no scheme") + " and non-zero under "
                 + (", ".join(sorted(set(nonzero["init"]))) or "no scheme") + largest
                 + "; Proposition 1 predicts 0 wherever the heads start at zero (see the theory section).")
    if thr < 100 * threshold:
        lines.append(f"These short runs do not reach the paper's {100 * threshold:.0f}% training accuracy: the ledger "
                     f"judges the speed-up at {100 * threshold:.0f}% with the runs that never reach it censored, and "
                     f"shows the comparison at {thr:.0f}%, the highest level every run reaches, as a separate row.")
    return lines


def _gap(d: dict, paper: float | None = None) -> str:
    """A Welch difference (fractions) in points, with its interval and where the paper's gap lies."""
    v, lo, hi = 100 * d["estimate"], 100 * d["lo"], 100 * d["hi"]
    if not np.isfinite(lo):
        return f"{v:+.1f} points (no interval: too few finished runs)"
    if paper is None:
        return f"{v:+.1f} points [{lo:+.1f}, {hi:+.1f}]"
    where = ("above the paper's" if lo > paper else "below the paper's" if hi < paper
             else "with the paper's inside the interval:")
    return f"{v:+.1f} points [{lo:+.1f}, {hi:+.1f}], {where} {paper:+.2f}"


def _vs(runs: pd.DataFrame, label: str, a: str, b: str) -> dict:
    """WAMAL's Welch comparison of two arms' finished runs."""
    from .wamal import finished, welch
    return welch(finished(runs, label, a), finished(runs, label, b))


def wamal(main: pd.DataFrame, aux: pd.DataFrame, gpu: dict, ledger: pd.DataFrame, scale: str) -> dict[str, list[str]]:
    """WAMAL's findings page, by section ("gpu", "profile"): `main` and `aux` are `per_run` of
    Table 1's and of Tables 3-4's grids at the page's profile, `gpu` the store's H100 frames
    (`wamal_h100.results`), `ledger` the claims ledger, `scale` the profile in words."""
    from .. import reference as ref
    from . import wamal as W
    t1 = ref.table("wamal", "Table 1")
    t1 = t1[(t1["dataset"] == "CIFAR-100-20") & (t1["row"] == "VGG16")].set_index("column")["value"] * 100
    paper_gap = {k: t1["WAMAL"] - t1[k] for k in ("MAXL", "Single Task")}
    paper_order = ["WAMAL", "MAXL", "Single Task"]
    out = {"gpu": [], "profile": []}

    runs = gpu.get("runs", pd.DataFrame())
    g_main = runs[runs["grid"] == "main"] if len(runs) else runs
    if len(g_main):
        acc = W.accuracy_table(g_main, by=("method",)).set_index("method")["mean"] * 100
        order = sorted(acc.index, key=lambda m: -acc[m])
        epochs = int(g_main["epochs"].max())
        out["gpu"].append(
            f"On all 50,000 CIFAR-10 training images with VGG16 ({', '.join(sorted(set(g_main['device'])))}, "
            f"{epochs} of the paper's {W.PAPER_EPOCHS} epochs, {g_main['seed'].nunique()} seeds): "
            + ", ".join(f"{m} {acc[m]:.1f}%" for m in paper_order[::-1] if m in acc) + ". The order is "
            + " > ".join(order) + (", the paper's." if order == paper_order else
                                   f", not the paper's ({' > '.join(paper_order)}).")
            + " WAMAL minus each baseline (Welch 95% interval; the paper's gap is on CIFAR100-20 after "
            f"{W.PAPER_EPOCHS} epochs): " + "; ".join(
                f"{k}: {_gap(_vs(g_main, 'method', 'WAMAL', k), paper_gap[k])}"
                for k in ("MAXL", "Single Task") if k in acc)
            + (f". Whether the gaps hold to {W.PAPER_EPOCHS} epochs these {epochs}-epoch runs cannot say."
               if epochs < W.PAPER_EPOCHS else "."))
        passes = gpu.get("label_passes", pd.DataFrame())
        wp = passes[(passes["grid"] == "main") & (passes["method"] == "WAMAL")] if len(passes) else passes
        if len(wp):
            ceiling = W.WEIGHT_CEILING
            by_pass = wp.groupby("epoch")["weight_mean"].mean()
            out["gpu"].append(
                f"WAMAL's learned weights (ceiling 2^r = {ceiling:g}) averaged " +
                ", ".join(f"{w:.1f}" for w in by_pass) + f" over the training images after label passes "
                f"1 to {len(by_pass)}: {100 * by_pass.iloc[-1] / ceiling:.0f}% of the ceiling after the last, so WAMAL "
                f"also trains with an auxiliary loss about {by_pass.iloc[-1]:.0f} times MAXL's. The scale controls "
                f"of the ablations page (MAXL with every weight {ceiling:g}; normalised WAMAL) test whether that, "
                "rather "
                "than per-sample weighting, is the gain.")
    g_r = runs[runs["grid"] == "ranges"] if len(runs) else runs
    if len(g_r):
        by_r = g_r.groupby("r")
        mean = by_r.apply(lambda g: 100 * g[g["status"] == "ok"]["test_acc"].mean(), include_groups=False)
        div = by_r.apply(lambda g: int((g["status"] != "ok").sum()), include_groups=False)
        n = by_r.size()
        out["gpu"].append(
            f"The r sweep ({int(g_r[g_r['status'] == 'ok']['epochs'].max())} epochs, {g_r['seed'].nunique()} seeds), "
            "mean test accuracy of the finished runs: " +
            ", ".join(f"r = {r:g}: {mean[r]:.1f}%" if np.isfinite(mean[r]) else f"r = {r:g}: none finished"
                      for r in mean.index) +
            f". {int(div.sum())} of {len(g_r)} runs diverged" +
            (" (" + ", ".join(f"r = {r:g}: {div[r]} of {n[r]}" for r in div.index if div[r]) + ")."
             if div.sum() else "."))
    timing = runs[runs["grid"] == "timing"].set_index("method") if len(runs) else runs
    if len(timing) and {"WAMAL", "Single Task"} <= set(timing.index):
        base = timing.loc["Single Task", "primary_epoch_s"]
        lp = timing.loc["WAMAL", "label_pass_s"]
        out["gpu"].append(
            f"Alone on the GPU, a label pass over 50,000 images took {lp:.1f} s against {base:.1f} s for a whole "
            f"single-task epoch: a WAMAL epoch costs {(timing.loc['WAMAL', 'primary_epoch_s'] + lp) / base:.1f} "
            "single-task epochs.")
    if not out["gpu"]:
        out["gpu"].append("The results store holds no GPU runs of this chapter.")

    acc = (W.accuracy_table(main, by=("method",)).set_index("method")["mean"] * 100 if len(main)
           else pd.Series(dtype=float))
    counts = ", ".join(f"{n} {v}" for v, n in ledger["verdict"].value_counts().items())
    line = (f"At this book's profile ({scale}): "
            + ", ".join(f"{m} {acc[m]:.1f}%" for m in paper_order[::-1] if m in acc))
    if len(acc) and acc.max() < 20:
        line += " (chance is 10%: the networks are barely trained)"
    if {"WAMAL", "MAXL"} <= set(acc.index):
        line += ("; WAMAL − MAXL "
                 f"{_gap(_vs(main, 'method', 'WAMAL', 'MAXL'), paper_gap['MAXL'])}")
    n_rep = int((ledger["verdict"] == "reproduced").sum())
    out["profile"].append(line + f". {n_rep} of the ledger's {len(ledger)} claims "
                          f"{'was' if n_rep == 1 else 'were'} reproduced at this scale ({counts}).")
    if len(aux) and (aux["variant"] == "AuxiLearn").any():
        t3 = ref.table("wamal", "Table 3")
        t3 = t3[t3["dataset"] == "CIFAR-100-20"].set_index("row")["value"] * 100
        out["profile"].append(
            "AuxiLearn (Tables 3–4) ran at this profile only: AuxiLearn − WAMAL "
            f"{_gap(_vs(aux, 'variant', 'AuxiLearn', 'WAMAL'), t3['AuxiLearn'] - t3['WAMAL'])}; "
            f"AuxiLearn − MAXL {_gap(_vs(aux, 'variant', 'AuxiLearn', 'MAXL'), t3['AuxiLearn'] - t3['MAXL'])}; "
            f"with its auxiliary set against none {_gap(_vs(aux, 'variant', 'AuxiLearn', 'AuxiLearn w/o Aux Set'))} "
            "(the paper's values are CIFAR100-20's).")
    return out


def follows_dilution(change: float, dilution: float) -> bool:
    """Is a landscape's change under the paper's directions within half of what the shrinking
    step alone gives (`dilution`)? The one rule both landscape readings use."""
    return bool(change) and abs(change - dilution) < 0.5 * abs(change)


def asymmetric_landscape(changes: pd.DataFrame, table: pd.DataFrame, n: int = 300) -> list[str]:
    """The landscape page's reading of its data: `changes` is `landscape_changes()` over the three
    kinds of direction and loss (the paper's directions, the main-loss filter check and the
    total-loss filter control), `table` the page's Tables 5-6 frame (paper reading, with the
    paper's change and the dilution), `n` the branches compared with plain."""
    from .. import stats
    from .asymmetric import TOTAL_LOSS_KIND

    def change(arch, kind):
        v = changes[(changes["arch"] == arch) & (changes["kind"] == kind) & (changes["n"] == n)]["std_loss_change_pct"]
        return stats.mean_ci95(v) if len(v) else (np.nan, np.nan, np.nan)

    lines, explained = [], []
    for arch in dict.fromkeys(changes["arch"]):
        if (arch, f"N = {n}") not in table.index:
            continue
        row = table.loc[(arch, f"N = {n}")]
        ours, paper, dilution = row["ours std_loss Δ%"], row["paper std_loss Δ%"], row["dilution Δ%"]
        check = change(arch, "filter")[0]
        total = change(arch, TOTAL_LOSS_KIND)
        line = (f"- **{arch}**, {n} branches: Std(loss) {ours:+.1f}% under the paper's directions (the paper: "
                f"{paper:+.1f}%; the shrinking step alone on a linear surface: {dilution:+.1f}%); {check:+.2g}% with "
                "filter-normalised directions over the parameters the main loss reads")
        if np.isfinite(total[0]):
            line += (f"; {total[0]:+.1f}% [{total[1]:+.1f}, {total[2]:+.1f}] with the same directions and the total "
                     "training loss")
            readings = {"the paper's directions with the main loss": ours,
                        "filter-normalised directions with the total loss": total[0]}
            closest = min(readings, key=lambda k: abs(readings[k] - paper))
            line += f". The paper's {paper:+.1f}% is closest to {closest}"
        lines.append(line + ".")
        explained.append(follows_dilution(ours, dilution))
    if not lines:
        return [f"No network has landscapes at N = {n} at this profile."]
    same = changes[changes["kind"] == "filter"]["std_loss_change_pct"].abs().max()
    lines.append(
        f"Over the parameters the main loss reads, the branches change Std(loss) by at most {same:.2g}% in any "
        "network: " + ("the main loss does not depend on branches it never reads, as it must (a check, not a finding). "
                       if same < 1e-6 else "more than rounding: inactive branches reach the main loss (a bug). ")
        + "Under the paper's directions the change is "
        f"{'within half' if all(explained) else 'not everywhere within half'}"
        f" of what the shrinking step alone gives ({sum(explained)} of {len(explained)} networks)"
        + (", so the dilution of a direction normalised over all parameters accounts for the flattening."
           if all(explained) else "."))
    mlp = change("MLP", TOTAL_LOSS_KIND)
    if np.isfinite(mlp[1]):
        side = ("rougher" if mlp[1] > 0 else "smoother" if mlp[2] < 0 else None)
        lines.append(f"With the auxiliary terms in the loss, {n} branches make the MLP's initial surface "
                     + (f"{side} ({mlp[0]:+.1f}% [{mlp[1]:+.1f}, {mlp[2]:+.1f}])" if side else
                        f"neither rougher nor smoother at this precision "
                        f"({mlp[0]:+.1f}% [{mlp[1]:+.1f}, {mlp[2]:+.1f}])")
                     + " under directions that do not shrink with the number of branches.")
    return lines


def asymmetric(s: dict, profile: str) -> list[str]:
    """The asymmetric chapter's findings page from `asymmetric.summary()`'s results `s` (Table 1's
    comparison and runs, cosines, landscapes and their changes, attention, the ledger)."""
    from .. import reference as ref
    from . import asymmetric as A
    t1, ledger = s["table1"], s["ledger"]
    asym = t1[t1["arm"] == "asymmetric"]
    lines = [f"**Scale.** Profile `{profile}`: {s['where']['table1']}; the paper trained {A.PAPER_EPOCHS} epochs on "
             f"the full CIFAR-100 with {len(A.PAPER_SEEDS)} seeds. Verdicts hold at this scale only; the `gpu` and "
             "`paper` profiles rerun the same notebooks larger."]
    for arch in A.MODELS:
        a = asym[asym["arch"] == arch].sort_values("n")
        if a.empty:
            continue
        ours = ", ".join(f"{r.estimate:+.1f}% at N = {r.n}" for r in a.itertuples())
        paper = ", ".join(f"{ref.value('asymmetric', 'Table 1', f'N={n}|{arch}', 'improvement_pct'):+.1f}%"
                          for n in a["n"])
        lines.append(f"**{arch}, Table 1.** Ours: {ours} ({int((a['p'] < 0.05).sum())} of {len(a)} with p < 0.05, "
                     f"uncorrected). The paper: {paper}.")
    for table, rt in s.get("same_data", {}).items():
        if not len(rt):
            continue
        rows = A.compare(rt.assign(row=[A.paper_row(table, r) for _, r in rt.iterrows()]), ["row"])
        rows = rows[rows["arm"] == "asymmetric"]
        ours = "; ".join(f"{A.row_text(table, r.row)} {r.estimate:+.1f}% (the paper "
                         f"{ref.value('asymmetric', table, r.row, 'improvement_pct'):+g}%)" for r in rows.itertuples())
        judged = s["same_data_ledger"]
        judged = judged[judged["source"] == table]   # the rows the paper reports as an effect, in order
        verdicts = "; ".join(f"{A.row_text(table, row)}: {v}"
                             for row, v in zip(A.significant_rows(table), judged["verdict"]))
        per_arch = rt.groupby("arch", sort=False)["seed"].nunique()
        seeds = (f"{per_arch.iloc[0]} seeds" if per_arch.nunique() == 1
                 else ", ".join(f"{a} {n} seeds" for a, n in per_arch.items()))
        lines.append(f"**{table} on CIFAR-10 (the paper's own data), {seeds}.** Ours against the paper, relative "
                     f"change in test accuracy: {ours} ({int((rows['p'] < 0.05).sum())} of {len(rows)} with p < 0.05, "
                     "uncorrected). "
                     f"Judged where the paper reports p < 0.05 (a second family beside the headline ledger, "
                     f"Holm-corrected among themselves): {verdicts or 'none'}.")
    runs = s["runs"]
    vs = A.compare(runs[runs["arm"].isin(["symmetric", "asymmetric"])], ["arch", "n"], baseline="symmetric")
    if len(vs):
        lines.append(f"**Heterogeneous against homogeneous branches.** Against the symmetric control (the same "
                     f"branches trained with softmax cross-entropy), the asymmetric network was better with a 95% "
                     f"interval above zero in {int((vs['lo'] > 0).sum())} of {len(vs)} (network, N) cells, worse "
                     f"with one below zero in {int((vs['hi'] < 0).sum())}, and undecided in the rest (relative "
                     f"differences from {vs['estimate'].min():+.1f}% to "
                     f"{vs['estimate'].max():+.1f}%, uncorrected).")
    cos = s["cosines"].groupby("arch")["avg_sim"].mean() if len(s["cosines"]) else pd.Series(dtype=float)
    if len(cos):
        lines.append("**Gradient alignment.** Average cosine between the main and auxiliary gradients at N = 20: " +
                     ", ".join(f"{a} {cos[a]:+.3f} (paper {ref.value('asymmetric', 'Table 2', a, 'avg_sim'):+.3f})"
                               for a in A.MODELS if a in cos.index) + ".")
    ch, lands = s["changes"], s["landscapes"]
    def at(kind):
        return ch[(ch["kind"] == kind) & (ch["n"] == 300)]["std_loss_change_pct"].mean() if len(ch) else np.nan
    pm, fm = at("paper"), at(A.TOTAL_LOSS_KIND)
    if not np.isfinite(pm):
        lines.append("**Landscape.** Not measured at this profile.")
    else:
        l300 = lands[(lands["n"] == 300) & (lands["kind"] == "paper")].iloc[0]
        dilution = 100 * (np.sqrt(l300["active_params"] / l300["params"]) - 1)
        paper = ref.value("asymmetric", "Table 5", "N=300|MLP", "std_loss_change_pct")
        tracks = follows_dilution(pm, dilution)
        line = (f"**Landscape.** With 300 branches the MLP's initial Std(loss) changes by {pm:+.1f}% under the paper's "
                f"directions (the paper: {paper:+.1f}%); the shrinking step alone would give {dilution:+.1f}%, so the "
                + ("change follows the diluted direction." if tracks
                   else "change does not follow the diluted direction."))
        if np.isfinite(fm):
            line += (f" Under filter-normalised directions over the parameters the loss reads, with the total training "
                     f"loss (our control), it changes by {fm:+.1f}%: the surface is "
                     f"{'rougher' if fm > 0 else 'smoother'} with the branches.")
        lines.append(line)
    att = s["attention"]
    if len(att):
        late = att[att["paper_epoch"] == max(A.ATTENTION_FRACTIONS)].groupby("arm")["coverage"].mean()
        pc = ref.value("asymmetric", "Section 4.4.3", "N=20|ViT-6L", "object_coverage_plain")
        ac = ref.value("asymmetric", "Section 4.4.3", "N=20|ViT-6L", "object_coverage_asymmetric")
        lines.append(f"**Attention.** At the end of training the asymmetric ViT-6L's attention covered "
                     f"{100 * late.get('asymmetric', np.nan):.1f}% of the saliency mass against "
                     f"{100 * late.get('plain', np.nan):.1f}% for plain training (our coverage definition; the paper: "
                     f"{ac:.1f}% against {pc:.1f}% with an unstated one).")
    counts = ledger["verdict"].value_counts()
    lines.append(f"**Ledger.** Of the {len(ledger)} headline claims: "
                 + ", ".join(f"{n} {v}" for v, n in counts.items())
                 + " (see the overview's ledger).")
    return lines


def dks(s: dict, profile: str, backbone: str) -> list[str]:
    """The DKS chapter's findings page from `dks.chapter_results()`'s results `s` (the main runs
    and their configs, the ledger) for `backbone` at `profile`."""
    from .. import reference as ref
    from . import dks as D
    runs, ledger = s["main_runs"], s["ledger"]
    cfg = s["main"]["config"].iloc[0]
    size = ("the full training set" if cfg.train_per_class is None
            else f"{cfg.train_per_class} training images per class")
    lines = [f"**Scale.** Profile `{profile}`: {backbone} on {runs['dataset_run'].iloc[0]} ({len(s['seeds'])} seeds, "
             f"{cfg.epochs} of the paper's {D.PAPER_EPOCHS} epochs, {size}). The paper trained 200 epochs on the full "
             "CIFAR-100 and averaged 5 runs; verdicts hold at this scale only, and the `gpu` and `paper` profiles "
             "rerun the same notebooks larger."]
    means = runs.groupby("method")["test_error"].mean()
    paper = ref.table("dks", "Main Table 1")
    pb = paper[paper["row"] == backbone].set_index("column")["value"]
    line = (f"**Main comparison ({backbone}).** Top-1 test error: " +
            ", ".join(f"{m} {means[m]:.2f}%" for m in ("baseline", "DS", "DKS") if m in means))
    if len(pb):
        line += " (the paper, CIFAR-100: " + ", ".join(f"{k} {v:.2f}%" for k, v in pb.items()) + ")"
    lines.append(line + ".")
    if note := D.collapse_note(runs):
        lines.append(f"**Collapse.** {note}")
    if "main" in s and "result" in s["main"]:
        anatomy = D.anatomy_note(D.loss_anatomy(s["main"]))
        lines.append(f"**What the loss terms did** (the warm-up page tables them). {anatomy}")
    warm = s.get("warmup_runs")
    if warm is not None and len(warm):
        share = warm["warmup"].iloc[0]
        wm = warm.groupby("method")["test_error"].mean()
        lines.append(f"**With a learning-rate warm-up** over the first {share:.0%} of training (our control; "
                     "the warm-up page): " + ", ".join(f"{m} {wm[m]:.2f}%" for m in ("baseline", "DS", "DKS")
                                                      if m in wm) + ".")
        effect = D.warmup_effect(pd.concat([runs.assign(warmup=0.0), warm], ignore_index=True))
        lines[-1] += " The warm-up changes each method's error by (paired by seed, 95% interval): " + ", ".join(
            f"{r['method']} {r['estimate']:+.2f} [{r['lo']:+.2f}, {r['hi']:+.2f}]" for _, r in effect.iterrows()
            if np.isfinite(r["estimate"])) + " points."
        note = D.collapse_note(warm)
        lines.append(f"**Collapse with warm-up.** {note}" if note else "No warmed-up run collapsed.")
        if "warmup" in s and "result" in s["warmup"]:
            if anatomy := D.anatomy_note(D.loss_anatomy(s["warmup"])):
                lines[-1] += f" With the warm-up, {anatomy[0].lower()}{anatomy[1:]}"
    designs = s.get("design_runs")
    if designs is not None and (note := D.design_collapse_note(designs)):
        lines.append(f"**Collapse in the design ablation** (Table 6, the ablation page; its verdicts carry these "
                     f"runs). {note}")
    unrun = ledger["reason"].str.startswith("not run")
    for _, r in ledger[~unrun].iterrows():
        ci = f" [{r['lo']:+.2f}, {r['hi']:+.2f}]" if np.isfinite(r["lo"]) else ""
        lines.append(f"- {r['claim']}: ours {r['estimate']:+.3f}{ci}: **{r['verdict']}** ({r['reason']}).")
    unmeasured = ledger[unrun]
    if len(unmeasured):
        missing = ", ".join(dict.fromkeys(c.split(":")[0] for c in unmeasured["claim"]))
        lines.append(f"**Not measured at this profile:** {len(unmeasured)} claims about backbones it does not train "
                     f"({missing}); pass them in `backbones` to the main-table notebook.")
    return lines
