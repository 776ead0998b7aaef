"""VGG-16 with batch norm for 32x32 images, the primary and label-network trunk of MAXL
and WAMAL: five blocks of 3x3 convolutions (64, 64 | 128, 128 | 256 x3 | 512 x3 | 512 x3),
each closed by a 2x2 max-pool, leave a 1x1 map, i.e. a 512-d feature.

Taps follow each block's max-pool but the last (the last block's output is the feature).
He-normal (fan-out) convolutions as torchvision's VGG; the classifier is the registry's
usual single linear `head` (WAMAL's method adds its own two-layer heads on the feature).
"""
from __future__ import annotations

import torch
from torch import nn

from .base import TapModel, kaiming_convs, run_stages

VGG16 = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


def conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class VGG(TapModel):
    def __init__(self, num_classes: int, blocks: tuple[tuple[int, ...], ...] = VGG16):
        super().__init__()
        if len(blocks) != 5:
            raise ValueError(f"a 32x32 VGG needs 5 blocks (five 2x2 pools to reach 1x1), got {len(blocks)}")
        stages, c = [], 3
        for widths in blocks:
            layers = [m for w, c_in in zip(widths, (c, *widths[:-1])) for m in conv_bn_relu(c_in, w)]
            stages.append(nn.Sequential(*layers, nn.MaxPool2d(2)))
            c = widths[-1]
        self.stages = nn.ModuleList(stages)
        self.tap_names = tuple(f"block{i + 1}" for i in range(len(blocks) - 1))
        self.num_features = c
        self.head = nn.Linear(c, num_classes)
        kaiming_convs(self)

    def forward_features(self, x: torch.Tensor):
        x, taps = run_stages(x, self.stages, self.tap_names)
        return x.flatten(1), taps
