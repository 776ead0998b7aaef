"""What a training method may plug into the one training loop (`aux_core.train`).

A method is a small dataclass whose fields are its options. Per run the loop calls
  heads = method.build_heads(model, num_classes)   # trainable modules on taps (may be empty)
  method.setup(ctx)                                # once, after initialisation (extra nets, optimisers)
  terms = method.loss_terms(logits, taps, batch, ctx)   # every step
  method.after_step(ctx) / method.after_epoch(ctx)     # optional hooks (meta-updates, ...)
  extras = method.extras(ctx)                      # once, at the end: JSON-able results of its own
`loss_terms` returns named, already-weighted loss terms that sum to the training loss.
The key "main" is the primary objective; every other key is auxiliary. That split is what
gradient diagnostics compare (main vs sum of the rest) and what the history logs per term.
Heads exist only in training: evaluation always reads the model's own final logits.

A method whose loss is a pure function of (logits, taps, batch, heads, ctx.step), with no
state of its own and no hooks (and no aggregated backward), sets `vectorizable = True`: the multi-seed engine
(`aux_core.multiseed`) may then train several seeds of it as one batched computation.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from ..loader import Batch, DeviceLoader
from ..models.base import TapModel, pool_tap

if TYPE_CHECKING:
    from ..config import RunConfig


@dataclass
class StepContext:
    """What a method's hooks read while a run trains (both engines fill it the same way)."""
    config: "RunConfig"
    model: TapModel
    heads: nn.ModuleDict
    loader: DeviceLoader
    device: torch.device
    num_classes: int
    steps_per_epoch: int
    total_steps: int
    step: int = 0
    epoch: int = 0
    lr: float = 0.0                       # the learning rate of the step just taken (the scheduler has moved on)
    held_out: DeviceLoader | None = None  # the validation split as a training loader (val_fraction > 0)


@dataclass
class Method:
    name: ClassVar[str] = ""
    vectorizable: ClassVar[bool] = False  # safe to train S seeds at once under torch.func.vmap

    def validate(self) -> None:
        """Raise ValueError for out-of-range options (called before any work)."""

    def build_heads(self, model: TapModel, num_classes: int) -> nn.ModuleDict:
        return nn.ModuleDict()

    def setup(self, ctx: "StepContext") -> None:
        pass

    def loss_terms(self, logits: torch.Tensor, taps: dict[str, torch.Tensor], batch: Batch,
                   ctx: "StepContext") -> dict[str, torch.Tensor]:
        return {"main": nn.functional.cross_entropy(logits, batch.y)}

    def head_outputs(self, heads: nn.ModuleDict, taps: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Each tap head's output as the loss calls it (one place, so that the cost model counts
        what training runs); heads fed from elsewhere (a meta-learner's) are left out."""
        return {name: head(taps[name]) for name, head in heads.items() if name in taps}

    def backward(self, terms: dict[str, torch.Tensor], ctx: "StepContext") -> bool:
        """The step's backward pass, where the method does its own (an `aggregator` other than
        "sum": `aux_core.methods.aggregation`); False leaves it to the loop (the summed loss)."""
        aggregator = getattr(self, "aggregator", "sum")
        if aggregator == "sum":
            return False
        from .aggregation import aggregated_backward, make_aggregator
        if getattr(self, "_aggregator", None) is None:
            self._aggregator = make_aggregator(aggregator)
        shared = ctx.model.backbone_parameters()
        ids = {id(p) for p in shared}
        others = [p for p in [*ctx.model.parameters(), *ctx.heads.parameters()] if id(p) not in ids]
        aggregated_backward(terms, shared, others, self._aggregator)
        return True

    def after_step(self, ctx: "StepContext") -> None:
        pass

    def after_epoch(self, ctx: "StepContext") -> None:
        pass

    def state_dict(self) -> dict:
        """What a resumable checkpoint must keep of the method beyond the model and heads
        (a meta-learner's network, optimiser and history): tensors and plain containers."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def extras(self, ctx: "StepContext") -> dict:
        """What the method learnt besides the model (a meta-learner's history, per-sample
        weights), JSON-able; stored in the run's metrics["extras"] when not empty."""
        return {}

    @classmethod
    def options(cls) -> dict[str, object]:
        return {f.name: f.default for f in fields(cls)}


class TapHead(nn.Module):
    """Pool a tap to a vector (GAP / class token) and classify it with one linear layer."""

    def __init__(self, in_features: int, num_classes: int, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes, bias=bias)

    def forward(self, tap: torch.Tensor) -> torch.Tensor:
        return self.fc(pool_tap(tap))


def tap_widths(model: TapModel) -> dict[str, int]:
    """Width of each tap after pooling (channels of a feature map, a token's width)."""
    from ..models.base import tap_shapes
    if model.taps_are_logits:
        raise ValueError(f"{type(model).__name__} carries its auxiliary heads on its path (its taps are "
                         "logits); only the 'ds' and 'plain' methods support it")
    return {k: (s[0] if len(s) == 3 else s[-1]) for k, s in tap_shapes(model).items()}


def check_taps(model: TapModel, taps: tuple[str, ...] | None) -> tuple[str, ...]:
    """The taps a method attaches to: all of the model's by default, else the named ones."""
    if taps is None:
        return model.tap_names
    unknown = [t for t in taps if t not in model.tap_names]
    if unknown:
        raise ValueError(f"unknown tap(s) {unknown} for this model; its taps: {list(model.tap_names)}")
    return tuple(taps)
