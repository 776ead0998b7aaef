"""The WAMAL chapter's runs at GPU scale, made on an H100 (all 50,000 CIFAR-10 training images,
fewer epochs than the `gpu` profile's cap): their grids, the frames the chapter's pages show
(from full records where the store has them, else from the migrated CSV summaries of
2026-11-25), and their claims ledger.

    from aux_core.experiments import wamal_h100 as H100
    H100.results()      # {"runs", "curves", "label_passes", "weight_hist", "class_weights"}, or {}
    H100.ledger()       # the chapter's claims ledger on these runs
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import data as data_lib
from .. import records as R
from . import wamal as W


def grids() -> dict[str, pd.DataFrame]:
    """The runs of this chapter made on an H100 at the gpu profile's data (all 50,000 CIFAR-10
    training images) but fewer epochs than its cap, which the session's device time allowed:
    Table 1's methods (3 seeds, 4 epochs), Table 13's r sweep (2 seeds, 2 epochs) and one
    serial timing run per method (2 epochs, alone on the GPU: the meta-cost figures)."""
    return {"main": W.grid("gpu", [0, 1, 2], epochs=4),
            "ranges": W.range_grid("gpu", [0, 1], epochs=2, maxl_at_r0=False),   # the H100 trained WAMAL at r = 0
            "timing": W.grid("gpu", [0], epochs=2)}


HIST_BINS = np.linspace(0, 1, 41)   # the unscaled weights' histogram (40 bins over (0, 1))
GPU_RUN_COLUMNS = ("dataset", "backbone", "method", "seed", "r", "status", "dataset_run", "test_acc", "test_loss",
                   "late_acc", "late_loss", "epochs", "seconds_per_epoch", "wall_time_s", "device", "run_key", "grid",
                   "primary_epoch_s", "label_pass_s", "code_version", "git_commit", "data_checksum", "created_utc")
H100_CLASS_WEIGHTS = "wamal_h100_class_weights"   # the analysis record of the migrated per-class weights


def results(store=None) -> dict[str, pd.DataFrame]:
    """The frames the chapter shows for `grids`, from the results store: a run's full record
    where the store has one, else its migrated H100 summary (kind "migrated_run": what the CSV
    export of 2026-11-25 carried). {} where the store has neither. Frames: runs (one row per
    run, with provenance), curves, label_passes, weight_hist and class_weights (main grid)."""
    from ..store import Store
    from ..config import RunResult
    store = store if store is not None else Store()
    shard = list(store.shard_records("wamal/gpu"))
    migrated = {(r["grid"], R.result_config_json(r["config"])): r for r in shard if r.get("kind") == "migrated_run"}
    frames = {k: [] for k in ("runs", "curves", "label_passes", "weight_hist", "class_weights")}
    for name, cells in grids().items():
        cells = cells.assign(r=cells["r"] if "r" in cells else np.nan)
        full = [store.get(c.key(data_lib.load_dataset(c.dataset).checksum))
                for c in cells["config"]]
        if all(f is not None for f in full):
            _frames_from_runs(name, cells.assign(result=[RunResult.from_record(f, cached=True) for f in full]),
                                  frames)
            continue
        for _, cell in cells.iterrows():
            m = migrated.get((name, R.result_config_json(cell["config"].to_dict())))
            if m is not None:
                _frames_from_migrated(name, m, frames)
    if not frames["class_weights"]:   # the migrated per-class statistics of the main grid's WAMAL runs
        frames["class_weights"] = [pd.DataFrame(r["rows"]).assign(grid="main") for r in shard
                                   if r.get("config", {}).get("analysis") == H100_CLASS_WEIGHTS]
    out = {k: pd.concat(v, ignore_index=True) for k, v in frames.items() if v}
    if "runs" in out:
        out["runs"] = out["runs"][[c for c in GPU_RUN_COLUMNS if c in out["runs"]]
                                  + [c for c in out["runs"] if c not in GPU_RUN_COLUMNS]]
    return out


def _frames_from_migrated(name: str, rec: dict, frames: dict) -> None:
    s, prov = {k: np.nan if v is None else v for k, v in rec["summary"].items()}, rec["provenance"]
    frames["runs"].append(pd.DataFrame([{**s, "status": rec["status"], "grid": name, "device": prov["device"],
                                         "run_key": prov["run_key"],
                                         "code_version": prov["code_version"], "git_commit": prov["git_commit"],
                                         "data_checksum": prov["data_checksum"], "created_utc": prov["created_utc"],
                                         "wall_time_s": prov["wall_time_s"]}]))
    keys = {"method": s["method"], "seed": s["seed"], "r": s["r"]}
    if rec["history"]["epoch"]:
        frames["curves"].append(pd.DataFrame(rec["history"]).assign(**keys, grid=name))
    if rec["label_passes"]:
        frames["label_passes"].append(pd.DataFrame(rec["label_passes"]).assign(**keys, grid=name))
    if rec["weight_hist"]["count"]:
        frames["weight_hist"].append(pd.DataFrame(rec["weight_hist"]).assign(grid=name, r=s["r"], seed=s["seed"]))


def _frames_from_runs(name: str, done: pd.DataFrame, frames: dict) -> None:
    pr = W.per_run(done).assign(grid=name)
    secs = W.epoch_seconds(done)
    pr["primary_epoch_s"], pr["label_pass_s"] = secs["primary_epoch_s"].values, secs["label_pass_s"].values
    for col in ("code_version", "git_commit", "data_checksum", "created_utc"):
        pr[col] = [r.provenance.get(col, "") for r in done["result"]]
    frames["runs"].append(pr)
    frames["curves"].append(W.curves(done).assign(grid=name, r=np.repeat(done["r"].values,
                                                                      [len(r.history) for r in done["result"]])))
    frames["label_passes"].append(W.label_passes(done, keys=("method", "r", "seed")).assign(grid=name))
    w = W.weights_frame(done, keys=("method", "r", "seed"))
    if len(w):
        w = w[w["method"] == "WAMAL"]
        for (r, seed), g in w.groupby(["r", "seed"], dropna=False):
            counts, _ = np.histogram(g["unit"], HIST_BINS)
            frames["weight_hist"].append(pd.DataFrame({"grid": name, "r": r, "seed": seed, "bin_low": HIST_BINS[:-1],
                                                       "bin_high": HIST_BINS[1:], "count": counts}))
        if name == "main":
            frames["class_weights"].append(W.class_weight_stats(w).assign(grid=name))


def ledger(store=None) -> pd.DataFrame:
    """The claims ledger of the committed H100 runs (shard wamal/gpu), or an empty frame."""
    runs = results(store).get("runs", pd.DataFrame())
    if not len(runs):
        return pd.DataFrame()
    return W.claims_ledger(runs[runs["grid"] == "main"], runs[runs["grid"] == "ranges"], profile="H100 runs")
