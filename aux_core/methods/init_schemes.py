"""Initialisation schemes, applied after a method has attached its heads.

`default` keeps each module's own initialisation. `he` re-draws every weight of the
backbone and heads from Kaiming-normal (fan_in, ReLU gain) with zero biases. `lion_dg`
is `he` with the auxiliary heads set exactly to zero (LION-DG, Algorithm 1), so the
auxiliary losses send no gradient into the backbone at step 0 (its Proposition 1).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def _he(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@torch.no_grad()
def _zero(module: nn.Module) -> None:
    for p in module.parameters():
        p.zero_()


def init_default(model, heads, calib_x=None):
    pass


def init_he(model, heads, calib_x=None):
    _he(model)
    _he(heads)


def init_lion_dg(model, heads, calib_x=None):
    _he(model)
    _zero(heads)


INIT_SCHEMES: dict[str, Callable] = {"default": init_default, "he": init_he, "lion_dg": init_lion_dg}


def list_init_schemes() -> list[str]:
    return sorted(INIT_SCHEMES)


def apply_init(name: str, model: nn.Module, heads: nn.Module, calib_x: torch.Tensor | None = None) -> None:
    if name not in INIT_SCHEMES:
        raise ValueError(f"unknown init scheme {name!r}; available: {', '.join(list_init_schemes())}")
    INIT_SCHEMES[name](model, heads, calib_x)
