"""The chapter kit: what every paper's experiments module shares, under the same names in each:
which data a paper row runs on (`dataset_for`), a grid's typed cells (`Cell`, `grid_frame`),
running a grid of cells through the results cache (`run_grid`), one row per run with the
cell's labels, status, the paper's measures and the run's cost (`per_run_frame`), what a
table's numbers rest on (`describe`), an analysis's rows as one cached record
(`analysis_rows`), when a run counts as collapsed (`collapsed`) and how a verdict names the
collapsed runs it rests on (`collapse_note`), and a diverged run's score where a claim ranks
settings (`accuracy_or_chance`)."""
from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from .. import data as data_lib
from ..config import RunConfig
from ..runner import run_all

PAPER_DATASETS = ("CIFAR-10", "CIFAR-100")
COLLAPSE_FACTOR = 1.5   # a run collapsed when it diverged or ended within 1.5x chance accuracy


def _chance(dataset, shape) -> np.ndarray:
    """Chance accuracy (a fraction) on each run's dataset (one name, or one per run)."""
    return 1 / np.array([data_lib.NUM_CLASSES[d] for d in np.broadcast_to(np.asarray(dataset), shape)])


def collapsed(status, accuracy, dataset) -> np.ndarray:
    """1.0 for each run that collapsed: diverged (status not "ok") or ended with a test accuracy
    (a fraction) within COLLAPSE_FACTOR x chance on its dataset (an aux_core dataset name), else 0.0."""
    status, accuracy = np.asarray(status), np.asarray(accuracy, float)
    chance = _chance(dataset, status.shape)
    return ((status != "ok") | ~(accuracy > COLLAPSE_FACTOR * chance)).astype(float)


def collapse_note(labels, flags, arms=None) -> str:
    """"; collapsed: 2 of 3 DKS runs, ..." for each arm (a value of `labels`, in the order of
    `arms`; None: every label) whose runs hold a collapsed one (`flags`, from `collapsed`), or ""
    where none collapsed. A ledger appends it to a claim's data column, so a verdict resting on
    runs that never trained says so wherever the verdict is shown."""
    labels, flags = np.asarray(labels, dtype=object), np.asarray(flags, float) > 0
    hits = []
    for arm in (dict.fromkeys(labels) if arms is None else arms):
        mask = labels == arm
        if flags[mask].any():
            hits.append(f"{int(flags[mask].sum())} of {int(mask.sum())} {arm}")
    return f"; collapsed: {', '.join(hits)} runs" if hits else ""


def accuracy_or_chance(status, accuracy, dataset, scale: float = 1.0) -> np.ndarray:
    """Each run's test accuracy (a fraction, or percent with scale=100), a diverged run's at chance
    on its dataset: where a claim ranks settings, one that diverges has done worse than any that
    trained, and dropping its runs would leave its arm ranked by the seeds that survived. Other
    failures stay NaN."""
    status, accuracy = np.asarray(status), np.asarray(accuracy, float)
    chance = scale * _chance(dataset, status.shape)
    return np.where(status == "ok", accuracy, np.where(status == "diverged", chance, np.nan))


def dataset_for(paper_dataset: str, cifar100: str = "auto") -> str:
    """The dataset a paper row runs on. CIFAR-100 rows run on `cifar100`: 'cifar100', or a
    stand-in such as 'cifar10', or 'auto' (CIFAR-100 when its data are here, else CIFAR-10)."""
    if paper_dataset == "CIFAR-10":
        return "cifar10"
    if paper_dataset != "CIFAR-100":
        raise ValueError(f"paper dataset must be one of {PAPER_DATASETS}, got {paper_dataset!r}")
    if cifar100 == "auto":
        return "cifar100" if data_lib.available("cifar100") else "cifar10"
    if cifar100 not in data_lib.DATASETS:
        raise ValueError(f"cifar100 must be 'auto' or one of {data_lib.DATASETS}, got {cifar100!r}")
    return cifar100


Label = str | int | float | bool
# Columns that run_grid and per_run_frame add; a label of that name would be overwritten.
RESERVED = ("config", "result", "status", "wall_time_s", "device", "run_key")


class Cell:
    """One run of a grid: its `RunConfig` and the labels its tables group by (scalars named
    like keyword arguments: `Cell(cfg, arch="CNN", n=20, seed=0)`)."""
    __slots__ = ("config", "labels")

    def __init__(self, config: RunConfig, **labels: Label):
        if not isinstance(config, RunConfig):
            raise TypeError(f"a cell's config must be a RunConfig, got {type(config).__name__}")
        if clash := sorted(set(labels) & set(RESERVED)):
            raise ValueError(f"label names {clash} are taken by the per-run frame; reserved: {', '.join(RESERVED)}")
        for name, value in labels.items():
            if not isinstance(value, (str, numbers.Real)):
                raise TypeError(f"label {name!r} must be a str, int, float or bool, got {type(value).__name__}")
        self.config, self.labels = config, dict(labels)

    def __repr__(self) -> str:
        return f"Cell({self.config.method}/{self.config.model}, {self.labels})"


def grid_frame(cells: Iterable[Cell], **constant: Label) -> pd.DataFrame:
    """A grid as the frame `run_grid` takes: one row per cell, its labels (then `constant`
    ones shared by every cell) and `config`. Every cell must carry the same label names, so
    no table column is silently empty for some runs."""
    cells = list(cells)
    if not cells:
        return pd.DataFrame({"config": pd.Series([], dtype=object)})
    names = list(cells[0].labels)
    for c in cells:
        if not isinstance(c, Cell):
            raise TypeError(f"grid_frame takes Cells, got {type(c).__name__}")
        if set(c.labels) != set(names):
            raise ValueError(f"every cell of a grid carries the same labels: {names} against {list(c.labels)}")
    Cell(cells[0].config, **constant)   # the same checks for the constant labels
    return pd.DataFrame([{**c.labels, **constant, "config": c.config} for c in cells])


def run_grid(cells: pd.DataFrame, progress: bool = True, desc: str = "runs") -> pd.DataFrame:
    """`cells` (one RunConfig per row, column `config`) with a `result` column; identical
    configurations train once, finished ones come from the results store or cache. Prints
    what the numbers rest on (`describe`)."""
    if bad := [type(c).__name__ for c in cells.get("config", []) if not isinstance(c, RunConfig)]:
        raise TypeError(f"every cell's config must be a RunConfig, got {sorted(set(bad))} (use grid_frame)")
    out = cells.copy()
    out["result"] = run_all(list(cells["config"]), progress=progress, desc=desc)
    if progress and len(out):
        print(describe(list(out["result"])))
    return out


def per_run_frame(cells: pd.DataFrame, measures) -> pd.DataFrame:
    """One row per run of `run_grid`'s output: the cell's labels (every column but `config` and
    `result`), `status`, the chapter's `measures(result) -> dict`, then the run's cost and where it
    ran (`wall_time_s`, `device`, `run_key`). Every chapter's `per_run` is this frame."""
    rows = []
    for _, cell in cells.iterrows():
        res = cell["result"]
        rows.append({**{k: cell[k] for k in cell.index if k not in ("config", "result")}, "status": res.status,
                     **measures(res), "wall_time_s": res.metrics["wall_time_s"],
                     "device": res.provenance.get("device", ""), "run_key": res.key})
    return pd.DataFrame(rows)


def describe(results) -> str:
    """One line on what a table's numbers rest on: profile, data, length, seeds, device, and how
    many runs came from stored records and how many of those an older code version made."""
    results = list({r.key or id(r): r for r in results}.values())
    if not results:
        return "no runs"
    cfgs = [r.config for r in results]
    m = results[0].metrics
    profiles = sorted({r.labels.get("profile", "") for r in results} - {""})
    datasets = sorted({c["dataset"] for c in cfgs})
    sources = sorted({r.provenance.get("data_source", "").split(" (")[0].rsplit("/", 1)[-1] for r in results} - {""})
    epochs = sorted({round(r.metrics.get("epochs", 0), 2) for r in results})
    steps = sorted({r.metrics.get("steps", 0) for r in results})
    seeds = sorted({c["seed"] for c in cfgs})
    devices = sorted({r.provenance.get("device", "?").removeprefix("cpu: ") for r in results})
    stored, stale = sum(r.cached for r in results), sum(r.stale for r in results)
    length = (f"{_span(steps)} steps" if cfgs[0].get("steps") is not None
              else f"{_span(epochs)} epochs ({_span(steps)} steps)")
    moves = [(c["lr"], _schedule_shape(c, r.metrics.get("epochs", 0))) for c, r in zip(cfgs, results)]
    schedules = list(dict.fromkeys(f"lr {lr:g}{shape}" for lr, shape in moves))
    if len(schedules) > 2:   # a sweep: its learning rates' range where the schedules differ only in lr
        lrs, shapes = sorted({lr for lr, _ in moves}), {shape for _, shape in moves}
        schedules = ([f"lr {lrs[0]:g}-{lrs[-1]:g}{shapes.pop()}"] if len(shapes) == 1
                     else [f"{len(schedules)} lr schedules"])
    return (f"{len(results)} runs"
            + (f" · profile {', '.join(profiles)}" if profiles else "")
            + f" · data {', '.join(datasets)}" + (f" ({', '.join(sources)})" if sources else "")
            + f", {m.get('train_images', '?'):,} training / {m.get('test_images', '?'):,} test images"
            + f" · {length} · {'; '.join(schedules)}"
            + f" · seeds {', '.join(map(str, seeds))} · device {'; '.join(devices)}"
            + f" · {stored} from stored records"
            + (f", {stale} of them made by an older code version" if stale else ""))


def schedule_text(config: dict, epochs: float) -> str:
    """How a run's learning rate moved, as it ran `epochs`: a multistep milestone at or past the
    run's end never applies (step / steps-per-epoch stays below it), which this says."""
    return f"lr {config['lr']:g}" + _schedule_shape(config, epochs)


def _schedule_shape(config: dict, epochs: float) -> str:
    """schedule_text after its "lr <value>"."""
    text = f" after a {config['warmup_epochs']:g}-epoch warm-up" if config.get("warmup_epochs") else ""
    kind = config.get("schedule", "constant")
    if kind == "multistep":
        inside = [m for m in config.get("milestones", ()) if m < epochs]
        return text + (f", x{config['gamma']:g} at epochs {', '.join(f'{m:g}' for m in inside)}" if inside
                       else ", no decay (its milestones fall at or past the run's end)")
    if kind == "step" and config.get("step_size"):
        return text + f", x{config['gamma']:g} every {config['step_size']:g} epochs"
    return text + (", cosine to 0" if kind == "cosine" else " constant")


def _span(values) -> str:
    values = [int(v) if float(v).is_integer() else v for v in values]
    return str(values[0]) if len(values) == 1 else f"{min(values)}-{max(values)}"


def analysis_rows(config: dict, rows: Callable[[], list[dict]], what: str, cache=None) -> pd.DataFrame:
    """The rows an analysis computes (`rows()`, on the CPU), as one record of the results cache
    and store keyed by `config` (which names its dataset) and the data's checksum: computed once,
    with its provenance and wall time, and fetched afterwards. `what` names it in messages."""
    import torch

    from ..cache import ResultsCache
    from ..provenance import collect
    from ..records import make_key
    ds = data_lib.load_dataset(config["dataset"])

    def compute() -> dict:
        t0 = time.perf_counter()
        out = rows()
        prov = collect(torch.device("cpu"), ds.checksum, ds.source)
        prov["wall_time_s"] = time.perf_counter() - t0
        return {"kind": "analysis", "config": config, "rows": out, "provenance": prov}

    record, _ = (cache or ResultsCache()).get_or_compute(make_key(config, ds.checksum), compute, what)
    return pd.DataFrame(record["rows"])
