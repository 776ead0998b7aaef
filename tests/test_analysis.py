"""Loss landscapes and attention metrics (paper 1's mechanistic analyses) on known inputs."""
import numpy as np
import pytest
import torch

from aux_core.analysis import attention as att
from aux_core.analysis import landscape as land
from aux_core.loader import Batch


def small_batch(n=16, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, classes, (n,), generator=g))


# ----------------------------------------------------------------------------- landscape

def setup_for(n_branches, loss="main", seed=0, batch=None):
    s = land.build("mlp6", 10, n_branches, alpha=1.0, seed=seed)
    f = land.loss_fn(s, batch or small_batch(), loss)
    s.active = land.find_active(s, f)
    return s, f


def test_active_parameters_are_what_the_loss_reads():
    s, _ = setup_for(5, loss="main")
    assert not any(n.startswith("heads.") for n in s.active)          # the main loss reads no branch
    s, _ = setup_for(5, loss="total")
    heads = [n for n in s.active if n.startswith("heads.")]
    assert heads == [f"heads.relu{i}.branches.4" for i in range(1, 5)]  # only the last branch of each tap


def test_paper_directions_have_unit_norm_over_all_parameters_so_branches_dilute_them():
    s0, _ = setup_for(0)
    s300, _ = setup_for(300)
    d0, d300 = land.direction(s0, "paper", 1), land.direction(s300, "paper", 1)
    assert float(torch.sqrt(sum((v.double() ** 2).sum() for v in d0.values()))) == pytest.approx(1.0, rel=1e-6)
    ratio = d300["model.layers.0.weight"].norm() / d0["model.layers.0.weight"].norm()  # same draw, rescaled
    torch.testing.assert_close(d300["model.layers.0.weight"] / ratio, d0["model.layers.0.weight"])
    expected = np.sqrt(sum(p.numel() for p in s0.named.values()) / sum(p.numel() for p in s300.named.values()))
    assert float(ratio) == pytest.approx(expected, rel=0.01)            # sqrt(P_plain / P_all): about 0.37


def test_filter_directions_match_each_filters_norm_and_skip_biases_and_inactive_branches():
    s, _ = setup_for(3, loss="total")
    d = land.direction(s, "filter", 1)
    w = s.named["model.layers.1.weight"]
    torch.testing.assert_close(d["model.layers.1.weight"].norm(dim=1), w.detach().norm(dim=1))
    assert "model.layers.1.bias" not in d
    assert "heads.relu1.branches.2" in d and "heads.relu1.branches.0" not in d


def test_moving_inactive_branches_changes_no_loss_value():
    """Why the surface moves only active parameters: the full paper direction gives the same loss."""
    s, f = setup_for(6, loss="total")
    full = land.direction(land.Setup(s.model, s.heads, s.method, s.named, list(s.named)), "paper", 3)
    active = {n: full[n] for n in s.active}
    with torch.no_grad():
        origin = {n: p.detach().clone() for n, p in s.named.items()}
        for n, p in s.named.items():
            p.add_(0.5 * full[n])
        moved_all = float(f())
        for n, p in s.named.items():
            p.copy_(origin[n] + 0.5 * active.get(n, torch.zeros_like(p)))
        moved_active = float(f())
    assert moved_all == moved_active


def test_surface_centre_is_the_initial_loss_and_parameters_are_restored():
    s, f = setup_for(2)
    before = {n: p.detach().clone() for n, p in s.named.items()}
    d1, d2 = land.direction(s, "filter", 1), land.direction(s, "filter", 2)
    z = land.surface_pointwise(s, f, d1, d2, grid=5, span=0.5)
    assert z.shape == (5, 5) and z[2, 2] == pytest.approx(float(f().detach()), rel=1e-6)
    assert all(torch.equal(before[n], p) for n, p in s.named.items())
    r = land.roughness(z)
    assert r["range_loss"] >= r["std_loss"] > 0 and r["mean_grad"] > 0


@pytest.mark.parametrize("model,n_branches,loss", [("mlp6", 0, "main"), ("mlp6", 3, "total"), ("cnn6", 2, "total"),
                                                   ("vit6", 1, "main")])
def test_a_batched_landscape_equals_the_point_by_point_one(model, n_branches, loss):
    s = land.build(model, 10, n_branches, alpha=1.0, seed=3)
    batch = small_batch(8)
    f = land.loss_fn(s, batch, loss)
    s.active = land.find_active(s, f)
    d1, d2 = land.direction(s, "filter", 1), land.direction(s, "filter", 2)
    before = {n: p.detach().clone() for n, p in s.named.items()}
    pointwise = land.surface_pointwise(s, f, d1, d2, grid=4, span=0.5)
    batched = land.surface(s, batch, d1, d2, grid=4, span=0.5, loss=loss, points_per_pass=3)   # uneven last pass
    np.testing.assert_allclose(batched, pointwise, rtol=1e-5)
    assert all(torch.equal(before[n], p) for n, p in s.named.items())


def test_main_loss_landscape_under_filter_directions_ignores_branches():
    batch = small_batch()
    plain = land.compute("mlp6", 10, 0, batch, kind="filter", grid=3, seed=4)
    many = land.compute("mlp6", 10, 50, batch, kind="filter", grid=3, seed=4)
    assert plain["surface"] == many["surface"] and many["params"] > plain["params"] == many["active_params"]
    paper_plain = land.compute("mlp6", 10, 0, batch, kind="paper", grid=3, seed=4)
    paper_many = land.compute("mlp6", 10, 50, batch, kind="paper", grid=3, seed=4)
    assert paper_many["std_loss"] < paper_plain["std_loss"]             # the dilution the paper reads as smoothing


def test_landscape_rejects_unknown_kinds_and_losses():
    s, _ = setup_for(0)
    with pytest.raises(ValueError, match="paper, filter"):
        land.direction(s, "random", 0)
    with pytest.raises(ValueError, match="main, total"):
        land.compute("mlp6", 10, 0, small_batch(), kind="paper", grid=3, loss="bce")


# ----------------------------------------------------------------------------- attention

def test_metrics_of_uniform_and_one_hot_maps():
    uniform = np.full((1, 64), 1 / 64)
    one_hot = np.zeros((1, 64))
    one_hot[0, 5] = 1.0
    assert att.peak(uniform)[0] == pytest.approx(1 / 64) and att.peak(one_hot)[0] == 1.0
    assert (att.entropy(uniform)[0] == pytest.approx(np.log(64))
            and att.entropy(one_hot)[0] == pytest.approx(0, abs=1e-9))
    assert att.gini(uniform)[0] == pytest.approx(0, abs=1e-12) and att.gini(one_hot)[0] == pytest.approx(63 / 64)


def test_attended_region_is_the_smallest_set_holding_the_mass():
    m = np.array([[0.5, 0.3, 0.15, 0.05]])
    assert att.attended_region(m, 0.8).tolist() == [[True, True, False, False]]
    assert att.attended_region(m, 0.81).tolist() == [[True, True, True, False]]
    sal = np.array([[0.1, 0.1, 0.2, 0.6]])
    assert att.coverage(m, sal, 0.8)[0] == pytest.approx(0.2)
    assert att.coverage(np.full((1, 4), 0.25), sal, 0.9)[0] == pytest.approx(1.0)   # diffuse attention covers all


def test_saliency_is_a_distribution_over_patches_and_finds_a_bright_square():
    raw = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    raw[:, :, 20:28, 4:12] = 255
    s = att.patch_saliency(raw, 8)
    assert s.shape == (1, 64) and s.sum() == pytest.approx(1.0)
    top = int(s[0].argmax())
    assert 4 <= top // 8 <= 7 and 0 <= top % 8 <= 3            # the square's patches (rows 5-6, columns 1-2)


def test_cls_attention_rows_sum_to_one_and_restore_the_model():
    from aux_core.models import create_model
    torch.manual_seed(0)
    vit = create_model("vit6", 10).train()
    maps = att.cls_attention(vit, torch.randn(3, 3, 32, 32))
    assert maps.shape == (6, 3, 64) and torch.allclose(maps.sum(-1), torch.ones(6, 3))
    assert vit.training and all(not b.attn._forward_pre_hooks for b in vit.blocks)   # the hooks are removed
    assert att.map_blocks(6) == (1, 3, 6)
