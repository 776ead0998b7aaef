"""Asymmetric training (paper 1): sigmoid/BCE branches on a softmax-trained network.

At every tap, N_branches parallel bias-free linear layers map the pooled tap to the class
logits, each orthogonally initialised (Saxe et al. 2014). With "single activation" only the
last branch is called in the forward pass, so the other N - 1 never see a gradient and the
optimiser skips them: they keep their initial values bit for bit, present only as
parameters ("temporary topological redundancy"). The auxiliary objective is the
non-competitive per-class sigmoid binary cross-entropy of the paper's eq. 3,

    L_aux = -1/C sum_i [y_i log s(z_i) + (1 - y_i) log(1 - s(z_i))],

and the training loss eq. 1: L = CE(final) + alpha * sum_k L_aux^(k) over the taps.
Branches exist only in training; the evaluated network is the plain one.

Options beyond the paper's method:
  activation="all"   every branch is called and trained; the loss sums their BCE terms
                     (the paper's Table 16, "all active")
  objective="softmax" the symmetric control: the same branches trained with the main loss's
                     softmax cross-entropy (homogeneous losses), which the paper's argument
                     about heterogeneous losses needs to be compared against
  objective="none"   no auxiliary loss: branches no loss reads get no gradient, so this
                     trains exactly as plain (a check of that, not an informative control)

The branches are initialised from their own generator (seeded from the run's seed), not
from the global one: a run with branches draws the same dropout masks as the plain run of
the same seed, so the two arms of a paired comparison differ only in the method.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..checks import is_int
from ..models.base import pool_tap
from .aggregation import check_aggregator
from .base import Method, check_taps, tap_widths

ACTIVATIONS = ("last", "all")
OBJECTIVES = ("bce", "softmax", "none")
BRANCH_SEED_OFFSET = 7919  # the branch generator's seed is the run's seed + this offset


def sigmoid_bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Eq. 3 averaged over the batch: per-class BCE against the one-hot labels, mean over
    classes and samples. `logits` [..., batch, classes] gives one loss per leading index."""
    if logits.dtype in (torch.float16, torch.bfloat16):  # autocast outputs: the loss in float32
        logits = logits.float()
    classes = torch.arange(logits.shape[-1], device=y.device)
    target = (y[:, None] == classes).to(logits.dtype).expand(logits.shape)  # one-hot, vmap-safe
    return F.binary_cross_entropy_with_logits(logits, target, reduction="none").mean((-2, -1))


def softmax_ce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The main loss's softmax cross-entropy for every branch: `logits` [..., batch, classes]
    gives one batch-mean loss per leading index (the symmetric control's homogeneous objective)."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    logp = torch.log_softmax(logits, dim=-1)
    return -logp.gather(-1, y.expand(logp.shape[:-1])[..., None]).squeeze(-1).mean(-1)


class BranchBank(nn.Module):
    """N bias-free linear classifiers on one pooled tap; `forward(tap, "last" | "all")`
    returns the logits of the branches that are active, stacked: [active, batch, classes]."""

    def __init__(self, in_features: int, num_classes: int, n_branches: int, generator: torch.Generator):
        super().__init__()
        self.branches = nn.ParameterList()
        for _ in range(n_branches):
            w = torch.empty(num_classes, in_features)
            nn.init.orthogonal_(w, generator=generator)
            self.branches.append(nn.Parameter(w))

    def forward(self, tap: torch.Tensor, activation: str = "last") -> torch.Tensor:
        h = pool_tap(tap)
        active = [self.branches[-1]] if activation == "last" else list(self.branches)
        return torch.stack([F.linear(h, w) for w in active])


@dataclass
class Asymmetric(Method):
    name = "asymmetric"
    vectorizable = True
    alpha: float = 1.0                    # "dialogue strength": weight of each tap's BCE term (eq. 1)
    n_branches: int = 1                   # parallel branches per tap ("redundancy" N_branches)
    activation: str = "last"              # last: single activation (the paper) | all: every branch trains (Table 16)
    objective: str = "bce"                # bce: the method | softmax: symmetric control | none: no auxiliary loss
    taps: tuple[str, ...] | None = None   # attachment points; None: all of the model's taps
    aggregator: str = "sum"               # shared-weight backward: sum | pcgrad | upgrad | mgda (aggregation.py)

    def validate(self):
        check_aggregator(self.aggregator)
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if not (is_int(self.n_branches) and self.n_branches >= 1):
            raise ValueError(f"n_branches must be an integer >= 1, got {self.n_branches!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation={self.activation!r} is not one of: {', '.join(ACTIVATIONS)}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective={self.objective!r} is not one of: {', '.join(OBJECTIVES)}")

    def build_heads(self, model, num_classes):
        widths = tap_widths(model)
        gen = torch.Generator().manual_seed(torch.initial_seed() + BRANCH_SEED_OFFSET)
        return nn.ModuleDict({t: BranchBank(widths[t], num_classes, self.n_branches, gen)
                              for t in check_taps(model, self.taps)})

    def loss_terms(self, logits, taps, batch, ctx):
        terms = {"main": F.cross_entropy(logits, batch.y)}
        if self.objective == "none":
            return terms
        loss = sigmoid_bce if self.objective == "bce" else softmax_ce
        for name, z in self.head_outputs(ctx.heads, taps).items():
            terms[f"aux:{name}"] = self.alpha * loss(z, batch.y).sum()
        return terms

    def head_outputs(self, heads, taps):
        return {name: bank(taps[name], self.activation) for name, bank in heads.items()}
