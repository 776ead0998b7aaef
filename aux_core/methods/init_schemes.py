"""Initialisation schemes (LION-DG and its baselines), applied after a method has attached
its heads and before the optimiser is built.

Every scheme is `scheme(model, heads, calib_x, calib_y)`: `heads` are the auxiliary heads a
method attached (plus any the model carries on its path, `model.aux_modules()`), `calib_x`,
`calib_y` a batch of normalised training images and their labels for the data-driven schemes.

  default    each module's own initialisation
  he         Kaiming-normal (fan_in, ReLU gain) for every weight, zero biases
  lion_dg    `he` for the backbone, auxiliary heads exactly zero, weights and biases
             (LION-DG, Algorithm 1): the auxiliary losses send no gradient into the
             backbone at step 0 (its Proposition 1)
  lsuv       layer-sequential unit variance (Mishkin & Matas 2016) for backbone and heads:
             orthonormal weights, then each layer in forward order is rescaled until its
             output variance on the calibration batch is 1 (tolerance 0.01, at most 10 tries)
  lion_lsuv  `lsuv` for the backbone, zero heads (the paper's "Hybrid")
  fixup      Fixup (Zhang et al. 2019), batch norm kept: `he`, then each residual branch
             has its inner layers scaled by L^(-1/(2m-2)) and its last layer zeroed, and
             the main classifier starts at zero. A DenseNet layer is a branch with one
             weight layer (m=1): that layer is the last, so it starts at zero.
  rezero     ReZero (Bachlechner et al. 2021), batch norm kept: `he`, then every branch's
             output is multiplied by a learnable scalar that starts at zero. In DenseNet the
             scalar multiplies the new channels a layer concatenates.
  gradinit   GradInit (Zhu et al. 2021) for Adam: from `he`, learn one scale per weight tensor
             (heads included) so that one Adam-like step (lr 1e-3, sign of the gradient)
             lowers the deep-supervision loss (main + 0.3 x each head) on a second batch
             most, while the gradient's l1 norm stays below a bound; 20 iterations on
             batches of 64 calibration images. Costly: each iteration differentiates
             through a gradient step.
Fixup and ReZero were designed to train residual networks without normalisation; our
DenseNet-DS and ResNet-DS keep batch norm (the LION-DG paper does not say it removed it),
so the next batch norm rescales a branch as soon as it stops being exactly zero.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..models.base import ScalarGate, TapModel

LSUV_TARGET = 1.0     # the paper's A.3: target variance 1.0,
LSUV_TOL = 0.01       # tolerance 0.01,
LSUV_MAX_ITER = 10    # at most 10 iterations per layer,
LSUV_SAMPLES = 256    # on 256 calibration images
WEIGHTED = (nn.Conv2d, nn.Linear)


def _he(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, WEIGHTED):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@torch.no_grad()
def _zero(modules) -> None:
    for module in modules:
        for p in module.parameters():
            p.zero_()


@torch.no_grad()
def lsuv_(forward: Callable[[], object], root: nn.Module, skip: tuple[nn.Module, ...] = (),
          target: float = LSUV_TARGET, tol: float = LSUV_TOL, max_iter: int = LSUV_MAX_ITER) -> list[dict]:
    """LSUV on the conv/linear layers of `root` that `forward()` runs; layers inside `skip`
    keep their weights. One forward pass does it all: a hook on each layer rescales it until
    its output on the calibration batch has the target variance, then hands the corrected
    output on, so every later layer is calibrated on the corrected activations of the
    earlier ones (exactly the layer-sequential order). Batch norm uses batch statistics and
    its running statistics are restored afterwards: calibration is not training.
    Returns one record per layer, in forward order: name, variance reached, iterations."""
    skipped = {id(m) for s in skip for m in s.modules()}
    named = {id(m): n for n, m in root.named_modules() if isinstance(m, WEIGHTED) and id(m) not in skipped}
    report: list[dict] = []
    done: set[int] = set()

    def calibrate(layer, inputs, out):
        if id(layer) in done:   # the re-evaluation below runs this hook again
            return None
        done.add(id(layer))
        for it in range(1, max_iter + 1):
            var = float(out.float().var())
            if abs(var - target) < tol or var == 0 or it == max_iter:
                break
            layer.weight.mul_((target / var) ** 0.5)
            if layer.bias is not None:
                layer.bias.mul_((target / var) ** 0.5)
            out = layer(*inputs)
        report.append({"layer": named[id(layer)], "variance": var, "iterations": it})
        return out

    layers = [m for m in root.modules() if id(m) in named]
    for layer in layers:
        nn.init.orthogonal_(layer.weight)
        if layer.bias is not None:
            layer.bias.zero_()
    buffers = {n: b.clone() for n, b in root.named_buffers()}
    was_training = root.training
    root.train()
    hooks = [m.register_forward_hook(calibrate) for m in layers]
    try:
        forward()
    finally:
        for h in hooks:
            h.remove()
        for n, b in root.named_buffers():
            b.copy_(buffers[n])
        root.train(was_training)
    return report


def _lsuv_model(model: TapModel, calib_x: torch.Tensor | None, skip=()) -> None:
    if calib_x is None:
        raise ValueError("LSUV needs a calibration batch (calib_x); aux_core.train passes one")
    lsuv_(lambda: model(calib_x), model, skip=tuple(skip))


def _lsuv_heads(model: TapModel, heads: nn.ModuleDict, calib_x: torch.Tensor) -> None:
    """LSUV for side heads: each calibrated on its tap of the (already calibrated) model."""
    model.train()
    with torch.no_grad():
        _, taps = model(calib_x)
    for name, head in heads.items():
        lsuv_(lambda: head(taps[name]), head)


def init_default(model, heads, calib_x=None, calib_y=None):
    pass


def init_he(model, heads, calib_x=None, calib_y=None):
    _he(model)
    _he(heads)


def init_lion_dg(model, heads, calib_x=None, calib_y=None):
    _he(model)
    _zero([heads, *model.aux_modules()])


def init_lsuv(model, heads, calib_x=None, calib_y=None):
    _lsuv_model(model, calib_x)
    _lsuv_heads(model, heads, calib_x)


def init_lion_lsuv(model, heads, calib_x=None, calib_y=None):
    _zero([heads, *model.aux_modules()])
    _lsuv_model(model, calib_x, skip=model.aux_modules())


@torch.no_grad()
def init_fixup(model, heads, calib_x=None, calib_y=None):
    init_he(model, heads)
    branches = model.residual_branches()
    for branch in branches:
        branch.fixup_(len(branches))
    _zero([model.head])


def init_rezero(model, heads, calib_x=None, calib_y=None):
    init_he(model, heads)
    for branch in model.residual_branches():
        branch.gate = ScalarGate(0.0)


GRADINIT_ITERS = 20        # scale-learning iterations
GRADINIT_BATCH = 64        # images per batch, drawn from the calibration batch
GRADINIT_LR = 1e-3         # the lookahead step (the training learning rate)
GRADINIT_SCALE_LR = 1e-2   # Adam learning rate of the scales
GRADINIT_MIN_SCALE = 0.01  # scales stay above this
GRADINIT_GRAD_BOUND = 100.0  # l1 bound on the gradient (the paper's gamma), per million weights
GRADINIT_AUX_WEIGHT = 0.3  # alpha of the deep-supervision loss it optimises


def init_gradinit(model, heads, calib_x=None, calib_y=None):
    if calib_x is None or calib_y is None:
        raise ValueError("GradInit needs a labelled calibration batch (calib_x, calib_y); aux_core.train passes one")
    from torch.func import functional_call
    from torch.nn import functional as F

    init_he(model, heads)
    both = nn.ModuleDict({"model": model, "heads": heads})
    base = {n: p.detach().clone() for n, p in both.named_parameters()}
    scaled = [n for n, p in base.items() if p.dim() > 1]          # conv and linear weights
    scales = torch.ones(len(scaled), requires_grad=True)
    opt = torch.optim.Adam([scales], lr=GRADINIT_SCALE_LR)
    bound = GRADINIT_GRAD_BOUND * sum(base[n].numel() for n in scaled) / 1e6
    gen = torch.Generator().manual_seed(0)
    buffers = {n: b.clone() for n, b in both.named_buffers()}
    was_training = both.training
    both.train()

    def loss_at(params, x, y):
        logits, taps = functional_call(model, {k[6:]: v for k, v in params.items() if k.startswith("model.")}, (x,))
        loss = F.cross_entropy(logits, y)
        for name in heads:
            head = {k[len(f"heads.{name}."):]: v for k, v in params.items() if k.startswith(f"heads.{name}.")}
            loss = loss + GRADINIT_AUX_WEIGHT * F.cross_entropy(functional_call(heads[name], head, (taps[name],)), y)
        return loss

    for _ in range(GRADINIT_ITERS):
        idx = torch.randperm(len(calib_x), generator=gen)[: 2 * GRADINIT_BATCH]
        (x1, x2), (y1, y2) = calib_x[idx].chunk(2), calib_y[idx].chunk(2)
        params = dict(base)
        for i, n in enumerate(scaled):
            params[n] = scales[i] * base[n]
        loss = loss_at(params, x1, y1)
        grads = torch.autograd.grad(loss, [params[n] for n in scaled], create_graph=True)
        g1 = sum(g.abs().sum() for g in grads)
        if g1 > bound:           # first keep the gradient in bounds
            objective = g1
        else:                    # then make one Adam-like step as useful as possible
            stepped = dict(params)
            for n, g in zip(scaled, grads):
                stepped[n] = params[n] - GRADINIT_LR * torch.sign(g.detach())
            objective = loss_at(stepped, x2, y2)
        opt.zero_grad()
        objective.backward()
        opt.step()
        with torch.no_grad():
            scales.clamp_(min=GRADINIT_MIN_SCALE)
    with torch.no_grad():
        live = dict(both.named_parameters())
        for i, n in enumerate(scaled):
            live[n].copy_(scales[i] * base[n])
        for n, b in both.named_buffers():  # the scale search is not training
            b.copy_(buffers[n])
    both.train(was_training)


INIT_SCHEMES: dict[str, Callable] = {
    "default": init_default, "he": init_he, "lion_dg": init_lion_dg, "lsuv": init_lsuv,
    "lion_lsuv": init_lion_lsuv, "fixup": init_fixup, "rezero": init_rezero, "gradinit": init_gradinit,
}
NEEDS_BRANCHES = ("fixup", "rezero")


def list_init_schemes() -> list[str]:
    return sorted(INIT_SCHEMES)


def check_init(name: str, model: TapModel) -> None:
    """Fail before any work when a scheme cannot apply to a model."""
    if name not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {name!r}; available: {', '.join(list_init_schemes())}")
    if name in NEEDS_BRANCHES:
        model.residual_branches()  # raises, naming the models that have branches


def apply_init(name: str, model: TapModel, heads: nn.Module, calib_x: torch.Tensor | None = None,
               calib_y: torch.Tensor | None = None) -> None:
    check_init(name, model)
    INIT_SCHEMES[name](model, heads, calib_x, calib_y)


__all__ = ["INIT_SCHEMES", "apply_init", "check_init", "list_init_schemes", "lsuv_"]
