"""`python -m aux_core.experiments.wamal`: train the chapter's grids into the results cache."""
from __future__ import annotations

import argparse

from ... import data as data_lib
from ...profiles import PROFILES, get_profile
from .cells import CHAPTER, PAPER_SEEDS, chapter_grids, finetune_grid


def main(argv=None) -> None:
    def count(low, what):
        def parse(text):
            try:
                value = int(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
            if not low <= value:
                raise argparse.ArgumentTypeError(f"{what} must be >= {low}, got {value}")
            return value
        return parse

    ap = argparse.ArgumentParser(prog="python -m aux_core.experiments.wamal",
                                 description="Train the WAMAL chapter's grids into the results cache.")
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES))
    ap.add_argument("--grids", default="all", help=f"comma-separated, of: all, {', '.join(chapter_grids('smoke'))}, "
                    "finetune (ImageNet-pretrained ResNet50 on CIFAR-10: needs torchvision's weights, not in 'all')")
    ap.add_argument("--seeds", type=count(0, "--seeds"), default=0,
                    help=f"number of the paper's seeds, at most {len(PAPER_SEEDS)} (0: the profile's)")
    ap.add_argument("--epochs", type=count(1, "--epochs"), default=None,
                    help="training length (default: the profile's cap)")
    ap.add_argument("--workers", type=count(1, "--workers"), default=1,
                    help="processes sharing the device and the cache")
    args = ap.parse_args(argv)
    if args.seeds > len(PAPER_SEEDS):
        ap.error(f"--seeds must be at most {len(PAPER_SEEDS)} (the paper's seeds {list(PAPER_SEEDS)}), "
                 f"got {args.seeds}")
    names = None if args.grids == "all" else args.grids.split(",")
    known = [*chapter_grids("smoke"), "finetune"]
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        ap.error(f"unknown grid(s) {unknown}; available: all, {', '.join(known)}")
    seeds = list(PAPER_SEEDS[:args.seeds]) if args.seeds else None
    changes = {"epochs": args.epochs} if args.epochs else {}
    grids = chapter_grids(args.profile, seeds, **changes)
    if "finetune" in (names or []):
        try:
            grids["finetune"] = finetune_grid(args.profile,
                                              seeds or get_profile(args.profile, CHAPTER).seeds(PAPER_SEEDS), **changes)
        except data_lib.DataError as err:
            ap.error(str(err))
    from ...sweep import run_sweep
    run_sweep([c for n in (names or grids) for c in grids[n]["config"]], executor="local", workers=args.workers)
