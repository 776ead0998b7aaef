"""The pieces of MAXL (Liu, Davison & Johns 2019) and WAMAL: the networks, the losses and
the bi-level (look-ahead) update of the label(-weight) network. `aux_core.methods.wamal`
plugs them into the training loop; everything here also works on its own.

  primary net f^θ      backbone feature -> primary logits (|Y|) and auxiliary logits (psi |Y|)
  label-weight net g^φ backbone feature -> hierarchy-masked auxiliary label distribution
                       (only the psi sub-classes of the sample's primary class) and, for
                       WAMAL, a per-sample weight 2^(2 r sigmoid(.) - r) in [2^-r, 2^r]
  training loss        mean focal(primary) + mean_i w_i focal_i(aux, g_label)        (eq. 5)
  label-net loss       focal(primary) at θ+ = θ - α ∇θ training loss, + 0.2 sum p̄ log p̄ (eq. 4, 8)
  AuxiLearn            the same label net, its hypergradient by implicit differentiation
                       with a truncated Neumann series instead of the look-ahead

Label distributions stay in log space: entries outside the primary class's block are exactly
-inf (probability exactly 0), where the authors' code multiplies exp(logits) by the mask and
leaves about 1e-8 there.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from ..models.base import TapModel

HIDDEN = 512              # hidden width of every two-layer head (MAXL/WAMAL)
FD_SCALE = 0.01           # first-order variant: epsilon = FD_SCALE / ||d||  (DARTS' choice)


class TwoLayerHead(nn.Module):
    """Linear(in, 512) - ReLU - Linear(512, out), Xavier-uniform weights and zero biases, as
    MAXL's heads (and WAMAL's eq. 9 weight head, before its sigmoid)."""

    def __init__(self, in_features: int, out_features: int, hidden: int = HIDDEN):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, out_features)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def strip_head(backbone: TapModel) -> TapModel:
    """Drop the backbone's own classifier (the wrappers read `forward_features` instead)."""
    backbone.head = nn.Identity()
    return backbone


class PrimaryNet(nn.Module):
    """f^θ: any registered backbone with a primary head (|Y|) and an auxiliary head (psi |Y|).

    The primary head is the backbone's `head` slot: by default it is replaced by a new
    two-layer head (the paper's design); `keep_head=True` keeps the backbone's own classifier
    (then it must have n_primary outputs). `aux_head` reuses an existing module (shared, not
    copied) instead of a new two-layer head: the training-loop method passes the head the loop
    optimises, so that the look-ahead runs on exactly the parameters being trained. No module
    is registered twice: `torch.func.functional_call` does not restore tied modules reliably.
    """

    def __init__(self, backbone: TapModel, n_primary: int, psi: int, *, keep_head: bool = False,
                 aux_head: nn.Module | None = None, hidden: int = HIDDEN):
        super().__init__()
        check_psi(psi)
        width = backbone.num_features
        if not keep_head:
            backbone.head = TwoLayerHead(width, n_primary, hidden)
        self.backbone = backbone
        self.aux = aux_head if aux_head is not None else TwoLayerHead(width, psi * n_primary, hidden)
        self.n_primary, self.psi = n_primary, psi

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, _ = self.backbone.forward_features(x)
        return self.backbone.head(features), self.aux(features)


class LabelWeightNet(nn.Module):
    """g^φ: `forward(x, y) -> (log_probs, weights)`. `log_probs` (N, psi |Y|) is the masked
    softmax of eq. 7 in log space; `weights` (N,) lie in [2^-r, 2^r] (eq. 9-10), or are None
    for MAXL (r=None: no weight head)."""

    def __init__(self, backbone: TapModel, n_primary: int, psi: int, r: float | None = None, hidden: int = HIDDEN):
        super().__init__()
        check_psi(psi)
        if r is not None and not r >= 0:
            raise ValueError(f"r must be a number >= 0 (or None: no weight head), got {r!r}")
        width = backbone.num_features
        self.backbone = strip_head(backbone)
        self.label = TwoLayerHead(width, psi * n_primary, hidden)
        self.weight = TwoLayerHead(width, 1, hidden) if r is not None else None
        self.n_primary, self.psi, self.r = n_primary, psi, r
        self.constant = 1.0   # without a weight head: every sample's weight (MAXL's aux_weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        features, _ = self.backbone.forward_features(x)
        log_probs = masked_log_softmax(self.label(features), y, self.psi)
        if self.weight is None:
            return log_probs, (None if self.constant == 1.0 else log_probs.new_full((len(x),), self.constant))
        return log_probs, bounded_weight(self.weight(features).squeeze(1), self.r)


def widen(t: torch.Tensor) -> torch.Tensor:
    """Autocast's bf16/fp16 outputs to fp32 for losses; fp32 and fp64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def check_psi(psi) -> None:
    if isinstance(psi, bool) or not isinstance(psi, int) or psi < 1:
        raise ValueError(f"psi (auxiliary classes per primary class) must be an integer >= 1, got {psi!r}")


def bounded_weight(z: torch.Tensor, r: float) -> torch.Tensor:
    """2^(2 r sigmoid(z) - r): in [2^-r, 2^r] even where the sigmoid saturates; 1 for r = 0."""
    return torch.exp2(r * (2 * torch.sigmoid(widen(z)) - 1))


def masked_log_softmax(logits: torch.Tensor, y: torch.Tensor, psi: int) -> torch.Tensor:
    """Log of eq. 7: softmax over the psi entries psi*y .. psi*y + psi - 1 of each row; every
    other entry is exactly -inf, so the probabilities outside the block are exactly 0."""
    k = logits.shape[1]
    if k % psi:
        raise ValueError(f"{k} auxiliary logits are not a multiple of psi={psi}")
    block = torch.arange(k, device=logits.device) // psi
    inside = block[None, :] == y[:, None]
    return widen(logits).masked_fill(~inside, float("-inf")).log_softmax(1)


def focal_loss(log_probs: torch.Tensor, target_probs: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Per-sample focal loss -sum_c t_c (1 - p_c)^gamma log p_c. Classes with t_c = 0 add
    exactly 0 (and no gradient) even where log p_c = -inf, so masked log-probabilities are safe."""
    has_mass = target_probs > 0
    log_p = torch.where(has_mass, widen(log_probs), 0.0)
    return -(target_probs * (1 - log_p.exp()).pow(gamma) * log_p).sum(1)


def batch_entropy(log_probs: torch.Tensor) -> torch.Tensor:
    """sum_c p̄_c log p̄_c of the batch-mean distribution p̄ (eq. 8; the negative entropy):
    minimising it spreads the batch over the whole block and prevents label collapse.
    Classes no sample can take (p̄_c = 0) add exactly 0, with a zero (not NaN) gradient."""
    mean = log_probs.exp().mean(0)
    used = mean > 0
    return (mean * torch.where(used, mean, 1.0).log()).sum()


def primary_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Mean focal loss of the primary head against one-hot labels."""
    log_p = widen(logits).log_softmax(1)
    return focal_loss(log_p, F.one_hot(y, logits.shape[1]).to(log_p.dtype), gamma).mean()


def training_terms(primary_logits: torch.Tensor, aux_logits: torch.Tensor, y: torch.Tensor,
                   label_log_probs: torch.Tensor, weights: torch.Tensor | None, gamma: float = 2.0,
                   weight_norm: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(primary, auxiliary) terms of eq. 5, each a batch mean: the auxiliary focal loss of
    each sample is scaled by its weight (by weight / batch-mean weight with `weight_norm`)."""
    aux = focal_loss(widen(aux_logits).log_softmax(1), label_log_probs.exp(), gamma)
    if weights is not None:
        if weight_norm:
            weights = weights / weights.mean()
        aux = weights * aux
    return primary_loss(primary_logits, y, gamma), aux.mean()


class MetaLoss(NamedTuple):
    objective: torch.Tensor   # differentiate w.r.t. the label-weight net's parameters only
    primary: torch.Tensor     # primary focal loss at the look-ahead parameters (detached)
    entropy: torch.Tensor     # sum_c p̄_c log p̄_c of the generated labels (detached)
    weights: torch.Tensor | None  # the batch's generated weights (detached)


def meta_loss(primary_net: nn.Module, label_net: LabelWeightNet, x: torch.Tensor, y: torch.Tensor,
              alpha: float, *, entropy: float = 0.2, gamma: float = 2.0, second_order: bool = True,
              weight_norm: bool = False, fd_scale: float = FD_SCALE) -> MetaLoss:
    """The label-weight net's loss on one batch (eq. 4 approximated by one look-ahead step).

    θ+ = θ - α ∇θ L_train(θ; g^φ(x)) with the graph kept (create_graph), and the objective is
    L_prim(θ+) + entropy * sum p̄ log p̄; its gradient w.r.t. φ is the second-order
    hypergradient -α ∇φ∇θ L_train · ∇θ+ L_prim plus the entropy term. `primary_net(x)`
    returns (primary logits, auxiliary logits) (a `PrimaryNet`); θ are its parameters that
    require grad. The caller differentiates `objective` w.r.t. φ only (torch.autograd.grad
    on the label net's parameters): θ is not updated and receives no .grad.

    `second_order=False` is the finite-difference variant: with d = ∇θ+ L_prim(θ+) and
    ε = fd_scale / ||d|| (0.01 by default), the φ-gradient of the returned objective is
    -α / (2ε) [∇φ L_train(θ + εd) - ∇φ L_train(θ - εd)] plus the entropy term (the objective's
    value is then a surrogate, not the meta-loss; `primary` still reports L_prim(θ+)).

    Batch norm: every forward of the primary net here runs in training mode (batch
    statistics, as in the primary pass) through `functional_call` on *clones* of its buffers,
    so the real running statistics (and num_batches_tracked) are never touched: the clones
    absorb the updates and are thrown away. (Running the look-ahead on the module itself
    would update the running statistics a second time per batch, a pitfall of the released
    code.) The label net runs as it is (its own batch norm in training mode).
    """
    params = {n: p for n, p in primary_net.named_parameters() if p.requires_grad}
    names = list(params)
    buffers = {n: b.clone() for n, b in primary_net.named_buffers()}
    was_training = primary_net.training
    primary_net.train()

    def forward(p: dict[str, torch.Tensor]):
        return functional_call(primary_net, (p, buffers), (x,))

    def train_loss(p, log_t, w):
        return sum(training_terms(*forward(p), y, log_t, w, gamma, weight_norm))

    def grads(loss, p, create_graph=False):
        g = torch.autograd.grad(loss, [p[n] for n in names], create_graph=create_graph, allow_unused=True)
        return [torch.zeros_like(p[n]) if gi is None else gi for n, gi in zip(names, g)]

    try:
        log_t, w = label_net(x, y)
        ent = batch_entropy(log_t)
        if second_order:
            g = grads(train_loss(params, log_t, w), params, create_graph=True)
            fast = {n: params[n] - alpha * gi for n, gi in zip(names, g)}
            lp = primary_loss(forward(fast)[0], y, gamma)
            objective = lp + entropy * ent
        else:
            detached_w = None if w is None else w.detach()
            g = grads(train_loss(params, log_t.detach(), detached_w), params)
            fast = {n: (params[n] - alpha * gi).detach().requires_grad_() for n, gi in zip(names, g)}
            lp = primary_loss(forward(fast)[0], y, gamma)
            d = grads(lp, fast)
            norm = torch.sqrt(sum((di.double() ** 2).sum() for di in d))
            eps = fd_scale / norm.clamp_min(1e-12).to(d[0].dtype)
            plus = {n: (params[n] + eps * di).detach() for n, di in zip(names, d)}
            minus = {n: (params[n] - eps * di).detach() for n, di in zip(names, d)}
            difference = train_loss(plus, log_t, w) - train_loss(minus, log_t, w)
            objective = -alpha / (2 * eps) * difference + entropy * ent
    finally:
        primary_net.train(was_training)
    return MetaLoss(objective, lp.detach(), ent.detach(), None if w is None else w.detach())


def label_gradients(objective: torch.Tensor, label_net: nn.Module) -> None:
    """Set .grad of the label net's parameters to d objective / dφ (nothing else gets one)."""
    params = [p for p in label_net.parameters() if p.requires_grad]
    for p, g in zip(params, torch.autograd.grad(objective, params, allow_unused=True)):
        p.grad = torch.zeros_like(p) if g is None else g


# ----------------------------------------------------------------------------- AuxiLearn

NEUMANN_TERMS = 3          # AuxiLearn's truncation of the Neumann series
NEUMANN_STEP = 1e-3        # ... and its step η (the notes: 1e-3 or 1e-4)


def implicit_meta_loss(primary_net: nn.Module, label_net: LabelWeightNet, train: tuple[torch.Tensor, torch.Tensor],
                       val: tuple[torch.Tensor, torch.Tensor], *, terms: int = NEUMANN_TERMS,
                       step: float = NEUMANN_STEP, entropy: float = 0.2, gamma: float = 2.0) -> MetaLoss:
    """AuxiLearn's hypergradient (Navon et al. 2021; Lorraine et al. 2020's Algorithm 2) as a
    surrogate objective whose φ-gradient it is. Treating θ as the training loss's minimiser,
    the implicit function theorem gives dL_val/dφ = -∇φ∇θ L_train · H⁻¹ ∇θ L_val with
    H = ∇²θ L_train; H⁻¹ is replaced by the truncated Neumann series η Σ_{j=0..terms} (I - ηH)^j.

    `train` = (x, y) is a training batch (the generated labels are on it), `val` = (x, y)
    the batch whose primary loss is the outer objective (the auxiliary set, or the training
    batch again without one). No look-ahead step: everything is at the current θ. The
    objective is -(∇θ L_train · p) + entropy * sum p̄ log p̄ with p = η Σ (I - ηH)^j ∇θ L_val
    held constant, so its φ-gradient is the implicit hypergradient plus the entropy term;
    `primary` reports L_val at θ. Batch norm as in `meta_loss`: batch statistics on cloned
    buffers, so the real running statistics never move. θ gets no .grad.
    """
    if isinstance(terms, bool) or not isinstance(terms, int) or terms < 0:
        raise ValueError(f"terms (Neumann series terms) must be an integer >= 0, got {terms!r}")
    if not step > 0:
        raise ValueError(f"step (the Neumann series step) must be > 0, got {step!r}")
    params = {n: p for n, p in primary_net.named_parameters() if p.requires_grad}
    buffers = {n: b.clone() for n, b in primary_net.named_buffers()}
    (x, y), (xv, yv) = train, val
    was_training = primary_net.training
    primary_net.train()
    try:
        lv = primary_loss(functional_call(primary_net, (params, buffers), (xv,))[0], yv, gamma)
        v = torch.autograd.grad(lv, list(params.values()), allow_unused=True)
        log_t, w = label_net(x, y)
        ent = batch_entropy(log_t)
        lt = sum(training_terms(*functional_call(primary_net, (params, buffers), (x,)), y, log_t, w, gamma))
        g = torch.autograd.grad(lt, list(params.values()), create_graph=True, allow_unused=True)
        # parameters the training loss does not read drop out of every product; those the primary
        # loss does not read (the auxiliary head) start at 0 but fill in through H
        live = [i for i, gi in enumerate(g) if gi is not None and gi.requires_grad]
        theta = [list(params.values())[i] for i in live]
        g = [g[i] for i in live]
        v = [torch.zeros_like(t) if v[i] is None else v[i].detach() for t, i in zip(theta, live)]
        total, term = list(v), list(v)
        for _ in range(terms):
            hv = torch.autograd.grad(g, theta, grad_outputs=term, retain_graph=True, allow_unused=True)
            term = [t - step * (torch.zeros_like(t) if h is None else h) for t, h in zip(term, hv)]
            total = [a + t for a, t in zip(total, term)]
        p = [step * a for a in total]
        objective = -sum((gi * pi).sum() for gi, pi in zip(g, p)) + entropy * ent
    finally:
        primary_net.train(was_training)
    return MetaLoss(objective, lv.detach(), ent.detach(), None if w is None else w.detach())
