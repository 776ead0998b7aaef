"""Wide ResNets (Zagoruyko & Komodakis 2016), the pre-activation CIFAR design: WRN-d-k has
(d-4)/6 blocks per stage at widths 16k, 32k, 64k after a 16-channel stem. Taps after
stages 1 and 2 expose the raw (not yet normalised) residual stream, where DKS attaches
its branches.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import TapModel, kaiming_convs, run_stages


class PreActBlock(nn.Module):
    """BN-ReLU-conv-BN-ReLU-(dropout)-conv, with a 1x1 shortcut on the pre-activated input
    where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int, dropout: float = 0.0):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.dropout = dropout
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(o)
        o = F.relu(self.bn2(self.conv1(o)))
        if self.dropout:
            o = F.dropout(o, self.dropout, self.training)
        return self.conv2(o) + skip


def make_stage(c_in: int, width: int, blocks: int, stride: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(*(PreActBlock(c_in if j == 0 else width, width, stride if j == 0 else 1, dropout)
                           for j in range(blocks)))


class WideResNet(TapModel):
    make_stage = staticmethod(make_stage)
    post_activation = False  # the stream is pre-activation: a classifier needs BN-ReLU first

    def __init__(self, num_classes: int, depth: int = 28, widen: int = 10, dropout: float = 0.0):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WRN depth must be 6n+4 (16, 22, 28, 40, ...), got {depth}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        n, widths = (depth - 4) // 6, (16 * widen, 32 * widen, 64 * widen)
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        stages, c = [], 16
        for i, w in enumerate(widths):
            stages.append(make_stage(c, w, n, 2 if i > 0 else 1, dropout))
            c = w
        self.stages = nn.ModuleList(stages)
        self.stage_plan = tuple((w, n) for w in widths)
        self.norm = nn.BatchNorm2d(c)
        self.tap_names = ("stage1", "stage2")
        self.num_features = c
        self.head = nn.Linear(c, num_classes)
        kaiming_convs(self)

    def forward_features(self, x: torch.Tensor):
        x, taps = run_stages(self.stem(x), self.stages, self.tap_names)
        return F.relu(self.norm(x)).mean(dim=(2, 3)), taps
