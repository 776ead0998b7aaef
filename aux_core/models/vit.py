"""ViT-6L of the asymmetric-training paper (appendix C.3): 6 pre-norm Transformer blocks,
4 heads, width 128, 4x4 patches with a class token; 1.22M parameters with 100 classes.

The MLP ratio 4 and patch size 4 are not stated; they are what makes the paper's counts
come out (1.22M plain; bias-free 100-way branches on 6 block outputs of width 128 add
0.08M / 1.54M / 23.0M at 1 / 20 / 300 branches, matching its 1.29M / 2.75M / 24.3M).
Taps are the block outputs (token sequences); heads read the class token.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .base import TapModel


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        # F.scaled_dot_product_attention; the multi-seed engine switches it off, because vmap
        # has no batching rule for the fused CPU kernel and would loop over the seeds, and so do the
        # meta-learners, whose look-ahead needs its second derivative
        self.fused = True

    def _qkv(self, x: torch.Tensor):
        b, t, d = x.shape
        return self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """[batch, heads, tokens, tokens]: the softmax attention maps for input `x` (what the
        attention analysis reads, through a forward pre-hook that hands it `x`)."""
        q, k, _ = self._qkv(x)
        return self._softmax(q, k)

    @staticmethod
    def _softmax(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return (q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self._qkv(x)
        out = self._softmax(q, k) @ v if not self.fused else F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(TapModel):
    def __init__(self, num_classes: int, depth: int = 6, dim: int = 128, heads: int = 4,
                 mlp_ratio: int = 4, patch: int = 4, image_size: int = 32):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        n_tokens = (image_size // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens, dim) * 0.02)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.tap_names = tuple(f"block{i + 1}" for i in range(depth))
        self.num_features = dim
        self.head = nn.Linear(dim, num_classes)

    def forward_features(self, x: torch.Tensor):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        taps = {}
        for name, block in zip(self.tap_names, self.blocks):
            x = taps[name] = block(x)
        return self.norm(x[:, 0]), taps
