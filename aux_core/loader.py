"""A loader that keeps a whole split on the training device.

Shuffling, random crop (zero padding 4), horizontal flip and normalisation all run on the
device, on uint8 images, a batch at a time: no DataLoader workers and no host-to-device
copies on the hot path. Its own torch.Generator makes the data order a function of the seed.
"""
from __future__ import annotations

import copy
import math
from typing import NamedTuple

import torch
from torch.nn import functional as F

AUGMENTATIONS = ("crop_flip", "flip", "none")


class Batch(NamedTuple):
    x: torch.Tensor                      # float images, normalised, on the device
    y: torch.Tensor                      # int64 primary labels
    y_aux: torch.Tensor | None = None    # int64 second label set, where the dataset has one


def random_crop(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Per-sample random translation by up to `pad` pixels, zero-filled (pad-and-crop)."""
    n, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=x.device)
    rows = dy[:, None] + torch.arange(h, device=x.device)
    cols = dx[:, None] + torch.arange(w, device=x.device)
    xp = xp.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * pad))
    return xp.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    flip = torch.rand(len(x), generator=gen, device=x.device) < 0.5
    return torch.where(flip[:, None, None, None], x.flip(3), x)


class DeviceLoader:
    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, mean, std,
                 device: torch.device | str = "cpu", y_aux: torch.Tensor | None = None,
                 augment: str = "none", shuffle: bool = False, drop_last: bool = False,
                 seed: int = 0, channels_last: bool = False):
        if augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {augment!r}; available: {', '.join(AUGMENTATIONS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if drop_last and len(x) < batch_size:
            raise ValueError(f"{len(x)} training images are fewer than one batch of {batch_size}; "
                             "use a smaller batch_size or more data")
        self.device = torch.device(device)
        self.x, self.y = x.to(self.device), y.to(self.device)
        self.y_aux = None if y_aux is None else y_aux.to(self.device)
        self.batch_size, self.augment, self.shuffle, self.drop_last = batch_size, augment, shuffle, drop_last
        self.mean = torch.tensor(mean, dtype=torch.get_default_dtype(), device=self.device).view(1, 3, 1, 1) * 255
        self.inv_std = 1 / (torch.tensor(std, dtype=torch.get_default_dtype(), device=self.device).view(1, 3, 1, 1)
                            * 255)
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def __len__(self) -> int:
        n = len(self.x) / self.batch_size
        return math.floor(n) if self.drop_last else math.ceil(n)

    def __iter__(self):
        n = len(self.x)
        order = (torch.randperm(n, generator=self.gen, device=self.device) if self.shuffle
                 else torch.arange(n, device=self.device))
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.x[idx]
            if self.augment == "crop_flip":
                x = random_crop(x, 4, self.gen)
            if self.augment in ("crop_flip", "flip"):
                x = random_flip(x, self.gen)
            x = ((x.to(self.mean.dtype) - self.mean) * self.inv_std).contiguous(memory_format=self.memory_format)
            yield Batch(x, self.y[idx], None if self.y_aux is None else self.y_aux[idx])

    def in_order(self, batch_size: int | None = None) -> "DeviceLoader":
        """The same images in their stored order, every one once, without augmentation (for
        per-sample read-outs after training); shares this loader's tensors."""
        out = copy.copy(self)
        out.augment, out.shuffle, out.drop_last = "none", False, False
        out.batch_size = batch_size or self.batch_size
        return out
