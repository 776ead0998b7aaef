"""LION-DG: the initialisation schemes' statistics on fresh models, Proposition 1 exactly,
the on-path variant, and the convergence metric on constructed histories."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from aux_core.experiments import lion_dg as L
from aux_core.methods import apply_init, create_method, list_init_schemes
from aux_core.methods.init_schemes import LSUV_TOL, lsuv_
from aux_core.models import ScalarGate, create_model, num_params
from aux_core.config import RunConfig, RunResult
from aux_core.evaluation import steps_to_threshold


def build(model_name="densenet_ds", init="he", seed=0, n=64):
    torch.manual_seed(seed)
    model = create_model(model_name, 10)
    heads = create_method("ds").build_heads(model, 10)
    x = torch.randn(n, 3, 32, 32)
    apply_init(init, model, heads, x)
    return model, heads, x


def layer_variances(model, x):
    """Output variance of every conv/linear layer in one fresh training-mode forward pass."""
    out = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: out.__setitem__(n, float(o.float().var())))
             for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.train()
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return out


def test_every_scheme_is_registered():
    assert {"he", "lion_dg", "lsuv", "lion_lsuv", "fixup", "rezero"} <= set(list_init_schemes())


@pytest.mark.parametrize("model_name", ["densenet_ds", "resnet_ds"])
def test_he_draws_kaiming_fan_in_and_lion_dg_zeroes_heads_exactly(model_name):
    model, heads, _ = build(model_name, "he")
    conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d) and m.weight.numel() > 5000)
    fan_in = conv.weight[0].numel()
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
    assert all(p.abs().sum() > 0 for n, p in heads.named_parameters() if n.endswith("weight"))
    model, heads, _ = build(model_name, "lion_dg")
    assert all(torch.count_nonzero(p) == 0 for p in heads.parameters())  # weights and biases
    assert conv.weight.shape == next(m for m in model.modules()
                                     if isinstance(m, nn.Conv2d) and m.weight.numel() > 5000).weight.shape


@pytest.mark.parametrize("model_name", ["densenet_ds", "resnet_ds"])
def test_lsuv_gives_unit_variance_within_tolerance_and_leaves_no_running_stats(model_name):
    torch.manual_seed(1)
    model = create_model(model_name, 10)
    x = torch.randn(256, 3, 32, 32)
    before = {n: b.clone() for n, b in model.named_buffers()}
    report = lsuv_(lambda: model(x), model)
    assert len(report) == sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in model.modules())
    assert all(r["iterations"] <= 10 for r in report)
    for n, b in model.named_buffers():  # calibration is not training
        if "running" in n:
            assert torch.equal(b, before[n]), n
    fresh = layer_variances(model, x)
    assert max(abs(v - 1.0) for v in fresh.values()) < LSUV_TOL


def test_lion_lsuv_is_lsuv_backbone_with_zero_heads():
    model, heads, x = build("densenet_ds", "lion_lsuv", n=256)
    assert all(torch.count_nonzero(p) == 0 for p in heads.parameters())
    fresh = layer_variances(model, x)
    assert max(abs(v - 1.0) for v in fresh.values()) < LSUV_TOL
    model, heads, x = build("densenet_ds", "lsuv", n=256)
    assert all(p.abs().sum() > 0 for n, p in heads.named_parameters() if n.endswith("weight"))


def test_fixup_zeroes_branch_ends_and_classifier_and_scales_inner_layers():
    he, _, _ = build("resnet_ds", "he", seed=3)
    fx, _, _ = build("resnet_ds", "fixup", seed=3)
    blocks = fx.residual_branches()
    assert len(blocks) == 9                                    # ResNet-20: 3 stages x 3 blocks
    for b_he, b_fx in zip(he.residual_branches(), blocks):
        assert torch.count_nonzero(b_fx.bn2.weight) == 0        # last layer of the branch
        assert torch.allclose(b_fx.conv1.weight, b_he.conv1.weight * len(blocks) ** -0.5)
    assert torch.count_nonzero(fx.head.weight) == 0 and torch.count_nonzero(fx.head.bias) == 0
    dn, _, x = build("densenet_ds", "fixup")
    assert all(torch.count_nonzero(layer.conv.weight) == 0 for layer in dn.residual_branches())
    logits, _ = dn(x[:4])
    assert torch.count_nonzero(logits) == 0


@pytest.mark.parametrize("model_name", ["densenet_ds", "resnet_ds"])
def test_rezero_gates_every_branch_with_a_zero_scalar(model_name):
    model, _, x = build(model_name, "rezero")
    branches = model.residual_branches()
    assert all(isinstance(b.gate, ScalarGate) and b.gate.alpha.item() == 0.0 for b in branches)
    assert num_params(model) == num_params(create_model(model_name, 10)) + len(branches)
    if model_name == "densenet_ds":
        layer = branches[0]
        new = layer(torch.randn(2, layer.norm.num_features, 8, 8))[:, layer.norm.num_features:]
        assert torch.count_nonzero(new) == 0


def test_fixup_and_rezero_fail_at_config_time_on_models_without_branches():
    with pytest.raises(ValueError, match="densenet_ds, resnet_ds"):
        RunConfig(model="mlp6", method="ds", init="fixup")
    with pytest.raises(ValueError, match="lion_lsuv"):
        RunConfig(model="mlp6", init="zeros")


@pytest.mark.parametrize("model_name", ["densenet_ds", "resnet_ds", "resnet_ds_onpath"])
def test_proposition_1_exactly(model_name):
    torch.manual_seed(0)
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    zero = L.gradient_flow_at_init(model_name, "lion_dg", x, y)
    assert zero.backbone_from_aux == 0.0          # exactly, not approximately
    assert zero.heads_from_aux > 0                # the heads themselves do learn
    assert zero.backbone_from_main > 0
    he = L.gradient_flow_at_init(model_name, "he", x, y)
    assert he.backbone_from_aux > 0


def test_on_path_heads_feed_the_stream_and_zero_heads_are_a_dead_zone():
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
    model = create_model("resnet_ds_onpath", 10).eval()
    logits, taps = model(x)
    assert set(taps) == {"stage1", "stage2"} and taps["stage1"].shape == (16, 10)   # taps are the aux logits
    plain = create_model("resnet_ds", 10).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("aux.")})
    assert not torch.allclose(plain(x)[0], logits)       # the heads change the main path
    for aux in model.aux_modules():
        for p in aux.parameters():
            p.data.zero_()
    assert torch.allclose(plain(x)[0], model(x)[0])      # ... and vanish from it when zero
    flow = L.gradient_flow_at_init("resnet_ds_onpath", "lion_dg", x, y)
    assert flow.heads_from_main == 0.0                   # no main-loss signal reaches zero on-path heads


def test_steps_to_threshold_on_a_constructed_history():
    acc = np.array([0.0] * 10 + [1.0] * 20)
    assert steps_to_threshold(acc, 0.7, 5) == 14          # 4 of the last 5 batches right: 0.8 >= 0.7
    assert steps_to_threshold(acc, 1.0, 5) == 15
    assert math.isnan(steps_to_threshold(np.full(30, 0.5), 0.7, 5))
    assert math.isnan(steps_to_threshold(np.ones(3), 0.7, 5))   # fewer steps than the window


def fake_result(batch_acc, seed, steps=None, test_acc=0.5):
    """A RunResult built by hand: only what the convergence analysis reads."""
    cfg = L.protocol("smoke", seed=seed).to_dict()
    cfg["steps"] = steps or len(batch_acc)
    cfg["convergence_window"] = 2
    frame = pd.DataFrame({"step": np.arange(1, len(batch_acc) + 1), "batch_acc": batch_acc})
    return RunResult(config=cfg, status="ok",
                     metrics={"final_test_acc": test_acc, "train_images": 200, "wall_time_s": 1.0},
                     history=pd.DataFrame(), steps=frame, diagnostics=pd.DataFrame(), provenance={})


def test_never_reached_runs_are_censored_at_the_budget_and_thresholds_fall_back():
    def ramp(k):
        return np.clip(np.arange(1, 21) / k, 0, 0.9)          # reaches 0.7 at step ~0.7k
    df = pd.DataFrame({"dataset": "CIFAR-10", "dataset_run": "cifar10", "arch": "DenseNet-DS",
                       "init": ["He-init", "He-init", "LION-DG", "LION-DG"], "seed": [1, 2, 1, 2],
                       "result": [fake_result(ramp(20), 1), fake_result(ramp(18), 2),
                                  fake_result(ramp(10), 1), fake_result(ramp(12), 2)]})
    runs = L.per_run(df, threshold=0.7)
    assert runs["reached"].all() and runs["threshold"].eq(0.7).all()
    table = L.compare(runs).set_index("init")
    he, lion = runs[runs["init"] == "He-init"]["steps_to"], runs[runs["init"] == "LION-DG"]["steps_to"]
    assert table.loc["LION-DG", "estimate"] == pytest.approx(100 * (he.mean() - lion.mean()) / he.mean())
    assert table.loc["LION-DG", "estimate"] > 0 and table.loc["LION-DG", "d"] > 0
    assert table.loc["LION-DG", "lo"] < table.loc["LION-DG", "estimate"] < table.loc["LION-DG", "hi"]
    # a run that stalls at 40%: the group is compared at 0.40, and with a fixed 0.7 it is censored
    df.loc[3, "result"] = fake_result(np.full(20, 0.4), 2)
    assert L.reachable_threshold(df["result"], 0.7) == pytest.approx(0.4)
    censored = L.per_run(df, thresholds={("CIFAR-10", "DenseNet-DS"): 0.7})
    stalled = censored.iloc[3]
    assert not stalled["reached"] and stalled["steps_to"] == 20


def test_claims_ledger_judges_censored_steps_ranks_and_no_effect_with_the_kit():
    from aux_core import ledger, reference as ref
    def ramp(k, top=0.9):
        return np.clip(np.arange(1, 41) / k, 0, top)   # reaches 0.7 at step ~0.7k
    inits = {"He-init": (40, 0.50), "LION-DG": (12, 0.52), "LSUV": (30, 0.55), "Hybrid": (14, 0.70)}
    rows = [{"dataset": d, "dataset_run": "cifar10", "arch": arch, "init": init, "seed": s,
             "result": fake_result(ramp(k + s) if init != "He-init" else ramp(k, 0.6 + 0.05 * s), s,
                                   test_acc=acc + 0.001 * s)}
            for d, arch in (("CIFAR-10", "DenseNet-DS"), ("CIFAR-100", "ResNet-DS"))
            for init, (k, acc) in inits.items() for s in (1, 2, 3)]
    main = pd.DataFrame(rows)
    he_rows = [r for r in rows if r["init"] == "He-init" and r["arch"] == "DenseNet-DS"]
    better = [{**r, "init": "Fixup", "result": fake_result(ramp(40, 0.6), r["seed"], test_acc=0.55 + 0.001 * r["seed"])}
              for r in he_rows]   # 5 points above He: a benefit
    base = pd.DataFrame(he_rows + better + [{**r, "init": "ReZero"} for r in he_rows])   # ReZero: He's numbers
    table = L.claims_ledger(main, base, ref, profile="smoke").set_index("claim")
    assert tuple(table.reset_index().columns) == ledger.COLUMNS and set(table["verdict"]) <= set(ledger.VERDICTS)
    speed = table.loc[[c for c in table.index if c.startswith("LION-DG needs") and "DenseNet" in c]].iloc[0]
    # He never reaches 70% (it plateaus at 60-70%): censored, not counted as the budget
    assert speed["kind"] == "time_to_event" and "censored" in speed["reason"]
    assert any("lowered threshold" in c for c in table.index)            # He's plateau lowers the shared level
    assert table.loc[[c for c in table.index if c.startswith("the CIFAR-10")], "verdict"].iloc[0] == "not decidable"
    hybrid = table.loc["Hybrid (LSUV + zero heads) has the best accuracy on CIFAR-10 DenseNet-DS"]
    assert hybrid["verdict"] == "reproduced" and hybrid["estimate"] == 1.0
    # "no benefit" is an equivalence test: ReZero with He's accuracies is within the margin, Fixup 5 points above is not
    fixup = table.loc[[c for c in table.index if c.startswith("Fixup")]].iloc[0]
    rezero = table.loc[[c for c in table.index if c.startswith("ReZero")]].iloc[0]
    assert (fixup["kind"], fixup["verdict"], rezero["verdict"]) == ("no_effect", "contradicted", "reproduced")
    assert table["p_holm"].dropna().ge(table["p"].dropna().reindex(table["p_holm"].dropna().index)).all()
    # the statistics audit links each claim to the flags on the numbers it rests on, not on its whole table:
    # Table 8's p (impossible from its d) and Table 1's population SDs behind the ranking; not the speed-ups
    from aux_core import audit
    linked = audit.linked(table, "lion_dg")["audit"]
    assert "p = 0.0076" in linked[[c for c in table.index if c.startswith("the CIFAR-10")][0]]
    assert linked["Hybrid (LSUV + zero heads) has the best accuracy on CIFAR-10 DenseNet-DS"].count(" SD ") == 4
    assert (linked[[c for c in table.index if c.startswith("LION-DG needs")]] == "").all()
    assert linked[fixup.name] == "Table 7: Fixup std of steps"


def test_protocol_is_the_papers_table_4_and_cifar100_falls_back_here():
    cfg = L.protocol("paper")
    assert (cfg.optimizer, cfg.lr, cfg.betas, cfg.weight_decay, cfg.batch_size, cfg.steps) == (
        "adamw", 1e-3, (0.9, 0.999), 0.05, 128, 3000)
    assert cfg.method_options == {"alpha": 0.3} and cfg.augment == "flip" and cfg.convergence_threshold == 0.7
    assert L.protocol("smoke").steps == 10
    assert L.dataset_for("CIFAR-100", "cifar10") == "cifar10"
    with pytest.raises(ValueError, match="cifar100"):
        L.dataset_for("CIFAR-100", "imagenet")
    grid = L.grid("smoke", [42], cifar100="cifar10")
    assert len(grid) == 16 and set(grid["dataset_run"]) == {"cifar10"}
    with pytest.raises(ValueError, match="warmup_fraction"):
        L.baselines_grid("smoke", [42], warmup_fraction=0)
    ramp = L.baselines_grid("smoke", [42], warmup_fraction=0.5)
    assert ramp[ramp["init"] == "He + warm-up"]["config"].iloc[0].method_options == {"alpha": 0.3, "warmup_steps": 5}
    # GradInit at tiny and above; smoke (CI) leaves its minutes-long scale search out
    assert "GradInit" in set(L.baselines_grid("tiny", [42], gradinit=True)["init"])
    assert "GradInit" not in set(L.baselines_grid("smoke", [42], gradinit=True)["init"])


def test_gradinit_rescales_each_he_weight_tensor_by_a_learned_positive_scale():
    torch.manual_seed(0)
    x, y = torch.randn(256, 3, 32, 32), torch.randint(0, 10, (256,))
    def fresh(init, *calib):
        torch.manual_seed(5)
        model = create_model("mlp6", 10)
        heads = create_method("ds").build_heads(model, 10)
        apply_init(init, model, heads, *calib)
        return model, heads

    he, he_heads = fresh("he")
    model, heads = fresh("gradinit", x, y)
    scales = []
    for (n, w), (_, w_he) in zip(list(model.named_parameters()) + list(heads.named_parameters()),
                                 list(he.named_parameters()) + list(he_heads.named_parameters())):
        if w.dim() > 1:
            w, w_he = w.detach(), w_he.detach()
            s = float((w * w_he).sum() / (w_he * w_he).sum())
            assert s >= 0.01 and torch.allclose(w, s * w_he, atol=1e-6), n
            scales.append(s)
    assert max(abs(s - 1) for s in scales) > 1e-3   # it learned something
    with pytest.raises(ValueError, match="labelled calibration batch"):
        apply_init("gradinit", model, heads, x)
