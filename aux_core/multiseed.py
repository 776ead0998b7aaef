"""Train S seeds of one configuration as one batched computation (torch.func.vmap).

The papers' models are small and their protocols need many seeds; one run at a time
leaves a GPU mostly idle. Here each seed is built and initialised exactly as a single run
would be (`train.prepare`: same weights, same data order, same augmentation draws), then
the S copies' parameters and buffers are stacked along a leading seed axis
(`torch.func.stack_module_state`) and a vmapped forward turns every layer into one
batched kernel: S convolutions become one grouped convolution, S batch norms one batch
norm over S x C channels (running statistics update per seed), S matmuls one bmm.
Backward is ordinary autograd on the stacked weights: the seeds' losses are summed, and
since no seed reads another's weights, each seed's gradient is exactly its own. AdamW and
SGD are element-wise, so one optimiser over the stacked weights is S optimisers.

Each seed comes back as its own RunResult (the results cache stores S records, keyed as S
single runs would be). Numerically the batched kernels sum in another order, so the
results equal S sequential runs to rounding (tests: 1e-9 relative in float64, and the
same accuracies in float32 over short runs), not bit for bit. Two exceptions, both
documented where they apply:
  * dropout draws its masks from one generator for the whole group (vmap randomness
    "different"), so a model with dropout (`cnn6`) gets other masks than alone: the same
    distribution, different numbers;
  * methods with state or hooks (meta-learning, second-order updates) set
    `Method.vectorizable = False` and always train one seed at a time.
`runner.run_all` picks the engine: on CUDA it groups seeds; on the CPU it trains them one
after another, because batched (grouped) convolutions are slower there per image than S
separate ones (measured in benchmarks/train_speed.py; see the book's performance page).
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F
from tqdm import tqdm

from . import data as data_lib
from .config import RunConfig, RunResult
from .devices import autocast_for, elapsed_s, training_device, widen
from .evaluation import eval_row, package
from .loader import Batch
from .methods import StepContext
from .train import (CHECK_EVERY, diag_schedule, json_plain, lr_multiplier, make_optimizer, make_splits, prepare,
                    save_checkpoint)


def seedless(cfg: RunConfig) -> dict:
    """What must agree for configurations to train as one group: everything but the seed."""
    return {k: v for k, v in cfg.key_fields().items() if k != "seed"}


def can_group(cfg: RunConfig) -> bool:
    from .methods import create_method
    return create_method(cfg.method, **cfg.method_options).vectorizable and not cfg.compile and not cfg.probes


class _Bundle(nn.Module):
    """Model and heads as one module, so one functional_call swaps in one seed's weights
    for both; `forward` returns the stacked loss terms and the batch accuracy."""

    def __init__(self, model: nn.Module, heads: nn.ModuleDict):
        super().__init__()
        self.model, self.heads = model, heads

    def forward(self, x, y, y_aux, method, ctx):
        logits, taps = self.model(x)
        terms = method.loss_terms(logits, taps, Batch(x, y, y_aux), ctx)
        ctx.term_names = list(terms)
        correct = (logits.detach().argmax(-1) == y).to(torch.get_default_dtype()).mean()
        return torch.stack([widen(t) for t in terms.values()]), correct


def train_group(cfgs: list[RunConfig], ds: data_lib.Dataset, progress: bool = True,
                checkpoint: Path | None = None) -> list[RunResult]:
    """Train configurations that differ only in `seed` as one vmapped computation. With
    `checkpoint`, the group is resumable as a single run is (`train.train_one`): every
    `checkpoint_every` epochs the stacked weights, optimiser, schedule, RNG and every seed's
    data order, and the history so far are saved atomically, and a group that finds its
    checkpoint resumes from it (the same seeds: the path is keyed by the group's members)."""
    base = seedless(cfgs[0])
    if any(seedless(c) != base for c in cfgs[1:]):
        raise ValueError("train_group needs configurations that differ only in seed")
    if not can_group(cfgs[0]):
        raise ValueError(f"method {cfgs[0].method!r} (or compile=True) cannot be vectorised; "
                         "train its seeds one at a time")
    if len({c.seed for c in cfgs}) != len(cfgs):
        raise ValueError(f"seeds must be distinct, got {[c.seed for c in cfgs]}")
    t0 = time.perf_counter()
    cfg, S = cfgs[0], len(cfgs)
    device = training_device(cfg.device)
    train, val, test = make_splits(cfg, ds)  # a function of data_seed: shared by the group

    def on_device(s):  # once for the whole group, not once per seed's loader
        return None if s is None else data_lib.Split(s.x.to(device), s.y.to(device),
                                                     None if s.y_aux is None else s.y_aux.to(device))
    splits = (on_device(train), on_device(val), on_device(test))
    preps = [prepare(c, ds, device, splits) for c in cfgs]

    bundles = [_Bundle(p.model, p.heads) for p in preps]
    params, buffers = stack_module_state(bundles)          # {name: [S, ...]} leaves / buffers
    skeleton = copy.deepcopy(bundles[0]).to("meta")         # structure only; weights come from `params`
    for module in skeleton.modules():
        if hasattr(module, "fused"):
            module.fused = False  # fused kernels without a vmap batching rule (vit6 attention)
    del bundles
    model_params = {k[len("model."):]: v for k, v in params.items() if k.startswith("model.")}
    model_buffers = {k[len("model."):]: v for k, v in buffers.items() if k.startswith("model.")}
    shared_ids = {id(p) for p in preps[0].model.backbone_parameters()}
    shared = [params["model." + n] for n, p in preps[0].model.named_parameters() if id(p) in shared_ids]
    aux_ids = {id(p) for p in preps[0].model.auxiliary_parameters(preps[0].heads)}
    aux_params = [params[n] for n, p in _named(preps[0]) if id(p) in aux_ids]

    method = preps[0].method
    optimizer = make_optimizer(cfg, list(params.values()))
    steps_per_epoch = len(preps[0].loader)
    total = cfg.steps if cfg.steps is not None else cfg.epochs * steps_per_epoch
    lr_at = lr_multiplier(cfg, steps_per_epoch, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    eval_every = cfg.eval_every or steps_per_epoch
    ctx = StepContext(cfg, skeleton.model, skeleton.heads, preps[0].loader, device,
                      ds.num_classes, steps_per_epoch, total)

    has_aux = preps[0].loader.y_aux is not None

    def one_seed(p, b, x, y, *y_aux):
        return functional_call(skeleton, (p, b), (x, y, y_aux[0] if y_aux else None, method, ctx))

    def one_seed_logits(p, b, x):
        return functional_call(skeleton.model, (p, b), (x,))[0]

    batched_terms = vmap(one_seed, randomness="different")
    batched_logits = vmap(one_seed_logits, in_dims=(0, 0, None))

    diag_steps = diag_schedule(cfg, total)
    diag_row = {s: i for i, s in enumerate(diag_steps)}
    buf = diag = None
    history = [[] for _ in cfgs]
    status, diverged_at, stopped = ["ok"] * S, [None] * S, [None] * S
    last_eval, checked, step, first_step = 0, 0, 0, 0.0
    resumable = checkpoint is not None and cfg.checkpoint_every > 0

    def snapshot() -> dict:
        return {"step": step, "params": {k: v.detach() for k, v in params.items()}, "buffers": buffers,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else [],
                "loader_rngs": [p.loader.gen.get_state() for p in preps], "names": names, "buf": buf, "diag": diag,
                "history": json.loads(json.dumps(history, default=json_plain)), "status": status,
                "diverged_at": diverged_at, "stopped": stopped, "checked": checked, "last_eval": last_eval,
                "first_step": first_step}

    names = None
    if resumable and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        with torch.no_grad():
            for k, v in params.items():
                v.copy_(state["params"][k])
            for k, v in buffers.items():
                v.copy_(state["buffers"][k])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if device.type == "cuda" and state["cuda_rng"]:
            torch.cuda.set_rng_state_all([t.cpu() for t in state["cuda_rng"]])
        for p, rng in zip(preps, state["loader_rngs"]):
            p.loader.gen.set_state(rng.cpu())
        step, names, buf, diag, history = state["step"], state["names"], state["buf"], state["diag"], state["history"]
        status, diverged_at, stopped = state["status"], state["diverged_at"], state["stopped"]
        checked, last_eval, first_step = state["checked"], state["last_eval"], state["first_step"]
        ctx.term_names = names
    skeleton.train()
    bar = tqdm(total=total, initial=step, desc=f"{cfg.model}/{cfg.method}/{S} seeds", disable=not progress,
               leave=False)
    t_train = time.perf_counter()
    while step < total and "ok" in status:
        for batches in zip(*(p.loader for p in preps)):
            ctx.step, ctx.epoch = step, step // steps_per_epoch
            xs = torch.stack([b.x for b in batches])
            ys = torch.stack([b.y for b in batches])
            extra = (torch.stack([b.y_aux for b in batches]),) if has_aux else ()
            with autocast_for(device, cfg.amp):
                terms, acc = batched_terms(params, buffers, xs, ys, *extra)   # [S, T], [S]
            if buf is None:
                names = ctx.term_names
                buf = torch.zeros(S, total, len(names) + 2, device=device)
                diag = torch.full((S, len(diag_steps), 4), float("nan"), device=device)
            loss = terms.sum(1)
            if step in diag_row:
                diag[:, diag_row[step]] = _diagnostics(terms, shared, aux_params)
            optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()   # seeds share no weights: each seed's gradient is its own
            if cfg.grad_clip:
                _clip_per_seed(list(params.values()), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                buf[:, step, 0] = loss.detach()
                buf[:, step, 1:-1] = terms.detach()
                buf[:, step, -1] = acc
            step += 1
            bar.update(1)
            if step == 1:
                first_step = elapsed_s(t_train, device)
            boundary = step % eval_every == 0 or step == total
            if boundary or step - checked >= CHECK_EVERY:
                finite = torch.isfinite(buf[:, checked:step, 0]).all(1).tolist()
                for s in range(S):
                    if status[s] == "ok" and not finite[s]:
                        bad = ~torch.isfinite(buf[s, checked:step, 0])
                        status[s], diverged_at[s], stopped[s] = "diverged", checked + int(bad.nonzero()[0]), step
                checked = step
            if boundary:
                evals = _evaluate(batched_logits, model_params, model_buffers, preps[0].eval_loaders, skeleton, cfg.amp)
                for s in range(S):
                    if status[s] == "ok":
                        history[s].append(eval_row(step, steps_per_epoch, scheduler.get_last_lr()[0],
                                                    buf[s, last_eval:step], names,
                                                    {k: (acc[s], loss[s]) for k, (acc, loss) in evals.items()}))
                last_eval = step
            if resumable and step % steps_per_epoch == 0 and step < total and "ok" in status \
                    and (step // steps_per_epoch) % cfg.checkpoint_every == 0:
                save_checkpoint(checkpoint, snapshot())
            if step >= total or "ok" not in status:
                break
    bar.close()
    elapsed = elapsed_s(t_train, device)
    wall = time.perf_counter() - t0
    results = []
    for s, c in enumerate(cfgs):
        # shares of the group's time
        timing = {"first_step_s": first_step / S, "train_time_s": (elapsed - first_step) / S,
                  "init_time_s": preps[s].init_time_s, "wall_time_s": wall / S}
        results.append(package(c, ds, device, status=status[s], diverged_at=diverged_at[s],
                               steps_done=stopped[s] if stopped[s] is not None else step,
                               steps_per_epoch=steps_per_epoch, lr_at=lr_at, names=names, buf=buf[s],
                               diag_steps=diag_steps, diag=diag[s], history=history[s], sizes=preps[s].sizes,
                               timing=timing, engine="vmap", group_size=S))
    return results


def _named(prep):
    return [("model." + n, p) for n, p in prep.model.named_parameters()] + \
           [("heads." + n, p) for n, p in prep.heads.named_parameters()]


@torch.no_grad()
def _evaluate(batched_logits, params, buffers, loaders, skeleton, amp):
    """{split: (accuracy [S], mean cross-entropy [S])} of every seed's final classifier."""
    skeleton.eval()
    out = {}
    for name, loader in loaders.items():
        correct = loss = 0
        for batch in loader:
            with autocast_for(loader.device, amp):
                logits = widen(batched_logits(params, buffers, batch.x))     # [S, B, K]
            y = batch.y.expand(len(logits), -1)
            correct = correct + (logits.argmax(-1) == y).sum(1)
            loss = loss + F.cross_entropy(logits.transpose(1, 2), y, reduction="none").sum(1)
        n = len(loader.x)
        out[name] = (correct / n, loss / n)
    skeleton.train()
    return out


def _per_seed_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of each seed's slice of a list of seed-stacked tensors: [S]."""
    return torch.stack([widen(t).flatten(1).pow(2).sum(1) for t in tensors]).sum(0).sqrt()


def _diagnostics(terms: torch.Tensor, shared: list[torch.Tensor], aux_params: list[torch.Tensor]) -> torch.Tensor:
    """Per seed [cosine, |g_main|, |g_aux|, |W_aux|] on the shared weights, as
    `train.gradient_diagnostics` computes for one run (NaN cosine and |g_aux| without an
    auxiliary term)."""
    gm = torch.autograd.grad(terms[:, 0].sum(), shared, retain_graph=True, allow_unused=True)
    gm = [g if g is not None else torch.zeros_like(p) for g, p in zip(gm, shared)]
    w = _per_seed_norm([p.detach() for p in aux_params]) if aux_params else None
    if terms.shape[1] == 1:
        nm = _per_seed_norm(gm)
        nan = torch.full_like(nm, float("nan"))
        return torch.stack([nan, nm, nan, w if w is not None else torch.zeros_like(nm)], dim=1)
    ga = torch.autograd.grad(terms[:, 1:].sum(), shared, retain_graph=True, allow_unused=True)
    ga = [g if g is not None else torch.zeros_like(p) for g, p in zip(ga, shared)]
    dot = torch.stack([(widen(a).flatten(1) * widen(b).flatten(1)).sum(1) for a, b in zip(gm, ga)]).sum(0)
    nm, na = _per_seed_norm(gm), _per_seed_norm(ga)
    w = w if w is not None else torch.zeros_like(nm)
    return torch.stack([dot / (nm * na).clamp_min(1e-30), nm, na, w], dim=1)


@torch.no_grad()
def _clip_per_seed(params: list[torch.Tensor], max_norm: float) -> None:
    """clip_grad_norm_ for each seed separately (its own global norm)."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = _per_seed_norm(grads)
    scale = (max_norm / (norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))).to(g.dtype))
