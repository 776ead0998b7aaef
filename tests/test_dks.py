"""DKS: the loss against hand computations, the branch designs against the supplement's
tables, and the down-sampling rule on every backbone."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch.nn import functional as F

from aux_core import reference as ref
from aux_core.build import lr_multiplier
from aux_core.config import RunConfig, RunResult
from aux_core.experiments import dks as D
from aux_core.methods import create_method
from aux_core.methods.branches import DESIGNS, branch_plan, build_branches, classifier_names
from aux_core.methods.dks import synergy_loss
from aux_core.models import create_model, num_params

DKS_MODELS = ["resnet32", "resnet110", "wrn28_4", "wrn28_10", "densenet40_12", "densenet100_12", "mobilenet"]


def _kl(p, q):
    return float(np.sum(p * (np.log(p) - np.log(q))) / len(p))


def _softmax(o):
    e = np.exp(o - o.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_synergy_loss_is_the_sum_of_kl_over_ordered_pairs():
    g = torch.Generator().manual_seed(0)
    outs = [torch.randn(4, 5, generator=g, dtype=torch.float64) for _ in range(3)]
    p = [_softmax(o.numpy()) for o in outs]
    hand = sum(_kl(p[j], p[i]) for i in range(3) for j in range(3) if i != j)
    assert float(synergy_loss(outs)) == pytest.approx(hand, rel=1e-6)
    # temperature divides the logits before the softmax
    pt = [_softmax(o.numpy() / 2.0) for o in outs]
    hand_t = sum(_kl(pt[j], pt[i]) for i in range(3) for j in range(3) if i != j)
    assert float(synergy_loss(outs, temperature=2.0)) == pytest.approx(hand_t, rel=1e-6)


def test_no_gradient_flows_into_the_targets():
    """With the targets detached, d/do_i of sum_{j != i} KL(p_j || p_i) is sum_j (p_i - p_j) / B;
    a gradient through the targets would add terms and break the equality."""
    g = torch.Generator().manual_seed(1)
    outs = [torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    synergy_loss(outs).backward()
    p = [torch.softmax(o.detach(), 1) for o in outs]
    for i in range(3):
        expected = sum(p[i] - p[j] for j in range(3) if j != i) / 6
        assert torch.allclose(outs[i].grad, expected, atol=1e-10)


def test_synergy_loss_is_zero_when_all_classifiers_agree():
    o = torch.randn(3, 7)
    assert float(synergy_loss([o, o.clone(), o.clone()])) == pytest.approx(0.0, abs=1e-6)


class _Ctx:
    step = 0

    def __init__(self, heads):
        self.heads = heads


def _terms(method_name, **options):
    torch.manual_seed(0)
    model = create_model("resnet32", 10).eval()
    method = create_method(method_name, **options)
    heads = method.build_heads(model, 10).eval()
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    batch = type("B", (), {"x": x, "y": y})()
    with torch.no_grad():
        logits, taps = model(x)
        terms = method.loss_terms(logits, taps, batch, _Ctx(heads))
        outs = [logits] + [heads[t](taps[t]) for t in model.tap_names]
    return terms, outs, y


def test_ds_loss_is_cross_entropy_on_every_classifier():
    terms, outs, y = _terms("ds", alpha=1.0, branch="dks")
    assert set(terms) == {"main", "aux:stage1", "aux:stage2"}
    for key, o in zip(["main", "aux:stage1", "aux:stage2"], outs):
        assert float(terms[key]) == pytest.approx(float(F.cross_entropy(o, y)), rel=1e-6)


def test_dks_loss_is_ds_plus_pairwise_matching():
    terms, outs, y = _terms("dks")
    assert set(terms) == {"main", "aux:stage1", "aux:stage2", "synergy"}
    p = [_softmax(o.double().numpy()) for o in outs]
    hand = sum(_kl(p[j], p[i]) for i in range(3) for j in range(3) if i != j)
    assert float(terms["synergy"]) == pytest.approx(hand, rel=1e-4)
    ce = sum(float(F.cross_entropy(o, y)) for o in outs)
    assert float(sum(terms.values())) == pytest.approx(ce + hand, rel=1e-4)


def test_dks_options_are_checked():
    with pytest.raises(ValueError, match="beta"):
        create_method("dks", beta=-1.0)
    with pytest.raises(ValueError, match="temperature"):
        create_method("dks", temperature=0.0)
    with pytest.raises(ValueError, match="available: linear, dks"):
        create_method("dks", branch="tiny")


def test_the_evaluated_model_is_the_backbone_alone():
    """Branches live in the method's heads, never in the model: its state, parameter count
    and predictions are those of the bare backbone."""
    torch.manual_seed(0)
    model = create_model("resnet32", 10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    heads = create_method("dks").build_heads(model, 10)
    assert set(model.state_dict()) == set(before) and num_params(heads) > 0
    assert num_params(model) == num_params(create_model("resnet32", 10))
    assert not {id(p) for p in heads.parameters()} & {id(p) for p in model.parameters()}
    bare = create_model("resnet32", 10)
    bare.load_state_dict(before)
    x = torch.randn(4, 3, 32, 32)
    assert torch.equal(model.eval()(x)[0], bare.eval()(x)[0])


@pytest.mark.parametrize("name", DKS_MODELS)
def test_every_classifier_sees_the_same_number_of_downsamplings(name):
    """The supplement's rule: every branch ends at the backbone's final resolution (8x8)."""
    with torch.device("meta"):
        model = create_model(name, 100)
        branches = build_branches(model, "dks", 100)
        x = torch.zeros(2, 3, 32, 32)
        logits, taps = model(x)
        assert logits.shape == (2, 100)
        for t, b in branches.items():
            assert b.body(taps[t]).shape[-2:] == (8, 8), t
            assert b(taps[t]).shape == (2, 100)
    assert classifier_names(model) == {model.tap_names[0]: "C3", model.tap_names[1]: "C2"}


@pytest.mark.parametrize("design", [d for d in DESIGNS if d != "wide_shallow"])
def test_every_resnet32_design_classifies_a_real_batch(design):
    model = create_model("resnet32", 100)
    heads = build_branches(model, design, 100)
    _, taps = model(torch.randn(3, 3, 32, 32))
    for t in model.tap_names:
        out = heads[t](taps[t])
        assert out.shape == (3, 100) and torch.isfinite(out).all()


@pytest.mark.parametrize("table", [*D.DESIGN_TABLES, "Supp. Table 6"])
def test_branch_designs_match_the_supplement(table):
    """Every legible cell of Supplement Tables 2-6 (channels, growth, blocks, strides)."""
    cmp = D.compare_design(table, ref.table("dks", table))
    assert cmp["paper"].notna().sum() >= 20
    assert cmp["match"].all(), cmp[~cmp["match"]]


def test_backbone_parameter_counts_match_their_papers():
    """He et al. (ResNet-32 0.46M, -110 1.7M), Zagoruyko & Komodakis (WRN-28-10 36.5M),
    Huang et al. (DenseNet-40-12 1.0M, -100-12 7.0M), with 10 classes; our ResNets use 1x1
    projection shortcuts, a little above He et al.'s parameter-free ones."""
    expected = {"resnet32": 0.46e6, "resnet110": 1.7e6, "wrn28_10": 36.5e6, "densenet40_12": 1.0e6,
                "densenet100_12": 7.0e6}
    for name, n in expected.items():
        with torch.device("meta"):
            got = num_params(create_model(name, 10))
        assert abs(got / n - 1) < 0.06, (name, got)


def test_resnet1202_with_three_wide_shallow_branches():
    """Supplement Table 1: C2 = 512; C3 = 256, 512; C4 = 128, 256, 512 filters (3x3, stride 1)."""
    with torch.device("meta"):
        model = create_model("resnet1202", 100)
        heads = build_branches(model, "wide_shallow", 100)
        logits, taps = model(torch.zeros(2, 3, 32, 32))
    assert len(model.stages[0]) == 200 and logits.shape == (2, 100)
    assert abs(num_params(model) / 19.4e6 - 1) < 0.01  # He et al.: 19.4M
    assert classifier_names(model) == {"stage1": "C4", "stage2": "C3", "stage3_mid": "C2"}
    assert {t: tuple(v.shape[1:]) for t, v in taps.items()} == {
        "stage1": (16, 32, 32), "stage2": (32, 16, 16), "stage3_mid": (64, 8, 8)}
    plan = branch_plan(model, "wide_shallow")
    assert [f for f, _ in plan["stage3_mid"]] == [512]
    assert [f for f, _ in plan["stage2"]] == [256, 512]
    assert [f for f, _ in plan["stage1"]] == [128, 256, 512]
    for t, h in heads.items():
        convs = [m for m in h.modules() if isinstance(m, torch.nn.Conv2d)]
        assert all(c.stride == (1, 1) and c.kernel_size == (3, 3) for c in convs)
        assert h(taps[t]).shape == (2, 100)


def test_branch_designs_need_a_dks_backbone():
    with pytest.raises(ValueError, match="DKS backbones"):
        build_branches(create_model("cnn6", 10), "dks", 10)


def test_branch_gradient_probe_measures_consistency(tmp_path):
    """Proposition 1's probe: cosines in [-1, 1], differences in [0, 2], every classifier pair
    that reads a tap; it refuses methods without classifiers on the taps."""
    from aux_core.analysis import ProbeBatch, branch_gradients
    torch.manual_seed(0)
    model = create_model("resnet32", 10)
    heads = create_method("dks").build_heads(model, 10)
    x = torch.randn(6, 3, 32, 32)
    out = branch_gradients.probe(model, ProbeBatch(x, None, torch.randint(0, 10, (6,))), heads)
    assert set(out) == {f"bgrad_{m}:{k}" for m in ("cos", "diff") for k in
                        ("stage1:C1-C3", "stage1:C1-C2", "stage1:C3-C2", "stage2:C1-C2")}
    assert all(-1 <= out[k] <= 1 for k in out if "cos" in k)
    assert all(0 <= out[k] <= 2 for k in out if "diff" in k)
    assert model.training and heads.training  # the probe restores training mode
    with pytest.raises(ValueError, match="needs one of the methods ds, dks"):
        RunConfig(model="resnet32", method="plain", probes=("branch_gradients",))
    assert math.isfinite(sum(out.values()))


# ----------------------------------------------------------------------------- protocol and comparisons

def test_a_short_run_decays_its_learning_rate_at_the_papers_fractions():
    """The cpu profile's two ResNet-32 epochs: lr 0.1 for their first 30%, then x 0.2 at 60% and
    at 80% of the steps, as the paper's 200 epochs do at epochs 60, 120 and 160."""
    cfg = D.protocol("cpu", "ResNet-32", "DKS", cifar100="cifar10")
    per_epoch = 50_000 // 128
    assert (cfg.epochs, cfg.milestones) == (2, (0.6, 1.2, 1.6))
    f = lr_multiplier(cfg, per_epoch, 2 * per_epoch)
    at = [f(int(share * 2 * per_epoch)) for share in (0.0, 0.29, 0.31, 0.59, 0.61, 0.79, 0.81, 0.999)]
    assert at == pytest.approx([1, 1, 0.2, 0.2, 0.04, 0.04, 0.008, 0.008])
    with pytest.raises(ValueError, match="milestones must be epochs > 0"):
        RunConfig(model="resnet32", optimizer="sgd", schedule="multistep", milestones=(0.0, 1))


def test_protocol_is_the_papers_cifar_schedule_scaled_by_the_profile():
    full = D.protocol("paper", "ResNet-32", "DKS", cifar100="cifar10")
    assert (full.optimizer, full.lr, full.momentum, full.weight_decay, full.batch_size) == ("sgd", 0.1, 0.9, 5e-4, 128)
    assert (full.epochs, full.milestones, full.gamma, full.augment) == (200, (60, 120, 160), 0.2, "crop_flip")
    assert full.method == "dks" and full.method_options == {"branch": "dks"}
    gpu = D.protocol("gpu", cifar100="cifar10")
    assert (gpu.epochs, gpu.milestones) == (15, (4.5, 9, 12))  # DKS's gpu: 15 epochs, the paper's fractions
    assert D.milestones_for(1) == (0.3, 0.6, 0.8)    # rounded to whole epochs, a one-epoch run never decayed
    base = D.protocol("smoke", "ResNet-32", "baseline", cifar100="cifar10")
    assert base.method == "plain" and base.method_options == {} and base.train_per_class == 20
    ds = D.protocol("smoke", "ResNet-32", "DS", "narrow", cifar100="cifar10")
    assert ds.method_options == {"alpha": 1.0, "branch": "narrow"}
    wrn = D.protocol("smoke", "WRN-28-10|dropout", "DKS", cifar100="cifar10")
    assert wrn.model == "wrn28_10" and wrn.model_options == {"dropout": 0.3}


@pytest.mark.parametrize("kwargs, match", [
    ({"backbone": "ResNet-33"}, "unknown DKS backbone 'ResNet-33'; available: ResNet-32"),
    ({"method": "KD"}, "unknown method 'KD'; available: baseline, DS, DKS"),
    ({"design": "tiny"}, "tiny"),
    ({"evals": 0}, "evals must be >= 1"),
    ({"cifar100": "imagenet"}, "cifar100 must be 'auto' or one of"),
])
def test_protocol_refuses_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.protocol("smoke", **kwargs)


def test_grid_runs_the_baseline_once_per_backbone():
    cells = D.grid("smoke", [0, 1], designs=("dks", "narrow"), cifar100="cifar10")
    assert len(cells) == 2 * (1 + 2 + 2)
    assert set(cells.loc[cells["method"] == "baseline", "design"]) == {""}


def test_the_warmup_control_is_the_main_grid_with_the_rate_ramped_over_a_share_of_the_run():
    main = D.grid("cpu", [0, 1], cifar100="cifar10")
    cells = D.warmup_grid("cpu", [0, 1], shares=(0.0, 0.25), cifar100="cifar10")
    cold, warm = cells[cells["warmup"] == 0], cells[cells["warmup"] == 0.25]
    assert [c.key("x") for c in cold["config"]] == [c.key("x") for c in main["config"]]   # the same stored runs
    assert all(c.warmup_epochs == 0.25 * c.epochs and c.lr == 0.1 for c in warm["config"])
    with pytest.raises(ValueError, match=r"warm-up share must be in \[0, 1\), got 1"):
        D.warmup_grid("smoke", [0], shares=(1,), cifar100="cifar10")


def test_the_noise_grid_adds_the_warmup_control_and_keeps_its_cold_runs():
    """Share 0 is the noisy-label grid as before (the same stored runs); the chapter's grid adds the
    warm-up at every noise rate, so 40% noise is rerun with the rate ramped over its first 10%."""
    cold = D.noise_grid("cpu", [0, 1], cifar100="cifar10")
    both = D.noise_grid("cpu", [0, 1], warmup_shares=(0.0, D.WARMUP_SHARE), cifar100="cifar10")
    keys = [c.key("x") for c in both[both["warmup"] == 0]["config"]]
    assert keys == [c.key("x") for c in cold["config"]] and set(cold["warmup"]) == {0.0}
    warm = both[both["warmup"] > 0]
    assert sorted(set(warm["noise"])) == [0.0, 0.4] and len(warm) == len(cold)
    assert all(c.warmup_epochs == D.WARMUP_SHARE * c.epochs and c.label_noise == n
               for c, n in zip(warm["config"], warm["noise"]))
    assert set(D.chapter_grids("smoke")["noise"]["warmup"]) == {0.0, D.WARMUP_SHARE}
    with pytest.raises(ValueError, match=r"warm-up share must be in \[0, 1\), got -0.1"):
        D.noise_grid("smoke", [0], warmup_shares=(-0.1,), cifar100="cifar10")


def test_the_ledger_restates_the_main_claims_on_the_warmed_up_runs():
    def runs(errors, warmup=None):
        frame = pd.DataFrame({"backbone": "ResNet-32", "method": ["baseline"] * 3 + ["DS"] * 3 + ["DKS"] * 3,
                              "seed": [0, 1, 2] * 3, "dataset_run": "cifar10", "status": "ok", "test_error": errors})
        return frame if warmup is None else frame.assign(warmup=warmup)
    cold = runs([50, 51, 52, 49, 50, 51, 88, 87, 60])        # DKS stalls without warm-up ...
    warm = runs([50, 51, 52, 49, 50, 51, 46.0, 47.5, 47.0], warmup=0.1)     # ... and trains with it
    table = D.claims_ledger(cold, ref.load("dks"), warmup=warm, profile="cpu")

    def row(backbone, other, warmed=False):
        text = table["claim"]
        hit = table[text.str.startswith(f"{backbone}{' with' if warmed else ':'}") & text.str.contains(f"vs {other} ")]
        return hit.iloc[0] if len(hit) == 1 else None
    assert row("ResNet-32", "DS")["estimate"] > 0 > row("ResNet-32", "DS", warmed=True)["estimate"]
    assert "first 10% of training (our control)" in row("ResNet-32", "DS", warmed=True)["claim"]
    assert row("ResNet-32", "baseline", warmed=True)["n"] == 3
    assert row("ResNet-32", "DS")["data"] == "cifar10, 3 seeds; collapsed: 2 of 3 DKS runs"   # 12% and 13%
    assert row("ResNet-32", "DS", warmed=True)["data"] == "cifar10, 3 seeds"
    assert row("WRN-28-10", "DS", warmed=True) is None                # only the backbones the control ran
    assert len(table) == len(D.claims_ledger(cold, ref.load("dks"), profile="cpu")) + 2


def test_paired_difference_and_error_table():
    d = D.paired_difference([30.0, 31.0, 29.0], [27.0, 29.0, 26.0])
    diffs = np.array([-3.0, -2.0, -3.0])
    assert d["estimate"] == pytest.approx(diffs.mean())
    half = 4.302652729911275 * diffs.std(ddof=1) / math.sqrt(3)   # t(0.975, 2)
    assert (d["lo"], d["hi"]) == pytest.approx((diffs.mean() - half, diffs.mean() + half))
    import pandas as pd
    runs = pd.DataFrame({"backbone": "ResNet-32", "method": ["baseline"] * 3 + ["DKS"] * 3, "seed": [0, 1, 2] * 2,
                         "dataset_run": "cifar10", "status": "ok",
                         "test_error": [30.0, 31.0, 29.0, 27.0, 29.0, 26.0]})
    t = D.error_table(runs, ref.table("dks", "Main Table 1")).set_index("method")
    assert t.loc["DKS", "error"] == pytest.approx(82 / 3) and t.loc["DKS", "estimate"] == pytest.approx(diffs.mean())
    assert t.loc["baseline", "paper"] == 29.97 and t.loc["DKS", "paper"] == 26.81
    assert np.isnan(t.loc["baseline", "estimate"])


def test_claims_ledger_reads_real_runs(tmp_path, monkeypatch):
    """A real (smoke) main grid: every Main Table 1 claim appears; backbones not trained are
    'not measured', ResNet-32's are judged."""
    monkeypatch.setenv("AUX_CORE_RESULTS", str(tmp_path))
    cells = D.grid("smoke", [0, 1], cifar100="cifar10")
    runs = D.run_grid(cells, progress=False)
    per = D.per_run(runs)
    assert (per["status"] == "ok").all() and per["test_error"].between(0, 100).all()
    late = D.late_errors(D.curves(runs))
    table = D.claims_ledger(per, ref.load("dks"), late, profile="smoke")
    from aux_core import ledger
    unrun = table[table["reason"].str.startswith("not run")]
    assert set(unrun["claim"].str.split(":").str[0]) == {"WRN-28-10", "WRN-28-10|dropout", "ResNet-110"}
    assert set(unrun["verdict"]) == {"not decidable"} and tuple(table.columns) == ledger.COLUMNS
    judged = table[~table.index.isin(unrun.index)]
    assert judged["claim"].str.startswith(("ResNet-32", "DKS ends")).all() and len(judged) == 6
    assert set(table["verdict"]) <= set(ledger.VERDICTS) and judged["n"].eq(2).all()


def test_a_run_within_one_and_a_half_times_chance_or_diverged_counts_as_collapsed():
    from aux_core.experiments import common
    flags = common.collapsed(["ok", "ok", "ok", "diverged"], [0.149, 0.151, float("nan"), 0.9],
                             ["cifar10", "cifar10", "cifar10", "cifar10"])
    assert flags.tolist() == [1.0, 0.0, 1.0, 1.0]
    assert common.collapsed(["ok"], [0.074], ["cifar100-20"]).tolist() == [1.0]   # chance 5% on 20 classes
    runs = pd.DataFrame({"method": ["baseline", "DKS", "DKS"], "status": ["ok"] * 3,
                         "test_error": [50.0, 87.5, 77.0], "dataset_run": ["cifar10"] * 3})
    note = D.collapse_note(runs)
    assert "1 of 2 DKS runs (12.5%)" in note and "baseline" not in note and "10% on cifar10" in note
    assert D.collapse_note(runs[runs["test_error"] < 80]) == ""
    designs = runs.assign(design=["Original", "Narrow", "Original"])   # the ablation page names designs
    assert "Original" not in D.collapse_note(designs, label="design")   # 23% is above 1.5x chance
    assert "1 of 1 Narrow runs (12.5%)" in D.collapse_note(designs, label="design")
    assert "No run of Original collapsed." in D.collapse_note(designs, label="design", name_the_rest=True)
    assert "No run of" not in D.collapse_note(designs, label="design")
    assert "Their gradient measures are in" in D.collapse_note(runs, measures="gradient measures")


def _run_with_losses(method, seed, loss, main, synergy=None, acc=0.5):
    """A run_grid row whose result logged these per-step loss terms (40 steps)."""
    steps = pd.DataFrame({"step": range(1, 41), "loss": loss, "main": main,
                          **({"synergy": synergy} if synergy is not None else {})})
    res = RunResult({"dataset": "cifar10", "model": "resnet32"}, "ok",
                    {"final_test_acc": acc, "wall_time_s": 1.0}, pd.DataFrame(), steps, pd.DataFrame(), {},
                    key=f"{method}{seed}")
    return {"method": method, "seed": seed, "dataset_run": "cifar10", "config": None, "result": res}


def test_the_loss_anatomy_tells_a_spike_and_a_consensus_on_chance_from_a_run_that_trains():
    """DKS runs whose matching term spikes early and which end with C1 at a uniform guess's
    cross-entropy, classifiers agreeing, against a baseline that trains smoothly; the note says
    so from the numbers, and drops the consensus reading where the collapsed run's numbers do not bear it."""
    ln10 = math.log(10)
    spike = [2.5, 25.0] + [3.0] * 38                      # the total loss: 10x its first step's, early
    cells = pd.DataFrame([
        _run_with_losses("baseline", 0, [2.5, 2.4] + [1.5] * 38, [2.3] + [1.4] * 39),
        _run_with_losses("DKS", 0, spike, [2.3] * 30 + [ln10] * 10, [1.0, 20.0] + [0.01] * 38, acc=0.1),
        _run_with_losses("DKS", 1, spike, [2.3] * 30 + [1.6] * 10, [1.0, 18.0] + [0.3] * 38, acc=0.45)])
    anatomy = D.loss_anatomy(cells)
    dks0 = anatomy[(anatomy["method"] == "DKS") & (anatomy["seed"] == 0)].iloc[0]
    assert dks0["collapsed"] and dks0["loss_peak_x"] == pytest.approx(10.0) and dks0["synergy_peak"] == 20.0
    assert dks0["end_ce_chance"] == pytest.approx(1.0) and dks0["end_synergy"] == pytest.approx(0.01)
    base = anatomy[anatomy["method"] == "baseline"].iloc[0]
    assert not base["collapsed"] and np.isnan(base["synergy_peak"]) and base["end_ce_chance"] < 0.7
    table = D.anatomy_table(anatomy)
    assert table[table["method"] == "DKS"]["runs"].tolist() == [1, 1]
    note = D.anatomy_note(anatomy)
    assert "baseline 1.0x, DKS 10.0x its first step's" in note and "matching term at 19.00" in note
    assert "The 1 collapsed DKS run ended" in note and "1.00x a uniform guess's" in note
    assert "It ended predicting near-uniformly" in note
    trained = D.loss_anatomy(cells.iloc[[0, 2]])
    assert "collapsed" not in D.anatomy_note(trained)
    cells.loc[1, "result"].steps["main"] = [2.3] * 30 + [0.5 * ln10] * 10   # collapsed by accuracy, not at chance
    assert "near-uniformly" not in D.anatomy_note(D.loss_anatomy(cells))


def test_the_ablation_names_designs_as_table_6_does_and_compares_them_to_the_original():
    rows = []
    for code, acc, step in (("dks", 0.50, 0.01), ("shallow", 0.40, 0.02)):
        for seed in (0, 1, 2):
            row = _run_with_losses("DKS", seed, [1.0] * 40, [1.0] * 40, acc=acc + step * seed)
            row["result"].metrics["final_train_acc"] = 0.6
            rows.append({**row, "backbone": "ResNet-32", "design": code})
    runs = pd.DataFrame(rows)
    per = D.design_runs(runs)
    assert per["design"].tolist() == ["Original"] * 3 + ["Shallow"] * 3
    t = D.ablation_table(runs).set_index("design")
    assert np.isnan(t.loc["Original", "estimate"])
    assert t.loc["Shallow", "estimate"] == pytest.approx(9.0)   # errors: Shallow 60, 58, 56; Original 50, 49, 48


def test_the_ablation_grid_adds_the_warmup_control_and_shares_its_original_runs():
    """Share 0 is the ablation as before (the same stored runs); with the warm-up, the original
    design is the warm-up page's DKS run (the same stored run), the other four are new."""
    grids = D.chapter_grids("cpu")
    both, seeds = grids["ablation"], sorted(set(grids["ablation"]["seed"]))
    cold = D.ablation_grid("cpu", seeds)
    keys = lambda frame: [c.key("x") for c in frame["config"]]   # noqa: E731
    assert set(cold["warmup"]) == {0.0} and set(both["warmup"]) == {0.0, D.WARMUP_SHARE}
    assert keys(both[both["warmup"] == 0]) == keys(cold)
    warm = both[both["warmup"] > 0]
    assert all(c.warmup_epochs == D.WARMUP_SHARE * c.epochs for c in warm["config"])
    dks_warm = grids["warmup"]
    original = set(keys(warm[warm["design"] == "dks"]))
    assert original == set(keys(dks_warm[dks_warm["method"] == "DKS"]))
    assert not set(keys(warm[warm["design"] != "dks"])) & set(keys(dks_warm))


def test_the_ledger_restates_table_6_on_the_warmed_up_designs_and_the_note_names_each_arm():
    def designs(errors, warmup):
        return pd.DataFrame({"design": ["Original"] * 3 + ["Shallow"] * 3, "seed": [0, 1, 2] * 2, "warmup": warmup,
                             "dataset_run": "cifar10", "status": "ok", "test_error": errors})
    cold = designs([88.0, 87.0, 77.0, 55.0, 56.0, 54.0], 0.0)      # the original collapses at lr 0.1 ...
    warm = designs([45.0, 46.0, 44.0, 49.0, 50.5, 48.0], 0.1)      # ... and beats Shallow once warmed up
    main = pd.DataFrame({"backbone": "ResNet-32", "method": ["baseline", "DKS"] * 3, "seed": [0, 0, 1, 1, 2, 2],
                         "dataset_run": "cifar10", "status": "ok", "test_error": [50.0] * 6})
    table = D.claims_ledger(main, ref.load("dks"), ablation=pd.concat([cold, warm]), profile="cpu")
    claim = "the original branches beat Shallow: error Shallow - Original"
    table = table[table["claim"].str.endswith(claim)].set_index("claim")
    warmed = "With a linear learning-rate warm-up over the first 10% of training (our control): " + claim
    assert list(table.index) == [claim, warmed] and table.loc[claim, "verdict"] == "contradicted"
    assert table.loc[warmed, "estimate"] == pytest.approx(25 / 6)   # (49 + 50.5 + 48 - 45 - 46 - 44) / 3
    # the data column says which runs a verdict rests on collapsed (12% and 13%: within 1.5x chance)
    assert table.loc[claim, "data"] == "cifar10, 3 seeds; collapsed: 2 of 3 Original runs"
    assert table.loc[warmed, "data"] == "cifar10, 3 seeds"
    only_cold = D.claims_ledger(main, ref.load("dks"), ablation=cold.drop(columns="warmup"), profile="cpu")
    assert claim in set(only_cold["claim"]) and not only_cold["claim"].str.contains("warm-up").any()
    note = D.design_collapse_note(pd.concat([cold, warm]))
    assert note.startswith("Without a warm-up: collapsed") and "2 of 3 Original runs (12.0%, 13.0%)" in note
    assert "With a 10% warm-up" not in note and "No run of Shallow collapsed." in note
    assert "With a 10% warm-up: collapsed" in D.design_collapse_note(warm.assign(test_error=88.0))
    assert D.design_collapse_note(warm) == ""
