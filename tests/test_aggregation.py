"""The conflict-resolving backward: TorchJD's aggregators on constructed gradient pairs, applied to
the shared weights only, and a real run with each of them."""
import numpy as np
import pytest
import torch

from aux_core.config import RunConfig
from aux_core.methods import create_method
from aux_core.methods.aggregation import AGGREGATORS, aggregated_backward, make_aggregator
from aux_core.multiseed import can_group
from aux_core.runner import run

from conftest import needs_cifar10


def _pair(g_main, g_aux, aggregator):
    """Losses linear in a shared vector w (gradients g_main, g_aux) plus a head weight h that only
    the auxiliary loss reads; returns (w.grad, h.grad) after the aggregated backward."""
    w = torch.zeros(2, requires_grad=True)
    h = torch.tensor(3.0, requires_grad=True)
    main = torch.dot(torch.tensor(g_main, dtype=torch.float32), w)
    aux = torch.dot(torch.tensor(g_aux, dtype=torch.float32), w) + 2.0 * h
    aggregated_backward({"main": main, "aux:t": aux}, [w], [h], make_aggregator(aggregator))
    return w.grad.numpy(), float(h.grad)


def test_pcgrad_removes_the_conflicting_components_and_keeps_agreeing_ones():
    g, head = _pair([1.0, 0.0], [-1.0, 1.0], "pcgrad")
    # g1 - (g1.g2 / |g2|^2) g2 = [0.5, 0.5]; g2 - (g2.g1 / |g1|^2) g1 = [0, 1]; their sum
    np.testing.assert_allclose(g, [0.5, 1.5], atol=1e-6)
    assert head == pytest.approx(2.0)   # a head's gradient is its ordinary one
    agree, _ = _pair([1.0, 0.0], [1.0, 1.0], "pcgrad")
    np.testing.assert_allclose(agree, [2.0, 1.0], atol=1e-6)   # no conflict: the plain sum


def test_mgda_is_the_minimum_norm_convex_combination_and_upgrad_conflicts_with_neither():
    g1, g2 = np.array([1.0, 0.0]), np.array([-1.0, 1.0])
    g, _ = _pair(g1.tolist(), g2.tolist(), "mgda")
    # |a g1 + (1 - a) g2|^2 is least at a = 0.6: [0.2, 0.4]
    np.testing.assert_allclose(g, [0.2, 0.4], atol=1e-4)
    u, _ = _pair(g1.tolist(), g2.tolist(), "upgrad")
    assert u @ g1 >= -1e-6 and u @ g2 >= -1e-6 and np.linalg.norm(u) > 0


def test_bad_aggregator_and_a_backward_without_auxiliary_terms_are_refused():
    with pytest.raises(ValueError, match="aggregator must be one of sum, pcgrad, upgrad, mgda"):
        create_method("ds", aggregator="cagrad")
    with pytest.raises(ValueError, match="needs auxiliary loss terms"):
        w = torch.zeros(1, requires_grad=True)
        aggregated_backward({"main": w.sum()}, [w], [], make_aggregator("pcgrad"))
    assert set(AGGREGATORS) == {"sum", "pcgrad", "upgrad", "mgda"}


@needs_cifar10
@pytest.mark.parametrize("method", ["ds", "asymmetric"])
def test_a_real_run_with_each_aggregator_trains_one_seed_at_a_time(method):
    base = dict(dataset="cifar10", model="mlp6", method=method, train_per_class=16, test_per_class=10,
                batch_size=32, epochs=1, lr=1e-3, grad_diag_every=1)
    plain = run(RunConfig(**base), cache=False, progress=False)
    for name in ("pcgrad", "upgrad", "mgda"):
        cfg = RunConfig(**{**base, "method_options": {"aggregator": name}})
        assert not can_group(cfg)
        r = run(cfg, cache=False, progress=False)
        assert r.status == "ok" and r.metrics["engine"] == "loop"
        # the forward pass is the same, the update is not: the first step's loss agrees, later ones differ
        assert r.steps["loss"].iloc[0] == pytest.approx(plain.steps["loss"].iloc[0])
        assert r.steps["loss"].iloc[-1] != plain.steps["loss"].iloc[-1]
