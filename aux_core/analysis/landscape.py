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
        scale = (torch.linalg.vector_norm(p, dim=dims, keepdim=True)
                 / torch.linalg.vector_norm(d, dim=dims, keepdim=True).clamp_min(1e-12))
        out[n] = d * scale
    return out


def coefficients(grid: int, span: float) -> np.ndarray:
    return np.linspace(-span, span, grid)


@torch.inference_mode()
def surface_pointwise(setup: Setup, f, d1: dict, d2: dict, grid: int, span: float = 1.0) -> np.ndarray:
    """Loss on the grid [a_i, b_j] (rows: d1 coefficient a, columns: d2 coefficient b), one point
    at a time: the parameters are moved in place and restored (the reference for `surface`)."""
    coords = coefficients(grid, span)
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


class _Loss(torch.nn.Module):
    """Model and heads under the names of `Setup.named`, so that one functional_call swaps in a
    grid point's parameters; its forward is `loss_fn`'s loss."""

    def __init__(self, setup: Setup, loss: str):
        super().__init__()
        self.model, self.heads, self.method, self.loss = setup.model, setup.heads, setup.method, loss

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits, taps = self.model(x)
        terms = self.method.loss_terms(logits, taps, Batch(x, y), SimpleNamespace(heads=self.heads, step=0))
        return terms["main"] if self.loss == "main" else torch.stack(list(terms.values())).sum()


@torch.inference_mode()
def surface(setup: Setup, batch: Batch, d1: dict, d2: dict, grid: int, span: float = 1.0, loss: str = "main",
            points_per_pass: int | None = None) -> np.ndarray:
    """`surface_pointwise`'s grid, `points_per_pass` grid points per batched forward pass
    (torch.func.vmap over the points' parameters; default: as many as keep a pass near 16k
    images). Equal to the pointwise surface to float32 rounding (a test checks)."""
    from torch.func import functional_call, vmap
    coords = torch.as_tensor(coefficients(grid, span), dtype=torch.float32)
    names = sorted(set(d1) | set(d2))
    origin = {n: setup.named[n].detach() for n in names}
    zero = {n: torch.zeros_like(origin[n]) for n in names}
    a, b = torch.meshgrid(coords, coords, indexing="ij")
    a, b = a.reshape(-1).to(batch.x.device), b.reshape(-1).to(batch.x.device)
    net = _Loss(setup, loss)
    per_pass = points_per_pass or max(1, 16_384 // len(batch.x))

    def at(params):
        return functional_call(net, params, (batch.x, batch.y))

    out = []
    for lo in range(0, len(a), per_pass):
        ca, cb = a[lo:lo + per_pass], b[lo:lo + per_pass]
        shape = (-1,) + (1,) * 8
        params = {n: origin[n] + ca.view(shape[:origin[n].dim() + 1]) * d1.get(n, zero[n])
                  + cb.view(shape[:origin[n].dim() + 1]) * d2.get(n, zero[n]) for n in names}
        out.append(vmap(at, in_dims=({n: 0 for n in names},), randomness="error")(params).float())
    return torch.cat(out).view(grid, grid).double().cpu().numpy()


def roughness(z: np.ndarray) -> dict[str, float]:
    """The paper's Std(Loss), Range(Loss) and Mean(Grad) (gradient per grid step)."""
    gy, gx = np.gradient(z)
    return {"std_loss": float(z.std()), "range_loss": float(z.max() - z.min()),
            "mean_grad": float(np.sqrt(gx ** 2 + gy ** 2).mean())}


def compute(model_name: str, num_classes: int, n_branches: int, batch: Batch, *, kind: str, grid: int,
            span: float = 1.0, alpha: float = 1.0, loss: str = "main", seed: int = 0,
            device: str | torch.device = "cpu") -> dict:
    """One landscape: the surface, its roughness and the parameter counts. On `device` the
    grid points run batched (`surface`); the network, its directions and the images are the
    same draws on every device (made on the CPU, then moved), and convolutions stay in full
    float32 (no TF32), since the surfaces differ in the third decimal. On the CPU the points
    run one by one: there the batched pass is 2-3x slower for the CNN and the ViT."""
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r} is not one of: {', '.join(LOSSES)}")
    device = torch.device(device)
    setup = build(model_name, num_classes, n_branches, alpha, seed)
    f = loss_fn(setup, batch, loss)
    setup.active = find_active(setup, f)
    d1, d2 = direction(setup, kind, 2 * seed + 1), direction(setup, kind, 2 * seed + 2)
    if device.type == "cpu":   # batched (grouped) convolutions are 2-3x slower per point there (measured)
        z = surface_pointwise(setup, f, d1, d2, grid, span)
    else:
        setup.model.to(device), setup.heads.to(device)
        setup.named = {**{f"model.{n}": p for n, p in setup.model.named_parameters()},
                       **{f"heads.{n}": p for n, p in setup.heads.named_parameters()}}
        d1, d2 = ({n: t.to(device) for n, t in d.items()} for d in (d1, d2))
        batch = Batch(batch.x.to(device), batch.y.to(device))
        tf32 = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False
        try:
            z = surface(setup, batch, d1, d2, grid, span, loss)
        finally:
            torch.backends.cudnn.allow_tf32 = tf32
    return {"surface": z.tolist(), **roughness(z), "center_loss": float(z[grid // 2, grid // 2]),
            "params": sum(p.numel() for p in setup.named.values()),
            "active_params": sum(setup.named[n].numel() for n in setup.active)}
