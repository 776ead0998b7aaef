"""The method registry: `create_method(name, **options)` and `list_methods()`."""
from __future__ import annotations

from ..checks import is_int, is_number
from .asymmetric import Asymmetric
from .auxilearn import AuxiLearn
from .base import Batch, Method, StepContext, TapHead
from .dks import DKS
from .ds import DeepSupervision
from .init_schemes import apply_init, check_init, list_init_schemes
from .plain import Plain
from .wamal import MAXL, WAMAL, HumanAux, SingleTask

_REGISTRY: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"a method needs a new, non-empty name; got {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


for _cls in (Plain, DeepSupervision, Asymmetric, DKS, WAMAL, MAXL, AuxiLearn, HumanAux, SingleTask):
    register(_cls)


def list_methods() -> list[str]:
    return sorted(_REGISTRY)


def method_options(name: str) -> dict[str, object]:
    return _get(name).options()


def create_method(name: str, **options) -> Method:
    cls = _get(name)
    unknown = sorted(set(options) - set(cls.options()))
    if unknown:
        raise ValueError(f"method {name!r} has no option(s) {unknown}; allowed: {sorted(cls.options())}")
    defaults = cls.options()
    for key, value in options.items():
        _check_type(name, key, value, defaults[key])
    method = cls(**options)
    method.validate()
    return method


def _check_type(method: str, key: str, value, default) -> None:
    """Catch a string where a number belongs before any work starts."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = is_int(value)
    elif isinstance(default, float):
        ok = is_number(value)
    else:
        return
    if not ok:
        raise ValueError(f"method {method!r}: option {key!r} must be of type {type(default).__name__}, got {value!r}")


def _get(name: str) -> type[Method]:
    if name not in _REGISTRY:
        raise ValueError(f"unknown method {name!r}; available: {', '.join(list_methods())}")
    return _REGISTRY[name]


__all__ = ["Batch", "Method", "StepContext", "TapHead", "apply_init", "check_init", "create_method",
           "list_init_schemes", "list_methods", "method_options", "register"]
