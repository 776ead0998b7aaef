"""The book's chapters as data: which results each notebook needs at each profile, and what
the results store holds of them.

Each chapter module has `chapter_grids(profile)` (the runs, as cells with a `config` column, and
the analyses, as config dicts, that its notebooks compute at their defaults) and `NOTEBOOK_GRIDS`
(which notebook reads which grid). The book shows each notebook at its *published profile*:
the largest of paper, gpu, cpu, smoke whose results it needs are all in the store.
"""
from __future__ import annotations

import functools
import importlib
from collections import Counter

import pandas as pd

from .. import data as data_lib
from ..profiles import PROFILES
from ..provenance import is_stale
from ..records import make_key, record_kind

CHAPTERS = ("pipeline", "performance", "asymmetric", "lion_dg", "wamal", "dks", "bench", "claims", "audit")
PUBLISH_ORDER = ("paper", "gpu", "cpu", "tiny", "smoke")   # largest first


def module(chapter: str):
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; chapters: {', '.join(CHAPTERS)}")
    return importlib.import_module(f"aux_core.experiments.{chapter}")


@functools.lru_cache(maxsize=None)
def _checksum(dataset: str) -> str:
    return data_lib.load_dataset(dataset).checksum


def grid_keys(grid) -> list[str]:
    """The store keys of a grid: cells (runs) or a list of analysis configs."""
    if isinstance(grid, pd.DataFrame):
        return [c.key(_checksum(c.dataset)) for c in grid["config"]] if len(grid) else []
    return [make_key(c, _checksum(c["dataset"])) for c in grid]


@functools.lru_cache(maxsize=None)
def grids(chapter: str, profile: str) -> dict:
    """A chapter's `chapter_grids(profile)`, built once per process (read it, do not change it)."""
    return module(chapter).chapter_grids(profile)


@functools.lru_cache(maxsize=None)
def needed(chapter: str, profile: str) -> dict[str, tuple[str, ...]]:
    """{grid name: distinct store keys} of a chapter at a profile."""
    return {name: tuple(dict.fromkeys(grid_keys(g))) for name, g in grids(chapter, profile).items()}


def notebook_keys(chapter: str, notebook: str, profile: str) -> set[str]:
    names = module(chapter).NOTEBOOK_GRIDS.get(notebook)
    if names is None:
        raise ValueError(f"{chapter} has no notebook {notebook!r} in NOTEBOOK_GRIDS; "
                         f"known: {', '.join(module(chapter).NOTEBOOK_GRIDS)}")
    grids = needed(chapter, profile)
    return {k for name in names for k in grids[name]}


def published_profile(chapter: str, notebook: str, store=None) -> str | None:
    """The largest profile whose results `notebook` needs are all in the store (a notebook that
    needs none gets its chapter's largest; one that needs the same results at every profile,
    smoke), or None."""
    from ..store import Store
    if hasattr(module(chapter), "published_profile"):   # a page that resolves its profile itself
        return module(chapter).published_profile(notebook, store)
    store = store if store is not None else Store()
    have = set(store.keys())
    names = module(chapter).NOTEBOOK_GRIDS.get(notebook)
    if names and len({frozenset(notebook_keys(chapter, notebook, p)) for p in PUBLISH_ORDER}) == 1:
        # the same results at every profile (a check that does not scale): shown as what it is, smoke-sized
        return "smoke" if notebook_keys(chapter, notebook, "smoke") <= have else None
    for profile in PUBLISH_ORDER:
        if names == ():   # trains nothing: shown at the chapter's largest complete profile
            if any(notebook_keys(chapter, nb, profile) <= have
                   for nb, g in module(chapter).NOTEBOOK_GRIDS.items() if g):
                return profile
            continue
        if notebook_keys(chapter, notebook, profile) <= have:
            return profile
    return "smoke" if names == () else None


def summary(store) -> list[dict]:
    """One row per chapter and profile: the runs and analyses stored in its shard, how many of
    the results its grids need are stored (anywhere in the store), the devices that made them
    and how many were made by an older code version."""
    from ..provenance import code_version
    current = code_version()
    by_shard: dict[str, list[dict]] = {}
    for record in store.records():
        labels = record.get("labels") or {}
        by_shard.setdefault(f"{labels.get('chapter') or 'unlabelled'}/{labels.get('profile') or 'any'}",
                            []).append(record)
    have = set(store.keys())
    rows = []
    shards = [f"{c}/{p}" for c in CHAPTERS for p in PROFILES]
    for shard in shards + sorted(set(by_shard) - set(shards)):
        chapter, profile = shard.split("/")
        recs = by_shard.get(shard, [])
        need = set()
        if chapter in CHAPTERS and profile in PROFILES:
            need = {k for keys in needed(chapter, profile).values() for k in keys}
        if not recs:
            continue
        kinds = Counter(record_kind(r) for r in recs)
        rows.append({"chapter": chapter, "profile": profile, "runs": kinds.get("run", 0),
                     "analyses": kinds.get("analysis", 0), "migrated": kinds.get("migrated_run", 0),
                     "needed": len(need), "needed_stored": len(need & have),
                     "complete": bool(need) and need <= have,
                     "devices": dict(Counter(_device(r) for r in recs)),
                     "stale": sum(is_stale(r, current) for r in recs)})
    return rows


def _device(record: dict) -> str:
    d = record.get("provenance", {}).get("device", "?")
    return d.split(" (")[0].removeprefix("cpu: ")


README_START, README_END = "<!-- store summary: generated by `python -m aux_core.store summary --readme` -->", \
    "<!-- end of store summary -->"


def summary_markdown(rows: list[dict]) -> str:
    """The summary as a Markdown table (the README's copy: no stale count, which moves with every
    code change)."""
    lines = ["| chapter | profile | runs | analyses | migrated | needed and stored | devices |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        devices = ", ".join(f"{d} ({n})" for d, n in r["devices"].items())
        lines.append(f"| {r['chapter']} | {r['profile']} | {r['runs']} | {r['analyses']} | {r['migrated']} | "
                     f"{r['needed_stored']} of {r['needed']}{' (complete)' if r['complete'] else ''} | {devices} |")
    return "\n".join(lines)


def readme_block(rows: list[dict]) -> str:
    return f"{README_START}\n{summary_markdown(rows)}\n{README_END}"


def summary_text(rows: list[dict]) -> str:
    if not rows:
        return "the results store is empty"
    frame = pd.DataFrame(rows)
    frame["devices"] = [", ".join(f"{d} ({n})" for d, n in devs.items()) for devs in frame["devices"]]
    frame["needed stored"] = [f"{s}/{n}" for s, n in zip(frame["needed_stored"], frame["needed"])]
    return frame[["chapter", "profile", "runs", "analyses", "migrated", "needed stored", "complete", "stale",
                  "devices"]].to_string(index=False)
