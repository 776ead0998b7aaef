"""Asymmetric training (paper 1): branches, BCE, single activation, the evaluated model,
parameter counts against Tables 5-6, the parameter-matched control, and the vmap engine."""
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from aux_core import methods
from aux_core import reference as ref
from aux_core.methods import create_method
from aux_core.methods.asymmetric import Asymmetric, BranchBank, sigmoid_bce
from aux_core.models import create_model, num_params
from aux_core.config import RunConfig
from aux_core.runner import run, run_all

from conftest import needs_cifar10

TINY = dict(dataset="cifar10", train_per_class=16, test_per_class=5, batch_size=32, epochs=2, lr=1e-2,
            weight_decay=0.1, optimizer="adamw", augment="none")


def heads_for(model_name="mlp6", num_classes=10, seed=0, **options):
    torch.manual_seed(seed)
    model = create_model(model_name, num_classes)
    method = create_method("asymmetric", **options)
    return model, method, method.build_heads(model, num_classes)


def test_bce_is_equation_3_by_hand():
    logits = torch.tensor([[2.0, -1.0, 0.5], [-0.3, 0.0, 1.5]])
    y = torch.tensor([0, 2])
    by_hand = 0.0
    for i in range(2):
        for c in range(3):
            s = 1 / (1 + np.exp(-float(logits[i, c])))
            t = 1.0 if c == int(y[i]) else 0.0
            by_hand += -(t * np.log(s) + (1 - t) * np.log(1 - s)) / 3
    assert float(sigmoid_bce(logits, y)) == pytest.approx(by_hand / 2, rel=1e-6)
    stacked = sigmoid_bce(torch.stack([logits, 2 * logits]), y)   # one loss per branch
    assert stacked.shape == (2,) and float(stacked[0]) == pytest.approx(by_hand / 2, rel=1e-6)


@pytest.mark.parametrize("width, classes", [(64, 10), (64, 100), (256, 100)])
def test_branches_are_orthogonally_initialised(width, classes):
    bank = BranchBank(width, classes, 3, torch.Generator().manual_seed(0))
    for w in bank.branches:
        w = w.detach().double()
        gram = w @ w.T if classes <= width else w.T @ w
        torch.testing.assert_close(gram, torch.eye(len(gram), dtype=gram.dtype), atol=1e-5, rtol=0)
    assert not torch.equal(bank.branches[0], bank.branches[1])


def test_branch_init_leaves_the_global_generator_alone():
    """Heads come from their own generator: the runs of a paired comparison draw the same
    dropout masks (and everything else) from the global one."""
    torch.manual_seed(3)
    create_method("asymmetric", n_branches=5).build_heads(create_model("cnn6", 10), 10)
    after = torch.rand(3)
    torch.manual_seed(3)
    create_model("cnn6", 10)
    assert torch.equal(torch.rand(3), after)


@pytest.mark.parametrize("arch, model_name, classes, dataset", [("MLP", "mlp6", 10, "CIFAR-10"),
                                                                ("CNN", "cnn6", 100, "CIFAR-100"),
                                                                ("ViT-6L", "vit6", 100, "CIFAR-100")])
def test_parameter_counts_match_tables_5_and_6(arch, model_name, classes, dataset):
    table = "Table 5" if arch == "MLP" else "Table 6"
    plain = create_model(model_name, classes)
    paper = ref.value("asymmetric", table, f"plain|{arch}", "params", dataset=dataset)
    assert num_params(plain) / 1e6 == pytest.approx(paper, abs=0.006)   # printed to 2 decimals (3 significant)
    for n in (1, 20, 300):
        _, _, heads = heads_for(model_name, classes, n_branches=n)
        total = (num_params(plain) + num_params(heads)) / 1e6
        paper = ref.value("asymmetric", table, f"N={n}|{arch}", "params", dataset=dataset)
        assert total == pytest.approx(paper, abs=0.006 if paper < 10 else 0.06), (arch, n)


def test_single_activation_calls_only_the_last_branch():
    model, method, heads = heads_for(n_branches=4, alpha=2.0)
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    logits, taps = model(x)
    ctx = type("Ctx", (), {"heads": heads, "step": 0})()
    terms = method.loss_terms(logits, taps, methods.Batch(x, y), ctx)
    assert set(terms) == {"main", "aux:relu1", "aux:relu2", "aux:relu3", "aux:relu4"}
    expected = 2.0 * sigmoid_bce(F.linear(taps["relu2"], heads["relu2"].branches[-1]), y)
    torch.testing.assert_close(terms["aux:relu2"], expected)
    sum(terms.values()).backward()
    for bank in heads.values():
        assert all(w.grad is None for w in bank.branches[:-1])
        assert bank.branches[-1].grad is not None and bank.branches[-1].grad.abs().sum() > 0


def test_all_active_sums_every_branch():
    model, method, heads = heads_for(n_branches=3, activation="all")
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    logits, taps = model(x)
    terms = method.loss_terms(logits, taps, methods.Batch(x, y), type("Ctx", (), {"heads": heads, "step": 0})())
    expected = sum(sigmoid_bce(F.linear(taps["relu1"], w), y) for w in heads["relu1"].branches)
    torch.testing.assert_close(terms["aux:relu1"], expected)


def test_parameter_matched_control_has_no_auxiliary_loss():
    model, method, heads = heads_for(n_branches=20, objective="none")
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    logits, taps = model(x)
    terms = method.loss_terms(logits, taps, methods.Batch(x, y), type("Ctx", (), {"heads": heads, "step": 0})())
    assert list(terms) == ["main"] and num_params(heads) == 20 * 10 * (64 + 128 + 256 + 128)


def test_the_symmetric_control_trains_the_same_branches_with_softmax_cross_entropy():
    model, method, heads = heads_for(n_branches=3, activation="all", objective="softmax", alpha=0.5)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    logits, taps = model(x)
    terms = method.loss_terms(logits, taps, methods.Batch(x, y), type("Ctx", (), {"heads": heads, "step": 0})())
    expected = 0.5 * sum(F.cross_entropy(F.linear(taps["relu1"], w), y) for w in heads["relu1"].branches)
    torch.testing.assert_close(terms["aux:relu1"], expected)
    bce = heads_for(n_branches=3, activation="all", alpha=0.5)[1].loss_terms(
        logits, taps, methods.Batch(x, y), type("Ctx", (), {"heads": heads, "step": 0})())
    assert not torch.allclose(bce["aux:relu1"], terms["aux:relu1"])   # a different objective, not plain's twin


@pytest.mark.parametrize("options, match", [({"alpha": -1.0}, "alpha must be >= 0"),
                                            ({"n_branches": 0}, "n_branches must be an integer >= 1"),
                                            ({"activation": "random"}, "not one of: last, all"),
                                            ({"objective": "mse"}, "not one of: bce, softmax, none"),
                                            ({"n_branches": 2.5}, "must be of type int"),
                                            ({"branches": 3}, "allowed")])
def test_bad_options_fail_before_any_work(options, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(model="mlp6", method="asymmetric", method_options=options)


def test_probe_needs_a_vit_and_a_known_name():
    with pytest.raises(ValueError, match="needs a ViT"):
        RunConfig(model="mlp6", probes=("attention",))
    with pytest.raises(ValueError, match="unknown probe 'saliency'; available: attention"):
        RunConfig(model="vit6", probes=("saliency",))


@dataclass
class _Snapshot(Asymmetric):
    """Records the branches after every epoch of a real run (test only)."""
    name = "asymmetric_snapshot_test"
    vectorizable = False
    seen = []

    def setup(self, ctx):
        _Snapshot.seen = [{k: [w.detach().clone() for w in b.branches] for k, b in ctx.heads.items()}]

    def after_epoch(self, ctx):
        _Snapshot.seen.append({k: [w.detach().clone() for w in b.branches] for k, b in ctx.heads.items()})


if _Snapshot.name not in methods.list_methods():
    methods.register(_Snapshot)


@needs_cifar10
@pytest.mark.parametrize("activation", ["last", "all"])
def test_in_real_training_only_active_branches_change(activation):
    """AdamW with weight decay skips parameters without a gradient: inactive branches stay
    bit-identical through training; the active ones move."""
    r = run(RunConfig(**TINY, model="mlp6", method=_Snapshot.name,
                      method_options={"n_branches": 4, "alpha": 1.0, "activation": activation}),
            cache=False, progress=False)
    assert r.status == "ok" and len(_Snapshot.seen) == 3   # at setup and after each of 2 epochs
    start, end = _Snapshot.seen[0], _Snapshot.seen[-1]
    for tap in start:
        for i, (w0, w1) in enumerate(zip(start[tap], end[tap])):
            active = activation == "all" or i == 3
            assert torch.equal(w0, w1) != active, (tap, i)


@needs_cifar10
@pytest.mark.parametrize("model", ["mlp6", "cnn6"])
def test_parameter_matched_control_trains_exactly_like_plain(model):
    """The evaluated network is the plain one: extra parameters no loss reads change nothing,
    dropout masks included (cnn6), to the last bit."""
    plain = run(RunConfig(**TINY, model=model), cache=False, progress=False)
    control = run(RunConfig(**TINY, model=model, method="asymmetric",
                            method_options={"n_branches": 20, "objective": "none"}), cache=False, progress=False)
    asym = run(RunConfig(**TINY, model=model, method="asymmetric", method_options={"n_branches": 20}),
               cache=False, progress=False)
    assert control.steps["main"].tolist() == plain.steps["main"].tolist()
    assert control.history["test_loss"].tolist() == plain.history["test_loss"].tolist()
    assert asym.steps["main"].iloc[0] == plain.steps["main"].iloc[0]    # same network, same first batch
    assert asym.history["test_loss"].tolist() != plain.history["test_loss"].tolist()


def test_evaluated_model_carries_no_branches():
    model, _, heads = heads_for(n_branches=7)
    assert not any(k.startswith(("branches", "heads")) for k in model.state_dict())
    assert num_params(model) == num_params(create_model("mlp6", 10))


@needs_cifar10
def test_vmap_engine_equals_separate_runs_in_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        cfgs = [RunConfig(**{**TINY, "epochs": 1}, model="mlp6", method="asymmetric", seed=s, grad_diag_every=2,
                          method_options={"n_branches": 3, "alpha": 0.5}) for s in (1, 2)]
        loop = run_all(cfgs, cache=False, progress=False, engine="loop")
        vmap = run_all(cfgs, cache=False, progress=False, engine="vmap")
    finally:
        torch.set_default_dtype(old)
    for a, b in zip(loop, vmap):
        assert b.metrics["engine"] == "vmap"
        np.testing.assert_allclose(b.steps.drop(columns="lr").to_numpy(), a.steps.drop(columns="lr").to_numpy(),
                                   rtol=1e-9)
        np.testing.assert_allclose(b.diagnostics.to_numpy(), a.diagnostics.to_numpy(), rtol=1e-9)


@needs_cifar10
def test_plain_runs_record_the_main_gradient_norm():
    r = run(RunConfig(**TINY, model="mlp6", grad_diag_every=3), cache=False, progress=False)
    d = r.diagnostics
    assert list(d["step"]) == [0, 3, 6, 9] and (d["main_grad_norm"] > 0).all()
    assert d["cosine"].isna().all() and d["aux_grad_norm"].isna().all()


@needs_cifar10
def test_attention_probe_records_metrics_and_maps_at_every_evaluation():
    r = run(RunConfig(**{**TINY, "epochs": 2, "train_per_class": 8, "batch_size": 40}, model="vit6",
                      method="asymmetric", method_options={"n_branches": 2}, probes=("attention",), probe_images=12),
            cache=False, progress=False)
    h = r.history
    assert len(h) == 2
    assert h["attn_entropy_L6"].between(0, np.log(64) + 1e-6).all() and h["attn_coverage_L1"].between(0, 1).all()
    maps = np.asarray(h["attn_maps_L6"].iloc[-1])
    assert maps.shape == (6, 64) and np.allclose(maps.sum(1), 1, atol=1e-4)
    assert {"attn_maps_L1", "attn_maps_L3"} <= set(h.columns)
