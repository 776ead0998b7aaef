"""The model registry: `create_model(name, num_classes, **options)` and `list_models()`.

Every model is a `TapModel`: `model(x)` returns `(logits, taps)` and `model.tap_names`
lists where auxiliary heads may attach. Register a new family with `@register(name)`.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable

from .base import ScalarGate, TapModel, num_params, pool_tap, tap_shapes
from .cnn import CNN
from .densenet import DenseNetDS
from .mlp import MLP
from .mobilenet import MobileNet
from .pretrained import TorchvisionResNet50, TorchvisionViTB16
from .resnet import CifarResNet, OnPathResNet
from .resnet_tv import ImageNetStyleResNet
from .vgg import VGG
from .vit import ViT
from .wrn import WideResNet

_REGISTRY: dict[str, Callable[..., TapModel]] = {}


def register(name: str, factory: Callable[..., TapModel] | None = None):
    """Register `factory(num_classes, **options)` under `name` (usable as a decorator)."""
    def add(f):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = f
        return f
    return add(factory) if factory is not None else add


register("mlp6", MLP)
register("cnn6", CNN)
register("vit6", ViT)
register("densenet_ds", DenseNetDS)
register("resnet_ds", CifarResNet)
register("resnet_ds_onpath", OnPathResNet)
# the DKS paper's CIFAR backbones (taps after stages 1 and 2, where its branches attach)
register("resnet32", functools.partial(CifarResNet, depth=32))
register("resnet110", functools.partial(CifarResNet, depth=110))
register("resnet1202", functools.partial(CifarResNet, depth=1202, mid_taps=(3,)))  # three taps
register("wrn28_4", functools.partial(WideResNet, depth=28, widen=4))
register("wrn28_10", functools.partial(WideResNet, depth=28, widen=10))
register("densenet40_12", functools.partial(DenseNetDS, growth=12, layers=(12, 12, 12), compression=1.0))
register("densenet100_12", functools.partial(DenseNetDS, growth=12, layers=(32, 32, 32), compression=1.0))
register("mobilenet", MobileNet)
# WAMAL's backbones: VGG-16 (batch norm) and torchvision-style ResNets with a CIFAR stem
register("vgg16", VGG)
register("resnet18", functools.partial(ImageNetStyleResNet, block="basic", blocks=(2, 2, 2, 2)))
register("resnet50", functools.partial(ImageNetStyleResNet, block="bottleneck", blocks=(3, 4, 6, 3)))
# ...and its fine-tuning rows: torchvision's own ResNet-50 and ViT-B/16, `pretrained=True` for ImageNet weights
register("resnet50_tv", TorchvisionResNet50)
register("vit_b16", TorchvisionViTB16)


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_options(name: str) -> dict[str, object]:
    """The options a model accepts, with their defaults."""
    sig = inspect.signature(_get(name))
    return {k: p.default for k, p in sig.parameters.items() if k != "num_classes"}


def create_model(name: str, num_classes: int, **options) -> TapModel:
    factory = _get(name)
    allowed = model_options(name)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"model {name!r} has no option(s) {unknown}; allowed: {sorted(allowed)}")
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    return factory(num_classes, **options)


def _get(name: str):
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[name]


__all__ = ["ScalarGate", "TapModel", "create_model", "list_models", "model_options", "register",
           "num_params", "pool_tap", "tap_shapes"]
