"""Attention analysis of ViT-6L (paper 1: Table 14, Figures 4, 7 and 9, Appendix D).

We read the class token's attention over the 64 patches in every block (softmax row of the
class-token query, averaged over heads, renormalised over the patches so each map sums to
one) and summarise each map by four numbers:

  peak       the largest patch weight ("peak strength"; 1/64 for a uniform map)
  entropy    Shannon entropy in nats (ln 64 = 4.16 for a uniform map)
  gini       Gini coefficient of the patch weights (0: uniform, -> 1: one patch)
  coverage   the paper's "object coverage". CIFAR has no object masks, so we define it
             explicitly: the share of an image's *saliency* mass that lies inside the
             smallest set of patches holding COVERAGE_MASS (90%) of the attention. The
             saliency map is model-independent, the spectral residual of Hou & Zhang (2007)
             on the grey image, pooled to the patch grid; it stands in for the object.
             A diffuse attention map covers more of it, a focused one less.

`probe(model, batch)` is the training loop's probe (`RunConfig(probes=("attention",))`): at
every evaluation it returns these means per block and the maps of the first MAP_IMAGES
probe images in the blocks of MAP_BLOCKS (first, middle, last), for the figures.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

COVERAGE_MASS = 0.9      # attention mass that defines the attended region
MAP_IMAGES = 6           # images whose maps are kept at every evaluation
METRICS = ("peak", "entropy", "gini", "coverage")


def applies_to(model) -> bool:
    return hasattr(model, "blocks") and all(hasattr(b, "attn") and hasattr(b.attn, "weights") for b in model.blocks)


def check(model) -> None:
    if not applies_to(model):
        raise ValueError(f"the attention probe needs a ViT (model 'vit6'); "
                         f"{type(model).__name__} has no attention blocks")


def map_blocks(depth: int) -> tuple[int, ...]:
    """1-based blocks whose maps are kept: first, middle, last (the paper's L1, L3, L6)."""
    return tuple(sorted({1, (depth + 1) // 2, depth}))


@torch.no_grad()
def cls_attention(model, x: torch.Tensor) -> torch.Tensor:
    """[blocks, images, patches]: each block's class-token attention over the patches."""
    check(model)
    attns = [b.attn for b in model.blocks]
    inputs: dict[int, torch.Tensor] = {}
    # forward pre-hooks hand each attention module's input to the analysis: the model holds no state for it
    hooks = [a.register_forward_pre_hook(lambda m, args, i=i: inputs.__setitem__(i, args[0]))
             for i, a in enumerate(attns)]
    was_training = model.training
    model.eval()
    try:
        model(x)
        maps = torch.stack([a.weights(inputs[i])[:, :, 0, 1:].float().mean(1) for i, a in enumerate(attns)])
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return maps / maps.sum(-1, keepdim=True)


def peak(m: np.ndarray) -> np.ndarray:
    return m.max(-1)


def entropy(m: np.ndarray) -> np.ndarray:
    return -(m * np.log(np.clip(m, 1e-12, None))).sum(-1)


def gini(m: np.ndarray) -> np.ndarray:
    """Gini coefficient of each row: sum_i (2i - n - 1) v_(i) / (n sum v), v sorted ascending."""
    v = np.sort(m, axis=-1)
    n = v.shape[-1]
    i = np.arange(1, n + 1)
    return ((2 * i - n - 1) * v).sum(-1) / (n * v.sum(-1))


def attended_region(m: np.ndarray, mass: float = COVERAGE_MASS) -> np.ndarray:
    """Boolean mask of the smallest set of patches whose attention sums to at least `mass`."""
    order = np.argsort(-m, axis=-1, kind="stable")
    sorted_m = np.take_along_axis(m, order, -1)
    keep_sorted = np.cumsum(sorted_m, -1) - sorted_m < mass - 1e-12  # include the patch that crosses `mass`
    mask = np.zeros_like(keep_sorted)
    np.put_along_axis(mask, order, keep_sorted, -1)
    return mask


def coverage(m: np.ndarray, saliency: np.ndarray, mass: float = COVERAGE_MASS) -> np.ndarray:
    """Share of each image's saliency (rows summing to one) inside its attended region."""
    return (saliency * attended_region(m, mass)).sum(-1)


def spectral_residual(gray: np.ndarray) -> np.ndarray:
    """Hou & Zhang (2007) saliency of one grey image [H, W]: the log-amplitude spectrum minus
    its 3x3 local mean, back-transformed with the original phase, squared and smoothed."""
    f = np.fft.fft2(gray)
    log_amp = np.log(np.abs(f) + 1e-8)
    residual = log_amp - ndimage.uniform_filter(log_amp, size=3, mode="wrap")
    s = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(f)))) ** 2
    return ndimage.gaussian_filter(s, sigma=1.5)


def patch_saliency(raw: torch.Tensor, grid: int) -> np.ndarray:
    """[images, grid*grid]: spectral-residual saliency of uint8 images [N, 3, H, W], summed
    per patch (row-major, as the ViT orders its tokens) and normalised to sum to one."""
    x = raw.float().cpu().numpy() / 255.0
    gray = 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    n, h, w = gray.shape
    sal = np.stack([spectral_residual(g) for g in gray])
    pooled = sal.reshape(n, grid, h // grid, grid, w // grid).sum((2, 4)).reshape(n, grid * grid)
    return pooled / pooled.sum(-1, keepdims=True)


def summarize(maps: np.ndarray, saliency: np.ndarray) -> dict[str, np.ndarray]:
    """Per metric, [blocks, images] values for maps [blocks, images, patches]."""
    return {"peak": peak(maps), "entropy": entropy(maps), "gini": gini(maps),
            "coverage": np.stack([coverage(m, saliency) for m in maps])}


def probe(model, batch) -> dict:
    """The loop's probe: per-block means over the probe images, and a few maps."""
    maps = cls_attention(model, batch.x).cpu().numpy()
    grid = int(round(np.sqrt(maps.shape[-1])))
    values = summarize(maps, patch_saliency(batch.raw, grid))
    out = {f"attn_{k}_L{b + 1}": float(v[b].mean()) for k, v in values.items() for b in range(len(maps))}
    for b in map_blocks(len(maps)):
        out[f"attn_maps_L{b}"] = np.round(maps[b - 1, :MAP_IMAGES], 6).tolist()
    return out
