"""The checks of a `RunConfig` against the registries: dataset, model and its options, method and
its options, initialisation, probes, and whether they fit together. Kept apart from
`aux_core.config` so that the config stays a leaf; `RunConfig.validate` calls `check_registries`."""
from __future__ import annotations

import functools
import json

import torch

from . import data as data_lib
from .analysis import check_probes
from .loader import AUGMENTATIONS
from .methods import check_init, create_method, list_init_schemes, list_methods
from .models import create_model, list_models, model_options


def check_registries(cfg) -> None:
    """Raise ValueError naming the allowed values where a name of `cfg` is unknown."""
    for name, allowed in (("dataset", data_lib.DATASETS), ("model", list_models()), ("method", list_methods()),
                          ("init", list_init_schemes()), ("augment", AUGMENTATIONS)):
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"{name}={getattr(cfg, name)!r} is not one of: {', '.join(allowed)}")
    unknown = sorted(set(cfg.model_options) - set(model_options(cfg.model)))
    if unknown:
        raise ValueError(f"model {cfg.model!r} has no option(s) {unknown}; allowed: {sorted(model_options(cfg.model))}")
    # pretrained weights are looked for on disk every time; a structure alone is checked once
    structure = check_structure.__wrapped__ if cfg.model_options.get("pretrained") else check_structure
    structure(cfg.model, json.dumps(cfg.model_options, sort_keys=True), cfg.method,
              json.dumps(cfg.method_options, sort_keys=True, default=list), cfg.init, cfg.probes)


@functools.lru_cache(maxsize=4096)
def check_structure(model: str, model_options: str, method_name: str, method_options: str, init: str,
                     probes: tuple) -> None:
    """The checks that build the model on the meta device (no weights), once per structure: a
    grid of a thousand configs differing in seed or learning rate builds each network once."""
    method = create_method(method_name, **json.loads(method_options))  # validates the method's options
    with torch.device("meta"):
        meta_model = create_model(model, 10, **json.loads(model_options))
    if getattr(method, "taps", None) is not None:
        unknown = [t for t in method.taps if t not in meta_model.tap_names]
        if unknown:
            raise ValueError(f"unknown tap(s) {unknown} for model {model!r}; its taps: {list(meta_model.tap_names)}")
    check_init(init, meta_model)
    check_probes(probes, meta_model, method_name)
    if meta_model.taps_are_logits and method_name not in ("plain", "ds"):
        raise ValueError(f"model {model!r} carries its auxiliary heads on its path; use method 'ds' or 'plain'")
