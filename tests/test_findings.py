"""Findings are generated from results: other numbers give other sentences."""
import pandas as pd

from aux_core.experiments import findings


def lion_fixture(lion_steps=80.0, best="Hybrid", aux_norm=0.5, verdict="reproduced", threshold_reached=0.7):
    inits = ("He-init", "LION-DG", "LSUV", "Hybrid")
    acc = {"He-init": 50.0, "LION-DG": 51.0, "LSUV": 52.0, "Hybrid": 53.0}
    acc[best] = 60.0
    table1 = pd.DataFrame([{"dataset": "CIFAR-10", "arch": "DenseNet-DS", "init": i, "threshold": threshold_reached,
                            "steps": lion_steps if i == "LION-DG" else 100.0, "val_acc": acc[i],
                            "speedup_pct": 100 - lion_steps if i != "He-init" else float("nan"),
                            "speedup_lo": -5.0, "speedup_hi": 30.0} for i in inits])
    residual = pd.DataFrame([{"init": "He + warm-up", "speedup_pct": 3.0}, {"init": "LION-DG", "speedup_pct": 20.0}])
    ledger = pd.DataFrame({"verdict": [verdict, "inconclusive"]})
    flow = pd.DataFrame([{"init": "LION-DG", "backbone_from_aux": 0.0}, {"init": "He-init", "backbone_from_aux": aux_norm},
                         {"init": "Hybrid", "backbone_from_aux": 0.0}])
    return table1, residual, ledger, flow


def text(**changes):
    table1, residual, ledger, flow = lion_fixture(**changes)
    return "\n".join(findings.lion_dg(table1, residual, ledger, flow, "a test scale", 0.7))


def test_lion_dg_findings_follow_the_results():
    base = text()
    assert "1 of the 2 headline claims were reproduced" in base and "in 80 steps against He's 100" in base
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
