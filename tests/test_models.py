"""Models: registry, shapes, taps, parameter counts against the papers."""
import pytest
import torch

from aux_core.models import create_model, list_models, model_options, num_params, tap_shapes

PAPER_MODELS = ["mlp6", "cnn6", "vit6", "densenet_ds", "resnet_ds"]


def test_registry_lists_the_paper_models():
    assert set(PAPER_MODELS) <= set(list_models())


@pytest.mark.parametrize("name", PAPER_MODELS)
@pytest.mark.parametrize("num_classes", [10, 100])
def test_forward_returns_logits_and_every_tap(name, num_classes):
    torch.manual_seed(0)
    model = create_model(name, num_classes)
    logits, taps = model(torch.randn(3, 3, 32, 32))
    assert logits.shape == (3, num_classes)
    assert tuple(taps) == model.tap_names and len(model.tap_names) >= 2
    assert all(t.shape[0] == 3 for t in taps.values())


@pytest.mark.parametrize("name, num_classes, expected, rel", [
    ("mlp6", 10, 0.28e6, 0.02),       # asymmetric paper Table 5 (CIFAR-10)
    ("cnn6", 100, 2.43e6, 0.01),      # asymmetric paper Table 6 (CIFAR-100)
    ("vit6", 100, 1.22e6, 0.01),      # asymmetric paper Table 6 (CIFAR-100)
    ("densenet_ds", 10, 77e3, 0.05),  # LION-DG Table 3 "about 77K"
])
def test_parameter_counts_match_the_papers(name, num_classes, expected, rel):
    assert num_params(create_model(name, num_classes)) == pytest.approx(expected, rel=rel)


def test_asymmetric_branch_counts_imply_our_tap_widths():
    """Bias-free C-way branches on every tap reproduce the paper's Table 6 totals."""
    for name, branches, expected in [("cnn6", 20, 4.09e6), ("vit6", 20, 2.75e6), ("cnn6", 300, 27.4e6)]:
        model = create_model(name, 100)
        widths = [s[0] if len(s) == 3 else s[-1] for s in tap_shapes(model).values()]
        total = num_params(model) + branches * 100 * sum(widths)
        assert total == pytest.approx(expected, rel=0.01)


def test_densenet_tables_channels_and_transitions():
    model = create_model("densenet_ds", 10)
    shapes = tap_shapes(model)
    assert shapes["block1"] == (72, 32, 32) and shapes["block2"] == (84, 16, 16)
    assert num_params(model.stem) == 648                      # Table 3: initial conv
    assert num_params(model.transitions[0].conv) == 2628       # Table 3: transition 1
    assert num_params(model.transitions[1].conv) == 3570       # Table 3: transition 2


def test_side_taps_do_not_change_the_forward_pass():
    torch.manual_seed(0)
    model = create_model("resnet_ds", 10).eval()
    x = torch.randn(2, 3, 32, 32)
    logits, taps = model(x)
    assert torch.equal(model.head(model.forward_features(x)[0]), logits)
    assert set(taps) == {"stage1", "stage2"}


def test_backbone_parameters_exclude_the_final_classifier():
    model = create_model("mlp6", 10)
    shared = model.backbone_parameters()
    assert all(p is not model.head.weight for p in shared)
    assert sum(p.numel() for p in shared) == num_params(model) - num_params(model.head)


def test_unknown_model_and_option_name_the_allowed_ones():
    with pytest.raises(ValueError, match="available: .*mlp6"):
        create_model("resnet9000", 10)
    with pytest.raises(ValueError, match="allowed"):
        create_model("vit6", 10, width=3)
    with pytest.raises(ValueError, match="num_classes"):
        create_model("mlp6", 1)
    assert "depth" in model_options("vit6")


@pytest.mark.parametrize("name, features, expected", [
    ("vgg16", 512, 14.73e6),     # VGG-16-BN for CIFAR with a 10-way linear head
    ("resnet18", 512, 11.17e6),  # the usual CIFAR ResNet-18 (3x3 stem, no max-pool)
    ("resnet50", 2048, 23.52e6), # the usual CIFAR ResNet-50
])
def test_wamal_backbones_have_their_standard_sizes(name, features, expected):
    with torch.device("meta"):  # structure only: no weights are allocated
        model = create_model(name, 10)
    assert model.num_features == features and model.head.in_features == features
    assert num_params(model) == pytest.approx(expected, rel=0.005)
    assert len(model.tap_names) >= 1
