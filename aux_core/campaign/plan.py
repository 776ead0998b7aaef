"""The campaign's priority queue: every result the chapters' grids need at a profile and the
store lacks, ordered by what it decides, with its estimated cost on a device.

The queue is derived from each chapter's own `chapter_grids(profile)` and `NOTEBOOK_GRIDS`
(the same data that decide which profile the book publishes), so it cannot drift from the
book. A grid serves, in priority order:
  0 claims   it feeds a notebook that shows the chapter's claims ledger (`LEDGER_NOTEBOOKS`)
  1 table    any other training grid
  2 figure   any other analysis (loss landscapes, gradient probes)
Within a tier the cheaper grid comes first, so a window completes as many as it can. A grid
that does not fit the budget whole is cut into the seed groups that do (its item says
"part"); what remains waits for the next window.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field

import pandas as pd

from ..experiments import chapters as chapters_lib
from .costs import CostTable

TIERS = ("claims", "table", "figure")
DEVICE_PROFILES = {"cuda": "gpu", "cpu": "cpu"}    # the profile a device's campaign fills by default


@dataclass
class Unit:
    """What trains together: the seeds of one configuration (a vmap group on CUDA), or one analysis."""
    configs: list            # RunConfig objects, or analysis config dicts
    keys: list[str]
    est_s: float
    source: str

    @property
    def analysis(self) -> bool:
        return isinstance(self.configs[0], dict)


@dataclass
class Item:
    chapter: str
    grid: str
    profile: str
    tier: int
    units: list[Unit] = field(default_factory=list)
    part: bool = False       # only the units that fit the budget

    @property
    def runs(self) -> int:
        return sum(len(u.configs) for u in self.units)

    @property
    def est_s(self) -> float:
        return sum(u.est_s for u in self.units)

    def to_json(self) -> dict:
        sources = sorted({u.source for u in self.units})
        return {"chapter": self.chapter, "item": self.grid + (" (part)" if self.part else ""), "grid": self.grid,
                "serves": TIERS[self.tier], "profile": self.profile, "runs": self.runs,
                "est_s": round(self.est_s, 1), "cost_source": "; ".join(sources)}


def ledger_grids(chapter: str) -> set[str]:
    """The grids behind the notebooks that show a chapter's claims ledger."""
    mod = chapters_lib.module(chapter)
    return {g for nb in getattr(mod, "LEDGER_NOTEBOOKS", ()) for g in mod.NOTEBOOK_GRIDS[nb]}


def tier_of(chapter: str, grid_name: str, grid) -> int:
    if grid_name in ledger_grids(chapter):
        return 0
    return 1 if isinstance(grid, pd.DataFrame) else 2


def missing_units(grid, have, costs: CostTable, device: str) -> list[Unit]:
    """The units of `grid` whose results `have(key)` lacks, each distinct result once."""
    keys = chapters_lib.grid_keys(grid)
    configs = list(grid["config"]) if isinstance(grid, pd.DataFrame) else list(grid)
    todo = {}
    for key, cfg in zip(keys, configs):
        if key not in todo and not have(key):
            todo[key] = cfg
    groups: dict[str, list] = {}
    for key, cfg in todo.items():
        label = key if isinstance(cfg, dict) else json.dumps(
            {k: v for k, v in cfg.key_fields().items() if k != "seed"}, sort_keys=True, default=list)
        groups.setdefault(label, []).append((key, cfg))
    units = []
    for members in groups.values():
        ests = [costs.analysis(c, device) if isinstance(c, dict) else costs.run(c.to_dict(), device)
                for _, c in members]
        units.append(Unit([c for _, c in members], [k for k, _ in members], sum(e.seconds for e in ests),
                          ests[0].source))
    return units


def queue(device: str, profile: str | None = None, chapters=chapters_lib.CHAPTERS, costs: CostTable | None = None,
          cache=None) -> list[Item]:
    """Every item the store and the local cache lack at `profile` (default: the device's), in
    priority order, unbounded."""
    from ..cache import ResultsCache
    from .costs import current
    if device not in DEVICE_PROFILES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_PROFILES)}, got {device!r}")
    profile = profile or DEVICE_PROFILES[device]
    cache = cache if cache is not None else ResultsCache()
    costs = costs if costs is not None else current(cache.store, cache)
    stored = set(cache.store.keys()) if cache.store is not None else set()
    local = set(cache.keys())

    def have(key: str) -> bool:
        return (key in stored or key in local) and cache.get(key) is not None

    items = []
    for chapter in chapters:
        for name, grid in chapters_lib.grids(chapter, profile).items():
            units = missing_units(grid, have, costs, device)
            if units:
                items.append(Item(chapter, name, profile, tier_of(chapter, name, grid), units))
    def order(it):
        return it.tier, it.est_s

    return sorted(without_repeats(sorted(items, key=order)), key=order)


def without_repeats(items: list[Item]) -> list[Item]:
    """`items` (in priority order) with each result in the first item that needs it only: grids
    share runs (a ledger's grid and the table page showing the same runs), and a result planned
    twice would be costed twice. An item left with nothing is dropped."""
    seen, out = set(), []
    for item in items:
        units = []
        for u in item.units:
            keep = [i for i, k in enumerate(u.keys) if k not in seen]
            if len(keep) == len(u.keys):
                units.append(u)
            elif keep:
                units.append(Unit([u.configs[i] for i in keep], [u.keys[i] for i in keep],
                                  u.est_s * len(keep) / len(u.keys), u.source))
            seen.update(u.keys)
        if units:
            out.append(Item(item.chapter, item.grid, item.profile, item.tier, units, item.part))
    return out


def unpublished(profile: str, chapters=chapters_lib.CHAPTERS, cache=None) -> set[str]:
    """Keys the chapters' grids need at `profile` that this machine's cache holds and the store
    does not: what an earlier, killed campaign made and never exported."""
    from ..cache import ResultsCache
    cache = cache if cache is not None else ResultsCache()
    stored = set(cache.store.keys()) if cache.store is not None else set()
    need = {k for c in chapters for keys in chapters_lib.needed(c, profile).values() for k in keys}
    return (need & set(cache.keys())) - stored


def fit(items: list[Item], budget_s: float) -> list[Item]:
    """The items that fit `budget_s` in queue order: whole where they fit, else the leading units
    that do (a part item); later, cheaper items fill what is left."""
    if not (isinstance(budget_s, (int, float)) and budget_s > 0 and math.isfinite(budget_s)):
        raise ValueError(f"budget must be a number of seconds > 0, got {budget_s!r}")
    left, planned = float(budget_s), []
    for item in items:
        if item.est_s <= left:
            planned.append(item)
            left -= item.est_s
            continue
        taken = []
        for unit in sorted(item.units, key=lambda u: u.est_s):
            if unit.est_s <= left:
                taken.append(unit)
                left -= unit.est_s
        if taken:
            planned.append(Item(item.chapter, item.grid, item.profile, item.tier, taken, part=True))
    return planned


def plan(device: str, budget_s: float, profile: str | None = None, chapters=chapters_lib.CHAPTERS,
         costs: CostTable | None = None, cache=None) -> list[Item]:
    """The items a campaign of `budget_s` device seconds runs, in order."""
    return fit(queue(device, profile, chapters, costs, cache), budget_s)


def plan_table(items: list[Item]) -> str:
    if not items:
        return "nothing to run: the store holds every result of this profile's grids"
    frame = pd.DataFrame([it.to_json() for it in items])
    total = frame["est_s"].sum()
    return (frame[["serves", "chapter", "item", "profile", "runs", "est_s", "cost_source"]].to_string(index=False)
            + f"\n{len(items)} items, {frame['runs'].sum()} runs, about {total:.0f} s")


def record_seconds(record: dict) -> float:
    """The wall time a stored run or analysis took where it was made."""
    return float(record.get("metrics", {}).get("wall_time_s") or record.get("provenance", {}).get("wall_time_s") or 0)


def accuracy_by_model(records) -> str:
    """What a profile buys: each model's median final test accuracy over the stored runs (with
    their count), e.g. "cnn6 49% (18), vit6 50% (6)"; diverged runs (no finite accuracy) are left out."""
    accs: dict[str, list[float]] = {}
    for r in records:
        acc = r.get("metrics", {}).get("final_test_acc")
        if r.get("kind", "run") == "run" and isinstance(acc, (int, float)) and math.isfinite(acc):
            accs.setdefault(r.get("config", {}).get("model", "?"), []).append(float(acc))
    return ", ".join(f"{m} {100 * statistics.median(v):.0f}% ({len(v)})" for m, v in sorted(accs.items()))


def profile_costs(profiles=("tiny", "cpu", "gpu"), chapters=chapters_lib.CHAPTERS, cache=None) -> pd.DataFrame:
    """What each chapter costs at each profile: the distinct results its grids need, how many are
    stored and the wall time they took where they were made (measured), the test accuracy they
    reached (median per model: what the profile buys), and the seconds the missing ones would take
    on 2 CPU cores and on the GPU (the cost table's estimates)."""
    from ..cache import ResultsCache
    from .costs import current
    cache = cache if cache is not None else ResultsCache()
    costs = current(cache.store, cache)
    rows = []
    for profile in profiles:
        for chapter in chapters:
            need = {k for keys in chapters_lib.needed(chapter, profile).values() for k in keys}
            if not need:
                continue
            stored = [r for k in need if (r := cache.get(k)) is not None]
            devices = sorted({r.get("provenance", {}).get("device", "?").split(" (")[0] for r in stored})
            left = {d: sum(it.est_s for it in queue(d, profile, (chapter,), costs, cache)) for d in DEVICE_PROFILES}
            rows.append({"chapter": chapter, "profile": profile, "results": len(need), "stored": len(stored),
                         "measured_h": sum(map(record_seconds, stored)) / 3600, "test acc": accuracy_by_model(stored),
                         "made on": ", ".join(devices),
                         "left_cpu_h": left["cpu"] / 3600, "left_cuda_h": left["cuda"] / 3600})
    return pd.DataFrame(rows)
