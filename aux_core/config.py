"""A run as data: `RunConfig` (flat, commented, validated on construction), its one store key,
and `RunResult`, what a run produces.

This module is a leaf: it imports no registry at module level, so anything may import it. The
checks of names against the registries (models, methods, initialisations, probes, datasets)
live in `aux_core.config_checks`, which `RunConfig.validate` imports when it first runs.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pandas as pd

from .checks import is_int, is_number
from .provenance import is_stale
from .records import EXECUTION_FIELDS, run_key

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step", "multistep")
DEVICES = ("auto", "cpu", "cuda")


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
    milestones: tuple[float, ...] = ()       # multistep: epochs where lr *= gamma (fractions allowed)
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
        """Fail before any work, naming the allowed values: the fields here, then the names
        against the registries (`aux_core.config_checks`, imported on first use so that this
        module stays a leaf of the package)."""
        from .config_checks import check_registries

        def check(ok, msg):
            if not ok:
                raise ValueError(msg)

        for name, allowed in (("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("device", DEVICES)):
            check(getattr(self, name) in allowed,
                  f"{name}={getattr(self, name)!r} is not one of: {', '.join(allowed)}")
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
        check(all(is_number(m) and m > 0 for m in self.milestones),
              f"milestones must be epochs > 0 (fractions allowed, e.g. (0.3, 0.6)), got {self.milestones}")
        check(all(is_int(s) and s >= 0 for s in self.grad_diag_steps),
              f"grad_diag_steps must be steps >= 0, got {self.grad_diag_steps}")
        check_registries(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key_fields(self) -> dict:
        """The fields that change what a run computes (everything but execution placement)."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS}

    def key(self, data_checksum: str) -> str:
        """The run's results-store key (the one formula: `aux_core.records.run_key`)."""
        return run_key(self.key_fields(), data_checksum)

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)



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
