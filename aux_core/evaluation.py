"""What a run measures: accuracy and loss on a split, the main/auxiliary gradient diagnostics,
steps to a training-accuracy threshold, the history row of an evaluation, and the packaging of a
run's device buffers into a `RunResult`. Shared by both engines, so both report alike."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from . import data as data_lib
from .config import RunConfig, RunResult
from .devices import autocast_for, widen
from .loader import DeviceLoader
from .models import TapModel
from .provenance import collect


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
