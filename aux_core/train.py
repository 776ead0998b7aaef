"""The training loop, top to bottom: `train_loop(engine)` trains the S seeds an engine holds and
returns one `RunResult` per seed. `train_one(cfg, dataset)` is the loop with the one-seed engine
below; `aux_core.multiseed.train_group` is the same loop with the vmapped engine. An engine
implements a step's forward (loss terms), the gradient diagnostics, clipping, evaluation, probes
and its own part of a checkpoint; the loop owns everything else once: the optimiser and schedule,
the per-step buffer, the divergence rule, the evaluation rows, checkpoint and resume, timing and
packaging (`aux_core.evaluation`).

Every method plugs in through `aux_core.methods.Method` (heads on taps, loss terms, hooks); the
loop itself knows nothing about any paper.

Fast on both devices: the data sit on the device (`DeviceLoader`); per-step metrics go into a
device buffer that is read once per evaluation; bf16 autocast on CUDA and channels-last memory
on every device (1.4-2x faster convolutions on the CPU too); fused optimisers on CUDA. The only
host syncs are after the first step (timed apart as warm-up), at evaluations and every
`CHECK_EVERY` steps, where a seed whose loss is not finite stops with status "diverged" (the
others train on).
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import torch
from tqdm import tqdm

from . import data as data_lib
from .analysis import run_probes
from .build import diag_schedule, lr_multiplier, make_optimizer, prepare, total_steps
from .config import RunConfig, RunResult
from .devices import autocast_for, elapsed_s, training_device, widen
from .evaluation import eval_row, evaluate, gradient_diagnostics, package
from .methods import StepContext

CHECK_EVERY = 50           # steps between divergence checks (one host sync each)
CHECKPOINT_FORMAT = 2      # a checkpoint of another format is not resumed from (the run starts again)


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


def train_loop(engine, ds: data_lib.Dataset, progress: bool, checkpoint: Path | None = None,
               t0: float | None = None) -> list[RunResult]:
    """Train the engine's seeds to the end (or until every seed diverged). With `checkpoint`,
    every `cfg.checkpoint_every` epochs everything the rest of the run depends on (the engine's
    weights and data order, optimiser, schedule, RNG, the history so far) is saved there
    atomically, and a run that finds a checkpoint resumes from it: a run killed at any moment and
    started again ends with the metrics of an uninterrupted run (timings aside)."""
    t0 = time.perf_counter() if t0 is None else t0
    cfg, ctx, device, S = engine.cfgs[0], engine.ctx, engine.device, len(engine.cfgs)
    optimizer = make_optimizer(cfg, engine.parameters())
    steps_per_epoch, total = ctx.steps_per_epoch, ctx.total_steps
    lr_at = lr_multiplier(cfg, steps_per_epoch, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    eval_every = cfg.eval_every or steps_per_epoch
    diag_steps = diag_schedule(cfg, total)
    diag_row = {s: i for i, s in enumerate(diag_steps)}
    names, buf, diag = None, None, None   # loss-term names; per step [S, total, total+terms+acc]; [S, diags, 4]
    history = [[] for _ in range(S)]
    status, diverged_at, stopped = ["ok"] * S, [None] * S, [None] * S
    step, checked, last_eval, first_step = 0, 0, 0, 0.0
    resumable = checkpoint is not None and cfg.checkpoint_every > 0

    def snapshot() -> dict:
        return {"format": CHECKPOINT_FORMAT, "step": step, "engine": engine.state(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                "names": names, "buf": buf, "diag": diag,
                "history": json.loads(json.dumps(history, default=json_plain)),
                "status": status, "diverged_at": diverged_at, "stopped": stopped, "checked": checked,
                "last_eval": last_eval, "first_step": first_step}

    state = torch.load(checkpoint, map_location=device, weights_only=True) if resumable and checkpoint.exists() else {}
    if state.get("format") == CHECKPOINT_FORMAT:
        engine.load(state["engine"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all([t.cpu() for t in state["cuda_rng"]])
        step, names, buf, diag, history = state["step"], state["names"], state["buf"], state["diag"], state["history"]
        status, diverged_at, stopped = state["status"], state["diverged_at"], state["stopped"]
        checked, last_eval, first_step = state["checked"], state["last_eval"], state["first_step"]
        ctx.step, ctx.epoch, ctx.term_names = step - 1, (step - 1) // steps_per_epoch, names
    seeds = f"seed {cfg.seed}" if S == 1 else f"{S} seeds"
    bar = tqdm(total=total, initial=step, desc=f"{cfg.model}/{cfg.method}/{seeds}", disable=not progress, leave=False)
    t_train = time.perf_counter()
    while step < total and "ok" in status:
        for batch in engine.batches():
            ctx.step, ctx.epoch = step, step // steps_per_epoch
            with autocast_for(device, cfg.amp):
                step_names, terms, loss, acc = engine.forward(batch)    # [S, T], [S], [S]
            if names is None:
                names = step_names
                buf = torch.zeros(S, total, len(names) + 2, device=device)
                diag = torch.full((S, len(diag_steps), 4), float("nan"), device=device)
            if step in diag_row:
                diag[:, diag_row[step]] = engine.diagnostics()
            optimizer.zero_grad(set_to_none=True)
            engine.backward(loss)
            if cfg.grad_clip:
                engine.clip(cfg.grad_clip)
            optimizer.step()
            ctx.lr = optimizer.param_groups[0]["lr"]   # a Python float: no host sync
            scheduler.step()
            with torch.no_grad():
                buf[:, step, 0] = loss.detach()
                buf[:, step, 1:-1] = terms.detach()
                buf[:, step, -1] = acc
            engine.after_step()
            step += 1
            bar.update(1)
            if step == 1:  # warm-up (compilation, allocator, kernel selection) is timed apart
                first_step = elapsed_s(t_train, device)
            boundary = step % eval_every == 0 or step == total
            if boundary or step - checked >= CHECK_EVERY:
                finite = torch.isfinite(buf[:, checked:step, 0])
                if not bool(finite.all()):
                    for s, ok in enumerate(finite.all(1).tolist()):
                        if status[s] == "ok" and not ok:
                            first_bad = int((~finite[s]).nonzero()[0])
                            status[s], diverged_at[s], stopped[s] = "diverged", checked + first_bad, step
                checked = step
                if "ok" not in status:
                    break
            if boundary:
                lr = scheduler.get_last_lr()[0]
                evals, probes = engine.evaluate(), engine.probes()
                for s in range(S):
                    if status[s] == "ok":
                        history[s].append({**eval_row(step, steps_per_epoch, lr, buf[s, last_eval:step], names,
                                                      evals[s]), **probes[s]})
                last_eval = step
                if history[0]:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in history[0][-1].items() if k.endswith("_acc")})
            if step % steps_per_epoch == 0:
                engine.after_epoch()
                if resumable and step < total and (step // steps_per_epoch) % cfg.checkpoint_every == 0:
                    save_checkpoint(checkpoint, snapshot())
            if step >= total:
                break
    bar.close()
    elapsed, wall = elapsed_s(t_train, device), time.perf_counter() - t0
    results = []
    for s, c in enumerate(engine.cfgs):
        timing = {"first_step_s": first_step / S, "train_time_s": (elapsed - first_step) / S,   # shares of the group's
                  "init_time_s": engine.preps[s].init_time_s, "wall_time_s": wall / S}           # time
        result = package(c, ds, device, status=status[s], diverged_at=diverged_at[s],
                         steps_done=stopped[s] if stopped[s] is not None else step, steps_per_epoch=steps_per_epoch,
                         lr_at=lr_at, names=names, buf=None if buf is None else buf[s], diag_steps=diag_steps,
                         diag=None if diag is None else diag[s], history=history[s], sizes=engine.preps[s].sizes,
                         timing=timing, engine=engine.name, group_size=S)
        extras = engine.extras(s)
        if extras:
            result.metrics["extras"] = extras
        results.append(result)
    return results


class OneSeed:
    """The loop engine: one seed's model and heads as they are, its method's hooks called."""
    name = "loop"

    def __init__(self, cfg: RunConfig, ds: data_lib.Dataset):
        self.cfgs, self.device = [cfg], training_device(cfg.device)
        prep = self.prep = prepare(cfg, ds, self.device)
        self.preps = [prep]
        self.model, self.heads, self.method = prep.model, prep.heads, prep.method
        self.model.to(memory_format=torch.channels_last)
        self.forward_model = torch.compile(self.model) if cfg.compile else self.model
        steps_per_epoch = len(prep.loader)
        self.ctx = StepContext(cfg, self.model, self.heads, prep.loader, self.device, ds.num_classes, steps_per_epoch,
                               total_steps(cfg, steps_per_epoch), held_out=prep.held_out)
        self.method.setup(self.ctx)
        self.shared = self.model.backbone_parameters()
        self.aux_params = self.model.auxiliary_parameters(self.heads)
        self.model.train()
        self.heads.train()
        self.terms = None

    def parameters(self) -> list:
        return list(self.model.parameters()) + list(self.heads.parameters())

    def batches(self):
        return self.prep.loader

    def forward(self, batch):
        logits, taps = self.forward_model(batch.x)
        self.terms = self.method.loss_terms(logits, taps, batch, self.ctx)
        stacked = torch.stack(list(self.terms.values()))
        correct = (logits.detach().argmax(1) == batch.y).to(torch.get_default_dtype()).mean()
        return list(self.terms), stacked.unsqueeze(0), stacked.sum().reshape(1), correct.reshape(1)

    def diagnostics(self) -> torch.Tensor:
        d = gradient_diagnostics(self.terms, self.shared)
        w = torch.stack([widen(p.detach()).norm() for p in self.aux_params]).norm() if self.aux_params else d[1:2] * 0
        return torch.cat([d, w.reshape(1)]).unsqueeze(0)

    def backward(self, loss: torch.Tensor) -> None:
        if not self.method.backward(self.terms, self.ctx):   # a method may do its own (aggregated)
            loss.sum().backward()

    def clip(self, max_norm: float) -> None:
        torch.nn.utils.clip_grad_norm_(self.parameters(), max_norm)

    def after_step(self) -> None:
        self.method.after_step(self.ctx)

    def after_epoch(self) -> None:
        self.method.after_epoch(self.ctx)

    def evaluate(self) -> list[dict]:
        return [{name: evaluate(self.model, ev, self.cfgs[0].amp) for name, ev in self.prep.eval_loaders.items()}]

    def probes(self) -> list[dict]:
        if self.prep.probe_batch is None:
            return [{}]
        with autocast_for(self.device, self.cfgs[0].amp):
            return [run_probes(self.cfgs[0].probes, self.model, self.prep.probe_batch, self.heads)]

    def extras(self, s: int) -> dict:
        return self.method.extras(self.ctx)

    def state(self) -> dict:
        held_out = self.prep.held_out   # the held-out split's data order (a meta-learner's auxiliary set)
        return {"model": self.model.state_dict(), "heads": self.heads.state_dict(), "method": self.method.state_dict(),
                "loader_rng": self.prep.loader.gen.get_state(),
                "held_out_rng": held_out.gen.get_state() if held_out is not None else torch.zeros(0, dtype=torch.uint8)}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.heads.load_state_dict(state["heads"])
        self.method.load_state_dict(state["method"])
        for lo, rng in ((self.prep.loader, state["loader_rng"]), (self.prep.held_out, state["held_out_rng"])):
            if lo is not None:  # a generator's state is a CPU byte tensor, a CUDA generator's too
                lo.gen.set_state(rng.cpu())


def train_one(cfg: RunConfig, ds: data_lib.Dataset, progress: bool, checkpoint: Path | None = None) -> RunResult:
    """One run (the loop engine); resumable from `checkpoint` (`train_loop`)."""
    t0 = time.perf_counter()
    return train_loop(OneSeed(cfg, ds), ds, progress, checkpoint, t0)[0]
