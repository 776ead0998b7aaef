"""Analyses beyond accuracy: loss landscapes (`landscape`) and attention maps (`attention`).

Probes are analyses the training loop runs at every evaluation on a fixed batch of test
images (`RunConfig(probes=("attention",))`); each returns numbers (and small lists) that
go into the run's history row.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from . import attention, branch_gradients


class ProbeBatch(NamedTuple):
    x: torch.Tensor      # normalised images on the training device
    raw: torch.Tensor    # the same images, uint8 [N, 3, H, W], on the CPU
    y: torch.Tensor      # labels


PROBES = {"attention": attention, "branch_gradients": branch_gradients}


def list_probes() -> list[str]:
    return sorted(PROBES)


def check_probes(names, model, method: str | None = None) -> None:
    """Unknown probe names, or a probe that does not apply to the model or method, fail at once."""
    for name in names:
        if name not in PROBES:
            raise ValueError(f"unknown probe {name!r}; available: {', '.join(list_probes())}")
        PROBES[name].check(model)
        needs = getattr(PROBES[name], "METHODS", None)
        if method is not None and needs is not None and method not in needs:
            raise ValueError(f"the {name} probe needs one of the methods {', '.join(needs)}; got {method!r}")


def run_probes(names, model, batch: ProbeBatch, heads=None) -> dict:
    """Probes that declare METHODS read the method's heads too."""
    out = {}
    for name in names:
        p = PROBES[name]
        out.update(p.probe(model, batch, heads) if hasattr(p, "METHODS") else p.probe(model, batch))
    return out
