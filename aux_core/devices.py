"""Device choice and mixed precision, shared by both training engines."""
from __future__ import annotations

import contextlib
import time

import torch


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


def widen(t: torch.Tensor) -> torch.Tensor:
    """bf16/fp16 autocast outputs to fp32 for losses and metrics; fp32 and fp64 unchanged."""
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def synced_clock(device: torch.device) -> float:
    """`time.perf_counter()` once the device has finished its queued work (so a timed stretch
    neither counts earlier kernels nor misses its own)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def elapsed_s(since: float, device: torch.device) -> float:
    """Seconds since `since`, after the device has finished its queued work."""
    return synced_clock(device) - since
