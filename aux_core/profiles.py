"""Profiles size every experiment; they shrink data, length and seeds, never fake them.

A notebook takes `profile` as a parameter and caps its paper's protocol with it:
    p = get_profile(profile)
    epochs = p.epochs(200)          # the paper's 200 epochs, capped by the profile
    seeds = p.seeds([42, ..., 51])  # the first few of the paper's seeds
    RunConfig(..., **p.data())      # training/test subsets of the profile

  smoke  the notebooks' defaults and CI: real training of a few steps, seconds to minutes a notebook
  cpu    subsets of the training set for a few epochs; measured on 2 EPYC cores, executing each
         chapter's notebooks from an empty cache: asymmetric 70 min, LION-DG 42, DKS 38, WAMAL about 3 h
  gpu    full datasets with reduced epochs and seeds
  paper  each paper's full protocol

What a profile costs on a device is `python -m aux_core.campaign plan --device cuda|cpu --profile P`
(the queue of what the store lacks, costed from the stored runs' measured wall times, or from
FLOPs where nothing like a run was measured, which it says). On 2026-12-02, with no CUDA run of
these chapters measured, its FLOPs estimates for one H200 at `gpu` were LION-DG 0.2 h, DKS 1.2 h,
asymmetric about 30 h (the 72 loss landscapes at 51 x 51 points, costed at their CPU time), WAMAL
about 36 h (partly measured: H100 runs); at `paper`, WAMAL about 240 h.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Profile:
    name: str
    train_per_class: int | None   # stratified training subset (None: the whole training set)
    test_per_class: int | None    # stratified test subset (None: the whole test set)
    max_epochs: int | None        # cap on a paper's epoch count (None: no cap)
    max_steps: int | None         # cap on a paper's step count (None: no cap)
    max_seeds: int | None         # how many of a paper's seeds to run (None: all)
    max_batch: int | None = None  # cap on a step-counted protocol's batch size (None: the paper's)

    def epochs(self, paper_epochs: int) -> int:
        return paper_epochs if self.max_epochs is None else min(paper_epochs, self.max_epochs)

    def steps(self, paper_steps: int) -> int:
        return paper_steps if self.max_steps is None else min(paper_steps, self.max_steps)

    def batch(self, paper_batch: int) -> int:
        return paper_batch if self.max_batch is None else min(paper_batch, self.max_batch)

    def seeds(self, paper_seeds: Sequence[int]) -> list[int]:
        """The first `max_seeds` of `paper_seeds` (a notebook's `seeds` parameter: checked here,
        where every notebook reads it, so a wrong one fails before any training)."""
        from .checks import is_int
        if isinstance(paper_seeds, (str, bytes)) or not isinstance(paper_seeds, Sequence) or not paper_seeds:
            raise ValueError(f"seeds must be a non-empty list of integers >= 0, e.g. [0, 1, 2]; got {paper_seeds!r}")
        bad = [s for s in paper_seeds if not (is_int(s) and s >= 0)]
        if bad or len(set(paper_seeds)) != len(paper_seeds):
            raise ValueError(f"seeds must be distinct integers >= 0, e.g. [0, 1, 2]; got {list(paper_seeds)!r}")
        return list(paper_seeds if self.max_seeds is None else paper_seeds[: self.max_seeds])

    def data(self) -> dict:
        """RunConfig fields for this profile's data subsets."""
        return {"train_per_class": self.train_per_class, "test_per_class": self.test_per_class}


PROFILES: dict[str, Profile] = {
    # smoke's batches of 32: a 10-step LION-DG run costs 6 s on one core, not 23 (CI runs every notebook)
    "smoke": Profile("smoke", train_per_class=20, test_per_class=10, max_epochs=1, max_steps=10, max_seeds=2,
                     max_batch=32),
    "cpu": Profile("cpu", train_per_class=100, test_per_class=50, max_epochs=3, max_steps=60, max_seeds=3),
    "gpu": Profile("gpu", train_per_class=None, test_per_class=None, max_epochs=30, max_steps=None, max_seeds=3),
    "paper": Profile("paper", train_per_class=None, test_per_class=None, max_epochs=None, max_steps=None, max_seeds=None),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; available: {', '.join(PROFILES)}")
    return PROFILES[name]
