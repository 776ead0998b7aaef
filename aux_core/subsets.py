"""A dataset's splits and variants, pure functions of (split, arguments, seed): the validation
split, class-balanced and fractional subsets, and symmetric label noise. A bad argument raises
`data.DataError` naming the allowed range."""
from __future__ import annotations

import numpy as np
import torch

from .data import DataError, Split


def _check_range(label: str, v, lo: float, hi: float, lo_open: bool, hi_open: bool) -> float:
    rng = f"{lo} {'<' if lo_open else '<='} {label} {'<' if hi_open else '<='} {hi}"
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise DataError(f"{label} must be a number with {rng}, got {v!r}") from None
    ok = (lo < f if lo_open else lo <= f) and (f < hi if hi_open else f <= hi)
    if not ok or isinstance(v, bool):
        raise DataError(f"{label} must satisfy {rng}, got {v!r}")
    return f


def _by_class(y: torch.Tensor) -> list[np.ndarray]:
    """Indices of each present class, in ascending class order, each in original order."""
    y = y.numpy()
    order = np.argsort(y, kind="stable")
    _, starts = np.unique(y[order], return_index=True)
    return np.split(order, starts[1:]) if len(y) else []


def _per_class_pick(split: Split, counts, seed: int) -> np.ndarray:
    """For each class (ascending), shuffle its indices with one seeded rng and keep the first k."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(idx)[:k] for idx, k in zip(_by_class(split.y), counts)]
    return np.sort(np.concatenate(picks)) if picks else np.empty(0, np.int64)


def train_val_split(split: Split, val_fraction: float, seed: int = 0) -> tuple[Split, Split]:
    """Stratified: round(val_fraction * n_c) of each class go to validation; both parts keep original order."""
    f = _check_range("val_fraction", val_fraction, 0, 1, True, True)
    val = _per_class_pick(split, [round(f * len(idx)) for idx in _by_class(split.y)], seed)
    train = np.setdiff1d(np.arange(len(split)), val, assume_unique=True)
    if len(val) == 0 or len(train) == 0:
        raise DataError(f"val_fraction={val_fraction} leaves an empty part for a split of {len(split)} samples")
    return split.subset(train), split.subset(val)


def stratified_subset(split: Split, per_class: int, seed: int = 0) -> Split:
    """Exactly per_class samples of every class present in the split (a balanced few-label regime)."""
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise DataError(f"per_class must be an integer >= 1, got {per_class!r}")
    groups = _by_class(split.y)
    for idx in groups:
        if len(idx) < per_class:
            c = int(split.y[int(idx[0])])
            raise DataError(f"class {c} has only {len(idx)} samples, fewer than per_class={per_class}")
    return split.subset(_per_class_pick(split, [per_class] * len(groups), seed))


def fraction_subset(split: Split, fraction: float, seed: int = 0) -> Split:
    """Stratified fraction: round(fraction * n_c) per class, at least one, so no class disappears."""
    f = _check_range("fraction", fraction, 0, 1, True, False)
    return split.subset(_per_class_pick(split, [max(1, round(f * len(idx))) for idx in _by_class(split.y)], seed))


def add_label_noise(split: Split, rate: float, num_classes: int, seed: int = 0) -> Split:
    """Symmetric noise: exactly round(rate * N) labels, chosen uniformly, each moved to another class.

    The realised rate is exact (not a Bernoulli draw), so noise levels are comparable across seeds.
    """
    r = _check_range("rate", rate, 0, 1, False, True)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise DataError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    y = split.y.numpy().copy()
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"labels must lie in [0, {num_classes}) for num_classes={num_classes}, "
                        f"got range [{y.min()}, {y.max()}]")
    rng = np.random.default_rng(seed)
    pos = rng.choice(len(y), size=round(r * len(y)), replace=False)
    y[pos] = (y[pos] + rng.integers(1, num_classes, size=len(pos))) % num_classes
    return Split(split.x, torch.from_numpy(y), split.y_aux)

