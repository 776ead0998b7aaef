"""MLP-6 of the asymmetric-training paper (appendix C.3): six linear layers with ReLU.

Widths 64-128-256-128-64 are inferred from the paper's Table 5 parameter counts: 0.28M
for the plain network on CIFAR-10, and bias-free 10-way branches on the first four
ReLUs adding 0.01M / 0.12M / 1.73M at 1 / 20 / 300 branches (64+128+256+128 = 576).
"""
from __future__ import annotations

import torch
from torch import nn

from .base import TapModel


class MLP(TapModel):
    def __init__(self, num_classes: int, widths: tuple[int, ...] = (64, 128, 256, 128, 64),
                 in_features: int = 3 * 32 * 32, num_taps: int = 4):
        super().__init__()
        dims = (in_features, *widths)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.tap_names = tuple(f"relu{i + 1}" for i in range(num_taps))
        self.num_features = widths[-1]
        self.head = nn.Linear(widths[-1], num_classes)

    def forward_features(self, x: torch.Tensor):
        x = x.flatten(1)
        taps = {}
        for i, layer in enumerate(self.layers):
            x = torch.relu(layer(x))
            if i < len(self.tap_names):
                taps[self.tap_names[i]] = x
        return x, taps
