"""CIFAR ResNets (He et al. 2016, option-B shortcuts) with side taps after each stage but
the last. A tap reads the residual stream and never modifies it, the "side-tap" design of
the LION-DG paper's ResNet-DS. `resnet_ds` is ResNet-20 (0.27M parameters); the paper does
not give its ResNet-DS's depth.

`resnet_ds_onpath` is the design the paper's Theorem 1 warns against: each auxiliary head
sits *on* the residual path. Its logits z = W_aux GAP(h) are projected back (U z) and added
into the stream, h <- h + U z (the paper's eq. 24, h_{l+1} = h_l + f(h_l) + g_aux(h_l)).
With the head at zero (LION-DG) the added term and every gradient through it vanish.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import TapModel, kaiming_convs, pool_tap


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
        self.gate = nn.Identity()  # a zero scalar under ReZero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(self.gate(out) + self.shortcut(x))

    @torch.no_grad()
    def fixup_(self, num_branches: int) -> None:
        """Fixup with m=2 weight layers per branch: the inner conv is scaled by L^(-1/(2m-2)) =
        L^(-1/2) and the branch's last layer starts at zero. The last layer here is bn2 (the
        network keeps batch norm), so its scale gamma is zeroed: zeroing conv2 instead would
        feed bn2 a zero-variance input and multiply its gradient by 1/sqrt(eps)."""
        self.conv1.weight.mul_(num_branches ** -0.5)
        self.bn2.weight.zero_()


def make_stage(c_in: int, width: int, blocks: int, stride: int) -> nn.Sequential:
    """`blocks` basic blocks at `width`, the first with `stride` (also builds DKS branches)."""
    return nn.Sequential(*(BasicBlock(c_in if j == 0 else width, width, stride if j == 0 else 1)
                           for j in range(blocks)))


class CifarResNet(TapModel):
    """`mid_taps`: stages (1-based) that also get a tap half-way through ("stage3_mid"), for
    ResNet-1202's three DKS branches."""

    make_stage = staticmethod(make_stage)
    post_activation = True  # a block ends in ReLU: a branch needs no norm before pooling

    def __init__(self, num_classes: int, depth: int = 20, widths: tuple[int, ...] = (16, 32, 64),
                 mid_taps: tuple[int, ...] = ()):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth}")
        if any(s not in range(1, len(widths) + 1) for s in mid_taps):
            raise ValueError(f"mid_taps must name stages 1..{len(widths)}, got {mid_taps}")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        stages, c = [], widths[0]
        for i, w in enumerate(widths):
            stages.append(make_stage(c, w, n, 2 if i > 0 else 1))
            c = w
        self.stages = nn.ModuleList(stages)
        self.stage_plan = tuple((w, n) for w in widths)  # (width, blocks) per stage
        # tap name -> (stage index, blocks of that stage run before the tap)
        self._tap_at = {f"stage{i + 1}": (i, n) for i in range(len(widths) - 1)}
        self._tap_at.update({f"stage{s}_mid": (s - 1, n // 2) for s in mid_taps})
        self.tap_names = tuple(sorted(self._tap_at, key=lambda t: self._tap_at[t]))
        self.num_features = c
        self.head = nn.Linear(c, num_classes)
        kaiming_convs(self)

    def residual_branches(self) -> list[nn.Module]:
        return [block for stage in self.stages for block in stage]

    def forward_features(self, x: torch.Tensor):
        x, taps = self.stem(x), {}
        for i, stage in enumerate(self.stages):
            done = 0
            for name in self.tap_names:
                s, k = self._tap_at[name]
                if s == i:
                    x = stage[done:k](x)
                    x, taps[name] = self.tap(name, x)
                    done = k
            x = stage[done:](x)
        return x.mean(dim=(2, 3)), taps

    def tap(self, name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(stream after the tap, what the tap exposes): a side tap reads and passes on."""
        return x, x


class OnPathAux(nn.Module):
    """An auxiliary classifier on the residual path: logits W GAP(h), fed back as U logits."""

    def __init__(self, width: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(width, num_classes)
        self.up = nn.Linear(num_classes, width, bias=False)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.fc(pool_tap(h))
        return h + self.up(z)[:, :, None, None], z


class OnPathResNet(CifarResNet):
    """ResNet-DS with on-path auxiliary heads; its taps are the auxiliary logits themselves."""

    taps_are_logits = True

    def __init__(self, num_classes: int, depth: int = 20, widths: tuple[int, ...] = (16, 32, 64)):
        super().__init__(num_classes, depth, widths)
        self.aux = nn.ModuleDict({t: OnPathAux(w, num_classes) for t, w in zip(self.tap_names, widths)})

    def aux_modules(self) -> list[nn.Module]:
        return list(self.aux.values())

    def tap(self, name: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.aux[name](x)
