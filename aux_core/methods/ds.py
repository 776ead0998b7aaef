"""Deep supervision (Lee et al. 2015): a cross-entropy classifier on every tap.

Loss = CE(final) + alpha * sum_k CE(head_k(tap_k)). Each head pools its tap (global
average pooling for feature maps, the class token for token sequences) and applies one
linear layer, the "GAP + linear" head of the LION-DG paper's Table 3.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn import functional as F

from .base import Method, TapHead, check_taps, tap_widths


@dataclass
class DeepSupervision(Method):
    name = "ds"
    vectorizable = True
    alpha: float = 0.3                    # weight of each auxiliary cross-entropy (LION-DG uses 0.3)
    taps: tuple[str, ...] | None = None   # attachment points; None: all of the model's taps
    warmup_steps: int = 0                 # >0: alpha(t) = alpha * min(1, t / warmup_steps) (Lee et al.)

    def validate(self):
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")

    def build_heads(self, model, num_classes):
        if model.taps_are_logits:  # on-path heads live in the model (resnet_ds_onpath)
            return nn.ModuleDict({t: nn.Identity() for t in check_taps(model, self.taps)})
        widths = tap_widths(model)
        return nn.ModuleDict({t: TapHead(widths[t], num_classes) for t in check_taps(model, self.taps)})

    def loss_terms(self, logits, taps, batch, ctx):
        alpha = self.alpha
        if self.warmup_steps:
            alpha = alpha * min(1.0, ctx.step / self.warmup_steps)
        terms = {"main": F.cross_entropy(logits, batch.y)}
        for name, head in ctx.heads.items():
            terms[f"aux:{name}"] = alpha * F.cross_entropy(head(taps[name]), batch.y)
        return terms
