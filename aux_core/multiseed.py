"""Train S seeds of one configuration as one batched computation (torch.func.vmap): the vmap
engine of the one training loop (`aux_core.train.train_loop`).

The papers' models are small and their protocols need many seeds; one run at a time
leaves a GPU mostly idle. Here each seed is built and initialised exactly as a single run
would be (`build.prepare`: same weights, same data order, same augmentation draws), then
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
import time
from pathlib import Path

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap
from torch.nn import functional as F

from . import data as data_lib
from .build import make_splits, prepare, total_steps
from .config import RunConfig, RunResult
from .devices import autocast_for, training_device, widen
from .loader import Batch
from .methods import StepContext
from .train import train_loop


def seedless(cfg: RunConfig) -> dict:
    """What must agree for configurations to train as one group: everything but the seed."""
    return {k: v for k, v in cfg.key_fields().items() if k != "seed"}


def can_group(cfg: RunConfig) -> bool:
    from .methods import create_method
    method = create_method(cfg.method, **cfg.method_options)
    aggregated = getattr(method, "aggregator", "sum") != "sum"   # its own backward: one seed at a time
    return method.vectorizable and not aggregated and not cfg.compile and not cfg.probes


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


class Vmapped:
    """The vmap engine: every seed built as a single run would be (`build.prepare`), their weights
    stacked along a leading seed axis, one vmapped forward for all of them. Methods here have no
    hooks (`Method.vectorizable`), so `after_step` and `after_epoch` do nothing."""
    name = "vmap"

    def __init__(self, cfgs: list[RunConfig], ds: data_lib.Dataset):
        cfg = cfgs[0]
        self.cfgs, self.device = cfgs, training_device(cfg.device)
        train, val, test = make_splits(cfg, ds)  # a function of data_seed: shared by the group

        def on_device(s):  # once for the whole group, not once per seed's loader
            return None if s is None else data_lib.Split(s.x.to(self.device), s.y.to(self.device),
                                                         None if s.y_aux is None else s.y_aux.to(self.device))
        splits = (on_device(train), on_device(val), on_device(test))
        self.preps = preps = [prepare(c, ds, self.device, splits) for c in cfgs]
        bundles = [_Bundle(p.model, p.heads) for p in preps]
        self.params, self.buffers = stack_module_state(bundles)   # {name: [S, ...]} leaves / buffers
        skeleton = self.skeleton = copy.deepcopy(bundles[0]).to("meta")  # structure only; weights from `params`
        for module in skeleton.modules():
            if hasattr(module, "fused"):
                module.fused = False  # fused kernels without a vmap batching rule (vit6 attention)
        del bundles
        self.model_params = {k[len("model."):]: v for k, v in self.params.items() if k.startswith("model.")}
        self.model_buffers = {k[len("model."):]: v for k, v in self.buffers.items() if k.startswith("model.")}
        shared_ids = {id(p) for p in preps[0].model.backbone_parameters()}
        self.shared = [self.params["model." + n] for n, p in preps[0].model.named_parameters() if id(p) in shared_ids]
        aux_ids = {id(p) for p in preps[0].model.auxiliary_parameters(preps[0].heads)}
        self.aux_params = [self.params[n] for n, p in _named(preps[0]) if id(p) in aux_ids]
        steps_per_epoch = len(preps[0].loader)
        self.ctx = ctx = StepContext(cfg, skeleton.model, skeleton.heads, preps[0].loader, self.device,
                                     ds.num_classes, steps_per_epoch, total_steps(cfg, steps_per_epoch))
        method = preps[0].method
        self.has_aux = preps[0].loader.y_aux is not None

        def one_seed(p, b, x, y, *y_aux):
            return functional_call(skeleton, (p, b), (x, y, y_aux[0] if y_aux else None, method, ctx))

        def one_seed_logits(p, b, x):
            return functional_call(skeleton.model, (p, b), (x,))[0]

        self.batched_terms = vmap(one_seed, randomness="different")
        self.batched_logits = vmap(one_seed_logits, in_dims=(0, 0, None))
        skeleton.train()
        self.terms = None

    def parameters(self) -> list:
        return list(self.params.values())

    def batches(self):
        return zip(*(p.loader for p in self.preps))

    def forward(self, batches):
        xs = torch.stack([b.x for b in batches])
        ys = torch.stack([b.y for b in batches])
        extra = (torch.stack([b.y_aux for b in batches]),) if self.has_aux else ()
        self.terms, acc = self.batched_terms(self.params, self.buffers, xs, ys, *extra)   # [S, T], [S]
        return self.ctx.term_names, self.terms, self.terms.sum(1), acc

    def diagnostics(self) -> torch.Tensor:
        return _diagnostics(self.terms, self.shared, self.aux_params)

    def backward(self, loss: torch.Tensor) -> None:
        loss.sum().backward()   # seeds share no weights: each seed's gradient is its own

    def clip(self, max_norm: float) -> None:
        _clip_per_seed(self.parameters(), max_norm)

    def after_step(self) -> None:
        pass

    def after_epoch(self) -> None:
        pass

    def evaluate(self) -> list[dict]:
        evals = _evaluate(self.batched_logits, self.model_params, self.model_buffers, self.preps[0].eval_loaders,
                          self.skeleton, self.cfgs[0].amp)
        return [{k: (acc[s], loss[s]) for k, (acc, loss) in evals.items()} for s in range(len(self.cfgs))]

    def probes(self) -> list[dict]:
        return [{} for _ in self.cfgs]   # probes train one seed at a time (`can_group`)

    def extras(self, s: int) -> dict:
        return {}

    def state(self) -> dict:
        return {"params": {k: v.detach() for k, v in self.params.items()}, "buffers": self.buffers,
                "loader_rngs": [p.loader.gen.get_state() for p in self.preps]}

    def load(self, state: dict) -> None:
        with torch.no_grad():
            for k, v in self.params.items():
                v.copy_(state["params"][k])
            for k, v in self.buffers.items():
                v.copy_(state["buffers"][k])
        for p, rng in zip(self.preps, state["loader_rngs"]):
            p.loader.gen.set_state(rng.cpu())


def train_group(cfgs: list[RunConfig], ds: data_lib.Dataset, progress: bool = True,
                checkpoint: Path | None = None) -> list[RunResult]:
    """Train configurations that differ only in `seed` as one vmapped computation, through the one
    loop (`train.train_loop`: resumable from `checkpoint` as a single run is; the path is keyed by
    the group's members)."""
    base = seedless(cfgs[0])
    if any(seedless(c) != base for c in cfgs[1:]):
        raise ValueError("train_group needs configurations that differ only in seed")
    if not can_group(cfgs[0]):
        raise ValueError(f"method {cfgs[0].method!r} (or compile=True) cannot be vectorised; "
                         "train its seeds one at a time")
    if len({c.seed for c in cfgs}) != len(cfgs):
        raise ValueError(f"seeds must be distinct, got {[c.seed for c in cfgs]}")
    t0 = time.perf_counter()
    return train_loop(Vmapped(cfgs, ds), ds, progress, checkpoint, t0)


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
