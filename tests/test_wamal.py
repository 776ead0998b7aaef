"""WAMAL / MAXL: the masked softmax, bounded weights, entropy sign and the look-ahead
hypergradient against finite differences (tiny float64 nets), batch-norm statistics left
alone, the new backbones under both wrappers, and short real training runs."""
import math

import pytest
import torch
from torch import nn

from aux_core import data as data_lib
from aux_core.loader import DeviceLoader
from aux_core.methods import create_method, list_methods
from aux_core.methods.meta import (LabelWeightNet, PrimaryNet, TwoLayerHead, batch_entropy, bounded_weight,
                                   focal_loss, implicit_meta_loss, label_gradients, masked_log_softmax, meta_loss,
                                   primary_loss, training_terms)
from aux_core.models import create_model, list_models
from aux_core.models.base import TapModel
from aux_core.config import RunConfig
from aux_core.methods import StepContext
from aux_core.runner import run
from aux_core.build import prepare

from conftest import needs_cifar10


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two cores shared with other jobs: one intra-op thread is several times faster here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class TinyNet(TapModel):
    """A 2-layer MLP backbone with batch norm and smooth activations (exact finite differences)."""

    def __init__(self, num_classes: int, d_in: int = 6, width: int = 5):
        super().__init__()
        self.fc = nn.Linear(d_in, width)
        self.bn = nn.BatchNorm1d(width)
        self.num_features = width
        self.head = nn.Linear(width, num_classes)

    def forward_features(self, x):
        return torch.tanh(self.bn(self.fc(x))), {}


def _tiny(r=2.0, n_primary=3, psi=2, seed=0):
    torch.manual_seed(seed)
    primary = PrimaryNet(TinyNet(n_primary), n_primary, psi, hidden=7).double()
    label = LabelWeightNet(TinyNet(n_primary), n_primary, psi, r=r, hidden=7).double()
    x = torch.randn(8, 6, dtype=torch.float64)
    y = torch.arange(8) % n_primary
    return primary, label, x, y


# ----------------------------------------------------------------------------- pieces

def test_masked_softmax_puts_all_mass_in_the_primary_class_block():
    torch.manual_seed(0)
    psi, y = 4, torch.tensor([0, 2, 1, 2, 0])
    logits = torch.randn(5, 3 * psi) * 30  # large logits: no overflow in log space
    lp = masked_log_softmax(logits, y, psi)
    block = torch.arange(3 * psi) // psi
    inside = block[None] == y[:, None]
    assert torch.isneginf(lp[~inside]).all() and torch.isfinite(lp[inside]).all()
    assert torch.equal(lp.exp()[~inside], torch.zeros(int((~inside).sum())))
    assert torch.allclose(lp.exp().sum(1), torch.ones(5), atol=1e-6)
    with pytest.raises(ValueError, match="multiple of psi"):
        masked_log_softmax(torch.randn(2, 7), torch.tensor([0, 1]), 2)


def test_losses_on_masked_log_probs_have_no_nan_value_or_gradient():
    torch.manual_seed(1)
    psi, y = 3, torch.tensor([0, 1, 1, 3])
    logits = torch.randn(4, 4 * psi, requires_grad=True)
    lp = masked_log_softmax(logits, y, psi)
    # the generated distribution as both prediction and target, and its batch entropy
    loss = focal_loss(lp, lp.exp()).sum() + batch_entropy(lp)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    # masked logits get exactly no gradient
    block = torch.arange(4 * psi) // psi
    assert torch.equal(logits.grad[block[None] != y[:, None]], torch.zeros(4 * 3 * psi))


def test_focal_loss_matches_its_formula():
    torch.manual_seed(2)
    lp = torch.randn(3, 5, dtype=torch.float64).log_softmax(1)
    t = torch.randn(3, 5, dtype=torch.float64).softmax(1)
    hand = -(t * (1 - lp.exp()) ** 2 * lp).sum(1)
    assert torch.allclose(focal_loss(lp, t), hand)
    assert torch.allclose(focal_loss(lp, t, gamma=0.0), -(t * lp).sum(1))  # gamma 0: cross-entropy


def test_weights_stay_in_their_range_and_r_zero_gives_one():
    z = torch.tensor([-float("inf"), -1e6, -30.0, 0.0, 30.0, 1e6, float("inf")])
    for r in (0.5, 5.0, 15.0):
        w = bounded_weight(z, r)
        assert (w >= 2 ** -r).all() and (w <= 2 ** r).all()
        assert w[0] == pytest.approx(2 ** -r) and w[-1] == pytest.approx(2 ** r) and w[3] == pytest.approx(1.0)
    assert torch.equal(bounded_weight(z, 0.0), torch.ones(7))
    # through the network, with the weight head's bias pushed far either way
    _, label, x, y = _tiny(r=5.0)
    for bias in (-1e4, 1e4):
        with torch.no_grad():
            label.weight.fc2.bias.fill_(bias)
        w = label(x, y)[1]
        assert w.shape == (8,) and torch.allclose(w, torch.full_like(w, 2.0 ** math.copysign(5, bias)))
    assert LabelWeightNet(TinyNet(3), 3, 2, r=None)(x.float(), y)[1] is None


def test_weight_norm_gives_mean_weight_one():
    torch.manual_seed(3)
    prim, aux, y = torch.randn(4, 2), torch.randn(4, 6), torch.tensor([0, 1, 0, 1])
    target = masked_log_softmax(torch.randn(4, 6), y, 3)
    w = torch.tensor([0.5, 1.0, 2.0, 4.5])
    per = focal_loss(aux.log_softmax(1), target.exp())
    _, weighted = training_terms(prim, aux, y, target, w)
    _, normed = training_terms(prim, aux, y, target, w, weight_norm=True)
    assert weighted == pytest.approx(float((w * per).mean()))
    assert normed == pytest.approx(float((w / w.mean() * per).mean()))


def test_minimising_the_entropy_term_spreads_the_batch_over_the_block():
    """A near-collapsed batch (every sample on sub-class 0): a gradient step on
    sum p̄ log p̄ raises the entropy of the batch-mean distribution."""
    psi, y = 4, torch.zeros(6, dtype=torch.long)
    logits = (torch.tensor([3.0, 0.0, 0.0, 0.0] * 2) + 0.1 * torch.randn(6, 2 * psi)).requires_grad_()
    term = batch_entropy(masked_log_softmax(logits, y, psi))
    p = masked_log_softmax(logits, y, psi).exp().mean(0).detach()
    assert term.item() == pytest.approx(float((p[p > 0] * p[p > 0].log()).sum()), rel=1e-6)
    term.backward()
    with torch.no_grad():
        after = masked_log_softmax(logits - 1.0 * logits.grad, y, psi).exp().mean(0)

    def entropy(q):
        return float(-(q[q > 0] * q[q > 0].log()).sum())
    assert entropy(after) > entropy(p) + 1e-3
    uniform = masked_log_softmax(torch.zeros(6, 2 * psi), y, psi)
    assert float(batch_entropy(uniform)) == pytest.approx(-math.log(psi))  # the minimum


# ----------------------------------------------------------------------------- the bi-level step

def _meta_value(primary, label, x, y, alpha):
    return meta_loss(primary, label, x, y, alpha, second_order=True).objective.item()


@pytest.mark.parametrize("r", [2.0, None])
def test_second_order_hypergradient_matches_finite_differences(r):
    """d/dh meta-loss(φ + h v) by central differences equals <autograd hypergradient, v>."""
    primary, label, x, y = _tiny(r=r)
    alpha = 0.5
    out = meta_loss(primary, label, x, y, alpha)
    label_gradients(out.objective, label)
    params = [p for p in label.parameters()]
    grads = [p.grad.clone() for p in params]
    assert all(p.grad is None for p in primary.parameters())  # only the label net is differentiated
    gen = torch.Generator().manual_seed(4)
    v = [torch.randn(p.shape, generator=gen, dtype=p.dtype) for p in params]
    h = 1e-5
    values = []
    for sign in (1, -1):
        with torch.no_grad():
            for p, vi in zip(params, v):
                p.add_(sign * h * vi)
        values.append(_meta_value(primary, label, x, y, alpha))
        with torch.no_grad():
            for p, vi in zip(params, v):
                p.sub_(sign * h * vi)
    numeric = (values[0] - values[1]) / (2 * h)
    analytic = float(sum((g * vi).sum() for g, vi in zip(grads, v)))
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-9)
    # the look-ahead carries real signal: the entropy term alone gives a different gradient
    ent = [torch.zeros_like(p) if g is None else g for p, g in
           zip(params, torch.autograd.grad(0.2 * batch_entropy(label(x, y)[0]), params, allow_unused=True))]
    assert abs(float(sum((g * vi).sum() for g, vi in zip(ent, v))) - analytic) > 1e-3 * abs(analytic)


def test_first_order_variant_approximates_the_second_order_hypergradient():
    """Same hypergradient up to the finite-difference error. On this tiny net the default
    step (||εd|| = 0.01) crosses ReLU kinks of the heads (relative error ~0.1); at 1e-4 the
    difference quotient is exact to ~1e-8."""
    primary, label, x, y = _tiny(r=2.0)
    grads = {}
    for second_order in (True, False):
        label.zero_grad(set_to_none=True)
        out = meta_loss(primary, label, x, y, 0.5, second_order=second_order, fd_scale=1e-4)
        label_gradients(out.objective, label)
        grads[second_order] = torch.cat([p.grad.flatten() for p in label.parameters()])
    assert float((grads[False] - grads[True]).norm() / grads[True].norm()) < 1e-6


def test_lookahead_leaves_batch_norm_statistics_and_parameters_alone():
    primary, label, x, y = _tiny()
    state = {k: v.clone() for k, v in primary.state_dict().items()}
    for second_order in (True, False):
        out = meta_loss(primary, label, x, y, 0.5, second_order=second_order)
        label_gradients(out.objective, label)
    assert all(torch.equal(state[k], v) for k, v in primary.state_dict().items())
    assert all(p.is_leaf and p.grad is None for p in primary.parameters())
    assert primary.training
    primary(x)  # the check can fail: an ordinary training-mode forward moves them
    assert not torch.equal(state["backbone.bn.running_mean"], primary.backbone.bn.running_mean)


# ----------------------------------------------------------------------------- backbones and runs

def _cifar_images(n=2):
    ds = data_lib.load_dataset("cifar10")
    return next(iter(DeviceLoader(ds.train.x[:n], ds.train.y[:n], n, mean=ds.mean, std=ds.std)))


@needs_cifar10
@pytest.mark.parametrize("name, width", [("vgg16", 512), ("resnet18", 512), ("resnet50", 2048)])
def test_wrappers_work_on_every_new_backbone(name, width):
    torch.manual_seed(0)
    batch = _cifar_images()
    primary = PrimaryNet(create_model(name, 10), 10, psi=5)
    label = LabelWeightNet(create_model(name, 10), 10, psi=5, r=5.0)
    assert primary.backbone.num_features == width and isinstance(primary.backbone.head, TwoLayerHead)
    with torch.no_grad():
        prim, aux = primary(batch.x)
        log_t, w = label(batch.x, batch.y)
    assert prim.shape == (2, 10) and aux.shape == (2, 50) and log_t.shape == (2, 50)
    assert torch.allclose(log_t.exp().sum(1), torch.ones(2)) and ((w >= 2 ** -5) & (w <= 2 ** 5)).all()
    assert all(torch.isfinite(t).all() for t in (prim, aux, w))


def _tiny_run(**changes):
    base = dict(dataset="cifar10", train_per_class=4, test_per_class=2, model="resnet_ds", method="wamal",
                epochs=None, steps=3, batch_size=20, optimizer="sgd", lr=0.01, device="cpu")
    return RunConfig(**{**base, **changes})


@needs_cifar10
@pytest.mark.parametrize("model, method, options", [
    ("vgg16", "wamal", {}),                                            # the paper's setup, 3 steps
    ("resnet_ds", "maxl", {}),
    ("resnet50_tv", "wamal", {}),                                      # Table 1's fine-tuning net (random init here)
    ("resnet_ds", "wamal", {"second_order": False, "weight_norm": True, "primary_head": "linear"}),
])
def test_short_real_runs_finish_with_finite_metrics(model, method, options):
    """3 steps of 2 per epoch: the label pass runs once, between steps 2 and 3."""
    r = run(_tiny_run(model=model, method=method, method_options=options), cache=False, progress=False)
    assert r.status == "ok" and r.metrics["steps"] == 3
    assert {"main", "aux"} <= set(r.steps.columns)
    for k in ("final_train_loss", "final_test_acc", "final_test_loss"):
        assert math.isfinite(r.metrics[k])


@needs_cifar10
def test_label_pass_trains_the_label_net_only():
    cfg = _tiny_run(train_per_class=2, batch_size=10)
    ds = data_lib.load_dataset("cifar10")
    prep = prepare(cfg, ds, torch.device("cpu"))
    ctx = StepContext(cfg, prep.model, prep.heads, prep.loader, torch.device("cpu"),
                      ds.num_classes, len(prep.loader), total_steps=4, step=2)
    method = prep.method
    method.setup(ctx)
    assert isinstance(prep.model.head, TwoLayerHead)  # the paper's primary head replaced the linear one
    before_primary = {k: v.clone() for k, v in {**prep.model.state_dict(), **prep.heads.state_dict()}.items()}
    before_label = [p.detach().clone() for p in method.label_net.parameters()]
    method.after_epoch(ctx)
    after_primary = {**prep.model.state_dict(), **prep.heads.state_dict()}
    assert all(torch.equal(before_primary[k], v) for k, v in after_primary.items())  # incl. BN statistics
    assert any(not torch.equal(a, p) for a, p in zip(before_label, method.label_net.parameters()))
    assert len(method.history) == 1 and all(math.isfinite(v) for v in method.history[0].values())
    assert method.meta_optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)
    ctx.step = ctx.total_steps - 1  # after the last step (0-based) the pass is skipped
    method.after_epoch(ctx)
    assert len(method.history) == 1


def test_methods_are_registered_and_bad_options_name_the_allowed_range():
    assert {"wamal", "maxl", "human_aux", "plain"} <= set(list_methods())
    assert create_method("wamal").r == 5.0 and create_method("maxl").r is None
    for name, options, message in [
        ("wamal", {"psi": 0}, "psi must be an integer >= 1"),
        ("wamal", {"r": -1.0}, "r must be a number >= 0"),
        ("wamal", {"entropy": -0.1}, "entropy must be a number >= 0"),
        ("wamal", {"meta_lr": 0.0}, "meta_lr must be a number > 0"),
        ("wamal", {"meta_wd": -1e-4}, "meta_wd must be a number >= 0"),
        ("wamal", {"meta_step_size": 0}, "meta_step_size must be an integer >= 1"),
        ("wamal", {"primary_head": "mlp"}, "not one of: two_layer, linear"),
        ("wamal", {"label_model": "vgg17"}, "not one of: None, .*vgg16"),
        ("wamal", {"psi": 2.5}, "must be of type int"),
        ("maxl", {"r": 5.0}, "maxl has no weight head"),
        ("maxl", {"weight_norm": True}, "weight_norm needs the weight head"),
        ("maxl", {"aux_weight": 0.0}, "aux_weight must be a number > 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            create_method(name, **options)
    with pytest.raises(ValueError, match="psi must be an integer >= 1"):
        RunConfig(method="wamal", method_options={"psi": 0})


def test_human_aux_learns_the_second_label_set_with_focal_loss():
    from aux_core.loader import Batch
    from aux_core.methods.meta import primary_loss
    torch.manual_seed(0)
    model = create_model("resnet_ds", 20)
    method = create_method("human_aux")
    heads = method.build_heads(model, 20)
    assert heads["aux"].fc2.out_features == 100 and isinstance(model.head, TwoLayerHead)
    x, y, y_aux = torch.randn(4, 3, 32, 32), torch.tensor([0, 3, 19, 7]), torch.tensor([0, 15, 99, 35])
    logits, taps = model(x)
    ctx = type("Ctx", (), {"heads": heads})()
    terms = method.loss_terms(logits, taps, Batch(x, y, y_aux), ctx)
    features, _ = model.forward_features(x)
    hand = focal_loss(heads["aux"](features).log_softmax(1), nn.functional.one_hot(y_aux, 100).float()).mean()
    assert terms["aux"].item() == pytest.approx(hand.item(), rel=1e-5)
    assert terms["main"].item() == pytest.approx(primary_loss(logits, y).item(), rel=1e-6)
    with pytest.raises(RuntimeError, match="hook on model.head"):  # the feature is read once per forward
        method.loss_terms(logits, taps, Batch(x, y, y_aux), ctx)


@needs_cifar10
def test_human_aux_names_the_datasets_it_needs():
    with pytest.raises(ValueError, match="second label set .*cifar100-20"):
        run(_tiny_run(method="human_aux"), cache=False, progress=False)
    for options, message in [({"aux_labels": 1}, "aux_labels must be an integer >= 2"),
                             ({"alpha": -1.0}, "alpha must be a number >= 0"),
                             ({"gamma": -1.0}, "gamma must be a number >= 0")]:
        with pytest.raises(ValueError, match=message):
            create_method("human_aux", **options)


@needs_cifar10
def test_head_zeroing_and_per_tap_initialisations_are_refused():
    with pytest.raises(ValueError, match="supports init 'default' or 'he'"):
        run(_tiny_run(init="lion_dg"), cache=False, progress=False)


@needs_cifar10
def test_the_look_ahead_uses_the_rate_the_epoch_trained_with():
    # StepLR halving every epoch: epoch 1 trains at 0.01 and epoch 2 at 0.005; the label pass that
    # follows each epoch steps with that epoch's rate, not the next one's (the optimizer already holds it)
    r = run(_tiny_run(epochs=3, steps=None, schedule="step", step_size=1, gamma=0.5), cache=False, progress=False)
    passes = r.metrics["extras"]["label_passes"]
    assert [p["epoch"] for p in passes] == [1.0, 2.0]
    assert [p["lookahead_lr"] for p in passes] == pytest.approx([0.01, 0.005])


def test_a_methods_numerics_version_moves_only_its_own_keys(monkeypatch):
    from aux_core import records as R
    wamal, plain = _tiny_run().key_fields(), _tiny_run(method="single_task").key_fields()
    new = R.run_key(wamal, "d"), R.run_key(plain, "d")
    monkeypatch.setattr(R, "METHOD_NUMERICS", {})
    assert R.run_key(wamal, "d") != new[0] and R.run_key(plain, "d") == new[1]


@needs_cifar10
def test_wamal_result_keeps_label_passes_and_every_training_image_weight():
    r = run(_tiny_run(steps=5, method_options={"r": 3.0}), cache=False, progress=False)
    extras = r.metrics["extras"]
    passes = extras["label_passes"]
    assert [p["epoch"] for p in passes] == [1.0, 2.0]  # 2 steps an epoch, 5 steps: after steps 2 and 4
    for p in passes:
        assert p["seconds"] > 0 and p["label_grad_norm"] > 0 and p["weight_head_grad_norm"] > 0
    w = extras["weights"]
    assert len(w["weight"]) == len(w["unit"]) == len(w["y"]) == r.metrics["train_images"] == 40
    assert all(2 ** -3 <= v <= 2 ** 3 for v in w["weight"])
    assert all(abs(v - 2 ** (3 * (2 * u - 1))) < 1e-5 * max(1, v) for u, v in zip(w["unit"], w["weight"]))
    assert sorted(set(w["y"])) == list(range(10))
    maxl = run(_tiny_run(method="maxl"), cache=False, progress=False)
    assert "weights" not in maxl.metrics["extras"] and len(maxl.metrics["extras"]["label_passes"]) == 1


@needs_cifar10
def test_aux_set_runs_the_label_pass_on_the_held_out_split_only():
    with pytest.raises(ValueError, match="set RunConfig.val_fraction > 0"):
        run(_tiny_run(method_options={"aux_set": True}), cache=False, progress=False)
    cfg = _tiny_run(train_per_class=None, train_fraction=0.0004, val_fraction=0.1, test_per_class=2,
                    method_options={"aux_set": True})
    prep = prepare(cfg, data_lib.load_dataset("cifar10"), torch.device("cpu"))
    # the validation split (subset like the test set: 2 per class) is the label pass's data
    assert prep.held_out is not None and len(prep.held_out.x) == prep.sizes["val_images"] == 20
    seen = []
    prep.held_out.__class__ = type("Spy", (DeviceLoader,), {"__iter__": lambda self: (seen.append(1) or b for b in
                                                                                       DeviceLoader.__iter__(self))})
    ctx = StepContext(cfg, prep.model, prep.heads, prep.loader, torch.device("cpu"), 10,
                      len(prep.loader), total_steps=10, step=0, held_out=prep.held_out)
    prep.method.setup(ctx)
    prep.held_out.batch_size = 10
    before = prep.loader.gen.get_state()
    prep.method.after_epoch(ctx)
    assert len(seen) == 2 and torch.equal(before, prep.loader.gen.get_state())  # the primary loader was not read


def test_single_task_is_the_same_primary_network_without_an_auxiliary_head():
    torch.manual_seed(0)
    model = create_model("resnet_ds", 10)
    method = create_method("single_task")
    heads = method.build_heads(model, 10)
    assert len(heads) == 0 and isinstance(model.head, TwoLayerHead)
    from aux_core.loader import Batch
    from aux_core.methods.meta import primary_loss
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    logits, taps = model(x)
    terms = method.loss_terms(logits, taps, Batch(x, y, None), None)
    assert list(terms) == ["main"] and torch.allclose(terms["main"], primary_loss(logits, y, 2.0))
    assert "single_task" in list_methods()


@needs_cifar10
@pytest.mark.parametrize("name", [m for m in list_models() if m != "resnet1202"])
def test_wrappers_work_on_every_registered_backbone(name):
    """Section 4.1.2's generic wrapper: any registry backbone becomes a primary network or a
    label-weight network on its final feature (resnet1202, 19M parameters, has its own test in
    test_dks.py and is left out for time)."""
    torch.manual_seed(0)
    batch = _cifar_images()
    primary = PrimaryNet(create_model(name, 10), 10, psi=3)
    label = LabelWeightNet(create_model(name, 10), 10, psi=3, r=2.0)
    with torch.no_grad():
        prim, aux = primary(batch.x)
        log_t, w = label(batch.x, batch.y)
    assert prim.shape == (2, 10) and aux.shape == (2, 30) and log_t.shape == (2, 30)
    assert torch.allclose(log_t.exp().sum(1), torch.ones(2))
    assert ((w >= 2 ** -2) & (w <= 2 ** 2)).all() and all(torch.isfinite(t).all() for t in (prim, aux, w))


# ----------------------------------------------------------------------------- AuxiLearn

def _flat_grad(outputs, inputs, **kw):
    g = torch.autograd.grad(outputs, inputs, allow_unused=True, **kw)
    return torch.cat([(torch.zeros_like(i) if gi is None else gi).flatten() for i, gi in zip(inputs, g)])


@pytest.mark.parametrize("terms", [0, 3])
def test_implicit_hypergradient_equals_its_dense_formula(terms):
    """-J^T p + entropy ∇φ(sum p̄ log p̄), with the dense Hessian H of the training loss, the
    dense mixed Jacobian J = ∇φ∇θ L_train and p = η Σ_{j<=terms} (I - ηH)^j ∇θ L_val."""
    primary, label, _, _ = _tiny(r=None)
    gen = torch.Generator().manual_seed(5)
    x, xv = (torch.randn(8, 6, generator=gen, dtype=torch.float64) for _ in range(2))
    y, yv = torch.arange(8) % 3, (torch.arange(8) + 1) % 3
    step, ent_w = 0.05, 0.2
    out = implicit_meta_loss(primary, label, (x, y), (xv, yv), terms=terms, step=step, entropy=ent_w)
    label_gradients(out.objective, label)
    got = torch.cat([p.grad.flatten() for p in label.parameters()])
    assert all(p.grad is None for p in primary.parameters())

    theta, phi = list(primary.parameters()), list(label.parameters())
    log_t, w = label(x, y)
    g = _flat_grad(sum(training_terms(*primary(x), y, log_t, w)), theta, create_graph=True)
    H = torch.stack([_flat_grad(gi, theta, retain_graph=True) for gi in g])
    J = torch.stack([_flat_grad(gi, phi, retain_graph=True) for gi in g])          # (|θ|, |φ|)
    v = _flat_grad(primary_loss(primary(xv)[0], yv), theta)
    A = torch.eye(len(v), dtype=v.dtype) - step * H
    p = step * sum(torch.linalg.matrix_power(A, j) @ v for j in range(terms + 1))
    entropy = _flat_grad(ent_w * batch_entropy(label(x, y)[0]), phi)
    expected = -J.T @ p + entropy
    assert torch.allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert (got - entropy).norm() > 1e-3 * got.norm()  # the implicit term is not negligible here
    assert out.primary.item() == pytest.approx(primary_loss(primary(xv)[0], yv).item())


def test_implicit_hypergradient_leaves_batch_norm_statistics_and_parameters_alone():
    primary, label, x, y = _tiny(r=None)
    state = {k: v.clone() for k, v in primary.state_dict().items()}
    label_gradients(implicit_meta_loss(primary, label, (x, y), (x.flip(0), y.flip(0))).objective, label)
    assert all(torch.equal(state[k], v) for k, v in primary.state_dict().items())
    assert all(p.is_leaf and p.grad is None for p in primary.parameters())


def test_auxilearn_options_are_checked():
    a = create_method("auxilearn")
    assert a.r is None and a.aux_set and a.neumann_terms == 3 and a.neumann_step == 1e-3
    for options, message in [({"update_every": 0}, "update_every must be an integer >= 1"),
                             ({"neumann_terms": -1}, "neumann_terms must be an integer >= 0"),
                             ({"neumann_step": 0.0}, "neumann_step must be a number > 0"),
                             ({"clip_norm": -1.0}, "clip_norm must be a number > 0"),
                             ({"second_order": False}, "second_order does not apply"),
                             ({"r": 5.0}, "has no weight head")]:
        with pytest.raises(ValueError, match=message):
            create_method("auxilearn", **options)
    with pytest.raises(ValueError, match="terms .* must be an integer >= 0"):
        implicit_meta_loss(*_tiny(r=None)[:2], (None, None), (None, None), terms=-1)


@needs_cifar10
def test_auxilearn_steps_its_label_net_every_few_steps_on_the_auxiliary_set():
    with pytest.raises(ValueError, match="set RunConfig.val_fraction > 0"):
        run(_tiny_run(method="auxilearn"), cache=False, progress=False)
    # 5 steps an epoch (the auxiliary set comes from the images left over), 8 steps: label-net
    # steps after steps 2 and 4 (epoch 1) and 6 (the partial epoch 2), none after the last
    cfg = _tiny_run(method="auxilearn", steps=8, batch_size=10, train_per_class=5, val_fraction=0.2,
                    method_options={"update_every": 2})
    r = run(cfg, cache=False, progress=False)
    assert r.status == "ok" and r.metrics["steps"] == 8
    passes = r.metrics["extras"]["label_passes"]
    assert [p["updates"] for p in passes] == [2, 1] and "weights" not in r.metrics["extras"]
    assert all(math.isfinite(p["outer_primary_loss"]) and p["label_grad_norm"] > 0 for p in passes)
    without = run(cfg.replace(val_fraction=0.0, method_options={"update_every": 2, "aux_set": False}),
                  cache=False, progress=False)
    assert without.status == "ok" and [p["updates"] for p in without.metrics["extras"]["label_passes"]] == [2, 1]


def test_a_constant_auxiliary_weight_scales_maxls_auxiliary_term_in_both_passes():
    """MAXL's aux_weight c: the label net hands every sample weight c, so the primary pass's
    auxiliary term and the look-ahead's training loss are c times MAXL's (the scale control)."""
    primary, label, x, y = _tiny(r=None)
    log_t, w = label(x, y)
    assert w is None                                   # c = 1: MAXL exactly, no weights
    prim = primary(x)
    _, aux1 = training_terms(*prim, y, log_t, w)
    label.constant = 32.0
    log_t, w = label(x, y)
    assert torch.equal(w, torch.full((len(x),), 32.0, dtype=w.dtype))
    _, aux32 = training_terms(*prim, y, log_t, w)
    assert aux32.item() == pytest.approx(32 * aux1.item())
    out = meta_loss(primary, label, x, y, 0.5)
    assert torch.equal(out.weights, w)                 # the look-ahead trains with the same weights
    label.constant = 1.0
    assert meta_loss(primary, label, x, y, 0.5).primary.item() != pytest.approx(out.primary.item())


@needs_cifar10
def test_wamal_at_r_0_is_maxl_bit_for_bit():
    """r = 0 bounds every weight to [2^0, 2^0]: WAMAL is then MAXL, and the two compute the same
    numbers, which is why Table 13's r = 0 row reuses MAXL's runs (wamal.range_grid). If this
    fails, the r = 0 cells must train WAMAL again."""
    steps = dict(steps=5)   # 2 steps an epoch: two label passes, the weights and labels at work
    maxl = run(_tiny_run(method="maxl", **steps), cache=False, progress=False)
    r0 = run(_tiny_run(method="wamal", method_options={"r": 0.0}, **steps), cache=False, progress=False)
    assert maxl.steps["loss"].tolist() == r0.steps["loss"].tolist()
    assert maxl.metrics["final_test_loss"] == r0.metrics["final_test_loss"]
    r5 = run(_tiny_run(method="wamal", **steps), cache=False, progress=False)
    assert r5.steps["loss"].tolist() != maxl.steps["loss"].tolist()   # the check can fail: r = 5 differs
