"""The store's command line.

    python -m aux_core.store summary [--json] [--readme]   what is stored, per chapter and profile
    python -m aux_core.store merge FILE_OR_DIR... [--label grids]   add records made elsewhere (idempotent)
    python -m aux_core.store export --only wamal/gpu --out DIR     a subset as files to send back
    python -m aux_core.store verify                        every record against its checksum and key
    python -m aux_core.store prune lion_dg/smoke [--dry-run]   drop a shard's runs its grids no longer need
    python -m aux_core.store move dks/cpu dks/tiny          relabel a shard's records (a profile renamed)
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import settings
from . import Store
from .exchange import export, merge


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m aux_core.store", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("summary", help="runs and analyses stored and needed, per chapter and profile")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.add_argument("--readme", action="store_true", help="write the summary into README.md (between its markers)")
    m = sub.add_parser("merge", help="add records from shards, exports, JSON records or a results cache folder")
    m.add_argument("paths", nargs="+", type=Path)
    m.add_argument("--replace", action="store_true", help="overwrite stored records whose numbers differ")
    m.add_argument("--label", help="for records without labels: CHAPTER/PROFILE, or 'grids' (the chapter grid that "
                   "needs each record)")
    e = sub.add_parser("export", help="write a subset of the local cache and the store as shard files")
    e.add_argument("--only", action="append", help="chapter or chapter/profile (repeatable; default: all)")
    e.add_argument("--out", type=Path, required=True)
    sub.add_parser("verify", help="check every stored record against its checksum and key")
    pr = sub.add_parser("prune", help="remove a shard's runs and analyses that its chapter's grids at its profile "
                        "no longer need (after a profile changed); migrated records are kept")
    pr.add_argument("shards", nargs="+", help="CHAPTER/PROFILE")
    pr.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    mv = sub.add_parser("move", help="move a shard's records to another shard, relabelled (a profile renamed)")
    mv.add_argument("shard", help="CHAPTER/PROFILE")
    mv.add_argument("target", help="CHAPTER/PROFILE")
    args = ap.parse_args(argv)

    if args.command == "move":
        for shard in (args.shard, args.target):
            if shard.count("/") != 1:
                ap.error(f"a shard is CHAPTER/PROFILE, got {shard!r}")
        print(f"move: {Store().move(args.shard, args.target)} records from {args.shard} to {args.target}")
        return 0

    if args.command == "prune":
        from ..experiments.chapters import CHAPTERS, needed
        from ..profiles import PROFILES
        store, doomed = Store(), set()
        for shard in args.shards:
            chapter, _, profile = shard.partition("/")
            if chapter not in CHAPTERS or profile not in PROFILES:
                ap.error(f"a shard is CHAPTER/PROFILE with a chapter of {', '.join(CHAPTERS)} and a profile of "
                         f"{', '.join(PROFILES)}; got {shard!r}")
            need = {k for keys in needed(chapter, profile).values() for k in keys}
            gone = {r["key"] for r in store.shard_records(shard)
                    if r["key"] not in need and r.get("kind") != "migrated_run"}
            print(f"{shard}: {len(gone)} of {sum(1 for _ in store.shard_records(shard))} records no grid needs")
            doomed |= gone
        if not args.dry_run:
            print(f"prune: {store.remove(doomed)} records removed")
        return 0

    if args.command == "merge":
        missing = [str(p) for p in args.paths if not p.exists()]
        if missing:
            ap.error(f"no such file or folder: {', '.join(missing)}")
        try:
            report = merge(args.paths, replace=args.replace, label=args.label)
        except ValueError as err:
            ap.error(str(err))
        print(f"merge: {report}")
        for key, shard, why in report.conflicts:
            print(f"  CONFLICT {key[:16]} in {shard}: {why}", file=sys.stderr)
        for source, why in report.invalid:
            print(f"  INVALID {source}: {why}", file=sys.stderr)
        return 1 if report.conflicts or report.invalid else 0
    if args.command == "export":
        written = export(args.out, args.only)
        print("\n".join(str(p) for p in written) or "export: nothing matched")
        return 0 if written else 1
    if args.command == "verify":
        bad = Store().verify()
        for shard, key in bad:
            print(f"BAD {shard}: {key}", file=sys.stderr)
        print(f"verify: {len(Store())} records, {len(bad)} bad")
        return 1 if bad else 0
    from ..experiments.chapters import README_END, README_START, readme_block, summary, summary_text
    rows = summary(Store())
    if args.readme:
        readme = settings.REPO_ROOT / "README.md"
        text = readme.read_text()
        if README_START not in text or README_END not in text:
            ap.error(f"README.md has no {README_START} ... {README_END} markers")
        head, rest = text.split(README_START, 1)
        readme.write_text(head + readme_block(rows) + rest.split(README_END, 1)[1])
    print(json.dumps(rows, indent=1) if args.json else summary_text(rows))
    return 0
