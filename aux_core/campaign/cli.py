"""`python -m aux_core.campaign plan | run | costs | wheels` (see the package docstring)."""
from __future__ import annotations

import argparse
import json
import sys

from ..experiments.chapters import CHAPTERS
from ..profiles import PROFILES
from .plan import DEVICE_PROFILES


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--budget-s must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"--budget-s must be > 0, got {value}")
    return value


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--workers must be an integer >= 1, got {text!r}")
    return int(text)


def _items(ap, text: str | None, chapters, profile: str) -> set[str] | None:
    """The CHAPTER/GRID names of --items, checked against the chapters' grids at `profile`."""
    if not text:
        return None
    from ..experiments.chapters import grids
    known = {f"{c}/{g}" for c in chapters for g in grids(c, profile)}
    wanted = {t.strip() for t in text.split(",") if t.strip()}
    if wanted - known:
        ap.error(f"unknown item(s) {sorted(wanted - known)}; available: {', '.join(sorted(known))}")
    return wanted


def _picked(item, wanted: set[str] | None) -> bool:
    return wanted is None or f"{item.chapter}/{item.grid}" in wanted


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m aux_core.campaign", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("plan", "run"):
        p = sub.add_parser(name)
        p.add_argument("--device", required=True, choices=["cuda", "cpu"])
        p.add_argument("--budget-s", type=_seconds, required=True, help="device seconds to spend")
        p.add_argument("--profile", choices=list(PROFILES), help="default: gpu on cuda, cpu on cpu")
        p.add_argument("--chapters", default=",".join(CHAPTERS), help=f"comma-separated, of: {', '.join(CHAPTERS)}")
        p.add_argument("--items", help="comma-separated CHAPTER/GRID (e.g. asymmetric/noise): only these grids")
    sub.choices["plan"].add_argument("--json", action="store_true", help="an object with `items`")
    run = sub.choices["run"]
    run.add_argument("--out", required=True, help="folder for records.jsonl.gz, campaign.json and benchmarks/")
    run.add_argument("--workers", type=_workers, default=None, help="processes sharing the device (default: 3 on "
                     "cuda, 1 on cpu)")
    run.add_argument("--no-self-test", action="store_true")
    run.add_argument("--no-benchmark", action="store_true", help="skip the CUDA benchmark")
    sub.add_parser("costs", help="rebuild results/costs.json from the store and the local cache")
    wheels = sub.add_parser("wheels", help="download the packages the GPU machine's image lacks (TorchJD and its "
                            "QP solver) as Python 3.12 wheels, for a GPU window to carry")
    wheels.add_argument("--out", default=".whl", help="folder (default .whl, ignored by git)")
    args = ap.parse_args(argv)

    if args.command == "wheels":
        from .wheels import download, install_line
        files = download(args.out)
        print(f"{len(files)} wheels in {args.out}: {', '.join(f.name for f in files)}\n"
              f"carry {args.out!r} and start the window's command with: {install_line(args.out)}")
        return

    if args.command == "costs":
        from .costs import current
        table = current()
        print(f"{table.save()}: {len(table.runs)} run groups, {len(table.analyses)} analysis groups measured")
        return
    chapters = tuple(c.strip() for c in args.chapters.split(",") if c.strip())
    unknown = sorted(set(chapters) - set(CHAPTERS))
    if unknown:
        ap.error(f"unknown chapter(s) {unknown}; available: {', '.join(CHAPTERS)}")
    wanted = _items(ap, args.items, chapters, args.profile or DEVICE_PROFILES[args.device])
    if args.command == "run" and args.device == "cuda":
        import torch
        if not torch.cuda.is_available():
            ap.error("--device cuda: torch sees no CUDA device here; use --device cpu")
    if args.command == "plan":
        from .plan import fit, plan_table, queue
        items = fit([it for it in queue(args.device, args.profile, chapters) if _picked(it, wanted)], args.budget_s)
        if args.json:
            json.dump({"device": args.device, "budget_s": args.budget_s, "items": [it.to_json() for it in items]},
                      sys.stdout, indent=1)
            print()
        else:
            print(plan_table(items))
        return
    from .plan import queue
    from .run import run_campaign
    items = [it for it in queue(args.device, args.profile, chapters) if _picked(it, wanted)] if wanted else None
    workers = args.workers or (3 if args.device == "cuda" else 1)
    report = run_campaign(args.device, args.budget_s, args.out, profile=args.profile, chapters=chapters,
                          workers=workers, run_self_test=not args.no_self_test,
                          run_benchmark=False if args.no_benchmark else None, items=items)
    from .costs import current
    print(f"cost table updated: {current().save()}")   # every campaign's wall times refine the next plan
    failed = [u for u in report["units"] if u["status"] == "failed"]
    sys.exit(1 if failed and len(failed) == len(report["units"]) else 0)
