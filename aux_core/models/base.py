"""The contract every model in the registry keeps.

A model returns its final logits *and* a dict of named intermediate features ("taps").
Methods attach auxiliary heads to taps from the outside, so no model file knows about
deep supervision, DKS branches or sigmoid probes.
"""
from __future__ import annotations

import torch
from torch import nn


class TapModel(nn.Module):
    """Backbone + final classifier `head`; `forward` returns (logits, taps).

    Subclasses set `tap_names` (attachment points, in depth order), `num_features`
    (width of the vector `head` reads) and implement
    `forward_features(x) -> (features, taps)`.
    """

    tap_names: tuple[str, ...] = ()
    num_features: int
    head: nn.Linear
    taps_are_logits: bool = False  # True when the model's own on-path heads give the taps

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        features, taps = self.forward_features(x)
        return self.head(features), taps

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Parameters shared by every loss: everything but the final classifier and any
        auxiliary head the model carries itself."""
        heads = {id(p) for m in (self.head, *self.aux_modules()) for p in m.parameters()}
        return [p for p in self.parameters() if id(p) not in heads]

    def aux_modules(self) -> list[nn.Module]:
        """Auxiliary heads built into the model (on-path designs); initialisation schemes
        treat them like the heads a method attaches. Side-tap models have none."""
        return []

    def auxiliary_parameters(self, heads: nn.Module) -> list[nn.Parameter]:
        """Every auxiliary head's parameters: those a method attached (`heads`) and those of
        the heads the model carries itself (`aux_modules()`)."""
        return [p for m in (heads, *self.aux_modules()) for p in m.parameters()]

    def residual_branches(self) -> list[nn.Module]:
        """The residual (ResNet) or dense (DenseNet) branches, each with a `gate` module on
        its output and a `fixup_(num_branches)` rule; used by Fixup and ReZero."""
        raise ValueError(f"{type(self).__name__} has no residual or dense branches; "
                         "Fixup and ReZero apply to densenet_ds, resnet_ds and resnet_ds_onpath")


class ScalarGate(nn.Module):
    """A learnable scalar on a branch's output, zero at the start (ReZero)."""

    def __init__(self, value: float = 0.0):
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.alpha * x


def kaiming_convs(module: nn.Module) -> None:
    """He-normal (fan-out) initialisation of every convolution, as the CIFAR ResNet family uses."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


def run_stages(x: torch.Tensor, stages: nn.ModuleList, tap_names: tuple[str, ...]):
    """Apply the stages in turn, exposing the output of stage i as tap_names[i]."""
    taps = {}
    for i, stage in enumerate(stages):
        x = stage(x)
        if i < len(tap_names):
            taps[tap_names[i]] = x
    return x, taps


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def pool_tap(t: torch.Tensor) -> torch.Tensor:
    """Reduce a tap to one vector per sample: feature maps by global average pooling,
    token sequences by their class token (index 0), vectors unchanged."""
    if t.dim() == 4:
        return t.mean(dim=(2, 3))
    if t.dim() == 3:
        return t[:, 0]
    return t.flatten(1)


@torch.no_grad()
def tap_shapes(model: TapModel, image_shape=(3, 32, 32)) -> dict[str, tuple[int, ...]]:
    """Per-sample shape of every tap, found with one dummy forward pass."""
    was_training = model.training
    model.eval()
    param = next(model.parameters())
    _, taps = model(torch.zeros(2, *image_shape, device=param.device))
    model.train(was_training)
    return {k: tuple(v.shape[1:]) for k, v in taps.items()}
