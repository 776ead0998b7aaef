"""CNN-6 of the asymmetric-training paper (appendix C.3): 6 convolutions, 2 max-pools,
1 dropout and 3 linear layers; 2.43M parameters with 100 classes, as the paper's Table 6.

Taps follow every ReLU (after the max-pool where one follows). Including the two hidden
linear layers' ReLUs is what the paper's parameter counts imply: bias-free 100-way
branches on 32+32+64+64+128+128+256+128 = 832 features add 0.08M / 1.66M / 25.0M at
1 / 20 / 300 branches, matching its 2.51M / 4.09M / 27.4M.
"""
from __future__ import annotations

import torch
from torch import nn

from .base import TapModel


class CNN(TapModel):
    def __init__(self, num_classes: int, channels: tuple[int, ...] = (32, 32, 64, 64, 128, 128),
                 pool_after: tuple[int, ...] = (1, 3), hidden: tuple[int, int] = (256, 128),
                 dropout: float = 0.5):
        super().__init__()
        ins = (3, *channels[:-1])
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(ins, channels))
        self.pool_after = set(pool_after)
        side = 32 // 2 ** len(pool_after)
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Linear(channels[-1] * side * side, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.tap_names = tuple(f"conv{i + 1}" for i in range(len(channels))) + ("fc1", "fc2")
        self.num_features = hidden[1]
        self.head = nn.Linear(hidden[1], num_classes)

    def forward_features(self, x: torch.Tensor):
        taps = {}
        for i, conv in enumerate(self.convs):
            x = torch.relu(conv(x))
            if i in self.pool_after:
                x = nn.functional.max_pool2d(x, 2)
            taps[f"conv{i + 1}"] = x
        x = self.dropout(x.flatten(1))
        x = taps["fc1"] = torch.relu(self.fc1(x))
        x = taps["fc2"] = torch.relu(self.fc2(x))
        return x, taps
