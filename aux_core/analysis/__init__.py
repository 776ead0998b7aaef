"""Analyses beyond accuracy: loss landscapes (`landscape`) and attention maps (`attention`).

Probes are analyses the training loop runs at every evaluation on a fixed batch of test
images (`RunConfig(probes=("attention",))`); each returns numbers (and small lists) that
go into the run's history row.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from . import attention


class ProbeBatch(NamedTuple):
    x: torch.Tensor      # normalised images on the training device
    raw: torch.Tensor    # the same images, uint8 [N, 3, H, W], on the CPU
    y: torch.Tensor      # labels


PROBES = {"attention": attention}


def list_probes() -> list[str]:
    return sorted(PROBES)


def check_probes(names, model) -> None:
    """Unknown probe names, or a probe that does not apply to the model, fail at once."""
    for name in names:
        if name not in PROBES:
            raise ValueError(f"unknown probe {name!r}; available: {', '.join(list_probes())}")
        PROBES[name].check(model)


def run_probes(names, model, batch: ProbeBatch) -> dict:
    out = {}
    for name in names:
        out.update(PROBES[name].probe(model, batch))
    return out
