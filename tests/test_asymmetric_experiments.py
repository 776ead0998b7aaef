"""Paper 1's experiment helpers: Table 13 lookup, protocol, grids, paired comparisons,
dynamics and attention summaries on constructed histories, the staged search, verdicts."""
import numpy as np
import pandas as pd
import pytest

from aux_core import sweep
from aux_core.experiments import asymmetric as A
from aux_core.config import RunConfig

from conftest import needs_cifar10


def test_table13_rows_and_the_nearest_n_on_a_log_scale():
    assert A.table13("ViT-6L", 20) == (0.001, 0.01, 1.0)
    assert A.table13("CNN", 1) == (0.0003, 0.01, 100.0)
    assert A.table13("MLP", 3) == A.table13("MLP", 7)     # log 3 is nearer log 7 than log 1
    assert A.table13("CNN", 300) == A.table13("CNN", 20)
    with pytest.raises(ValueError, match="MLP, CNN, ViT-6L"):
        A.table13("ResNet", 1)


@needs_cifar10
def test_protocol_sizes_and_arms():
    plain = A.protocol("tiny", "ViT-6L", "plain", lr=1e-3, weight_decay=0.01)
    asym = A.protocol("tiny", "ViT-6L", "asymmetric", n_branches=20, lr=1e-3, weight_decay=0.01, alpha=1.0)
    ctrl = A.protocol("tiny", "MLP", "param-matched", n_branches=20, lr=1e-4, weight_decay=1e-3)
    assert plain.method == "plain" and plain.probes == ("attention",) and ctrl.probes == ()
    assert asym.method_options == {"alpha": 1.0, "n_branches": 20, "activation": "last"}
    assert ctrl.method_options == {"n_branches": 20, "objective": "none"}
    assert plain.epochs == 3 and plain.val_fraction == 0.2 and plain.augment == "none" and plain.optimizer == "adamw"
    # 100 per class, 7 steps of 128 per epoch: 21 steps, four evaluations, five gradient diagnostics
    assert plain.train_per_class == 100 and plain.eval_every == 6 and plain.grad_diag_every == 5
    few = A.protocol("tiny", "MLP", "plain", lr=1e-4, weight_decay=1e-3, train_per_class=5, val_fraction=0.0)
    assert few.batch_size == 50
    sym = A.protocol("tiny", "CNN", "symmetric", n_branches=7, lr=1e-3, weight_decay=0.001, alpha=0.5)
    assert sym.method == "asymmetric" and sym.method_options == {"alpha": 0.5, "n_branches": 7, "activation": "last",
                                                                 "objective": "softmax"}
    assert A.ARMS == ("plain", "asymmetric", "symmetric")   # Table 1's control is the symmetric one
    with pytest.raises(ValueError, match="arm 'random'"):
        A.protocol("tiny", "MLP", "random", lr=1e-3, weight_decay=0.0)


@needs_cifar10
def test_the_cpu_profile_budgets_images_per_run_by_model():
    # 40,000 training images (the full set less 20% validation): 80,000 images buy a ViT-6L two
    # epochs, 400,000 an MLP ten; a 5-per-class few-shot MLP run gets the paper's 200 epochs
    vit = A.protocol("cpu", "ViT-6L", "plain", lr=1e-3, weight_decay=0.01)
    mlp = A.protocol("cpu", "MLP", "plain", lr=1e-4, weight_decay=1e-3)
    few = A.protocol("cpu", "MLP", "plain", lr=1e-4, weight_decay=1e-3, train_per_class=5, val_fraction=0.0)
    assert vit.train_per_class is None and (vit.epochs, mlp.epochs, few.epochs) == (2, 10, 200)
    assert sorted(set(A.table1_cells("cpu", [42], archs=("MLP",))["n"])) == [1, 20]   # the claims' N


@needs_cifar10
def test_grids_share_configurations_and_respect_the_profile():
    cells = A.table1_cells("smoke", [42, 43], archs=("CNN",), cifar100="cifar10")
    assert len(cells) == 2 * 3 * 2      # smoke narrows Table 1's N to the claims' 1 and 20
    assert len(A.table1_cells("tiny", [42, 43], archs=("CNN",), cifar100="cifar10")) == 4 * 3 * 2
    plain = cells[cells["arm"] == "plain"]["config"]
    assert len({repr(c) for c in plain}) == 2 * 2   # Table 13: weight decay 0.01 at N = 1, 0.001 above
    few = A.few_shot_cells("smoke", [42], cifar100="cifar10")
    assert set(few["samples"]) == {5, 10, 20}         # the smoke profile caps training images at 20 per class
    assert (few["config"].map(lambda c: c.val_fraction) == 0).all()
    noise = A.noise_cells("smoke", [42], rates=(0.0, 0.4), cifar100="cifar10")
    assert sorted(set(noise["config"].map(lambda c: c.label_noise))) == [0.0, 0.4]
    t16 = A.all_active_cells("smoke", [42], cifar100="cifar10")
    assert set(t16["variant"]) == {"plain", "one active", "all active"}
    with pytest.raises(ValueError, match="cifar100 must be 'auto' or one of"):
        A.table1_cells("smoke", [42], cifar100="imagenet")


def test_the_tables_on_the_papers_own_data_give_the_cheap_mlp_rows_more_seeds_where_the_profile_affords_them():
    from aux_core.profiles import get_profile
    paper = list(A.PAPER_SEEDS)
    cpu, smoke = get_profile("cpu", "asymmetric"), get_profile("smoke", "asymmetric")
    assert cpu.seeds(paper) == paper[:3] and cpu.seeds(paper, cheap=True) == paper    # the paper's 10
    assert smoke.seeds(paper, cheap=True) == smoke.seeds(paper) == paper[:2]          # no cheap seeds: max_seeds
    grids = A.same_data_cells("cpu", paper)
    assert {t: g["seed"].nunique() for t, g in grids.items()} == {"Table 7": 10, "Table 10": 10, "Table 11": 10}
    t10 = grids["Table 10"].groupby("arch")["seed"].nunique().to_dict()
    assert t10 == {"MLP": 10, "CNN": 3, "ViT-6L": 3}                                  # only the MLP is cheap
    assert set(grids["Table 11"]["table"]) == {"Table 11"} and set(grids["Table 7"]["table"]) == {"Table 7"}
    # the pages' cells are among them: the noise page's 3 seeds are the first 3 of the family's 10
    page = A.noise_cells("cpu", cpu.seeds(paper), tables=("Table 11",))
    assert {repr(c) for c in page["config"]} <= {repr(c) for c in grids["Table 11"]["config"]}
    # the findings page reads them; the overview's headline ledger does not
    assert set(A.SAME_DATA_TABLES.values()) <= set(A.NOTEBOOK_GRIDS["findings"])
    assert not set(A.SAME_DATA_TABLES.values()) & set(A.NOTEBOOK_GRIDS["overview"])


def _runs(plain, asym, arm="asymmetric"):
    seeds = range(len(plain))
    rows = [{"arch": "ViT-6L", "n": 20, "arm": "plain", "seed": s, "test_acc": v, "status": "ok"}
            for s, v in zip(seeds, plain)]
    rows += [{"arch": "ViT-6L", "n": 20, "arm": arm, "seed": s, "test_acc": v, "status": "ok"}
             for s, v in zip(seeds, asym)]
    return pd.DataFrame(rows)


def test_compare_is_paired_by_seed():
    plain, asym = [0.30, 0.32, 0.34, 0.31], [0.36, 0.37, 0.41, 0.37]
    row = A.compare(_runs(plain, asym), ["arch", "n"]).iloc[0]
    assert row["estimate"] == pytest.approx(100 * (np.mean(asym) / np.mean(plain) - 1))
    from scipy import stats as st
    assert row["p"] == pytest.approx(st.ttest_rel(asym, plain).pvalue)
    assert row["lo"] < row["estimate"] < row["hi"] and row["lo"] > 0
    assert row["plain_std"] == pytest.approx(np.std(plain, ddof=1))


def test_compare_drops_diverged_seeds_from_the_pairing():
    runs = _runs([0.3, 0.31, 0.29], [0.35, np.nan, 0.33])
    runs.loc[(runs["arm"] == "asymmetric") & (runs["seed"] == 1), "status"] = "diverged"
    row = A.compare(runs, ["arch", "n"]).iloc[0]
    assert row["seeds"] == 2 and row["diverged"] == 1


def _history(val, train, steps_per_epoch=10):
    n = len(val)
    return pd.DataFrame({"step": np.arange(1, n + 1) * steps_per_epoch, "epoch": np.arange(1, n + 1, dtype=float),
                         "val_acc": val, "train_acc": train})


def test_dynamics_convergence_epoch_and_gaps():
    val = [0.1, 0.2, 0.35, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    train = [0.1, 0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    h = _history(val, train).assign(arch="CNN", n=20, arm="plain", seed=1)
    h["progress"], h["gap"] = h["step"] / h["step"].max(), h["train_acc"] - h["val_acc"]
    d = A.dynamics(h).iloc[0]
    assert d["convergence_epoch"] == 3.0 and d["final_val_acc"] == 0.3
    assert d["gap_late_epoch"] == 5.0 and d["gap_late"] == pytest.approx(0.6 - 0.3)   # 50% of the run
    assert d["gap_early_epoch"] == 1.0                                              # 5%: nearest is the first


def test_attention_table_reads_the_last_block_at_the_paper_epochs():
    h = _history([0.1] * 10, [0.1] * 10).assign(arch="ViT-6L", n=20, arm="asymmetric", seed=1)
    h["progress"] = h["step"] / h["step"].max()
    for m in ("peak", "entropy", "gini", "coverage"):
        for b in (1, 6):
            h[f"attn_{m}_L{b}"] = h["epoch"] * (10 if b == 6 else 1)
    t = A.attention_table(h)
    assert list(t["paper_epoch"]) == [20, 60, 100] and list(t["epoch"]) == [1.0, 3.0, 5.0]
    assert list(t["coverage"]) == [10.0, 30.0, 50.0] and (t["block"] == 6).all()


def test_claims_ledger_judges_per_seed_relative_gains_with_the_kit():
    from aux_core import ledger, reference as ref
    paper = ref.value("asymmetric", "Table 1", "N=1|CNN", "improvement_pct")
    rows = [{"arch": arch, "n": n, "arm": arm, "seed": s, "status": "ok", "dataset_run": "cifar10",
             "test_acc": 0.5 * (1 + (paper / 100 if arm == "asymmetric" and arch == "CNN" else 0)) + 0.001 * s
                         + (0.0005 * s * s if arm == "asymmetric" else 0)}
            for arch, n in (("ViT-6L", 20), ("CNN", 1), ("MLP", 1))
            for arm in ("plain", "asymmetric") for s in range(4)]
    runs = pd.DataFrame(rows)
    gains = A.relative_gains(runs, "CNN", 1)
    cmp = A.compare(runs, ["arch", "n"]).set_index(["arch", "n"])
    assert gains.mean() == pytest.approx(cmp.loc[("CNN", 1), "estimate"])   # the paper's relative improvement
    empty = pd.DataFrame()
    table = A.claims_ledger(runs, empty, empty, empty, {"table1": "test"}, profile="smoke").set_index("claim")
    assert tuple(table.reset_index().columns) == ledger.COLUMNS
    cnn = table.filter(like="CNN at N = 1", axis=0).iloc[0]
    assert cnn["verdict"] == "reproduced" and cnn["lo"] <= paper <= cnn["hi"]
    vit = table.filter(like="ViT-6L at N = 20", axis=0).iloc[0]    # a tiny gain against the paper's large one
    assert vit["verdict"] in ("direction only", "inconclusive") and vit["verdict"] != "reproduced"
    # Table 1's plain ViT-6L and MLP accuracies differ across N (the audit): the gains relative to them are linked
    from aux_core import audit
    linked = audit.linked(table, "asymmetric")["audit"]
    assert linked[vit.name] == "Table 1: plain ViT-6L across N" and linked[cnn.name] == ""
    assert table.filter(like="cosine", axis=0)["verdict"].eq("not decidable").all()   # nothing measured
    assert "collapsed" not in cnn["data"]
    # a run at chance (or diverged) is named beside the verdict that rests on it, and only there
    runs.loc[(runs["arch"] == "CNN") & (runs["arm"] == "plain") & (runs["seed"] == 0), "test_acc"] = 0.11
    runs.loc[(runs["arch"] == "MLP") & (runs["arm"] == "asymmetric") & (runs["seed"] == 1), "status"] = "diverged"
    named = A.claims_ledger(runs, empty, empty, empty, {"table1": "test"}, profile="smoke").set_index("claim")
    assert named.filter(like="CNN at N = 1", axis=0).iloc[0]["data"] == "test; collapsed: 1 of 4 plain runs"
    assert named.filter(like="MLP at N = 1", axis=0).iloc[0]["data"] == "test; collapsed: 1 of 4 asymmetric runs"
    assert "collapsed" not in named.filter(like="ViT-6L at N = 20", axis=0).iloc[0]["data"]


def test_the_appendix_tables_on_the_papers_own_data_are_judged_as_a_second_family():
    from aux_core import reference as ref
    # the rows the paper reports with p < 0.05, in printed order
    assert A.significant_rows("Table 7") == ["samples=100|MLP", "samples=1000|MLP"]
    assert A.significant_rows("Table 10") == ["N=1|MLP", "N=1|ViT-6L"]
    assert A.significant_rows("Table 11") == ["noise=30%|MLP", "noise=40%|MLP", "noise=70%|MLP"]
    assert A.row_text("Table 11", "noise=30%|MLP") == "MLP with 30% of its training labels flipped"
    assert A.paper_row("Table 11", {"noise": 0.3, "arch": "MLP"}) == "noise=30%|MLP"
    assert A.paper_row("Table 9", {"samples": 20}) == "samples=20|ViT-6L"   # the table fixes the network
    assert A.paper_row("Table 1", {"n": 5, "arch": "CNN"}) == "N=5|CNN"
    for table in ("Table 1", *A.FEW_SHOT, "Table 10", *A.NOISE):   # every key names a row the paper printed
        rows = set(ref.wide("asymmetric", table).index)
        assert {A.paper_row(table, {"samples": k, "noise": k, "n": k, "arch": a})
                for k in (1, 0.3, 10, 5) for a in ("MLP", "CNN", "ViT-6L")} & rows, table
    with pytest.raises(ValueError, match="known: Table 1, Table 7, Table 8, Table 9, Table 10, Table 11, Table 12"):
        A.paper_row("Table 16", {})

    def family(scale):
        rows = []
        for k in (10, 100, 1000):
            gain = ref.value("asymmetric", "Table 7", f"samples={k}|MLP", "improvement_pct") / 100 * scale
            for s in range(4):
                base = 0.3 + 0.002 * s
                for arm, acc in (("plain", base), ("asymmetric", base * (1 + gain) + 0.0004 * (s % 2))):
                    rows.append({"table": "Table 7", "samples": k, "arch": "MLP", "n": 1, "arm": arm, "seed": s,
                                 "status": "ok", "test_acc": acc, "dataset_run": "cifar10", "epochs_run": 40.0,
                                 "train_images": 10 * k})
        return A.same_data_ledger({"Table 7": pd.DataFrame(rows)}, profile="smoke")

    def table7(t):
        return t[t["source"] == "Table 7"]
    same = family(1.0)
    assert list(table7(same)["verdict"]) == ["reproduced", "reproduced"]
    assert table7(same)["data"].iloc[0] == "cifar10, 4 seeds, 1000 training images, 40 epochs"
    assert list(table7(family(-1.0))["verdict"]) == ["contradicted", "contradicted"]
    # the tables that did not run: their rows are in the family, not decidable
    assert len(same) == 7 and same[same["source"] != "Table 7"]["verdict"].eq("not decidable").all()
    # Holm's correction covers this family only: the headline ledger keeps its own claims
    empty = pd.DataFrame()
    headline = A.claims_ledger(empty, empty, empty, empty, {}, profile="smoke")
    assert not headline["source"].isin(["Table 7", "Table 10", "Table 11"]).any()


def test_sweep_fields_and_grid():
    base = RunConfig(model="mlp6", method="asymmetric", method_options={"alpha": 1.0, "n_branches": 2})
    grid = sweep.expand(base, lr=[1e-3, 1e-2], **{"method_options.alpha": [0.1, 1.0, 10.0]})
    assert len(grid) == 6 and grid[-1].lr == 1e-2 and grid[-1].method_options == {"alpha": 10.0, "n_branches": 2}
    with pytest.raises(ValueError, match="unknown field 'learning_rate'"):
        sweep.with_value(base, "learning_rate", 0.1)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        sweep.with_value(base, "method_options.alpha", -1.0)
    with pytest.raises(ValueError, match="set val_fraction > 0"):
        sweep.staged_search(base, [("lr", [1e-3])])


@needs_cifar10
def test_staged_search_keeps_each_stages_best_and_reuses_the_cache(tmp_path):
    base = RunConfig(dataset="cifar10", model="mlp6", train_per_class=16, test_per_class=5, val_fraction=0.2,
                     batch_size=32, epochs=2, augment="none", lr=1e-4)
    s = sweep.staged_search(base, [("lr", [1e-5, 3e-3]), ("weight_decay", [0.0, 0.1])], progress=False)
    t = s.trials
    assert list(t["stage"]) == [1, 1, 2, 2] and t["selected"].sum() == 2
    winner = t[(t["stage"] == 1)].sort_values("score", ascending=False).iloc[0]["value"]
    assert s.best.lr == winner
    again = sweep.staged_search(base, [("lr", [1e-5, 3e-3]), ("weight_decay", [0.0, 0.1])], progress=False)
    assert again.best == s.best and again.trials["key"].tolist() == t["key"].tolist()


@needs_cifar10
def test_search_hparams_runs_the_three_stages_through_the_cache():
    found, trials = A.search_hparams("smoke", archs=("MLP",), branches=(1, 20), cifar100="cifar10", epochs=1,
                                     lrs=(1e-4, 1e-3), wds=(1e-3, 1e-2), alphas=(0.1, 1.0), progress=False)
    assert set(found) == {("MLP", 1), ("MLP", 20)}
    lr, wd, alpha = found[("MLP", 1)]
    assert lr in (1e-4, 1e-3) and wd in (1e-3, 1e-2) and alpha in (0.1, 1.0)
    assert found[("MLP", 20)][:2] == (lr, wd)                  # stages 1-2 tune the plain network once
    assert list(trials.groupby(["n", "stage"]).size()) == [2, 2, 2, 2]


def test_the_heterogeneity_claim_compares_asymmetric_with_the_symmetric_control_and_can_fail():
    from aux_core import reference as ref

    def ledger_for(vit_sym_shift):
        # asymmetric = symmetric + shift, paired by seed, with seed noise
        rows = []
        for s in range(5):
            base = 0.4 + 0.01 * s
            for arm, acc in (("plain", base), ("asymmetric", base + 0.002 * (s % 2)),
                             ("symmetric", base + 0.002 * (s % 2) - vit_sym_shift + 0.001 * (s % 3))):
                rows.append({"arch": "ViT-6L", "n": 20, "arm": arm, "seed": s, "status": "ok", "test_acc": acc,
                             "dataset_run": "cifar10"})
        empty = pd.DataFrame()
        return A.claims_ledger(pd.DataFrame(rows), empty, empty, empty, {"table1": "test"}, profile="smoke")

    assert ref.value("asymmetric", "Table 1", "N=20|ViT-6L", "improvement_pct") > 0
    def row(t):
        return t[t["claim"].str.contains("ViT-6L at N = 20: the effect needs")].iloc[0]
    assert row(ledger_for(+0.05))["verdict"] == "reproduced"      # asymmetric clearly above symmetric
    assert row(ledger_for(-0.05))["verdict"] == "contradicted"    # symmetric clearly above asymmetric
    cnn = ledger_for(0.05)
    assert cnn[cnn["claim"].str.contains("CNN at N = 20: the effect")].iloc[0]["verdict"] == "not decidable"
