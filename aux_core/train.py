"""The one training loop: `run(RunConfig) -> RunResult`, through the results cache.
`run_all(configs)` runs many, training seeds of one configuration together on CUDA
(`aux_core.multiseed`).

Read top to bottom: the config (flat, commented), the result, then `run` and the loop.
Every method plugs in through `aux_core.methods.Method` (heads on taps, loss terms,
hooks); the loop itself knows nothing about any paper.

Fast on both devices: the data sit on the device (`DeviceLoader`); per-step metrics go
into a device buffer that is read once per evaluation; bf16 autocast on CUDA and
channels-last memory on every device (1.4-2x faster convolutions on the CPU too); fused
optimisers on CUDA. The only host syncs are after the first step (timed apart as warm-up),
at evaluations and every `CHECK_EVERY` steps, where a non-finite loss stops the run with
status "diverged".
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from tqdm import tqdm

from . import data as data_lib
from . import settings
from .analysis import ProbeBatch, run_probes
from .cache import ResultsCache, refuse_training
from .checks import is_int, is_number
from .loader import AUGMENTATIONS, DeviceLoader
from .methods import Method, apply_init, check_init, create_method, list_init_schemes
from .models import TapModel, create_model
from .provenance import collect
from .records import EXECUTION_FIELDS, is_stale, run_key

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step", "multistep")
DEVICES = ("auto", "cpu", "cuda")
CHECK_EVERY = 50           # steps between divergence checks (one host sync each)
CALIBRATION_SAMPLES = 256  # images handed to data-driven initialisations (LSUV)


@dataclass
class RunConfig:
    # data
    dataset: str = "cifar10"                 # aux_core.data.DATASETS
    train_per_class: int | None = None       # stratified subset: images per class (None: all)
    train_fraction: float | None = None      # or a stratified fraction of the training set
    val_fraction: float = 0.0                # held out of the training data, stratified (paper 1: 0.2)
    test_per_class: int | None = None        # stratified subset of the test set (None: all)
    label_noise: float = 0.0                 # symmetric label noise rate on training labels, in [0, 1)
    data_seed: int = 0                       # seed of subsets, split and noise (shared by all training seeds)
    augment: str = "crop_flip"               # crop_flip | flip | none
    # model and method
    model: str = "resnet_ds"                 # aux_core.models.list_models()
    model_options: dict = field(default_factory=dict)
    method: str = "plain"                    # aux_core.methods.list_methods()
    method_options: dict = field(default_factory=dict)
    init: str = "default"                    # aux_core.methods.list_init_schemes()
    # optimisation
    optimizer: str = "adamw"                 # adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9                    # sgd only
    nesterov: bool = False                   # sgd only
    betas: tuple[float, float] = (0.9, 0.999)  # adamw only
    schedule: str = "constant"               # constant | cosine | step | multistep (per step, in epochs)
    milestones: tuple[int, ...] = ()         # multistep: epochs where lr *= gamma
    step_size: int = 30                      # step: every step_size epochs lr *= gamma
    gamma: float = 0.1
    warmup_epochs: float = 0.0               # linear learning-rate warm-up
    grad_clip: float | None = None           # max global gradient norm (None: off)
    # length
    epochs: int | None = 1                   # training length in epochs ...
    steps: int | None = None                 # ... or in optimiser steps (set epochs=None)
    batch_size: int = 128
    # evaluation and diagnostics
    eval_every: int = 0                      # steps between evaluations; 0: every epoch
    eval_batch_size: int = 1000
    step_log_every: int = 1                  # keep every k-th step in the per-step history
    grad_diag_every: int = 0                 # steps between main/aux gradient diagnostics (0: off)
    grad_diag_steps: tuple[int, ...] = ()    # further steps (0-based) to diagnose
    convergence_threshold: float | None = None  # steps to reach this smoothed train accuracy
    convergence_window: int = 20             # trailing mean over this many steps' batch accuracy
    probes: tuple[str, ...] = ()             # analyses run at every evaluation (aux_core.analysis.PROBES)
    probe_images: int = 100                  # test images the probes look at (a seeded pick, same for every seed)
    # execution
    seed: int = 0
    device: str = "auto"                     # auto (cuda if present) | cpu | cuda
    amp: bool = True                         # bf16 autocast on CUDA (ignored on CPU)
    compile: bool = False                    # torch.compile the model
    checkpoint_every: int = 1                # epochs between resumable checkpoints (0: none); see `run_all`

    def __post_init__(self):
        self.betas = tuple(self.betas)
        self.milestones = tuple(self.milestones)
        self.grad_diag_steps = tuple(self.grad_diag_steps)
        self.probes = tuple(self.probes)
        self.validate()

    def validate(self) -> None:
        """Fail before any work, naming the allowed values."""
        from .models import list_models, model_options
        from .methods import list_methods

        def one_of(name, allowed):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r} is not one of: {', '.join(allowed)}")

        def check(ok, msg):
            if not ok:
                raise ValueError(msg)

        one_of("dataset", data_lib.DATASETS)
        one_of("model", list_models())
        one_of("method", list_methods())
        one_of("init", list_init_schemes())
        one_of("optimizer", OPTIMIZERS)
        one_of("schedule", SCHEDULES)
        one_of("augment", AUGMENTATIONS)
        one_of("device", DEVICES)
        unknown = sorted(set(self.model_options) - set(model_options(self.model)))
        check(not unknown,
              f"model {self.model!r} has no option(s) {unknown}; allowed: {sorted(model_options(self.model))}")
        # pretrained weights are looked for on disk every time; a structure alone is checked once
        structure = _check_structure.__wrapped__ if self.model_options.get("pretrained") else _check_structure
        structure(self.model, json.dumps(self.model_options, sort_keys=True), self.method,
                  json.dumps(self.method_options, sort_keys=True, default=list), self.init, self.probes)
        for name in ("batch_size", "eval_batch_size", "step_log_every", "convergence_window", "probe_images"):
            check(is_int(getattr(self, name)) and getattr(self, name) >= 1,
                  f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        for name in ("eval_every", "grad_diag_every", "seed", "data_seed", "step_size", "checkpoint_every"):
            check(is_int(getattr(self, name)) and getattr(self, name) >= 0,
                  f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        check(self.schedule != "step" or self.step_size >= 1,
              f"step_size must be >= 1 with schedule 'step', got {self.step_size}")
        check((self.epochs is None) != (self.steps is None),
              f"set exactly one of epochs or steps (got epochs={self.epochs}, steps={self.steps})")
        length = self.epochs if self.steps is None else self.steps
        check(is_int(length) and length >= 1, f"epochs/steps must be an integer >= 1, got {length!r}")
        for name in ("lr", "weight_decay", "momentum", "gamma", "warmup_epochs", "val_fraction", "label_noise"):
            check(is_number(getattr(self, name)) and getattr(self, name) >= 0,
                  f"{name} must be a number >= 0, got {getattr(self, name)!r}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(self.val_fraction < 1, f"val_fraction must be in [0, 1), got {self.val_fraction}")
        check(self.label_noise < 1, f"label_noise must be in [0, 1), got {self.label_noise}")
        check(len(self.betas) == 2 and all(is_number(b) and 0 <= b < 1 for b in self.betas),
              f"betas must be two numbers in [0, 1), got {self.betas}")
        check(self.train_per_class is None or self.train_fraction is None,
              "set at most one of train_per_class and train_fraction")
        for name in ("train_per_class", "test_per_class"):
            v = getattr(self, name)
            check(v is None or (is_int(v) and v >= 1), f"{name} must be None or an integer >= 1, got {v!r}")
        check(self.train_fraction is None or (is_number(self.train_fraction) and 0 < self.train_fraction <= 1),
              f"train_fraction must be in (0, 1], got {self.train_fraction!r}")
        check(self.grad_clip is None or (is_number(self.grad_clip) and self.grad_clip > 0),
              f"grad_clip must be None or > 0, got {self.grad_clip!r}")
        check(self.convergence_threshold is None
              or (is_number(self.convergence_threshold) and 0 < self.convergence_threshold <= 1),
              f"convergence_threshold must be None or in (0, 1], got {self.convergence_threshold!r}")
        check(all(is_int(m) and m >= 1 for m in self.milestones),
              f"milestones must be epochs >= 1, got {self.milestones}")
        check(all(is_int(s) and s >= 0 for s in self.grad_diag_steps),
              f"grad_diag_steps must be steps >= 0, got {self.grad_diag_steps}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key_fields(self) -> dict:
        """The fields that change what a run computes (everything but execution placement)."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS}

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)


@functools.lru_cache(maxsize=4096)
def _check_structure(model: str, model_options: str, method_name: str, method_options: str, init: str,
                     probes: tuple) -> None:
    """The checks that build the model on the meta device (no weights), once per structure: a
    grid of a thousand configs differing in seed or learning rate builds each network once."""
    from .analysis import check_probes
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


@dataclass
class RunResult:
    config: dict                  # RunConfig.to_dict()
    status: str                   # "ok" | "diverged"
    metrics: dict                 # final accuracies and losses, steps, convergence, timings:
    #   first_step_s (warm-up), train_time_s (the rest), images_per_s (steady state), engine
    #   ("loop" | "vmap"), group_size; a vmap group's times are split evenly between its seeds
    history: pd.DataFrame         # one row per evaluation
    steps: pd.DataFrame           # one row per logged step: loss terms, batch accuracy, lr
    diagnostics: pd.DataFrame     # one row per gradient-diagnostic step (may be empty)
    provenance: dict
    key: str = ""
    cached: bool = False          # True when returned from the results cache or store
    labels: dict = field(default_factory=dict)   # the chapter and profile it was made for

    @property
    def stale(self) -> bool:
        """Made by another version of the result-affecting code (served all the same; see aux_core.records)."""
        return is_stale({"provenance": self.provenance})

    def to_record(self) -> dict:
        frames = {k: getattr(self, k).to_dict(orient="list") for k in ("history", "steps", "diagnostics")}
        return {"kind": "run", "config": self.config, "status": self.status, "metrics": self.metrics,
                "provenance": self.provenance, **frames}

    @classmethod
    def from_record(cls, record: dict, cached: bool = False) -> "RunResult":
        frames = {k: pd.DataFrame(record[k]) for k in ("history", "steps", "diagnostics")}
        return cls(config=record["config"], status=record["status"], metrics=record["metrics"],
                   provenance=record["provenance"], key=record.get("key", ""), cached=cached,
                   labels=record.get("labels") or {}, **frames)


@dataclass
class StepContext:
    """What a method's hooks can see and use while a run trains."""
    config: RunConfig
    model: TapModel
    heads: torch.nn.ModuleDict
    method: Method
    optimizer: torch.optim.Optimizer
    loader: DeviceLoader
    device: torch.device
    num_classes: int
    steps_per_epoch: int
    total_steps: int
    step: int = 0
    epoch: int = 0
    lr: float = 0.0                       # the learning rate of the step just taken (the scheduler has moved on)
    held_out: DeviceLoader | None = None  # the validation split as a training loader (val_fraction > 0)

    def autocast(self):
        return autocast_for(self.device, self.config.amp)


def training_device(name: str) -> torch.device:
    """The device a run trains on, with deterministic cuDNN kernels there (reruns match)."""
    device = resolve_device(name)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    return device


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch sees no CUDA device; use device='auto' or 'cpu'")
    return torch.device(name)


def autocast_for(device: torch.device, amp: bool):
    if device.type == "cuda" and amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------- data

def make_splits(cfg: RunConfig, ds: data_lib.Dataset):
    """(train, val or None, test) splits of a dataset as the config asks."""
    train, test = ds.train, ds.test
    if cfg.val_fraction > 0:
        train, val = data_lib.train_val_split(train, cfg.val_fraction, cfg.data_seed)
    else:
        val = None
    if cfg.train_per_class is not None:
        train = data_lib.stratified_subset(train, cfg.train_per_class, cfg.data_seed)
    elif cfg.train_fraction is not None:
        train = data_lib.fraction_subset(train, cfg.train_fraction, cfg.data_seed)
    if cfg.test_per_class is not None:
        test = data_lib.stratified_subset(test, cfg.test_per_class, cfg.data_seed)
        if val is not None:
            val = data_lib.stratified_subset(val, min(cfg.test_per_class, min(torch.bincount(val.y).tolist())),
                                             cfg.data_seed)
    if cfg.label_noise > 0:
        train = data_lib.add_label_noise(train, cfg.label_noise, ds.num_classes, cfg.data_seed)
    return train, val, test


# ----------------------------------------------------------------------------- optimisation

def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    """AdamW or SGD; the fused CUDA kernels (one launch for all tensors) when the weights are on a GPU.
    Both are element-wise, so one optimiser over seed-stacked weights updates each seed exactly
    as its own optimiser would."""
    params = list(params)
    fused = bool(params) and all(p.is_cuda for p in params)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=fused or None)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           weight_decay=cfg.weight_decay, fused=fused or None)


def lr_multiplier(cfg: RunConfig, steps_per_epoch: int, total_steps: int):
    """lr(step) / lr as a function of the step; epoch-based settings are converted to steps."""
    warmup = cfg.warmup_epochs * steps_per_epoch

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        epoch = step / steps_per_epoch
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
        if cfg.schedule == "step":
            return cfg.gamma ** int(epoch // cfg.step_size) if cfg.step_size else 1.0
        if cfg.schedule == "multistep":
            return cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
        return 1.0
    return f


# ----------------------------------------------------------------------------- evaluation

@torch.no_grad()
def evaluate(model: TapModel, loader: DeviceLoader, amp: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """(accuracy, mean cross-entropy) of the final classifier, as device tensors."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), device=loader.device)
    loss = torch.zeros((), device=loader.device)
    for batch in loader:
        with autocast_for(loader.device, amp):
            logits, _ = model(batch.x)
        correct += (logits.argmax(1) == batch.y).sum()
        loss += F.cross_entropy(widen(logits), batch.y, reduction="sum")
    model.train(was_training)
    n = len(loader.x)
    return correct / n, loss / n


def widen(t: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 autocast outputs to fp32 for losses and metrics; fp32 and fp64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def gradient_diagnostics(terms: dict[str, torch.Tensor], shared: list[torch.nn.Parameter]) -> torch.Tensor:
    """[cosine, |g_main|, |g_aux|] between the gradients of the main loss and of the summed
    (weighted) auxiliary losses on the shared parameters; without an auxiliary loss (plain
    training) only |g_main| is measured and the other two are NaN."""
    losses = [terms["main"]]
    aux = [v for k, v in terms.items() if k != "main"]
    if aux and (aux := torch.stack(aux).sum()).requires_grad:
        losses.append(aux)
    flat = []
    for loss in losses:
        grads = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
        flat.append(torch.cat([widen(g if g is not None else torch.zeros_like(p)).flatten()
                               for g, p in zip(grads, shared)]))
    nm = flat[0].norm()
    if len(flat) == 1:
        nan = torch.full_like(nm, float("nan"))
        return torch.stack([nan, nm, nan])
    gm, ga = flat
    na = ga.norm()
    cos = (gm @ ga) / (nm * na).clamp_min(1e-30)
    return torch.stack([cos, nm, na])


def steps_to_threshold(batch_acc: np.ndarray, threshold: float, window: int) -> float:
    """First step (1-based count of steps taken) at which the trailing mean of `window`
    batch accuracies reaches `threshold`; NaN if it never does. The mean over fewer than
    `window` steps counts from step `window` on, so one lucky early batch cannot count."""
    if len(batch_acc) < window:
        return float("nan")
    smooth = np.convolve(batch_acc, np.ones(window) / window, mode="valid")
    hit = np.flatnonzero(smooth >= threshold)
    return float(hit[0] + window) if len(hit) else float("nan")


# ----------------------------------------------------------------------------- the run

ENGINES = ("auto", "loop", "vmap")


def run(config: RunConfig, *, cache: ResultsCache | bool = True, progress: bool = True) -> RunResult:
    """Train (or fetch from the results cache) one configuration."""
    return run_all([config], cache=cache, progress=progress, engine="loop", desc=None)[0]


def run_all(configs: list[RunConfig], *, cache: ResultsCache | bool = True, progress: bool = True,
            desc: str | None = "runs", engine: str = "auto", max_group: int = 16) -> list[RunResult]:
    """Run many configurations (cached ones are fetched, identical ones train once).

    engine  "loop": one run at a time. "vmap": configurations that differ only in seed train
            together, up to `max_group` seeds per batched computation (`aux_core.multiseed`),
            where the method allows it. "auto": vmap on CUDA, loop on the CPU (batched
            convolutions are slower per image there; see the benchmark).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is not one of: {', '.join(ENGINES)}")
    if not (is_int(max_group) and max_group >= 1):
        raise ValueError(f"max_group must be an integer >= 1, got {max_group!r}")
    store = cache if isinstance(cache, ResultsCache) else (ResultsCache() if cache else None)
    keys, results, todo = [], [None] * len(configs), {}
    for i, cfg in enumerate(configs):
        ds = data_lib.load_dataset(cfg.dataset)
        key = run_key(cfg.key_fields(), ds.checksum)
        keys.append(key)
        if store is not None and (record := store.get(key)) is not None:
            results[i] = RunResult.from_record(record, cached=True)
        else:
            todo.setdefault(key, cfg)
    key_of = {id(cfg): key for key, cfg in todo.items()}
    refuse_training([f"{c.model}/{c.method} seed {c.seed} on {c.dataset}" for c in todo.values()])
    batches = _engine_batches(list(todo.values()), engine, max_group)
    bar = tqdm(total=len(todo), desc=desc, disable=not (progress and desc and todo))
    fresh = {}
    for group in batches:
        bar.set_postfix_str(f"{group[0].model}/{group[0].method}/seed {','.join(str(c.seed) for c in group)}",
                            refresh=False)
        with contextlib.ExitStack() as held:
            if store is not None:  # another process training the same keys: wait, then take its records
                for key in sorted(key_of[id(cfg)] for cfg in group):
                    held.enter_context(store.lock(key))
                records = {key_of[id(cfg)]: store.get(key_of[id(cfg)]) for cfg in group}
                fresh.update({k: RunResult.from_record(r, cached=True) for k, r in records.items() if r is not None})
                group = [cfg for cfg in group if records[key_of[id(cfg)]] is None]
            if group:
                ds = data_lib.load_dataset(group[0].dataset)
                # a group resumes from the checkpoint of exactly its members
                ckey = key_of[id(group[0])] if len(group) == 1 else hashlib.sha256(
                    "|".join(sorted(key_of[id(c)] for c in group)).encode()).hexdigest()
                ckpt = store.checkpoint_path(ckey) if store is not None else None
                if len(group) == 1:
                    trained = [_train(group[0], ds, progress and not desc, ckpt)]
                else:
                    from .multiseed import train_group
                    trained = train_group(group, ds, progress and not desc, ckpt)
                for cfg, result in zip(group, trained):
                    result.key, result.labels = key_of[id(cfg)], settings.labels()
                    if store is not None:
                        store.put(result.key, result.to_record())
                    fresh[result.key] = result
                if ckpt is not None:
                    ckpt.unlink(missing_ok=True)
        bar.update(len(records) if store is not None else len(group))
    bar.close()
    return [r if r is not None else fresh[k] for r, k in zip(results, keys)]


def _engine_batches(configs: list[RunConfig], engine: str, max_group: int) -> list[list[RunConfig]]:
    """Split configurations into what trains together: singletons, or seed groups under vmap."""
    from .multiseed import can_group, seedless
    groups: dict[str, list[RunConfig]] = {}
    for cfg in configs:
        vmap = engine == "vmap" or (engine == "auto" and resolve_device(cfg.device).type == "cuda")
        together = {**seedless(cfg), "device": cfg.device}
        label = json.dumps(together, sort_keys=True, default=list) if vmap and can_group(cfg) else str(id(cfg))
        groups.setdefault(label, []).append(cfg)
    return [g[i:i + max_group] for g in groups.values() for i in range(0, len(g), max_group)]


def summarize(results: list[RunResult]) -> pd.DataFrame:
    """One row per run: the config fields that vary across `results`, status and metrics."""
    configs = pd.DataFrame([{k: str(v) if isinstance(v, (dict, tuple, list)) else v
                             for k, v in r.config.items()} for r in results])
    varying = [c for c in configs.columns if configs[c].nunique(dropna=False) > 1 or c in ("model", "method", "seed")]
    metrics = pd.DataFrame([{"status": r.status, **r.metrics} for r in results])
    return pd.concat([configs[varying], metrics], axis=1)


@dataclass
class Prepared:
    """One seed's model, heads and loaders, initialised and on the device, ready to train."""
    model: TapModel
    heads: torch.nn.ModuleDict
    method: Method
    loader: DeviceLoader
    eval_loaders: dict[str, DeviceLoader]
    sizes: dict[str, int]       # train/val/test image counts
    init_time_s: float
    probe_batch: ProbeBatch | None = None   # the fixed test images of cfg.probes
    held_out: DeviceLoader | None = None    # the validation split, batched and augmented as training


def prepare(cfg: RunConfig, ds: data_lib.Dataset, device: torch.device, splits=None) -> Prepared:
    """Build and initialise one run. The global RNG is seeded here, so model weights, heads
    and data order are a function of `cfg.seed` alone, whichever engine trains them."""
    train, val, test = splits if splits is not None else make_splits(cfg, ds)
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, ds.num_classes, **cfg.model_options)
    method = create_method(cfg.method, **cfg.method_options)
    heads = method.build_heads(model, ds.num_classes)
    loader = DeviceLoader(train.x, train.y, cfg.batch_size, mean=ds.mean, std=ds.std, device=device,
                          y_aux=train.y_aux, augment=cfg.augment, shuffle=True, drop_last=True,
                          seed=cfg.seed, channels_last=True)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.seed))[:CALIBRATION_SAMPLES]
    calib = DeviceLoader(train.x[pick.to(train.x.device)], train.y[pick.to(train.y.device)], len(pick),
                         mean=ds.mean, std=ds.std)  # subsets are class-sorted: calibrate on a random pick
    t_init = time.perf_counter()
    calib_batch = next(iter(calib))
    apply_init(cfg.init, model, heads, calib_batch.x, calib_batch.y)
    init_time = time.perf_counter() - t_init
    model.to(device)
    heads.to(device)
    eval_loaders = {name: DeviceLoader(s.x, s.y, cfg.eval_batch_size, mean=ds.mean, std=ds.std, device=device,
                                       channels_last=True)
                    for name, s in (("val", val), ("test", test)) if s is not None}
    sizes = {"train_images": len(train), "test_images": len(test), "val_images": len(val) if val is not None else 0}
    probes = probe_batch(cfg, ds, test, device) if cfg.probes else None
    held_out = (DeviceLoader(val.x, val.y, min(cfg.batch_size, len(val)), mean=ds.mean, std=ds.std, device=device,
                             y_aux=val.y_aux, augment=cfg.augment, shuffle=True, drop_last=True, seed=cfg.seed + 1,
                             channels_last=True) if val is not None else None)
    return Prepared(model, heads, method, loader, eval_loaders, sizes, init_time, probes, held_out)


def probe_batch(cfg: RunConfig, ds: data_lib.Dataset, test: data_lib.Split | None = None,
                device: torch.device | str = "cpu") -> ProbeBatch:
    """The test images a run's probes look at: `probe_images` of them, picked with `data_seed`
    (the same images for every training seed, so maps can be compared across runs)."""
    test = test if test is not None else make_splits(cfg, ds)[2]
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(cfg.data_seed))[:cfg.probe_images]
    raw, y = test.x[pick], test.y[pick]
    x = next(iter(DeviceLoader(raw, y, len(pick), mean=ds.mean, std=ds.std, device=device, channels_last=True))).x
    return ProbeBatch(x, raw.cpu(), y.to(device))


def diag_schedule(cfg: RunConfig, total: int) -> list[int]:
    """The 0-based steps at which gradient diagnostics are taken."""
    periodic = set(range(0, total, cfg.grad_diag_every)) if cfg.grad_diag_every else set()
    return sorted(periodic | {s for s in cfg.grad_diag_steps if s < total})


def json_plain(o):
    """numpy scalars in a history row as Python numbers (checkpoints load with weights_only)."""
    return o.item() if hasattr(o, "item") else str(o)


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary file renamed into place: a kill leaves the previous checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pt")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _train(cfg: RunConfig, ds: data_lib.Dataset, progress: bool, checkpoint: Path | None = None) -> RunResult:
    """One run. With `checkpoint`, every `cfg.checkpoint_every` epochs everything the rest of
    the run depends on (weights, optimiser, schedule, the method's state, RNG and data-order
    generators, the history so far) is saved there atomically, and a run that finds a
    checkpoint resumes from it: a run killed at any moment and started again ends with the
    metrics of an uninterrupted run (timings aside). Loaded with weights_only=True."""
    t0 = time.perf_counter()
    device = training_device(cfg.device)
    prep = prepare(cfg, ds, device)
    model, heads, method, loader = prep.model, prep.heads, prep.method, prep.loader
    model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if cfg.compile else model

    optimizer = make_optimizer(cfg, list(model.parameters()) + list(heads.parameters()))
    steps_per_epoch = len(loader)
    total = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
    lr_at = lr_multiplier(cfg, steps_per_epoch, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    eval_every = cfg.eval_every or steps_per_epoch
    ctx = StepContext(cfg, model, heads, method, optimizer, loader, device, ds.num_classes, steps_per_epoch, total,
                      held_out=prep.held_out)
    method.setup(ctx)
    shared = model.backbone_parameters()
    aux_params = model.auxiliary_parameters(heads)

    names: list[str] | None = None     # loss-term names, fixed by the first step
    buf = diag = None                  # per-step [total, *terms, batch_acc]; per-diag [cos, |gm|, |ga|, |W_aux|]
    diag_steps = diag_schedule(cfg, total)
    diag_row = {s: i for i, s in enumerate(diag_steps)}
    history, status, diverged_at, last_eval, checked = [], "ok", None, 0, 0
    model.train()
    heads.train()
    step = 0
    first_step = 0.0
    resumable = checkpoint is not None and cfg.checkpoint_every > 0

    def held_out_rng() -> torch.Tensor:  # the held-out split's data order (a meta-learner's auxiliary set)
        return prep.held_out.gen.get_state() if prep.held_out is not None else torch.zeros(0, dtype=torch.uint8)

    def snapshot() -> dict:
        return {"step": step, "model": model.state_dict(), "heads": heads.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "method": method.state_dict(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                "loader_rng": loader.gen.get_state(), "held_out_rng": held_out_rng(), "names": names, "buf": buf,
                "diag": diag, "history": json.loads(json.dumps(history, default=json_plain)), "checked": checked,
                "last_eval": last_eval, "first_step": first_step}

    if resumable and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        heads.load_state_dict(state["heads"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        method.load_state_dict(state["method"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all([t.cpu() for t in state["cuda_rng"]])
        for lo, rng in ((loader, state["loader_rng"]), (prep.held_out, state["held_out_rng"])):
            if lo is not None:  # a generator's state is a CPU byte tensor, a CUDA generator's too
                lo.gen.set_state(rng.cpu())
        step, names, buf, diag = state["step"], state["names"], state["buf"], state["diag"]
        history, checked, last_eval, first_step = (state["history"], state["checked"], state["last_eval"],
                                                   state["first_step"])
        ctx.step, ctx.epoch = step - 1, (step - 1) // steps_per_epoch
    bar = tqdm(total=total, initial=step, desc=f"{cfg.model}/{cfg.method}/seed {cfg.seed}", disable=not progress,
               leave=False)
    t_train = time.perf_counter()
    while step < total and status == "ok":
        for batch in loader:
            ctx.step, ctx.epoch = step, step // steps_per_epoch
            with autocast_for(device, cfg.amp):
                logits, taps = forward(batch.x)
                terms = method.loss_terms(logits, taps, batch, ctx)
            loss = torch.stack(list(terms.values())).sum()
            if names is None:
                names = list(terms)
                buf = torch.zeros(total, len(names) + 2, device=device)
                diag = torch.full((len(diag_steps), 4), float("nan"), device=device)
            if step in diag_row:
                d = gradient_diagnostics(terms, shared)
                w = torch.stack([widen(p.detach()).norm() for p in aux_params]).norm() if aux_params else d[1:2] * 0
                diag[diag_row[step]] = torch.cat([d, w.reshape(1)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], cfg.grad_clip)
            optimizer.step()
            ctx.lr = optimizer.param_groups[0]["lr"]   # a Python float: no host sync
            scheduler.step()
            with torch.no_grad():
                buf[step, 0] = loss.detach()
                buf[step, 1:-1] = torch.stack([t.detach() for t in terms.values()])
                buf[step, -1] = (logits.detach().argmax(1) == batch.y).to(buf.dtype).mean()
            method.after_step(ctx)
            step += 1
            bar.update(1)
            if step == 1:  # warm-up (compilation, allocator, kernel selection) is timed apart
                first_step = elapsed_s(t_train, device)
            boundary = step % eval_every == 0 or step == total
            if boundary or step - checked >= CHECK_EVERY:
                finite = torch.isfinite(buf[checked:step, 0])
                if not bool(finite.all()):
                    status, diverged_at = "diverged", checked + int((~finite).nonzero()[0])
                    break
                checked = step
            if boundary:
                evals = {name: evaluate(model, ev, cfg.amp) for name, ev in prep.eval_loaders.items()}
                history.append(eval_row(step, steps_per_epoch, scheduler.get_last_lr()[0], buf[last_eval:step],
                                         names, evals))
                if prep.probe_batch is not None:
                    with autocast_for(device, cfg.amp):
                        history[-1].update(run_probes(cfg.probes, model, prep.probe_batch, heads))
                last_eval = step
                bar.set_postfix({k: f"{v:.3f}" for k, v in history[-1].items() if k.endswith("_acc")})
            if step % steps_per_epoch == 0:
                method.after_epoch(ctx)
                if resumable and step < total and (step // steps_per_epoch) % cfg.checkpoint_every == 0:
                    save_checkpoint(checkpoint, snapshot())
            if step >= total:
                break
    bar.close()
    timing = {"first_step_s": first_step, "train_time_s": elapsed_s(t_train, device) - first_step,
              "init_time_s": prep.init_time_s, "wall_time_s": time.perf_counter() - t0}
    result = package(cfg, ds, device, status=status, diverged_at=diverged_at, steps_done=step,
                     steps_per_epoch=steps_per_epoch, lr_at=lr_at, names=names, buf=buf,
                     diag_steps=diag_steps, diag=diag, history=history, sizes=prep.sizes, timing=timing,
                     engine="loop", group_size=1)
    extras = method.extras(ctx)
    if extras:
        result.metrics["extras"] = extras
    return result


def elapsed_s(since: float, device: torch.device) -> float:
    """Seconds since `since`, after the device has finished its queued work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - since


def package(cfg: RunConfig, ds: data_lib.Dataset, device: torch.device, *, status: str, diverged_at: int | None,
            steps_done: int, steps_per_epoch: int, lr_at, names: list[str] | None, buf: torch.Tensor | None,
            diag_steps: list[int], diag: torch.Tensor | None, history: list[dict], sizes: dict, timing: dict,
            engine: str, group_size: int) -> RunResult:
    """Turn one run's device buffers and history into a RunResult (shared by both engines)."""
    step = steps_done
    steps_frame = pd.DataFrame(buf[:step].double().cpu().numpy() if buf is not None else np.zeros((0, 2)),
                               columns=["loss", *(names or []), "batch_acc"])
    steps_frame.insert(0, "step", np.arange(1, len(steps_frame) + 1))
    steps_frame["lr"] = [cfg.lr * lr_at(s) for s in range(len(steps_frame))]
    diag_frame = pd.DataFrame(diag.double().cpu().numpy() if diag is not None else np.zeros((0, 4)),
                              columns=["cosine", "main_grad_norm", "aux_grad_norm", "aux_weight_norm"])
    diag_frame.insert(0, "step", diag_steps)
    diag_frame = diag_frame.dropna(subset=["main_grad_norm"])  # steps never reached
    diag_frame["norm_ratio"] = diag_frame["aux_grad_norm"] / diag_frame["main_grad_norm"]

    hist = pd.DataFrame(history)
    last = history[-1] if history and status == "ok" else {}
    finals = (("train_acc", "train_loss", "test_acc", "test_loss")
              + (("val_acc", "val_loss") if sizes["val_images"] else ()))
    metrics = {f"final_{k}": last.get(k, float("nan")) for k in finals}
    if "val_acc" in hist:
        metrics["best_val_acc"] = float(hist["val_acc"].max())
    if cfg.convergence_threshold is not None:
        metrics["steps_to_threshold"] = steps_to_threshold(steps_frame["batch_acc"].to_numpy(),
                                                           cfg.convergence_threshold, cfg.convergence_window)
    timed_images = max(step - 1, 0) * cfg.batch_size
    metrics.update({"steps": step, "epochs": step / steps_per_epoch, "diverged_at_step": diverged_at, **sizes,
                    **timing, "images_per_s": timed_images / max(timing["train_time_s"], 1e-9),
                    "engine": engine, "group_size": group_size})
    prov = collect(device, ds.checksum, ds.source)
    prov["wall_time_s"] = metrics["wall_time_s"]
    return RunResult(config=cfg.to_dict(), status=status, metrics=metrics, history=hist,
                     steps=steps_frame.iloc[cfg.step_log_every - 1::cfg.step_log_every].reset_index(drop=True),
                     diagnostics=diag_frame.reset_index(drop=True), provenance=prov)


def eval_row(step: int, steps_per_epoch: int, lr: float, window: torch.Tensor, names: list[str],
              evals: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict:
    """One history row: train means since the last evaluation, then val/test metrics (one host sync)."""
    means = window.mean(0)
    values = torch.stack([means[0], means[-1], *means[1:-1], *(v for pair in evals.values() for v in pair)]).tolist()
    row = {"step": step, "epoch": step / steps_per_epoch, "lr": lr, "train_loss": values[0], "train_acc": values[1]}
    row.update({f"train_{n}": v for n, v in zip(names, values[2:2 + len(names)])})
    for i, name in enumerate(evals):
        row[f"{name}_acc"], row[f"{name}_loss"] = values[2 + len(names) + 2 * i: 4 + len(names) + 2 * i]
    return row


def checkpoint_round_trip(cfg: RunConfig) -> float:
    """Largest relative difference between `cfg` trained straight through and the same run
    resumed from its first checkpoint (saved and loaded as `run_all` does): 0 where
    checkpoints restore everything. `cfg` needs at least two epochs and checkpoint_every=1."""
    if cfg.epochs is None or cfg.epochs < 2 or cfg.checkpoint_every != 1:
        raise ValueError("a checkpoint round trip needs epochs >= 2 and checkpoint_every=1")
    ds = data_lib.load_dataset(cfg.dataset)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "round-trip.pt"
        straight = _train(cfg, ds, False, path)      # leaves its last checkpoint behind (run_all removes it)
        resumed = _train(cfg, ds, False, path)       # starts from that checkpoint
    a, b = straight.steps["loss"].to_numpy(), resumed.steps["loss"].to_numpy()
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))
