"""MobileNet (Howard et al. 2017) for 32x32 images, as the DKS supplement's Table 5 lists it:
a 3x3 stem of 32 channels, then depthwise-separable layers of 64 | 128 | 128 | 256 | 256 |
(512, s2) | 512 x 5 | (1024, s2) | 1024 output channels. The table marks stride 2 only on
the first 512 and the first 1024 layer, so the network keeps 32x32 through its first five
layers (the common CIFAR port also strides at 128 and 256; the table does not).

Stages for taps: stage1 ends after the second 256 layer, stage2 after the 512 x 5 layers;
those are where the supplement's Figure 2 attaches C3 and C2.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import TapModel, kaiming_convs, run_stages

STAGES = (((64, 1), (128, 1), (128, 1), (256, 1), (256, 1)),
          ((512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1)),
          ((1024, 2), (1024, 1)))


class SeparableConv(nn.Module):
    """Depthwise 3x3 (carrying the stride) then pointwise 1x1, each with BN and ReLU."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.dw = nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False)
        self.bn1 = nn.BatchNorm2d(c_in)
        self.pw = nn.Conv2d(c_in, c_out, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn2(self.pw(torch.relu(self.bn1(self.dw(x))))))


def make_stage(c_in: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    return nn.Sequential(*(SeparableConv(c_in if j == 0 else width, width, stride if j == 0 else 1)
                           for j in range(blocks)))


class MobileNet(TapModel):
    make_stage = staticmethod(make_stage)
    post_activation = True

    def __init__(self, num_classes: int, width_mult: float = 1.0):
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"width_mult must be > 0, got {width_mult}")
        w = lambda c: max(8, int(c * width_mult))  # noqa: E731
        self.stem = nn.Sequential(nn.Conv2d(3, w(32), 3, 1, 1, bias=False), nn.BatchNorm2d(w(32)), nn.ReLU())
        stages, c = [], w(32)
        for layers in STAGES:
            stages.append(nn.Sequential(*(SeparableConv(c if j == 0 else w(layers[j - 1][0]), w(o), s)
                                          for j, (o, s) in enumerate(layers))))
            c = w(layers[-1][0])
        self.stages = nn.ModuleList(stages)
        self.stage_plan = tuple((w(layers[-1][0]), len(layers)) for layers in STAGES)
        self.tap_names = ("stage1", "stage2")
        self.num_features = c
        self.head = nn.Linear(c, num_classes)
        kaiming_convs(self)

    def forward_features(self, x: torch.Tensor):
        x, taps = run_stages(self.stem(x), self.stages, self.tap_names)
        return x.mean(dim=(2, 3)), taps
