"""The one training loop: `run(RunConfig) -> RunResult`, through the results cache.

Read top to bottom: the config (flat, commented), the result, then `run` and the loop.
Every method plugs in through `aux_core.methods.Method` (heads on taps, loss terms,
hooks); the loop itself knows nothing about any paper.

Fast on both devices: the data sit on the device (`DeviceLoader`); per-step metrics go
into a device buffer that is read once per evaluation; bf16 autocast on CUDA and
channels-last memory on every device (1.4-2x faster convolutions on the CPU too). The only
host syncs are at evaluations and every `CHECK_EVERY` steps, where a non-finite loss stops
the run with status "diverged".
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from tqdm import tqdm

from . import data as data_lib
from .cache import ResultsCache, make_key
from .checks import is_int, is_number
from .loader import AUGMENTATIONS, DeviceLoader
from .methods import Batch, Method, apply_init, check_init, create_method, list_init_schemes
from .models import TapModel, create_model
from .provenance import code_version, collect

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("constant", "cosine", "step", "multistep")
DEVICES = ("auto", "cpu", "cuda")
CHECK_EVERY = 50           # steps between divergence checks (one host sync each)
CALIBRATION_SAMPLES = 256  # images handed to data-driven initialisations (LSUV)
EXECUTION_FIELDS = ("device", "compile")  # change speed or placement, not what a run means


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
    # execution
    seed: int = 0
    device: str = "auto"                     # auto (cuda if present) | cpu | cuda
    amp: bool = True                         # bf16 autocast on CUDA (ignored on CPU)
    compile: bool = False                    # torch.compile the model

    def __post_init__(self):
        self.betas = tuple(self.betas)
        self.milestones = tuple(self.milestones)
        self.grad_diag_steps = tuple(self.grad_diag_steps)
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
        check(not unknown, f"model {self.model!r} has no option(s) {unknown}; allowed: {sorted(model_options(self.model))}")
        method = create_method(self.method, **self.method_options)  # validates the method's options
        with torch.device("meta"):  # builds no weights: only the model's structure is needed
            meta_model = create_model(self.model, 10, **self.model_options)
        if getattr(method, "taps", None) is not None:
            unknown = [t for t in method.taps if t not in meta_model.tap_names]
            check(not unknown, f"unknown tap(s) {unknown} for model {self.model!r}; its taps: {list(meta_model.tap_names)}")
        check_init(self.init, meta_model)
        check(not meta_model.taps_are_logits or self.method in ("plain", "ds"),
              f"model {self.model!r} carries its auxiliary heads on its path; use method 'ds' or 'plain'")
        for name in ("batch_size", "eval_batch_size", "step_log_every", "convergence_window"):
            check(is_int(getattr(self, name)) and getattr(self, name) >= 1, f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        for name in ("eval_every", "grad_diag_every", "seed", "data_seed", "step_size"):
            check(is_int(getattr(self, name)) and getattr(self, name) >= 0, f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        check((self.epochs is None) != (self.steps is None), f"set exactly one of epochs or steps (got epochs={self.epochs}, steps={self.steps})")
        length = self.epochs if self.steps is None else self.steps
        check(is_int(length) and length >= 1, f"epochs/steps must be an integer >= 1, got {length!r}")
        for name in ("lr", "weight_decay", "momentum", "gamma", "warmup_epochs", "val_fraction", "label_noise"):
            check(is_number(getattr(self, name)) and getattr(self, name) >= 0, f"{name} must be a number >= 0, got {getattr(self, name)!r}")
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(self.val_fraction < 1, f"val_fraction must be in [0, 1), got {self.val_fraction}")
        check(self.label_noise < 1, f"label_noise must be in [0, 1), got {self.label_noise}")
        check(len(self.betas) == 2 and all(is_number(b) and 0 <= b < 1 for b in self.betas), f"betas must be two numbers in [0, 1), got {self.betas}")
        check(self.train_per_class is None or self.train_fraction is None, "set at most one of train_per_class and train_fraction")
        for name in ("train_per_class", "test_per_class"):
            v = getattr(self, name)
            check(v is None or (is_int(v) and v >= 1), f"{name} must be None or an integer >= 1, got {v!r}")
        check(self.train_fraction is None or (is_number(self.train_fraction) and 0 < self.train_fraction <= 1), f"train_fraction must be in (0, 1], got {self.train_fraction!r}")
        check(self.grad_clip is None or (is_number(self.grad_clip) and self.grad_clip > 0), f"grad_clip must be None or > 0, got {self.grad_clip!r}")
        check(self.convergence_threshold is None or (is_number(self.convergence_threshold) and 0 < self.convergence_threshold <= 1), f"convergence_threshold must be None or in (0, 1], got {self.convergence_threshold!r}")
        check(all(is_int(m) and m >= 1 for m in self.milestones), f"milestones must be epochs >= 1, got {self.milestones}")
        check(all(is_int(s) and s >= 0 for s in self.grad_diag_steps), f"grad_diag_steps must be steps >= 0, got {self.grad_diag_steps}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def key_fields(self) -> dict:
        """The fields that change what a run computes (everything but execution placement)."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_FIELDS}

    def replace(self, **changes) -> "RunConfig":
        return dataclasses.replace(self, **changes)


@dataclass
class RunResult:
    config: dict                  # RunConfig.to_dict()
    status: str                   # "ok" | "diverged"
    metrics: dict                 # final accuracies and losses, steps, convergence, timings
    history: pd.DataFrame         # one row per evaluation
    steps: pd.DataFrame           # one row per logged step: loss terms, batch accuracy, lr
    diagnostics: pd.DataFrame     # one row per gradient-diagnostic step (may be empty)
    provenance: dict
    key: str = ""
    cached: bool = False          # True when returned from the results cache

    def to_record(self) -> dict:
        frames = {k: getattr(self, k).to_dict(orient="list") for k in ("history", "steps", "diagnostics")}
        return {"config": self.config, "status": self.status, "metrics": self.metrics,
                "provenance": self.provenance, **frames}

    @classmethod
    def from_record(cls, record: dict, cached: bool = False) -> "RunResult":
        frames = {k: pd.DataFrame(record[k]) for k in ("history", "steps", "diagnostics")}
        return cls(config=record["config"], status=record["status"], metrics=record["metrics"],
                   provenance=record["provenance"], key=record.get("key", ""), cached=cached, **frames)


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

    def autocast(self):
        return _autocast(self.device, self.config.amp)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but torch sees no CUDA device; use device='auto' or 'cpu'")
    return torch.device(name)


def _autocast(device: torch.device, amp: bool):
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
            val = data_lib.stratified_subset(val, min(cfg.test_per_class, min(torch.bincount(val.y).tolist())), cfg.data_seed)
    if cfg.label_noise > 0:
        train = data_lib.add_label_noise(train, cfg.label_noise, ds.num_classes, cfg.data_seed)
    return train, val, test


# ----------------------------------------------------------------------------- optimisation

def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                           weight_decay=cfg.weight_decay)


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
        with _autocast(loader.device, amp):
            logits, _ = model(batch.x)
        correct += (logits.argmax(1) == batch.y).sum()
        loss += F.cross_entropy(logits.float(), batch.y, reduction="sum")
    model.train(was_training)
    n = len(loader.x)
    return correct / n, loss / n


def gradient_diagnostics(terms: dict[str, torch.Tensor], shared: list[torch.nn.Parameter]) -> torch.Tensor | None:
    """[cosine, |g_main|, |g_aux|] between the gradients of the main loss and of the summed
    (weighted) auxiliary losses on the shared parameters; None when there is no aux loss."""
    aux = [v for k, v in terms.items() if k != "main"]
    if not aux:
        return None
    aux = torch.stack(aux).sum()
    if not aux.requires_grad:
        return None
    flat = []
    for loss in (terms["main"], aux):
        grads = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
        flat.append(torch.cat([(g if g is not None else torch.zeros_like(p)).float().flatten()
                               for g, p in zip(grads, shared)]))
    gm, ga = flat
    nm, na = gm.norm(), ga.norm()
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

def run(config: RunConfig, *, cache: ResultsCache | bool = True, progress: bool = True) -> RunResult:
    """Train (or fetch from the results cache) one configuration."""
    ds = data_lib.load_dataset(config.dataset)
    key = make_key(config.key_fields(), code_version(), ds.checksum)
    store = cache if isinstance(cache, ResultsCache) else (ResultsCache() if cache else None)
    if store is not None and (record := store.get(key)) is not None:
        return RunResult.from_record(record, cached=True)
    result = _train(config, ds, progress)
    result.key = key
    if store is not None:
        store.put(key, result.to_record())
    return result


def run_all(configs: list[RunConfig], *, cache: ResultsCache | bool = True, progress: bool = True,
            desc: str = "runs") -> list[RunResult]:
    """Run many configurations with one progress bar over runs."""
    out = []
    bar = tqdm(configs, desc=desc, disable=not progress)
    for cfg in bar:
        bar.set_postfix_str(f"{cfg.model}/{cfg.method}/seed {cfg.seed}", refresh=False)
        out.append(run(cfg, cache=cache, progress=False))
    return out


def summarize(results: list[RunResult]) -> pd.DataFrame:
    """One row per run: the config fields that vary across `results`, status and metrics."""
    configs = pd.DataFrame([{k: str(v) if isinstance(v, (dict, tuple, list)) else v
                             for k, v in r.config.items()} for r in results])
    varying = [c for c in configs.columns if configs[c].nunique(dropna=False) > 1 or c in ("model", "method", "seed")]
    metrics = pd.DataFrame([{"status": r.status, **r.metrics} for r in results])
    return pd.concat([configs[varying], metrics], axis=1)


def _train(cfg: RunConfig, ds: data_lib.Dataset, progress: bool) -> RunResult:
    t0 = time.perf_counter()
    device = resolve_device(cfg.device)
    train, val, test = make_splits(cfg, ds)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, ds.num_classes, **cfg.model_options)
    method = create_method(cfg.method, **cfg.method_options)
    heads = method.build_heads(model, ds.num_classes)
    loader = DeviceLoader(train.x, train.y, cfg.batch_size, mean=ds.mean, std=ds.std, device=device,
                          y_aux=train.y_aux, augment=cfg.augment, shuffle=True, drop_last=True,
                          seed=cfg.seed, channels_last=True)
    pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.seed))[:CALIBRATION_SAMPLES]
    calib = DeviceLoader(train.x[pick], train.y[pick], len(pick), mean=ds.mean, std=ds.std)  # subsets are class-sorted
    t_init = time.perf_counter()
    calib_batch = next(iter(calib))
    apply_init(cfg.init, model, heads, calib_batch.x, calib_batch.y)
    init_time = time.perf_counter() - t_init
    model.to(device)
    heads.to(device)
    model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if cfg.compile else model
    eval_loaders = {name: DeviceLoader(s.x, s.y, cfg.eval_batch_size, mean=ds.mean, std=ds.std, device=device,
                                       channels_last=True)
                    for name, s in (("val", val), ("test", test)) if s is not None}

    optimizer = make_optimizer(cfg, list(model.parameters()) + list(heads.parameters()))
    steps_per_epoch = len(loader)
    total = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
    lr_at = lr_multiplier(cfg, steps_per_epoch, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    eval_every = cfg.eval_every or steps_per_epoch
    ctx = StepContext(cfg, model, heads, method, optimizer, loader, device, ds.num_classes, steps_per_epoch, total)
    method.setup(ctx)
    shared = model.backbone_parameters()
    aux_params = [p for m in (heads, *model.aux_modules()) for p in m.parameters()]

    names: list[str] | None = None     # loss-term names, fixed by the first step
    buf = diag = None                  # per-step [total, *terms, batch_acc]; per-diag [cos, |gm|, |ga|, |W_aux|]
    periodic = set(range(0, total, cfg.grad_diag_every)) if cfg.grad_diag_every else set()
    diag_steps = sorted(periodic | {s for s in cfg.grad_diag_steps if s < total})
    diag_row = {s: i for i, s in enumerate(diag_steps)}
    history, status, diverged_at, last_eval, checked = [], "ok", None, 0, 0
    model.train()
    heads.train()
    bar = tqdm(total=total, desc=f"{cfg.model}/{cfg.method}/seed {cfg.seed}", disable=not progress, leave=False)
    t_train = time.perf_counter()
    step = 0
    while step < total and status == "ok":
        for batch in loader:
            ctx.step, ctx.epoch = step, step // steps_per_epoch
            with _autocast(device, cfg.amp):
                logits, taps = forward(batch.x)
                terms = method.loss_terms(logits, taps, batch, ctx)
            loss = torch.stack(list(terms.values())).sum()
            if names is None:
                names = list(terms)
                buf = torch.zeros(total, len(names) + 2, device=device)
                diag = torch.full((len(diag_steps), 4), float("nan"), device=device)
            if step in diag_row:
                d = gradient_diagnostics(terms, shared)
                if d is not None:
                    w = torch.stack([p.detach().float().norm() for p in aux_params]).norm() if aux_params else d[:1] * 0
                    diag[diag_row[step]] = torch.cat([d, w.reshape(1)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(optimizer.param_groups[0]["params"], cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                buf[step, 0] = loss.detach().float()
                buf[step, 1:-1] = torch.stack([t.detach().float() for t in terms.values()])
                buf[step, -1] = (logits.detach().argmax(1) == batch.y).float().mean()
            method.after_step(ctx)
            step += 1
            bar.update(1)
            boundary = step % eval_every == 0 or step == total
            if boundary or step - checked >= CHECK_EVERY:
                finite = torch.isfinite(buf[checked:step, 0])
                if not bool(finite.all()):
                    status, diverged_at = "diverged", checked + int((~finite).nonzero()[0])
                    break
                checked = step
            if boundary:
                history.append(_eval_row(cfg, step, steps_per_epoch, scheduler, buf[last_eval:step], names,
                                         eval_loaders, model))
                last_eval = step
                bar.set_postfix({k: f"{v:.3f}" for k, v in history[-1].items() if k.endswith("_acc")})
            if step % steps_per_epoch == 0:
                method.after_epoch(ctx)
            if step >= total:
                break
    bar.close()
    if cuda:
        torch.cuda.synchronize()
    train_time = time.perf_counter() - t_train

    steps_frame = pd.DataFrame(buf[:step].double().cpu().numpy() if buf is not None else np.zeros((0, 2)),
                               columns=["loss", *(names or []), "batch_acc"])
    steps_frame.insert(0, "step", np.arange(1, len(steps_frame) + 1))
    steps_frame["lr"] = [cfg.lr * lr_at(s) for s in range(len(steps_frame))]
    diag_frame = pd.DataFrame(diag.double().cpu().numpy() if diag is not None else np.zeros((0, 4)),
                              columns=["cosine", "main_grad_norm", "aux_grad_norm", "aux_weight_norm"])
    diag_frame.insert(0, "step", diag_steps)
    diag_frame = diag_frame.dropna()  # steps never reached, or with no auxiliary loss
    diag_frame["norm_ratio"] = diag_frame["aux_grad_norm"] / diag_frame["main_grad_norm"]

    hist = pd.DataFrame(history)
    last = history[-1] if history and status == "ok" else {}
    finals = ("train_acc", "train_loss", "test_acc", "test_loss") + (("val_acc", "val_loss") if val is not None else ())
    metrics = {f"final_{k}": last.get(k, float("nan")) for k in finals}
    if "val_acc" in hist:
        metrics["best_val_acc"] = float(hist["val_acc"].max())
    if cfg.convergence_threshold is not None:
        metrics["steps_to_threshold"] = steps_to_threshold(steps_frame["batch_acc"].to_numpy(),
                                                           cfg.convergence_threshold, cfg.convergence_window)
    metrics.update({"steps": step, "epochs": step / steps_per_epoch, "diverged_at_step": diverged_at,
                    "train_images": len(train), "test_images": len(test),
                    "val_images": len(val) if val is not None else 0,
                    "init_time_s": init_time, "train_time_s": train_time, "images_per_s": step * cfg.batch_size / max(train_time, 1e-9),
                    "wall_time_s": time.perf_counter() - t0})
    prov = collect(device, ds.checksum, ds.source)
    prov["wall_time_s"] = metrics["wall_time_s"]
    return RunResult(config=cfg.to_dict(), status=status, metrics=metrics, history=hist,
                     steps=steps_frame.iloc[cfg.step_log_every - 1::cfg.step_log_every].reset_index(drop=True),
                     diagnostics=diag_frame.reset_index(drop=True), provenance=prov)


def _eval_row(cfg, step, steps_per_epoch, scheduler, window, names, eval_loaders, model) -> dict:
    """One history row: train means since the last evaluation, then val/test metrics."""
    means = window.mean(0)
    evals = {name: evaluate(model, loader, cfg.amp) for name, loader in eval_loaders.items()}
    values = torch.stack([means[0], means[-1], *means[1:-1], *(v for pair in evals.values() for v in pair)]).cpu()
    values = values.tolist()
    row = {"step": step, "epoch": step / steps_per_epoch, "lr": scheduler.get_last_lr()[0],
           "train_loss": values[0], "train_acc": values[1]}
    row.update({f"train_{n}": v for n, v in zip(names, values[2:2 + len(names)])})
    for i, name in enumerate(evals):
        row[f"{name}_acc"], row[f"{name}_loss"] = values[2 + len(names) + 2 * i: 4 + len(names) + 2 * i]
    return row
