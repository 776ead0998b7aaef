"""Deeply-supervised knowledge synergy (Sun, Yao, Zhou & Zhao, CVPR 2019).

Classifiers C1 (the backbone's own) and the branches C2, C3, ... each get a cross-entropy
loss, as in deep supervision, plus pairwise knowledge matching: every classifier i learns
towards every other classifier j's current prediction,

    L = sum_i CE(o_i, y) + beta * sum_i sum_{j != i} KL( softmax(o_j / T) || softmax(o_i / T) ),

with softmax(o_j) a fixed target (no gradient flows into it). The authors use all weights 1
and T = 1. Only C1 predicts at test time: the branches are dropped after training.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .ds import DeepSupervision


def synergy_loss(logits: list[torch.Tensor], temperature: float = 1.0) -> torch.Tensor:
    """Sum over ordered pairs (i, j), i != j, of batch-mean KL(softmax(o_j).detach() || softmax(o_i))."""
    logp = [F.log_softmax(o.float() / temperature, dim=1) for o in logits]
    total = logits[0].new_zeros((), dtype=torch.float32)
    for i, li in enumerate(logp):
        for j, lj in enumerate(logp):
            if i != j:
                total = total + F.kl_div(li, lj.detach(), log_target=True, reduction="batchmean")
    return total


@dataclass
class DKS(DeepSupervision):
    name = "dks"
    vectorizable = True
    alpha: float = 1.0                    # weight of each branch's cross-entropy (paper: 1)
    branch: str = "dks"                   # branch design (aux_core.methods.branches.DESIGNS)
    beta: float = 1.0                     # weight of the pairwise knowledge matching (paper: 1)
    temperature: float = 1.0              # softmax temperature of the matching (paper: 1)

    def validate(self):
        super().validate()
        if not self.beta >= 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    def loss_terms(self, logits, taps, batch, ctx):
        terms, outs = self.supervised_terms(logits, taps, batch, ctx)
        terms["synergy"] = self.beta * synergy_loss(outs, self.temperature)
        return terms
