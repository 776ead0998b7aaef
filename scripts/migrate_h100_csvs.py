"""One-off: the WAMAL H100 runs of 2026-11-25, exported then as CSV files (results/gpu/wamal/),
become records of the results store (shard wamal/gpu).

    python scripts/migrate_h100_csvs.py [CSV_FOLDER]     # then: git rm -r results/gpu/wamal

Each run becomes a record of kind "migrated_run": its RunConfig (rebuilt from
`aux_core.experiments.wamal.gpu_grids`, matched on grid, method, seed and r), the CSV row's
numbers ("summary"), its test curve ("history"), its label passes and its weight histogram, with
the provenance the CSV carried. What the CSVs could not carry is said in each record's
provenance ("not_carried"): the per-step log, the gradient diagnostics, the training curves, the
per-image weights (only a 40-bin histogram of the unscaled weights survives) and the full
metrics. The main grid's per-class weight statistics become one analysis record.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from aux_core import store as S
from aux_core.experiments import wamal as W

NOT_CARRIED = ("the per-step log (steps), the gradient diagnostics, the training-set curves and the full metrics of "
               "each run (only final and late test accuracy and loss, epochs, timings and status), and the per-image "
               "weights (only a 40-bin histogram of the unscaled weight u survives)")
PROVENANCE_COLUMNS = ("device", "code_version", "git_commit", "data_checksum", "created_utc", "wall_time_s", "run_key")


def _clean(v):
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _rows(frame: pd.DataFrame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _same_r(a, b) -> bool:
    return (pd.isna(a) and pd.isna(b)) or (not pd.isna(a) and not pd.isna(b) and float(a) == float(b))


def records(folder: Path) -> list[dict]:
    csv = {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}
    readme = json.loads((folder / "README.json").read_text()) if (folder / "README.json").exists() else {}
    grids = W.gpu_grids()
    out = []
    for _, row in csv["runs"].iterrows():
        cells = grids[row["grid"]]
        cells = cells.assign(r=cells["r"] if "r" in cells else np.nan)
        hit = cells[(cells["method"] == row["method"]) & (cells["seed"] == row["seed"])
                    & np.array([_same_r(r, row["r"]) for r in cells["r"]], dtype=bool)]
        if len(hit) != 1:
            raise SystemExit(f"{len(hit)} configs of grid {row['grid']} match {row['method']} seed {row['seed']} "
                             f"r {row['r']}")
        cfg = hit["config"].iloc[0]

        def of_run(name, r_col="r"):
            f = csv.get(name, pd.DataFrame())
            if not len(f):
                return f
            same_r = np.array([_same_r(r, row["r"]) for r in f[r_col]], dtype=bool)
            f = f[(f["grid"] == row["grid"]) & same_r & (f["seed"] == row["seed"])]
            return f[f["method"] == row["method"]] if "method" in f else f

        curve = of_run("curves")
        passes = of_run("label_passes")
        hist = of_run("weight_hist") if row["method"] == "WAMAL" else pd.DataFrame()
        summary = {k: _clean(v) for k, v in row.items() if k not in PROVENANCE_COLUMNS + ("grid", "status")}
        out.append({
            "kind": "migrated_run", "grid": row["grid"], "config": cfg.to_dict(), "status": row["status"],
            "summary": summary,
            "history": {c: [_clean(v) for v in curve[c]] for c in ("epoch", "test_acc", "test_loss")},
            "label_passes": _rows(passes.drop(columns=["grid", "method", "r", "seed"], errors="ignore")),
            "weight_hist": {c: [_clean(v) for v in hist[c]] if len(hist) else []
                            for c in ("bin_low", "bin_high", "count")},
            "provenance": {**{k: _clean(row[k]) for k in PROVENANCE_COLUMNS if k in row},
                           "torch": "", "numerics_version": 0,
                           "migrated_from": "results/gpu/wamal/*.csv "
                                            f"({readme.get('exported_by', 'export_gpu_results')})",
                           "command": readme.get("command", ""), "not_carried": NOT_CARRIED},
            "labels": {"chapter": "wamal", "profile": "gpu"},
        })
    if "class_weights" in csv:
        first = csv["runs"].iloc[0]
        out.append({"kind": "analysis",
                    "config": {"analysis": W.H100_CLASS_WEIGHTS, "dataset": "cifar10", "grid": "main",
                               "runs": "WAMAL, VGG16, 3 seeds, 4 epochs, all 50,000 training images"},
                    "rows": _rows(csv["class_weights"].drop(columns=["grid"])),
                    "provenance": {k: _clean(first[k])
                                   for k in ("device", "code_version", "git_commit", "data_checksum")}
                    | {"wall_time_s": 0.0, "migrated_from": "results/gpu/wamal/class_weights.csv",
                       "not_carried": "the per-image weights it summarises"},
                    "labels": {"chapter": "wamal", "profile": "gpu"}})
    return out


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "results" / "gpu" / "wamal"
    recs = records(folder)
    report = S.Store().add([(f"{folder}#{i}", r) for i, r in enumerate(recs)])
    print(f"{len(recs)} records from {folder}: {report}")
    return 1 if report.conflicts or report.invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
