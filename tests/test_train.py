"""The training loop on real CIFAR-10: short runs, determinism, divergence, cache, diagnostics."""
import math

import numpy as np
import pytest

from aux_core.cache import ResultsCache
from aux_core.config import RunConfig
from aux_core.evaluation import steps_to_threshold
from aux_core.runner import run
from aux_core.build import lr_multiplier

from conftest import needs_cifar10

pytestmark = needs_cifar10

TINY = dict(dataset="cifar10", model="mlp6", train_per_class=32, test_per_class=10, batch_size=32,
            epochs=2, lr=1e-3)


def tiny(**changes) -> RunConfig:
    return RunConfig(**{**TINY, **changes})


def test_short_real_run_learns_and_records_everything():
    r = run(tiny(method="ds", epochs=4, grad_diag_every=5, convergence_threshold=0.15), cache=False, progress=False)
    assert r.status == "ok"
    m = r.metrics
    assert m["train_images"] == 320 and m["test_images"] == 100 and m["steps"] == 40
    assert 0.1 < m["final_test_acc"] <= 1  # above chance on 10 classes after 4 epochs
    assert list(r.history["step"]) == [10, 20, 30, 40]
    assert r.history["train_loss"].iloc[-1] < r.history["train_loss"].iloc[0]
    assert {"main", "aux:relu1", "aux:relu4", "batch_acc", "lr"} <= set(r.steps.columns)
    np.testing.assert_allclose(r.steps["loss"], r.steps.filter(regex="^(main|aux:)").sum(axis=1), rtol=1e-5)
    assert list(r.diagnostics["step"]) == [0, 5, 10, 15, 20, 25, 30, 35]
    assert r.diagnostics["cosine"].between(-1, 1).all() and (r.diagnostics["norm_ratio"] > 0).all()
    assert not math.isnan(m["steps_to_threshold"])
    assert m["engine"] == "loop" and m["group_size"] == 1 and m["first_step_s"] > 0
    # throughput is the steady state: the first (warm-up) step is timed apart
    assert m["images_per_s"] == pytest.approx((m["steps"] - 1) * 32 / m["train_time_s"])
    for k in ("code_version", "git_commit", "device", "torch", "data_checksum"):
        assert r.provenance[k]
    assert r.provenance["data_checksum"].startswith("270eeb67")


def test_same_config_same_numbers_other_seed_other_numbers():
    a = run(tiny(model="densenet_ds", method="ds", epochs=1), cache=False, progress=False)
    b = run(tiny(model="densenet_ds", method="ds", epochs=1), cache=False, progress=False)
    c = run(tiny(model="densenet_ds", method="ds", epochs=1, seed=1), cache=False, progress=False)
    assert a.steps["loss"].tolist() == b.steps["loss"].tolist()
    assert a.metrics["final_test_acc"] == b.metrics["final_test_acc"]
    assert a.steps["loss"].tolist() != c.steps["loss"].tolist()


def test_divergence_is_recorded_not_raised():
    r = run(tiny(optimizer="sgd", lr=1e6, epochs=8), cache=False, progress=False)
    assert r.status == "diverged"
    assert 0 <= r.metrics["diverged_at_step"] < 80
    assert r.metrics["steps"] < 80 or r.metrics["diverged_at_step"] is not None
    assert math.isnan(r.metrics["final_test_acc"])


def test_cache_hit_miss_and_recompute(tmp_path):
    cache = ResultsCache(tmp_path)
    first = run(tiny(epochs=1), cache=cache, progress=False)
    again = run(tiny(epochs=1), cache=cache, progress=False)
    assert not first.cached and again.cached and again.key == first.key
    assert again.metrics == first.metrics
    assert again.steps.equals(first.steps) and again.history.equals(first.history)
    other = run(tiny(epochs=1, lr=2e-3), cache=cache, progress=False)
    assert not other.cached and other.key != first.key
    moved = run(tiny(epochs=1, device="cpu"), cache=cache, progress=False)
    assert moved.cached  # placement is not part of what a run means
    assert len(cache.keys()) == 2


def test_lion_dg_zero_heads_send_no_gradient_at_step_zero():
    """LION-DG Proposition 1: zero auxiliary heads give exactly zero backbone gradient."""
    r = run(tiny(method="ds", init="lion_dg", epochs=1, grad_diag_every=1), cache=False, progress=False)
    d = r.diagnostics.set_index("step")
    assert d.loc[0, "aux_grad_norm"] == 0.0
    assert d["aux_grad_norm"].iloc[-1] > 0  # ... and then they awaken


def test_steps_to_threshold_definition():
    acc = np.array([0.0, 1.0, 0.0, 0.8, 0.8, 0.8, 0.8])
    assert steps_to_threshold(acc, 0.7, window=1) == 2       # the first single step
    assert steps_to_threshold(acc, 0.7, window=3) == 6       # trailing mean of steps 4..6
    assert math.isnan(steps_to_threshold(acc, 0.9, window=3))
    assert math.isnan(steps_to_threshold(acc[:2], 0.1, window=3))


def test_schedules_in_epochs():
    cfg = tiny(optimizer="sgd", lr=0.1, schedule="multistep", milestones=(2, 4), gamma=0.2)
    f = lr_multiplier(cfg, steps_per_epoch=10, total_steps=60)
    assert [f(s) for s in (0, 19, 20, 39, 40)] == pytest.approx([1, 1, 0.2, 0.2, 0.04])
    f = lr_multiplier(tiny(schedule="cosine"), 10, 100)
    assert f(0) == 1 and f(50) == pytest.approx(0.5) and f(100) == pytest.approx(0)
    f = lr_multiplier(tiny(warmup_epochs=1), 10, 100)
    assert f(0) == pytest.approx(0.1) and f(9) == 1
    f = lr_multiplier(tiny(warmup_epochs=0.15), 10, 100)    # 1.5 steps: never above the rate
    assert [f(s) for s in (0, 1, 2)] == pytest.approx([2 / 3, 1, 1])


@pytest.mark.parametrize("changes, message", [
    (dict(model="resnet9000"), "model=.*mlp6"),
    (dict(method="dks2"), "method=.*ds"),
    (dict(method="ds", method_options={"alpha": -1.0}), "alpha must be >= 0"),
    (dict(method="ds", method_options={"alpha": "big"}), "must be of type float"),
    (dict(method="ds", method_options={"beta": 1.0}), "allowed"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(epochs=2, steps=10), "exactly one of epochs or steps"),
    (dict(label_noise=1.0), r"label_noise must be in \[0, 1\)"),
    (dict(lr=-1.0), "lr must be"),
    (dict(optimizer="adam"), "adamw, sgd"),
    (dict(dataset="imagenet"), "cifar10"),
    (dict(model_options={"width": 3}), "no option"),
    (dict(method="ds", method_options={"taps": ("relu9",)}), r"unknown tap.*relu1"),
])
def test_bad_parameters_fail_at_once_with_the_allowed_values(changes, message):
    with pytest.raises(ValueError, match=message):
        tiny(**changes)


def test_batch_larger_than_the_data_is_a_clear_error():
    with pytest.raises(ValueError, match="fewer than one batch"):
        run(tiny(train_per_class=2, batch_size=64), cache=False, progress=False)


def test_explicit_diagnostic_steps():
    r = run(tiny(method="ds", epochs=1, grad_diag_every=4, grad_diag_steps=(1, 9, 500)), cache=False, progress=False)
    assert list(r.diagnostics["step"]) == [0, 1, 4, 8, 9]


def test_a_method_plugs_in_heads_terms_and_hooks():
    """A method defined outside aux_core: its own head, loss term and per-step/epoch hooks."""
    from dataclasses import dataclass

    from torch import nn

    from aux_core import methods
    from aux_core.methods import Method

    calls = {"setup": 0, "step": 0, "epoch": 0}

    @dataclass
    class Probe(Method):
        name = "test_probe"
        weight: float = 0.5

        def build_heads(self, model, num_classes):
            return nn.ModuleDict({"relu2": nn.Linear(128, num_classes)})

        def setup(self, ctx):
            calls["setup"] += 1
            assert ctx.total_steps == 20 and ctx.steps_per_epoch == 10

        def loss_terms(self, logits, taps, batch, ctx):
            aux = nn.functional.cross_entropy(ctx.heads["relu2"](taps["relu2"]), batch.y)
            return {"main": nn.functional.cross_entropy(logits, batch.y), "probe": self.weight * aux}

        def after_step(self, ctx):
            calls["step"] += 1

        def after_epoch(self, ctx):
            calls["epoch"] += 1

    methods.register(Probe)
    try:
        r = run(tiny(method="test_probe", method_options={"weight": 2.0}), cache=False, progress=False)
    finally:
        methods._REGISTRY.pop("test_probe")
    assert calls == {"setup": 1, "step": 20, "epoch": 2}
    assert "train_probe" in r.history and (r.steps["probe"] > 0).all()
