"""Multi-seed (vmap) training equals S separate runs, seed by seed, on real CIFAR-10.

Tolerances: in float64 every logged number (per-step losses and batch accuracies, history,
gradient diagnostics) agrees to 1e-9 relative; the batched kernels (grouped convolution,
bmm) only sum in another order. In float32 the same rounding differences are ~1e-7 per
operation and grow over steps, so we compare short runs' losses to 1e-3.
"""
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from aux_core import methods
from aux_core.cache import ResultsCache
from aux_core.data import load_dataset
from aux_core.methods import Method
from aux_core.multiseed import train_group
from aux_core.config import RunConfig
from aux_core.runner import engine_batches, run_all

from conftest import needs_cifar10

pytestmark = needs_cifar10

BASE = dict(dataset="cifar10", train_per_class=10, test_per_class=4, batch_size=16, steps=4, epochs=None,
            eval_every=2, optimizer="sgd", lr=0.05, weight_decay=5e-4, grad_clip=1.0)


def configs(seeds=(1, 2), **changes) -> list[RunConfig]:
    return [RunConfig(**{**BASE, **changes, "seed": s}) for s in seeds]


@contextmanager
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def logged(r) -> dict[str, np.ndarray]:
    return {"steps": r.steps.drop(columns="lr").to_numpy(), "history": r.history.to_numpy(),
            "diagnostics": r.diagnostics.to_numpy()}


def assert_same_run(a, b, rtol, atol=1e-12):
    assert a.status == b.status and a.metrics["steps"] == b.metrics["steps"]
    assert list(a.steps.columns) == list(b.steps.columns) and list(a.history.columns) == list(b.history.columns)
    for name, x in logged(a).items():
        np.testing.assert_allclose(logged(b)[name], x, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("model,method", [("resnet_ds", "ds"), ("resnet_ds", "plain"), ("mlp6", "ds"),
                                          ("resnet_ds_onpath", "ds"), ("vit6", "ds")])
def test_vmap_equals_sequential_runs_in_float64(model, method):
    """Batch norm (running statistics per seed), side and on-path heads, attention (unfused under
    vmap), gradient diagnostics, per-seed gradient clipping, SGD with momentum and weight decay."""
    with float64():  # batches of 8: float64 on 2 CPU cores is slow, and 4 steps test the same paths
        cfgs = configs(model=model, method=method, grad_diag_every=2, batch_size=8)
        loop = run_all(cfgs, cache=False, progress=False, engine="loop")
        vmap = run_all(cfgs, cache=False, progress=False, engine="vmap")
    assert [r.metrics["engine"] for r in vmap] == ["vmap", "vmap"] and vmap[0].metrics["group_size"] == 2
    assert [r.metrics["engine"] for r in loop] == ["loop", "loop"]
    for a, b in zip(loop, vmap):
        assert_same_run(a, b, rtol=1e-9)
        assert a.metrics["final_test_acc"] == b.metrics["final_test_acc"]
    if method == "ds":
        assert len(vmap[0].diagnostics) == 2 and vmap[0].diagnostics["cosine"].between(-1, 1).all()
    assert not np.allclose(logged(vmap[0])["steps"], logged(vmap[1])["steps"])  # two seeds, two runs


def test_vmap_with_adamw_and_float32_stays_close():
    cfgs = configs(model="densenet_ds", method="ds", optimizer="adamw", lr=1e-3, grad_clip=None, steps=4)
    loop = run_all(cfgs, cache=False, progress=False, engine="loop")
    vmap = run_all(cfgs, cache=False, progress=False, engine="vmap")
    for a, b in zip(loop, vmap):
        np.testing.assert_allclose(b.steps["loss"], a.steps["loss"], rtol=1e-3)


def test_a_seed_does_not_depend_on_its_group():
    with float64():
        ab = run_all(configs(seeds=(1, 2), model="resnet_ds", method="ds"), cache=False, progress=False, engine="vmap")
        ac = run_all(configs(seeds=(1, 3, 4), model="resnet_ds", method="ds"), cache=False, progress=False,
                     engine="vmap")
    assert ac[0].metrics["group_size"] == 3
    assert_same_run(ab[0], ac[0], rtol=1e-9)


def test_groups_store_one_record_per_seed_under_the_single_run_keys(tmp_path):
    cache = ResultsCache(tmp_path)
    cfgs = configs(seeds=(1, 2, 3), model="mlp6", method="ds")
    first = run_all(cfgs, cache=cache, progress=False, engine="vmap")
    assert len(cache.keys()) == 3 and all(not r.cached for r in first)
    again = run_all(cfgs, cache=cache, progress=False, engine="loop")
    assert all(r.cached for r in again) and [r.key for r in again] == [r.key for r in first]
    assert [r.metrics["final_test_acc"] for r in again] == [r.metrics["final_test_acc"] for r in first]


def test_max_group_splits_and_singletons_use_the_loop():
    cfgs = configs(seeds=(1, 2, 3, 4, 5), model="mlp6", method="ds") + configs(seeds=(1,), model="mlp6", lr=0.1)
    sizes = sorted(len(g) for g in engine_batches(cfgs, "vmap", max_group=2))
    assert sizes == [1, 1, 2, 2]
    assert all(len(g) == 1 for g in engine_batches(cfgs, "loop", max_group=16))
    # on a CPU-only machine "auto" is the loop (grouped convolutions are slower per image there)
    if not torch.cuda.is_available():
        assert all(len(g) == 1 for g in engine_batches(cfgs, "auto", max_group=16))


def test_a_group_that_diverges_is_recorded_not_raised():
    results = run_all(configs(model="mlp6", method="ds", lr=1e6, grad_clip=None, steps=60, eval_every=0, batch_size=32),
                      cache=False, progress=False, engine="vmap")
    for r in results:
        assert r.status == "diverged" and r.metrics["diverged_at_step"] is not None
        assert np.isnan(r.metrics["final_test_acc"])


def test_methods_with_hooks_train_one_seed_at_a_time():
    @dataclass
    class Stateful(Method):
        name = "test_stateful"

        def after_step(self, ctx):
            pass

    methods.register(Stateful)
    try:
        cfgs = configs(model="mlp6", method="test_stateful")
        assert all(len(g) == 1 for g in engine_batches(cfgs, "vmap", max_group=16))
        with pytest.raises(ValueError, match="cannot be vectorised"):
            train_group(cfgs, load_dataset("cifar10"), progress=False)
    finally:
        methods._REGISTRY.pop("test_stateful")


def test_dropout_models_train_under_vmap_with_independent_masks():
    results = run_all(configs(model="cnn6", method="ds", steps=2, eval_every=0), cache=False, progress=False,
                      engine="vmap")
    assert all(r.status == "ok" for r in results)
    assert results[0].steps["loss"].iloc[-1] != results[1].steps["loss"].iloc[-1]


def test_bad_engine_and_groups_fail_clearly():
    with pytest.raises(ValueError, match="auto, loop, vmap"):
        run_all(configs(model="mlp6"), engine="gpu")
    with pytest.raises(ValueError, match="max_group"):
        run_all(configs(model="mlp6"), max_group=0)
    with pytest.raises(ValueError, match="differ only in seed"):
        train_group(configs(model="mlp6") + configs(model="mlp6", lr=0.1, seeds=(3,)), load_dataset("cifar10"))
    with pytest.raises(ValueError, match="distinct"):
        train_group(configs(seeds=(1, 1), model="mlp6"), load_dataset("cifar10"))
