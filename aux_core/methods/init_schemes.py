"""Initialisation schemes (LION-DG and its baselines), applied after a method has attached
its heads and before the optimiser is built.

Every scheme is `scheme(model, heads, calib_x)`: `heads` are the auxiliary heads a method
attached (plus any the model carries on its path, `model.aux_modules()`), `calib_x` a
batch of normalised training images for the data-driven schemes.

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


def init_default(model, heads, calib_x=None):
    pass


def init_he(model, heads, calib_x=None):
    _he(model)
    _he(heads)


def init_lion_dg(model, heads, calib_x=None):
    _he(model)
    _zero([heads, *model.aux_modules()])


def init_lsuv(model, heads, calib_x=None):
    _lsuv_model(model, calib_x)
    _lsuv_heads(model, heads, calib_x)


def init_lion_lsuv(model, heads, calib_x=None):
    _zero([heads, *model.aux_modules()])
    _lsuv_model(model, calib_x, skip=model.aux_modules())


@torch.no_grad()
def init_fixup(model, heads, calib_x=None):
    init_he(model, heads)
    branches = model.residual_branches()
    for branch in branches:
        branch.fixup_(len(branches))
    _zero([model.head])


def init_rezero(model, heads, calib_x=None):
    init_he(model, heads)
    for branch in model.residual_branches():
        branch.gate = ScalarGate(0.0)


INIT_SCHEMES: dict[str, Callable] = {
    "default": init_default, "he": init_he, "lion_dg": init_lion_dg, "lsuv": init_lsuv,
    "lion_lsuv": init_lion_lsuv, "fixup": init_fixup, "rezero": init_rezero,
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


def apply_init(name: str, model: TapModel, heads: nn.Module, calib_x: torch.Tensor | None = None) -> None:
    check_init(name, model)
    INIT_SCHEMES[name](model, heads, calib_x)


__all__ = ["INIT_SCHEMES", "apply_init", "check_init", "list_init_schemes", "lsuv_"]
