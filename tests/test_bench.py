"""The bench chapter: its grids, its refusals, and its tables and ledger on constructed runs."""
import numpy as np
import pandas as pd
import pytest

from aux_core.experiments import bench as B


def test_grids_cover_every_method_backbone_and_aggregator_and_share_the_summed_runs():
    g = B.chapter_grids("smoke")
    bench, inter = g["bench"], g["intervention"]
    assert len(bench) == 2 * len(B.METHODS) * 2          # smoke: MLP and CNN, two seeds
    assert set(B.grid("tiny", [0])["backbone"]) == set(B.BACKBONES)
    assert set(inter["aggregator"]) == {"sum", "pcgrad", "upgrad", "mgda"}
    # the intervention's summed runs and its plain runs are the bench's own (one store record each)
    shared = inter[inter["aggregator"] == "sum"]
    bench_keys = {c.key("x") for c in bench["config"]}
    assert {c.key("x") for c in shared["config"]} <= bench_keys
    assert all(c.steps == 10 and c.batch_size == 32 for c in bench["config"])   # one protocol: equal steps
    agg = inter[inter["aggregator"] == "pcgrad"]["config"].iloc[0]
    assert agg.method_options["aggregator"] == "pcgrad" and agg.model == "cnn6"
    zero = bench[bench["method"] == "DS (zero heads)"]["config"].iloc[0]
    assert zero.init == "lion_dg" and zero.method == "ds"


def test_bad_parameters_are_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match="unknown bench backbone 'ResNet'; available: MLP, CNN, ViT-6L"):
        B.protocol("smoke", "ResNet")
    with pytest.raises(ValueError, match="unknown bench method"):
        B.protocol("smoke", "CNN", "GradNorm")
    with pytest.raises(ValueError, match="aggregator must be one of sum, pcgrad, upgrad, mgda"):
        B.protocol("smoke", "CNN", "asymmetric", aggregator="cagrad")
    with pytest.raises(ValueError, match="applies to DS \\(He heads\\), asymmetric"):
        B.protocol("smoke", "CNN", "WAMAL", aggregator="pcgrad")
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        B.protocol("smoke", "CNN", steps=0)
    with pytest.raises(ValueError, match="unknown profile"):
        B.protocol("huge", "CNN")


def _runs(gain: float, agg_gain: float) -> pd.DataFrame:
    rows = []
    for s in range(4):
        noise = 0.1 * s
        for m, a, acc in (("plain", "sum", 50 + noise), ("asymmetric", "sum", 50 + gain + noise * 1.1),
                          ("DS (He heads)", "sum", 50 + noise * 0.9),
                          ("asymmetric", "pcgrad", 50 + gain + agg_gain + noise)):
            rows.append({"backbone": "CNN", "method": m, "aggregator": a, "seed": s, "status": "ok",
                         "dataset_run": "cifar10", "test_acc": acc, "acc_at_plain_time": acc - 1, "cosine": -0.1,
                         "train_time_s": 1.0})
    return pd.DataFrame(rows)


def test_method_table_pairs_each_method_with_plain_by_seed():
    t = B.method_table(_runs(2.0, 1.0)).set_index(["method", "aggregator"])
    assert t.loc[("asymmetric", "sum"), "estimate"] == pytest.approx(2.0 + 0.1 * np.mean([0, 0.1, 0.2, 0.3]))
    assert np.isnan(t.loc[("plain", "sum"), "estimate"])                       # plain against itself: no comparison
    assert t.loc[("asymmetric", "pcgrad"), "time_estimate"] == pytest.approx(3.0 - 1.0)


def test_ledger_and_sentences_follow_the_numbers():
    runs = _runs(2.0, 1.0)
    bench = runs[runs["aggregator"] == "sum"]
    led = B.claims_ledger(bench, runs, profile="smoke")
    assert led.loc["asymmetric-vs-plain-CNN", "verdict"] == "reproduced"
    assert led.loc["pcgrad-asymmetric", "verdict"] == "reproduced"
    worse = _runs(-2.0, -1.0)
    led2 = B.claims_ledger(worse[worse["aggregator"] == "sum"], worse, profile="smoke")
    assert led2.loc["asymmetric-vs-plain-CNN", "verdict"] != "reproduced"
    assert led2.loc["pcgrad-asymmetric", "verdict"] != "reproduced"
    text = " ".join(B.findings(B.method_table(runs), led))
    text2 = " ".join(B.findings(B.method_table(worse), led2))
    assert "asymmetric has the highest" in text and "asymmetric has the highest" not in text2
    assert text != text2
    assert "supports the gradient-conflict explanation" in text and "supports" not in text2
    assert led["data"].eq("cifar10, 4 seeds").all()


def test_a_verdict_names_the_runs_at_chance_it_rests_on():
    runs = _runs(2.0, 1.0)
    pcgrad = (runs["method"] == "asymmetric") & (runs["aggregator"] == "pcgrad")
    runs.loc[pcgrad & (runs["seed"] < 2), "test_acc"] = 10.5
    runs.loc[(runs["method"] == "plain") & (runs["seed"] == 3), "status"] = "diverged"
    led = B.claims_ledger(runs[runs["aggregator"] == "sum"], runs, profile="smoke")
    assert led.loc["asymmetric-vs-plain-CNN", "data"] == "cifar10, 4 seeds; collapsed: 1 of 4 plain runs"
    assert led.loc["pcgrad-asymmetric", "data"] == "cifar10, 4 seeds; collapsed: 2 of 4 pcgrad runs"
    assert led.loc["rank-CNN", "data"].endswith("; collapsed: 1 of 4 plain runs")
    table = B.method_table(runs).set_index(["method", "aggregator"])
    assert table.loc[("asymmetric", "pcgrad"), "collapsed"] == 2 and table.loc[("plain", "sum"), "collapsed"] == 1
    text = " ".join(B.findings(B.method_table(runs), led))
    assert "Runs that collapsed (diverged or within 1.5x chance): plain 1 of 4." in text
    assert "pcgrad " in text and "; 2 of 4 runs collapsed)" in text
    clean = " ".join(B.findings(B.method_table(_runs(2.0, 1.0)), led))
    assert "collapsed" not in clean


def test_the_intervention_reading_separates_conflict_removal_from_reweighting():
    r = B.intervention_reading
    assert r({"pcgrad": "reproduced", "upgrad": "inconclusive", "mgda": "inconclusive"}).startswith(
        "supports the gradient-conflict explanation: removing the conflicting components (pcgrad)")
    only_mgda = r({"pcgrad": "inconclusive", "upgrad": "inconclusive", "mgda": "reproduced"})
    assert only_mgda.startswith("does not isolate the conflict") and "(mgda)" in only_mgda
    assert r({"pcgrad": "contradicted", "upgrad": "contradicted", "mgda": "inconclusive"}).startswith("speaks against")
    undecided = r({"pcgrad": "inconclusive", "upgrad": "not decidable", "mgda": "inconclusive"})
    assert undecided.startswith("does not decide")
