"""What a run is built from: its splits (`make_splits`), its model, heads and loaders seeded and
initialised on the device (`prepare`), its optimiser and schedule, and the steps of its gradient
diagnostics. Both engines (`aux_core.train`: one seed; `aux_core.multiseed`: seeds vmapped
together) build every seed here, so a seed's weights, data order and augmentation draws are the
same whichever engine trains it."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from . import data as data_lib
from . import subsets
from .analysis import ProbeBatch
from .config import RunConfig
from .loader import DeviceLoader
from .methods import Method, apply_init, create_method
from .models import TapModel, create_model

CALIBRATION_SAMPLES = 256  # images handed to data-driven initialisations (LSUV)


# ----------------------------------------------------------------------------- data

def make_splits(cfg: RunConfig, ds: data_lib.Dataset):
    """(train, val or None, test) splits of a dataset as the config asks."""
    train, test = ds.train, ds.test
    if cfg.val_fraction > 0:
        train, val = subsets.train_val_split(train, cfg.val_fraction, cfg.data_seed)
    else:
        val = None
    if cfg.train_per_class is not None:
        train = subsets.stratified_subset(train, cfg.train_per_class, cfg.data_seed)
    elif cfg.train_fraction is not None:
        train = subsets.fraction_subset(train, cfg.train_fraction, cfg.data_seed)
    if cfg.test_per_class is not None:
        test = subsets.stratified_subset(test, cfg.test_per_class, cfg.data_seed)
        if val is not None:
            val = subsets.stratified_subset(val, min(cfg.test_per_class, min(torch.bincount(val.y).tolist())),
                                             cfg.data_seed)
    if cfg.label_noise > 0:
        train = subsets.add_label_noise(train, cfg.label_noise, ds.num_classes, cfg.data_seed)
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
        if step < warmup:     # capped: a warm-up shorter than a step must not overshoot the rate
            return min(1.0, (step + 1) / warmup)
        epoch = step / steps_per_epoch
        if cfg.schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))
        if cfg.schedule == "step":
            return cfg.gamma ** int(epoch // cfg.step_size) if cfg.step_size else 1.0
        if cfg.schedule == "multistep":
            return cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
        return 1.0
    return f


# ----------------------------------------------------------------------------- one seed

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


def total_steps(cfg: RunConfig, steps_per_epoch: int) -> int:
    """The run's length in steps: `steps`, or `epochs` of `steps_per_epoch`."""
    return cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
