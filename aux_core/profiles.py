"""Profiles size every experiment; they shrink data, length and seeds, never fake them.

A notebook takes `profile` as a parameter and caps its paper's protocol with it:
    p = get_profile(profile)
    epochs = p.epochs(200)          # the paper's 200 epochs, capped by the profile
    seeds = p.seeds([42, ..., 51])  # the first few of the paper's seeds
    RunConfig(..., **p.data())      # training/test subsets of the profile

  smoke  the notebooks' defaults and CI: real training of a few steps, seconds to minutes a notebook
  tiny   100 images per class for at most 3 epochs (60 steps): 11-36% CIFAR-10 test accuracy
         (median per model), too small to decide a claim; measured on 2 EPYC cores, summed over
         each chapter's runs:
         asymmetric 1.0 h, LION-DG 1.9 h, DKS 0.8 h, pipeline 0.2 h
  cpu    the full training set with a budget of training images per run (an MLP 400,000, any
         other model 80,000: a CNN or ViT-6L two epochs; DKS's ResNet-32 100,000, two epochs with the
         paper's milestones at 30, 60 and 80% of them), LION-DG 300 steps.
         Measured on the stored runs (median test accuracy, 2026-12-06; the book's store page
         tables it as each profile's "test acc"): CNN-6 49%, ViT-6L 51%, DenseNet-DS 47%,
         ResNet-DS 52%, full-set MLPs 45-48% (few-shot MLPs 19-30% by design), ResNet-32 after
         one epoch with the milestones rounded to whole epochs (lr 0.1 throughout; runs before
         2026-12-06) 42%, after two with the paper's fractions (baseline) 55%; the bench's 150 steps 30% (a ranking of
         methods, not a reproduction); WAMAL's VGG16 meta-learning stays at tiny's sizes (19%); the
         pipeline chapter (no validation split, so 80,000 images is one epoch): CNN-6 45%, ViT-6L 42%,
         DenseNet-DS 45%, ResNet-DS 50%, MLP 47% (a check of the pipeline, with no claims to decide).
         Measured wall time of the
         stored runs on 2 EPYC cores (2026-12-06): bench 1.1 h (60 runs), LION-DG 2.0 h (44),
         DKS 6.1 h for its 66 two-epoch runs (median a baseline 163 s, DS 355 s, DKS 239 s; up to 3x
         that beside other work), WAMAL
         4.4 h for 63, asymmetric 5.6 h for 227 records (a ViT-6L run 260 s, a CNN-6 run 90 s, an
         MLP run 12 s): above the 2 core-hours once hoped for, so the campaign fills it over many
         sessions in the background, claims first. Three seeds, except the asymmetric MLP rows of the
         tables the paper ran on CIFAR-10 (Tables 7, 10, 11), which take its 10: their 238 runs beyond
         the first 3 seeds took 65 minutes on 2 Xeon cores (2026-12-07).
  gpu    full datasets with reduced epochs and seeds, sized per chapter for about 10 minutes of
         one H200 each (CHAPTER_SIZES: by FLOPs estimates until CUDA runs are measured)
  paper  each paper's full protocol

What a profile costs on a device is `python -m aux_core.campaign plan --device cuda|cpu --profile P`
(the queue of what the store lacks, costed from the stored runs' measured wall times, or from
FLOPs where nothing like a run was measured, which it says); the book's store page tables it for
every chapter (`campaign.plan.profile_costs`). On 2026-12-03, with no CUDA run of these chapters
measured, its estimates for one H200 running one process at `gpu` were LION-DG 0.2 h, pipeline
0.2 h, DKS 0.7 h, asymmetric 8 h (7 of them the 72 landscapes, costed at their CPU time), WAMAL
9.4 h (partly measured: H100 runs).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence


@dataclass(frozen=True)
class Profile:
    name: str
    train_per_class: int | None   # stratified training subset (None: the whole training set)
    test_per_class: int | None    # stratified test subset (None: the whole test set)
    max_epochs: int | None        # cap on a paper's epoch count (None: no cap)
    max_steps: int | None         # cap on a paper's step count (None: no cap)
    max_seeds: int | None         # how many of a paper's seeds to run (None: all)
    max_batch: int | None = None  # cap on a step-counted protocol's batch size (None: the paper's)
    # cap on the images a run trains on, by model name ("*": any other); epochs follow from it,
    # so the full training set gets few epochs and a few-shot subset many (None: no cap)
    max_images: Mapping[str, int] | None = None
    # seeds for a grid of cheap runs that asks for them (`seeds(..., cheap=True)`), beyond
    # `max_seeds`: where a claim's runs cost seconds, the paper's own seed count (None: max_seeds)
    max_seeds_cheap: int | None = None
    # a chapter's grid axes narrowed to these values ({axis: values}; an axis not named: all)
    grid_caps: Mapping[str, tuple] | None = None

    def epochs(self, paper_epochs: int, *, model: str | None = None, n_train: int | None = None) -> int:
        """The paper's epochs capped by `max_epochs` and, for a run of `model` on `n_train`
        images, by `max_images` (at least one epoch)."""
        epochs = paper_epochs if self.max_epochs is None else min(paper_epochs, self.max_epochs)
        cap = None if self.max_images is None else self.max_images.get(model, self.max_images.get("*"))
        return epochs if cap is None or not n_train else max(1, min(epochs, cap // n_train))

    def steps(self, paper_steps: int) -> int:
        return paper_steps if self.max_steps is None else min(paper_steps, self.max_steps)

    def batch(self, paper_batch: int) -> int:
        return paper_batch if self.max_batch is None else min(paper_batch, self.max_batch)

    def seeds(self, paper_seeds: Sequence[int], *, cheap: bool = False) -> list[int]:
        """The first `max_seeds` of `paper_seeds` (`max_seeds_cheap` for a grid of cheap runs, where
        set); a notebook's `seeds` parameter is checked here, where every notebook reads it, so a
        wrong one fails before any training."""
        from .checks import is_int
        if isinstance(paper_seeds, (str, bytes)) or not isinstance(paper_seeds, Sequence) or not paper_seeds:
            raise ValueError(f"seeds must be a non-empty list of integers >= 0, e.g. [0, 1, 2]; got {paper_seeds!r}")
        bad = [s for s in paper_seeds if not (is_int(s) and s >= 0)]
        if bad or len(set(paper_seeds)) != len(paper_seeds):
            raise ValueError(f"seeds must be distinct integers >= 0, e.g. [0, 1, 2]; got {list(paper_seeds)!r}")
        cap = self.max_seeds_cheap if cheap and self.max_seeds_cheap is not None else self.max_seeds
        return list(paper_seeds if cap is None else paper_seeds[:cap])

    def sized(self, axis: str, values) -> tuple:
        """A grid axis at this profile: the values its cap keeps (the first value where the
        cap keeps none of them), or all of them where it has no cap."""
        values = tuple(values)
        cap = (self.grid_caps or {}).get(axis)
        return values if cap is None else (tuple(v for v in values if v in cap) or values[:1])

    def data(self) -> dict:
        """RunConfig fields for this profile's data subsets."""
        return {"train_per_class": self.train_per_class, "test_per_class": self.test_per_class}


PROFILES: dict[str, Profile] = {
    # smoke's batches of 32: a 10-step LION-DG run costs 6 s on one core, not 23 (CI runs every notebook)
    "smoke": Profile("smoke", train_per_class=20, test_per_class=10, max_epochs=1, max_steps=10, max_seeds=2,
                     max_batch=32),
    # the first cpu profile: 11-36% CIFAR-10 test accuracy, too small to decide a claim
    "tiny": Profile("tiny", train_per_class=100, test_per_class=50, max_epochs=3, max_steps=60, max_seeds=3),
    # the full training set with a budget of images per run, measured on 2 Xeon cores (2026-12-03,
    # plain runs, evaluations included): MLP 10 epochs 33 s (47% test), CNN one epoch 123 s (44%),
    # ViT-6L one epoch 341 s (40%), DenseNet-DS 300 steps of 128 340 s (50%)
    "cpu": Profile("cpu", train_per_class=None, test_per_class=200, max_epochs=None, max_steps=300, max_seeds=3,
                   max_images={"mlp6": 400_000, "*": 80_000}),
    "gpu": Profile("gpu", train_per_class=None, test_per_class=None, max_epochs=30, max_steps=None, max_seeds=3),
    "paper": Profile("paper", train_per_class=None, test_per_class=None, max_epochs=None, max_steps=None,
                     max_seeds=None),
}

WAMAL_CPU_LRS = (5e-5, 3.125e-4, 1.25e-3, 1e-2)
# A chapter's own sizes where the shared ones would not fit its models (each overrides fields).
CHAPTER_SIZES: dict[tuple[str, str], dict] = {
    # Table 1's N at smoke (CI) and cpu: the two the claims read (1 and 20); a ViT-6L run costs
    # about 11 minutes at cpu
    ("asymmetric", "smoke"): {"grid_caps": {"branches": (1, 20)}},
    # the MLP rows of the tables on the paper's own data (CIFAR-10: Tables 7, 10, 11) cost 11-25 s a
    # run at cpu (measured, 2026-12-07): the findings page judges them on the paper's 10 seeds
    ("asymmetric", "cpu"): {"grid_caps": {"branches": (1, 20)}, "max_seeds_cheap": 10},
    # gpu: each chapter's claims in about 10 minutes of one H200 with 3 processes sharing it (2.2-3.2x
    # measured for WAMAL), by the cost table's FLOPs estimates of 2026-12-03 (no CUDA run of these
    # chapters measured yet: the campaign's wall times will replace them). Serially: LION-DG at the
    # paper's full protocol (3000 steps, 3 seeds, every scheme) 9 minutes; the asymmetric networks 10
    # epochs on the full training set, Table 1's 87 runs 21 minutes (its landscapes at 25 x 25 points
    # are costed at their CPU time, 7 h, until measured batched on CUDA); DKS's ResNet-32 15 epochs, its
    # 30 claim runs 24 minutes; WAMAL 10 epochs with its sweeps narrowed, 2.6 h: its claims take
    # several windows, Table 1's methods first
    ("asymmetric", "gpu"): {"max_epochs": 10},
    ("dks", "gpu"): {"max_epochs": 15},
    # DKS at cpu: a ResNet-32 two epochs. In one, the paper's milestones (30, 60, 80% of the run) leave
    # 0.3 epochs at lr 0.1: 44.4% test accuracy (baseline, seed 0, measured 2026-12-06), below 45%
    ("dks", "cpu"): {"max_images": {"resnet32": 100_000, "*": 80_000}},
    ("wamal", "gpu"): {"max_epochs": 10, "grid_caps": {"r_values": (0.0, 5.0, 40.0), "adam_lrs": (3.125e-4, 1.25e-3)}},
    # the bench (aux_core.experiments.bench): 14 runs a seed and backbone plus 6 aggregated ones on the CNN.
    # At cpu 150 steps of 128, the MLP and the CNN, three seeds (a rank needs three): measured on 2 EPYC
    # cores (2026-12-06), the 60 runs took 1.06 h of wall time, 2.1 core-hours, seed 2's while a second
    # campaign shared the cores (alone: MLP runs 1 s, CNN runs 26-87 s, aggregated CNN runs 90-125 s);
    # the ViT-6L's runs wait for the gpu profile (1500 steps, not measured)
    ("bench", "smoke"): {"grid_caps": {"backbones": ("MLP", "CNN")}},   # CI: the ViT-6L's runs are the slow half
    ("bench", "cpu"): {"max_steps": 150, "max_seeds": 3, "grid_caps": {"backbones": ("MLP", "CNN")}},
    ("bench", "gpu"): {"max_steps": 1500},
    # GradInit's scale search costs a smoke run 2-5 minutes on 2 cores (CI); a unit test covers it
    ("lion_dg", "smoke"): {"grid_caps": {"baseline_inits": ("Fixup", "ReZero")}},
    # WAMAL's long sweeps: smoke (CI) keeps a few values; tiny and cpu every r but four of Adam's
    # eleven learning rates (the paper's best, 3.125e-4, among them) and the two cheaper
    # backbones of Table 12; gpu and paper run everything
    ("wamal", "smoke"): {"grid_caps": {"r_values": (0.0, 5.0, 40.0), "adam_lrs": (6.25e-4,), "backbones": ("VGG16",)}},
    ("wamal", "tiny"): {"grid_caps": {"adam_lrs": WAMAL_CPU_LRS, "backbones": ("ResNet18", "VGG16")}},
    # a VGG16 meta-learning run trains at 0.05-0.13 s an image on 2 cores (measured): 45% would
    # take hours a run, so WAMAL's cpu profile stays at tiny's sizes and its claims wait for a GPU
    ("wamal", "cpu"): {"train_per_class": 100, "test_per_class": 50, "max_epochs": 3, "max_steps": 60,
                       "max_images": None,
                       "grid_caps": {"adam_lrs": WAMAL_CPU_LRS, "backbones": ("ResNet18", "VGG16")}},
}


def get_profile(name: str, chapter: str | None = None) -> Profile:
    """The profile `name`, sized for `chapter` where CHAPTER_SIZES says so."""
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; available: {', '.join(PROFILES)}")
    sizes = CHAPTER_SIZES.get((chapter, name))
    return replace(PROFILES[name], **sizes) if sizes else PROFILES[name]
