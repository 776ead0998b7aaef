"""Findings are generated from results: other numbers give other sentences."""
import pandas as pd

from aux_core.experiments import findings


def lion_fixture(lion_steps=80.0, best="Hybrid", aux_norm=0.5, verdict="reproduced", threshold_reached=0.7):
    inits = ("He-init", "LION-DG", "LSUV", "Hybrid")
    acc = {"He-init": 50.0, "LION-DG": 51.0, "LSUV": 52.0, "Hybrid": 53.0}
    acc[best] = 60.0
    table1 = pd.DataFrame([{"dataset": "CIFAR-10", "arch": "DenseNet-DS", "init": i, "threshold": threshold_reached,
                            "steps": lion_steps if i == "LION-DG" else 100.0, "val_acc": acc[i],
                            "estimate": 100 - lion_steps if i != "He-init" else float("nan"),
                            "lo": -5.0, "hi": 30.0} for i in inits])
    residual = pd.DataFrame([{"init": "He + warm-up", "estimate": 3.0}, {"init": "LION-DG", "estimate": 20.0}])
    ledger = pd.DataFrame({"verdict": [verdict, "inconclusive"]})
    flow = pd.DataFrame([{"init": "LION-DG", "backbone_from_aux": 0.0},
                         {"init": "He-init", "backbone_from_aux": aux_norm},
                         {"init": "Hybrid", "backbone_from_aux": 0.0}])
    return table1, residual, ledger, flow


def text(**changes):
    table1, residual, ledger, flow = lion_fixture(**changes)
    return "\n".join(findings.lion_dg(table1, residual, ledger, flow, "a test scale", 0.7))


def test_lion_dg_findings_follow_the_results():
    base = text()
    assert "1 of the 2 headline claims was reproduced" in base and "in 80 steps against He's 100" in base
    assert text(lion_steps=120.0) != base and "in 120 steps" in text(lion_steps=120.0)
    assert "was LSUV (60.00%)" in text(best="LSUV") and "was Hybrid (60.00%)" in base
    assert "0 of the 2 headline claims were reproduced" in text(verdict="contradicted")
    # Proposition 1's sentence reads the gradient table: a non-zero norm under Hybrid moves Hybrid
    assert "exactly 0 under Hybrid, LION-DG and non-zero under He-init" in base
    moved = lion_fixture()
    moved[3].loc[moved[3]["init"] == "Hybrid", "backbone_from_aux"] = 0.2
    assert "exactly 0 under LION-DG and non-zero under He-init, Hybrid" in "\n".join(
        findings.lion_dg(*moved, "a test scale", 0.7))
    assert "censored" in text(threshold_reached=0.55) and "censored" not in base


def wamal_fixture(wamal_acc=0.75, weight_last=30.5, r40_diverged=2):
    accs = {"Single Task": 0.60, "MAXL": 0.65, "WAMAL": wamal_acc}
    runs = [{"grid": "main", "method": m, "seed": s, "status": "ok", "test_acc": a + 0.005 * s, "epochs": 4.0,
             "device": "a test GPU", "r": float("nan")} for m, a in accs.items() for s in range(3)]
    runs += [{"grid": "ranges", "method": "WAMAL", "seed": s, "r": r, "epochs": 2.0, "device": "a test GPU",
              "status": "diverged" if r == 40.0 and s < r40_diverged else "ok", "test_acc": 0.6 - r / 100}
             for r in (0.0, 5.0, 40.0) for s in range(2)]
    runs += [{"grid": "timing", "method": m, "seed": 0, "status": "ok", "test_acc": 0.5, "epochs": 2.0,
              "r": float("nan"), "device": "a test GPU", "primary_epoch_s": 5.0,
              "label_pass_s": 30.0 if m != "Single Task" else float("nan")}
             for m in accs]
    passes = pd.DataFrame([{"grid": "main", "method": "WAMAL", "seed": s, "epoch": e, "weight_mean": w}
                           for s in range(3) for e, w in ((1.0, 14.0), (2.0, 27.0), (3.0, weight_last))])
    main = pd.DataFrame([{"method": m, "seed": s, "status": "ok", "test_acc": a, "epochs": 1.0}
                         for m, a in (("Single Task", 0.1), ("MAXL", 0.11), ("WAMAL", 0.12)) for s in range(2)])
    aux = pd.DataFrame({"variant": []})
    ledger = pd.DataFrame({"verdict": ["inconclusive", "direction only"]})
    return main, aux, {"runs": pd.DataFrame(runs), "label_passes": passes}, ledger


def wamal_text(**changes):
    main, aux, gpu, ledger = wamal_fixture(**changes)
    return "\n".join(line for lines in findings.wamal(main, aux, gpu, ledger, "a test scale").values()
                     for line in lines)


def test_wamal_findings_follow_the_results():
    base = wamal_text()
    assert "The order is WAMAL > MAXL > Single Task, the paper's." in base
    assert "MAXL: +10.0 points" in base and "above the paper's +2.96" in base
    assert "averaged 14.0, 27.0, 30.5" in base and "95% of the ceiling" in base
    assert "3 of 6 runs diverged" not in base and "2 of 6 runs diverged (r = 40: 2 of 2)" in base
    assert "a WAMAL epoch costs 7.0 single-task epochs" in base
    assert "(chance is 10%: the networks are barely trained)" in base
    worse = wamal_text(wamal_acc=0.62)
    assert "not the paper's (WAMAL > MAXL > Single Task)" in worse and "MAXL: -3.0 points" in worse
    assert "below the paper's +2.96" in worse
    assert "averaged 14.0, 27.0, 16.0" in wamal_text(weight_last=16.0)
    assert "0 of 6 runs diverged." in wamal_text(r40_diverged=0)
    main, aux, gpu, ledger = wamal_fixture()
    assert findings.wamal(main, aux, {}, ledger, "x")["gpu"] == ["The results store holds no GPU runs of this chapter."]


def landscape_text(ours=-63.0, dilution=-62.0, total=(1300.0, 1350.0), check=0.0):
    from aux_core.experiments.asymmetric import TOTAL_LOSS_KIND
    rows = [{"arch": "MLP", "kind": k, "seed": s, "n": 300, "std_loss_change_pct": v}
            for s in range(2) for k, v in (("paper", ours), ("filter", check), (TOTAL_LOSS_KIND, total[s]))]
    table = pd.DataFrame([{"network": "MLP", "row": "N = 300", "ours std_loss Δ%": ours, "paper std_loss Δ%": -90.2,
                           "dilution Δ%": dilution}]).set_index(["network", "row"])
    return "\n".join(findings.asymmetric_landscape(pd.DataFrame(rows), table))


def test_the_landscape_reading_follows_the_measurements():
    base = landscape_text()
    assert "accounts for the flattening" in base and "rougher (+1325.0%" in base and "a check, not a finding" in base
    assert "closest to the paper's directions with the main loss" in base
    assert "not everywhere within half" in landscape_text(ours=-90.0, dilution=-10.0)
    assert "smoother (-85.0%" in landscape_text(total=(-86.0, -84.0))
    assert "closest to filter-normalised directions with the total loss" in landscape_text(total=(-86.0, -84.0))
    assert "neither rougher nor smoother" in landscape_text(total=(-50.0, 60.0))
    assert "(a bug)" in landscape_text(check=3.0)


def asymmetric_fixture(cnn_gain=-40.0, total=1300.0, paper_dir=-63.0):
    from aux_core.experiments.asymmetric import TOTAL_LOSS_KIND
    table1 = pd.DataFrame([{"arch": "CNN", "n": 1, "arm": "asymmetric", "estimate": cnn_gain, "p": 0.01}])
    runs = pd.DataFrame([{"arch": "CNN", "n": 20, "arm": arm, "seed": s, "status": "ok",
                          "test_acc": 0.4 + 0.01 * s + (0.1 + 0.003 * s * s if arm == "symmetric" else 0)}
                         for arm in ("asymmetric", "symmetric") for s in range(3)])
    changes = pd.DataFrame([{"arch": "MLP", "n": 300, "seed": 0, "kind": k, "std_loss_change_pct": v}
                            for k, v in (("paper", paper_dir), (TOTAL_LOSS_KIND, total))])
    lands = pd.DataFrame([{"n": 300, "kind": "paper", "active_params": 0.14, "params": 1.0}])   # dilution -62.6%
    return {"table1": table1, "runs": runs, "cosines": pd.DataFrame(), "changes": changes, "landscapes": lands,
            "attention": pd.DataFrame(), "ledger": pd.DataFrame({"verdict": ["reproduced"]}),
            "where": {"table1": "a test scale"}}


def test_asymmetric_findings_follow_the_results():
    def text(**k):
        return "\n".join(findings.asymmetric(asymmetric_fixture(**k), "tiny"))
    base = text()
    assert "Ours: -40.0% at N = 1 (1 of 1 with p < 0.05" in base and "The paper: -22.0%" in base
    assert "worse with one below zero in 1" in base
    assert "the change follows the diluted direction" in base and "+1300.0%: the surface is rougher" in base
    assert "Ours: -10.0% at N = 1" in text(cnn_gain=-10.0)
    assert "does not follow the diluted direction" in text(paper_dir=-20.0)
    assert "the surface is smoother" in text(total=-20.0)


def test_dks_findings_follow_the_results():
    from types import SimpleNamespace

    def frame(dks_error):
        return pd.DataFrame([{"method": m, "seed": s, "test_error": e + s, "dataset_run": "cifar10", "status": "ok"}
                             for m, e in (("baseline", 30.0), ("DS", 29.0), ("DKS", dks_error)) for s in range(2)])

    def text(dks_error=25.0, verdict="reproduced", reason="", warm_error=None, original_error=None):
        runs = frame(dks_error)
        ledger = pd.DataFrame([{"claim": "ResNet-32: DKS changes top-1 error vs baseline by -3.16 points",
                                "estimate": dks_error - 30.0, "lo": -6.0, "hi": -4.0, "verdict": verdict,
                                "reason": reason},
                               {"claim": "WRN-28-10: DKS changes top-1 error", "estimate": float("nan"),
                                "lo": float("nan"), "hi": float("nan"), "verdict": "not decidable",
                                "reason": "not run at this profile"}])
        main = pd.DataFrame({"config": [SimpleNamespace(train_per_class=None, epochs=15)]})
        s = {"main_runs": runs, "ledger": ledger, "main": main, "seeds": [0, 1]}
        if warm_error is not None:
            s["warmup_runs"] = frame(warm_error).assign(warmup=0.1)
        if original_error is not None:   # the ablation's runs, one design per row
            s["design_runs"] = pd.DataFrame({"design": ["Original", "Shallow"], "status": ["ok", "ok"],
                                             "test_error": [original_error, 40.0], "dataset_run": ["cifar10"] * 2})
        return "\n".join(findings.dks(s, "cpu", "ResNet-32"))

    base = text()
    assert "15 of the paper's 200 epochs, the full training set" in base and "DKS 25.50%" in base
    assert ("ours -5.000 [-6.00, -4.00]: **reproduced**" in base and "1 claims about backbones" in base
            and "WRN-28-10" in base)
    assert "DKS 31.50%" in text(dks_error=31.0) and "**contradicted**" in text(verdict="contradicted")
    assert "Collapse" not in base and "**Collapse.** " in text(dks_error=86.0)   # 86-87% error: chance on 10 classes
    assert "warm-up" not in base
    warm = text(dks_error=86.0, warm_error=24.0)
    assert "first 10% of training" in warm and "DKS 24.50%" in warm and "No warmed-up run collapsed." in warm
    assert "**Collapse with warm-up.** " in text(warm_error=87.0)
    assert "DKS -62.00 [-62.00, -62.00]" in warm and "baseline +0.00" in warm   # each run paired with its seed
    assert "design ablation" not in text(original_error=45.0)
    ablation = text(original_error=88.0)
    assert "**Collapse in the design ablation**" in ablation and "1 of 1 Original runs (12.0%)" in ablation
    assert "1 of 1 Original runs (12.0%)" in ablation and "No run of Shallow collapsed." in ablation
