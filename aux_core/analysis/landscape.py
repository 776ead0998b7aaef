"""The initial loss landscape (paper 1, Appendix A.1: Tables 5 and 6, Figure 6).

The loss is evaluated on a grid theta_0 + a d1 + b d2, a, b in [-span, span], around the
initial point theta_0, on a fixed set of training images (the paper: 51 x 51 points, 500
images), and summarised by the surface's standard deviation, its range and the mean
magnitude of its finite-difference gradient (per grid step). Two ways to pick d1, d2:

  paper    the paper's protocol as we read it: one Gaussian draw per parameter of the whole
           network, auxiliary branches included, active or not, scaled to unit norm over
           all of them ("normalised to unit variance"; a unit-norm reading is the one that
           gives losses as flat as the paper's). The inactive branches never enter the
           loss, so the more of them there are, the smaller the share of the direction that
           moves the loss: adding branches shrinks the step, whatever the landscape.
  filter   the control the paper lacks: filter-normalised directions (Li et al. 2018) over
           the *active* parameters only; each filter (row of a weight matrix, output
           channel of a convolution) of the direction gets the norm of the same filter of
           the weights, biases and normalisation parameters get none, inactive branches none.
           Its step is the same whatever the number of inactive branches.

The loss is the main cross-entropy by default, the same function of the network for every
row, so rows differ only in the directions; `loss="total"` adds the auxiliary terms (the
objective the optimiser descends), which makes any asymmetric landscape rougher than plain.

Active parameters are found by autograd: those that receive a gradient from the loss at
theta_0. Each direction's draws come from its own generator, model parameters first, so the
backbone's share of a direction is the same draw for plain training and for any number of
branches. Only active parameters are moved on the grid: moving the inactive ones as well
changes no loss value (they are not in the computation), as a test checks.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from ..loader import Batch
from ..methods import create_method
from ..models import create_model

DIRECTIONS = ("paper", "filter")
LOSSES = ("main", "total")   # the main cross-entropy | the training objective (main + alpha * auxiliary terms)


@dataclass
class Setup:
    """A network at its initial point, with its method, ready for loss evaluations."""
    model: torch.nn.Module
    heads: torch.nn.ModuleDict
    method: object
    named: dict[str, torch.nn.Parameter]   # every parameter, model first ("model.*", "heads.*")
    active: list[str]                      # names of the parameters the loss depends on


def build(model_name: str, num_classes: int, n_branches: int, alpha: float, seed: int) -> Setup:
    """Plain network (n_branches = 0) or the asymmetric one with n_branches per tap, at init."""
    torch.manual_seed(seed)
    model = create_model(model_name, num_classes)
    if n_branches == 0:
        method = create_method("plain")
    else:
        method = create_method("asymmetric", alpha=alpha, n_branches=n_branches)
    heads = method.build_heads(model, num_classes)
    model.to(memory_format=torch.channels_last)  # 1.4-2x faster convolutions on the CPU, as in training
    named = {**{f"model.{n}": p for n, p in model.named_parameters()},
             **{f"heads.{n}": p for n, p in heads.named_parameters()}}
    return Setup(model.eval(), heads, method, named, [])


def loss_fn(setup: Setup, batch: Batch, loss: str = "main"):
    ctx = SimpleNamespace(heads=setup.heads, step=0)

    def f() -> torch.Tensor:
        logits, taps = setup.model(batch.x)
        terms = setup.method.loss_terms(logits, taps, batch, ctx)
        return terms["main"] if loss == "main" else torch.stack(list(terms.values())).sum()
    return f


def find_active(setup: Setup, f) -> list[str]:
    names = list(setup.named)
    grads = torch.autograd.grad(f(), [setup.named[n] for n in names], allow_unused=True)
    return [n for n, g in zip(names, grads) if g is not None]


def direction(setup: Setup, kind: str, seed: int) -> dict[str, torch.Tensor]:
    """One direction, {parameter name: tensor}; zero tensors are left out."""
    if kind not in DIRECTIONS:
        raise ValueError(f"direction kind {kind!r} is not one of: {', '.join(DIRECTIONS)}")
    gen = torch.Generator().manual_seed(seed)
    draws = {n: torch.randn(p.shape, generator=gen) for n, p in setup.named.items()}  # model first: shared draws
    if kind == "paper":
        norm = torch.sqrt(sum((d.double() ** 2).sum() for d in draws.values()))
        return {n: (draws[n] / norm).to(setup.named[n].dtype) for n in setup.active}
    out = {}
    for n in setup.active:
        p, d = setup.named[n].detach(), draws[n]
        if p.dim() < 2:
            continue  # biases and normalisation parameters: no perturbation (Li et al.)
        dims = tuple(range(1, p.dim()))
        scale = torch.linalg.vector_norm(p, dim=dims, keepdim=True) / torch.linalg.vector_norm(d, dim=dims, keepdim=True).clamp_min(1e-12)
        out[n] = d * scale
    return out


@torch.inference_mode()
def surface(setup: Setup, f, d1: dict, d2: dict, grid: int, span: float = 1.0) -> np.ndarray:
    """Loss on the grid [a_i, b_j] (rows: d1 coefficient a, columns: d2 coefficient b)."""
    coords = np.linspace(-span, span, grid)
    names = sorted(set(d1) | set(d2))
    origin = {n: setup.named[n].detach().clone() for n in names}
    zero = {n: torch.zeros_like(origin[n]) for n in names}
    z = np.empty((grid, grid))
    try:
        for i, a in enumerate(coords):
            for j, b in enumerate(coords):
                for n in names:
                    setup.named[n].copy_(origin[n] + a * d1.get(n, zero[n]) + b * d2.get(n, zero[n]))
                z[i, j] = float(f())
    finally:
        for n in names:
            setup.named[n].copy_(origin[n])
    return z


def roughness(z: np.ndarray) -> dict[str, float]:
    """The paper's Std(Loss), Range(Loss) and Mean(Grad) (gradient per grid step)."""
    gy, gx = np.gradient(z)
    return {"std_loss": float(z.std()), "range_loss": float(z.max() - z.min()),
            "mean_grad": float(np.sqrt(gx ** 2 + gy ** 2).mean())}


def compute(model_name: str, num_classes: int, n_branches: int, batch: Batch, *, kind: str, grid: int,
            span: float = 1.0, alpha: float = 1.0, loss: str = "main", seed: int = 0) -> dict:
    """One landscape: the surface, its roughness and the parameter counts."""
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is not one of: {', '.join(LOSSES)}")
    setup = build(model_name, num_classes, n_branches, alpha, seed)
    f = loss_fn(setup, batch, loss)
    setup.active = find_active(setup, f)
    d1, d2 = direction(setup, kind, 2 * seed + 1), direction(setup, kind, 2 * seed + 2)
    z = surface(setup, f, d1, d2, grid, span)
    return {"surface": z.tolist(), **roughness(z), "center_loss": float(z[grid // 2, grid // 2]),
            "params": sum(p.numel() for p in setup.named.values()),
            "active_params": sum(setup.named[n].numel() for n in setup.active)}
