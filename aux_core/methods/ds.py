"""Deep supervision (Lee et al. 2015): a cross-entropy classifier on every tap.

Loss = CE(final) + alpha * sum_k CE(head_k(tap_k)). By default each head pools its tap
(global average pooling for feature maps, the class token for token sequences) and applies
one linear layer, the "GAP + linear" head of the LION-DG paper's Table 3; `branch` picks
one of the DKS supplement's deeper designs instead (`aux_core.methods.branches`).
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torch.nn import functional as F

from .aggregation import check_aggregator
from .base import Method, TapHead, check_taps, tap_widths
from .branches import build_branches, check_design


@dataclass
class DeepSupervision(Method):
    name = "ds"
    vectorizable = True
    alpha: float = 0.3                    # weight of each auxiliary cross-entropy (LION-DG uses 0.3)
    taps: tuple[str, ...] | None = None   # attachment points; None: all of the model's taps
    warmup_steps: int = 0                 # >0: alpha(t) = alpha * min(1, t / warmup_steps) (Lee et al.)
    branch: str = "linear"                # head design: aux_core.methods.branches.DESIGNS
    aggregator: str = "sum"               # shared-weight backward: sum | pcgrad | upgrad | mgda (aggregation.py)

    def validate(self):
        check_design(self.branch)
        check_aggregator(self.aggregator)
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")

    def build_heads(self, model, num_classes):
        if model.taps_are_logits:  # on-path heads live in the model (resnet_ds_onpath)
            return nn.ModuleDict({t: nn.Identity() for t in check_taps(model, self.taps)})
        if self.branch != "linear":
            return build_branches(model, self.branch, num_classes, check_taps(model, self.taps))
        widths = tap_widths(model)
        return nn.ModuleDict({t: TapHead(widths[t], num_classes) for t in check_taps(model, self.taps)})

    def supervised_terms(self, logits, taps, batch, ctx):
        """The cross-entropy terms and every classifier's logits (final first)."""
        alpha = self.alpha
        if self.warmup_steps:
            alpha = alpha * min(1.0, ctx.step / self.warmup_steps)
        terms, outs = {"main": F.cross_entropy(logits, batch.y)}, [logits]
        for name, z in self.head_outputs(ctx.heads, taps).items():
            outs.append(z)
            terms[f"aux:{name}"] = alpha * F.cross_entropy(z, batch.y)
        return terms, outs

    def loss_terms(self, logits, taps, batch, ctx):
        return self.supervised_terms(logits, taps, batch, ctx)[0]
