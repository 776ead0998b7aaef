"""Auxiliary classifiers built from a backbone's own blocks (DKS supplement, Section 2.1).

`build_branches(model, design, num_classes)` returns one classifier per tap (a module
mapping the tap's feature map to logits); `branch_plan(model, design)` says what each is
made of. Designs:

  linear      global average pooling + one linear layer (LION-DG's DS heads)
  dks         the supplement's Tables 2-5: the backbone's own blocks, with as many
              down-sampling stages after the tap as the backbone has, so that every
              classifier sees the same number of down-samplings
  narrow      `dks` at half the width (Table 6)
  shallow     `dks` with half the blocks, at least one per stage (Table 6; the supplement's
              block counts for this design are not legible, half is the notes' reading)
  ap2fc       4x4 average pooling, two fully connected layers (Figure 3)
  ap1conv2fc  4x4 average pooling, one 3x3 convolution, two fully connected layers (Figure 3)
  wide_shallow  stride-1 3x3 convolutions of 512 | 256, 512 | 128, 256, 512 filters on the
              last, second-last and third-last tap (ResNet-1202, supplement Table 1)

Figure 3 gives the widths of the AP designs only in a drawing that the text lost; we use
`AP_CONV` channels for the convolution and `AP_HIDDEN` units for the hidden layer.

Classifier names follow the paper: the backbone's own classifier is C1, the branch on the
last tap C2, the one before it C3 (and C4 for ResNet-1202).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..models.base import TapModel, kaiming_convs, tap_shapes
from ..models.densenet import DenseNetDS
from ..models.mobilenet import MobileNet
from ..models.resnet import CifarResNet
from ..models.wrn import WideResNet
from .base import TapHead

DESIGNS = ("linear", "dks", "narrow", "shallow", "ap2fc", "ap1conv2fc", "wide_shallow")
BLOCK_DESIGNS = ("dks", "narrow", "shallow")  # built from the backbone's own blocks
AP_SIZE, AP_CONV, AP_HIDDEN = 4, 128, 256
WIDE_SHALLOW = ((512,), (256, 512), (128, 256, 512))  # filters for C2, C3, C4


def check_design(design: str) -> None:
    if design not in DESIGNS:
        raise ValueError(f"unknown branch design {design!r}; available: {', '.join(DESIGNS)}")


def classifier_names(model: TapModel) -> dict[str, str]:
    """tap -> paper name: the last tap's branch is C2, the one before it C3, ..."""
    return {t: f"C{len(model.tap_names) - i + 1}" for i, t in enumerate(model.tap_names)}


def _dks_plan(model: TapModel) -> dict[str, list[tuple[int, int]]]:
    """(width or growth rate, blocks) per down-sampling stage of each branch (Tables 2-5)."""
    if len(getattr(model, "stage_plan", ())) != 3 or len(model.tap_names) != 2:
        raise ValueError(f"the DKS branch designs need a three-stage backbone with two taps; "
                         f"{type(model).__name__} has taps {list(model.tap_names)}. DKS backbones: "
                         "resnet32, resnet110, wrn28_4, wrn28_10, densenet40_12, densenet100_12, mobilenet")
    (_, _), (w2, n2), (w3, n3) = model.stage_plan
    c3, c2 = model.tap_names
    if isinstance(model, DenseNetDS):
        # Table 4: growth 12 then 12 for C3, 36 for C2; DenseNet-40 halves C3's second block
        # (12, 6), DenseNet-100 both of C3's (16, 16)
        first = n2 if n2 <= 12 else n2 // 2
        return {c3: [(w2, first), (w3, n3 // 2)], c2: [(3 * w3, n3)]}
    if isinstance(model, MobileNet):
        # Table 5: C3 = (512, s2), 512 x 3 | (1024, s2), 1024; C2 = (2048, s2), 2048
        return {c3: [(w2, n2 - 2), (w3, n3)], c2: [(2 * w3, n3)]}
    if isinstance(model, (CifarResNet, WideResNet)):
        # Tables 2-3: stage 2's blocks, then half of stage 3's; C2 at twice stage 3's width
        return {c3: [(w2, n2), (w3, math.ceil(n3 / 2))], c2: [(2 * w3, n3)]}
    raise ValueError(f"no DKS branch design for {type(model).__name__}")


def branch_plan(model: TapModel, design: str) -> dict[str, list[tuple[int, int]]]:
    """For block designs: (width, blocks) per stage of each tap's branch; for the others the
    layer widths (AP designs: [(conv or 0, hidden)]; wide_shallow: [(filters, 1), ...])."""
    check_design(design)
    if design in BLOCK_DESIGNS:
        plan = _dks_plan(model)
        if design == "narrow":
            plan = {t: [(w // 2, n) for w, n in p] for t, p in plan.items()}
        elif design == "shallow":
            plan = {t: [(w, max(1, n // 2)) for w, n in p] for t, p in plan.items()}
        return plan
    if design == "wide_shallow":
        if len(model.tap_names) > len(WIDE_SHALLOW):
            raise ValueError(f"wide_shallow has designs for {len(WIDE_SHALLOW)} taps; "
                             f"the model has {len(model.tap_names)}")
        return {t: [(f, 1) for f in WIDE_SHALLOW[len(model.tap_names) - 1 - i]] for i, t in enumerate(model.tap_names)}
    if design in ("ap2fc", "ap1conv2fc"):
        return {t: [(AP_CONV if design == "ap1conv2fc" else 0, AP_HIDDEN)] for t in model.tap_names}
    return {t: [] for t in model.tap_names}  # linear


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Branch(nn.Module):
    """tap -> body -> neck ([BN-ReLU], pooling, flatten) -> classifier."""

    def __init__(self, body: nn.Module, neck: nn.Module, fc: nn.Module):
        super().__init__()
        self.body, self.neck, self.fc = body, neck, fc

    def forward(self, tap: torch.Tensor) -> torch.Tensor:
        return self.fc(self.neck(self.body(tap)))


def _branch(model: TapModel, design: str, plan: list[tuple[int, int]], shape: tuple[int, ...],
            num_classes: int) -> Branch:
    c = shape[0]
    pre_act = not getattr(model, "post_activation", True)  # the tap still needs BN-ReLU
    if len(shape) != 3 and design != "linear":
        raise ValueError(f"branch design {design!r} needs feature-map taps; this tap has shape {shape}")
    if design in BLOCK_DESIGNS:
        stages = []
        for w, n in plan:
            stages.append(model.make_stage(c, w, n, 2))
            c = c + n * w if isinstance(model, DenseNetDS) else w  # dense blocks concatenate
        body, neck = nn.Sequential(*stages), [nn.BatchNorm2d(c), nn.ReLU()] if pre_act else []
    elif design == "wide_shallow":
        first = [nn.BatchNorm2d(c), nn.ReLU()] if pre_act else []
        layers = []
        for f, _ in plan:
            layers.append(_conv_bn_relu(c, f))
            c = f
        body, neck = nn.Sequential(*first, *layers), []
    elif design in ("ap2fc", "ap1conv2fc"):
        conv, hidden = plan[0]
        first = [nn.BatchNorm2d(c), nn.ReLU()] if pre_act else []
        body = nn.Sequential(*first, nn.AdaptiveAvgPool2d(AP_SIZE), *([_conv_bn_relu(c, conv)] if conv else []))
        fc = nn.Sequential(nn.Linear((conv or c) * AP_SIZE ** 2, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))
        return Branch(body, nn.Flatten(), fc)
    else:  # linear: pool the tap as it is (feature map, token sequence or vector)
        return TapHead(shape[0] if len(shape) == 3 else shape[-1], num_classes)
    return Branch(body, nn.Sequential(*neck, nn.AdaptiveAvgPool2d(1), nn.Flatten()), nn.Linear(c, num_classes))


def build_branches(model: TapModel, design: str, num_classes: int,
                   taps: tuple[str, ...] | None = None) -> nn.ModuleDict:
    """One auxiliary classifier per tap (all of the model's taps unless `taps` names some)."""
    plan = branch_plan(model, design)
    shapes = tap_shapes(model)
    device = next(model.parameters()).device
    taps = model.tap_names if taps is None else taps
    heads = nn.ModuleDict({t: _branch(model, design, plan[t], shapes[t], num_classes) for t in taps})
    kaiming_convs(heads)  # as the backbones initialise their own convolutions
    return heads.to(device)
