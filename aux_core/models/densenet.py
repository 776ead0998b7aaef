"""DenseNet-DS of the LION-DG paper (Table 3): 3 dense blocks of 6 layers, compression 0.5,
taps after dense blocks 1 and 2.

The paper's text says growth rate 12, but its Table 3 (24 -> 72 channels over 6 layers,
transitions to 36 and 42 channels, about 77K parameters in all) only adds up with 8 new
channels per layer; growth 12 with 6 layers would give about 158K parameters. We follow
the table (growth 8, 79.7K parameters with 10 classes, transitions exactly as the table)
and keep `growth` as an option.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import TapModel, kaiming_convs


class DenseLayer(nn.Module):
    """BN-ReLU-conv whose new channels are concatenated to its input. `gate` scales the new
    channels (identity; a zero scalar under ReZero)."""

    def __init__(self, c_in: int, growth: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, growth, 3, padding=1, bias=False)
        self.gate = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.gate(self.conv(F.relu(self.norm(x))))], dim=1)

    @torch.no_grad()
    def fixup_(self, num_branches: int) -> None:
        """Fixup on a dense layer: the branch has one weight layer, which is its last, so it
        starts at zero (Fixup's rule 1); there is no inner layer to rescale."""
        self.conv.weight.zero_()


class Transition(nn.Module):
    """1x1 convolution (with bias, as the paper's parameter count) and 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(c_in)
        self.conv = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(self.conv(F.relu(self.norm(x))), 2)


def make_stage(c_in: int, growth: int, layers: int, stride: int, compression: float = 1.0) -> nn.Sequential:
    """A dense block of `layers` layers; with stride 2 a transition (1x1 conv, 2x2 average
    pooling) first. Builds DKS branches from the backbone's own blocks."""
    first = [Transition(c_in, int(c_in * compression))] if stride == 2 else []
    c = int(c_in * compression) if stride == 2 else c_in
    return nn.Sequential(*first, *(DenseLayer(c + j * growth, growth) for j in range(layers)))


class DenseNetDS(TapModel):
    """Also the CIFAR DenseNets of Huang et al. (DenseNet-40-12: growth 12, 12 layers per
    block, no compression), registered as `densenet40_12` and `densenet100_12`."""

    make_stage = staticmethod(make_stage)
    post_activation = False  # the concatenated stream is pre-activation

    def __init__(self, num_classes: int, growth: int = 8, layers: tuple[int, ...] = (6, 6, 6),
                 stem: int = 24, compression: float = 0.5):
        super().__init__()
        self.stem = nn.Conv2d(3, stem, 3, padding=1, bias=False)
        c, blocks, transitions = stem, [], []
        for i, n in enumerate(layers):
            blocks.append(nn.Sequential(*(DenseLayer(c + j * growth, growth) for j in range(n))))
            c += n * growth
            if i < len(layers) - 1:
                transitions.append(Transition(c, int(c * compression)))
                c = int(c * compression)
        self.blocks, self.transitions = nn.ModuleList(blocks), nn.ModuleList(transitions)
        self.stage_plan = tuple((growth, n) for n in layers)  # (growth rate, layers) per block
        self.norm = nn.BatchNorm2d(c)
        self.tap_names = tuple(f"block{i + 1}" for i in range(len(layers) - 1))
        self.num_features = c
        self.head = nn.Linear(c, num_classes)
        kaiming_convs(self)

    def residual_branches(self) -> list[nn.Module]:
        return [layer for block in self.blocks for layer in block]

    def forward_features(self, x: torch.Tensor):
        x, taps = self.stem(x), {}
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.transitions):
                taps[self.tap_names[i]] = x  # side tap: read, never modified
                x = self.transitions[i](x)
        return F.relu(self.norm(x)).mean(dim=(2, 3)), taps
