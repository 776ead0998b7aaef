"""CIFAR ResNets (He et al. 2016, option-B shortcuts) with side taps after each stage but
the last. A tap reads the residual stream and never modifies it, the "side-tap" design of
the LION-DG paper's ResNet-DS. `resnet_ds` is ResNet-20 (0.27M parameters); the paper does
not give its ResNet-DS's depth.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import TapModel


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class CifarResNet(TapModel):
    def __init__(self, num_classes: int, depth: int = 20, widths: tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth}")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, c = [], widths[0]
        for i, w in enumerate(widths):
            stages.append(nn.Sequential(*(BasicBlock(c if j == 0 else w, w, 2 if (i > 0 and j == 0) else 1)
                                          for j in range(n))))
            c = w
        self.stages = nn.ModuleList(stages)
        self.tap_names = tuple(f"stage{i + 1}" for i in range(len(widths) - 1))
        self.num_features = c
        self.head = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor):
        x, taps = self.stem(x), {}
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.tap_names):
                taps[self.tap_names[i]] = x
        return x.mean(dim=(2, 3)), taps
