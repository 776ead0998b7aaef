"""torchvision-style ResNet-18 and ResNet-50 sized for CIFAR (WAMAL's ResNet backbones):
a 3x3 stride-1 stem and no max-pool, so a 32x32 image reaches the last stage at 4x4;
four stages of widths 64, 128, 256, 512 (x4 expansion for the bottleneck), giving a 512-d
(ResNet-18) or 2048-d (ResNet-50) feature after global average pooling.

ResNet-18 reuses the CIFAR family's `BasicBlock` (same layout as torchvision's, and it keeps
the `gate`/`fixup_` hooks that Fixup and ReZero use). Taps follow every stage but the last.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import TapModel, kaiming_convs, run_stages
from .resnet import BasicBlock


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride, as torchvision's v1.5), 1x1 expand by 4."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        self.gate = nn.Identity()  # a zero scalar under ReZero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(self.gate(out) + self.shortcut(x))

    @torch.no_grad()
    def fixup_(self, num_branches: int) -> None:
        """Fixup with m=3 weight layers: inner convs scaled by L^(-1/4), the last BN's scale zeroed."""
        for conv in (self.conv1, self.conv2):
            conv.weight.mul_(num_branches ** -0.25)
        self.bn3.weight.zero_()


class ImageNetStyleResNet(TapModel):
    """`block`: "basic" (ResNet-18/34) or "bottleneck" (ResNet-50/101); `blocks` per stage."""

    BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}

    def __init__(self, num_classes: int, block: str = "basic", blocks: tuple[int, ...] = (2, 2, 2, 2),
                 widths: tuple[int, ...] = (64, 128, 256, 512)):
        super().__init__()
        if block not in self.BLOCKS:
            raise ValueError(f"unknown block {block!r}; available: {', '.join(self.BLOCKS)}")
        if len(blocks) != len(widths) or not all(isinstance(n, int) and n >= 1 for n in blocks):
            raise ValueError(f"blocks must give one count >= 1 per stage ({len(widths)} stages), got {blocks}")
        cls = self.BLOCKS[block]
        expansion = getattr(cls, "expansion", 1)
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, c = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            layers = []
            for j in range(n):
                layers.append(cls(c, w, 2 if i > 0 and j == 0 else 1))
                c = w * expansion
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.stage_plan = tuple(zip(widths, blocks))
        self.tap_names = tuple(f"stage{i + 1}" for i in range(len(widths) - 1))
        self.num_features = c
        self.head = nn.Linear(c, num_classes)
        kaiming_convs(self)

    def residual_branches(self) -> list[nn.Module]:
        return [b for stage in self.stages for b in stage]

    def forward_features(self, x: torch.Tensor):
        x, taps = run_stages(self.stem(x), self.stages, self.tap_names)
        return x.mean(dim=(2, 3)), taps
