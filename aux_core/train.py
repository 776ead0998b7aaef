"""The training loop: `train_one(cfg, dataset)` trains one run, top to bottom, and returns its
`RunResult`. `aux_core.runner` calls it (through the results cache); `aux_core.multiseed` is the
other engine, which trains seeds of one configuration together from the same parts (`prepare`,
`make_optimizer`, `lr_multiplier`, `diag_schedule`, checkpoint I/O, `aux_core.evaluation`).

Every method plugs in through `aux_core.methods.Method` (heads on taps, loss terms, hooks); the
loop itself knows nothing about any paper.

Fast on both devices: the data sit on the device (`DeviceLoader`); per-step metrics go into a
device buffer that is read once per evaluation; bf16 autocast on CUDA and channels-last memory
on every device (1.4-2x faster convolutions on the CPU too); fused optimisers on CUDA. The only
host syncs are after the first step (timed apart as warm-up), at evaluations and every
`CHECK_EVERY` steps, where a non-finite loss stops the run with status "diverged".
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from . import data as data_lib
from .analysis import ProbeBatch, run_probes
from .config import RunConfig, RunResult
from .devices import autocast_for, elapsed_s, training_device, widen
from .evaluation import eval_row, evaluate, gradient_diagnostics, package
from .loader import DeviceLoader
from .methods import Method, StepContext, apply_init, create_method
from .models import TapModel, create_model

CHECK_EVERY = 50           # steps between divergence checks (one host sync each)
CALIBRATION_SAMPLES = 256  # images handed to data-driven initialisations (LSUV)


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


# ----------------------------------------------------------------------------- one run

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


def train_one(cfg: RunConfig, ds: data_lib.Dataset, progress: bool, checkpoint: Path | None = None) -> RunResult:
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
    ctx = StepContext(cfg, model, heads, loader, device, ds.num_classes, steps_per_epoch, total,
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
