"""What a run or an analysis costs on a device, in seconds: measured where the results store
holds runs like it, estimated from FLOPs where it holds none (and labelled as such).

The cost table (`results/costs.json`, committed, rebuilt by `python -m aux_core.campaign costs`
and after every campaign run) is derived from the records themselves, whose wall times and
step counts are provenance: per device class ("cpu", "cuda"), model and method, the seconds per
training image, the median over the largest runs stored (small runs are dominated by start-up
and evaluation, which the larger profiles amortise). Not per FLOP: on 2 CPU cores DKS's branch
designs took times unrelated to their FLOPs (the 384 MFLOP design 47 s a tiny run, a 139 MFLOP
one 101 s), so FLOPs price only what nothing measured resembles. An analysis costs its measured wall time
per unit of work (a landscape: grid points x images).

Before a measurement exists: the forward FLOPs of the network on one 32 x 32 image (counted by
torch's FlopCounterMode), times three for forward and backward, times a method's passes per
step, at a rate calibrated on the measured groups of that device class, or at an assumed rate
where the class has none.
"""
from __future__ import annotations

import functools
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from .. import data as data_lib
from ..records import record_kind
from ..settings import REPO_ROOT

COSTS_PATH = REPO_ROOT / "results" / "costs.json"
DEVICE_CLASSES = ("cpu", "cuda")
# effective training FLOP/s where a device class has no measurement at all (a guess, labelled
# as one): a 2-core CPU runs these small networks at tens of GFLOP/s; one H100/H200 at a few
# percent of its bf16 peak (small batches, launch-bound)
ASSUMED_FLOPS = {"cpu": 2e10, "cuda": 2e13}
# optimiser steps' worth of forward-backward passes per step: the meta-learners look ahead
METHOD_PASSES = {"wamal": 4.0, "maxl": 4.0, "auxilearn": 3.0}
LARGEST_SHARE = 0.5     # a group's cost comes from its runs with at least this share of its largest run's images
RUN_OVERHEAD_S = {"cpu": 3.0, "cuda": 8.0}   # start-up, data and evaluation of a run, where unmeasured


def device_class(record: dict) -> str:
    device = record.get("provenance", {}).get("device", "")
    return "cpu" if device.startswith("cpu") or not device else "cuda"


def images_trained(config: dict, metrics: dict) -> float:
    return float(metrics.get("steps", 0)) * float(config.get("batch_size", 128))


@functools.lru_cache(maxsize=None)
def forward_flops(model: str, method: str = "plain", model_options: str = "{}", method_options: str = "{}",
                  num_classes: int = 10) -> float:
    """FLOPs of one forward pass of the network and its method's heads on one 32 x 32 image."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..methods import create_method
    from ..models import create_model
    with torch.device("meta"):   # shapes only: counting costs no arithmetic
        net = create_model(model, num_classes, **json.loads(model_options))
        m = create_method(method, **json.loads(method_options))
        heads = m.build_heads(net, num_classes)
        x = torch.zeros(2, 3, 32, 32)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        logits, taps = net.eval()(x)
        m.head_outputs(heads, taps)     # the heads as training calls them (e.g. only the active branches)
    return counter.get_total_flops() / 2


def training_flops(config: dict) -> float:
    """FLOPs of one training run: forward and backward (3x forward) over every image trained,
    times the method's passes per step (evaluations are left to the per-run overhead)."""
    fwd = forward_flops(config["model"], config.get("method", "plain"),
                        json.dumps(config.get("model_options") or {}, sort_keys=True),
                        json.dumps(config.get("method_options") or {}, sort_keys=True),
                        data_lib.NUM_CLASSES[config.get("dataset", "cifar10")])
    return 3.0 * fwd * planned_images(config) * METHOD_PASSES.get(config.get("method"), 1.0)


def planned_images(config: dict) -> float:
    """Training images a config will process (steps x batch), from its length and data size."""
    if config.get("steps") is not None:
        return float(config["steps"]) * config.get("batch_size", 128)
    n = data_lib.train_size(config.get("dataset", "cifar10"), config.get("train_per_class"),
                            config.get("train_fraction"), config.get("val_fraction", 0.0))
    return float(config.get("epochs") or 1) * n


@dataclass
class Estimate:
    seconds: float
    source: str     # "measured (n runs)", "FLOPs, rate calibrated on ...", "FLOPs, assumed rate ..."


class CostTable:
    """Seconds per training image by (device class, model, method), and seconds per unit of
    analysis work by (device class, analysis, model), with where each came from."""

    def __init__(self, runs: dict | None = None, analyses: dict | None = None, rates: dict | None = None):
        self.runs = runs or {}            # "cpu|resnet_ds|ds" -> {"s_per_image", "runs", "devices"}
        self.analyses = analyses or {}    # "cpu|landscape|cnn6" -> {"s_per_unit", "records", "devices"}
        self.rates = rates or {}          # "cpu" -> {"flops_per_s", "groups"}: calibrated on the measured runs

    @classmethod
    def from_records(cls, records) -> "CostTable":
        runs: dict[str, list] = {}
        analyses: dict[str, list] = {}
        for r in records:
            kind, cfg, prov = record_kind(r), r.get("config", {}), r.get("provenance", {})
            if kind == "run" and r.get("status", "ok") == "ok":
                images, wall = images_trained(cfg, r.get("metrics", {})), r.get("metrics", {}).get("wall_time_s")
                if images > 0 and wall:
                    key = f"{device_class(r)}|{cfg['model']}|{cfg.get('method', 'plain')}"
                    runs.setdefault(key, []).append((images, wall, cfg, prov.get("device", "?")))
            elif kind == "migrated_run" and r.get("grid") == "timing" and prov.get("wall_time_s"):
                # the H100 runs timed alone on the GPU (the other migrated runs shared it with 8-13 others)
                done = {**cfg, "epochs": r["summary"]["epochs"]}
                key = f"{device_class(r)}|{cfg['model']}|{cfg.get('method', 'plain')}"
                runs.setdefault(key, []).append((planned_images(done), prov["wall_time_s"], done, prov["device"]))
            elif kind == "analysis" and prov.get("wall_time_s"):
                key = f"{device_class(r)}|{cfg.get('analysis')}|{cfg.get('model', '')}"
                analyses.setdefault(key, []).append((analysis_units(cfg), prov["wall_time_s"], prov.get("device", "?")))
        table_runs, rates = {}, {}
        for key, rows in runs.items():
            largest = max(i for i, *_ in rows)
            big = [row for row in rows if row[0] >= LARGEST_SHARE * largest]
            per_image = statistics.median(w / i for i, w, *_ in big)
            table_runs[key] = {"s_per_image": per_image, "runs": len(big), "devices": sorted({d for *_, d in big})}
            try:
                flops = statistics.median(training_flops(c) / planned_images(c) * i / w for i, w, c, _ in big)
            except Exception:  # noqa: BLE001 - a model that cannot be counted is left out of the calibration
                continue
            rates.setdefault(key.split("|")[0], []).append(flops)
        table_analyses = {key: {"s_per_unit": statistics.median(w / max(u, 1) for u, w, _ in rows),
                                "records": len(rows), "devices": sorted({d for *_, d in rows})}
                          for key, rows in analyses.items()}
        return cls(table_runs, table_analyses,
                   {d: {"flops_per_s": statistics.median(v), "groups": len(v)} for d, v in rates.items()})

    # ---------------------------------------------------------------- estimates

    def run(self, config: dict, device: str) -> Estimate:
        """Seconds one run of `config` takes on a device of class `device`."""
        _check_device(device)
        hit = self.runs.get(f"{device}|{config['model']}|{config.get('method', 'plain')}")
        images = planned_images(config)
        if hit:
            return Estimate(hit["s_per_image"] * images, f"measured ({hit['runs']} runs)")
        rate = self.rates.get(device)
        flops = training_flops(config)
        if rate:
            return Estimate(flops / rate["flops_per_s"] + RUN_OVERHEAD_S[device],
                            f"estimate: FLOPs at the rate of {rate['groups']} measured groups")
        return Estimate(flops / ASSUMED_FLOPS[device] + RUN_OVERHEAD_S[device],
                        f"estimate: FLOPs at an assumed {ASSUMED_FLOPS[device]:.0e} FLOP/s")

    def analysis(self, config: dict, device: str) -> Estimate:
        _check_device(device)
        hit = self.analyses.get(f"{device}|{config.get('analysis')}|{config.get('model', '')}")
        if hit:
            return Estimate(hit["s_per_unit"] * analysis_units(config), f"measured ({hit['records']} records)")
        other = self.analyses.get(f"cpu|{config.get('analysis')}|{config.get('model', '')}")
        if other and device == "cuda":   # the CPU's time, taken as an upper bound for the GPU
            return Estimate(other["s_per_unit"] * analysis_units(config), "estimate: its CPU time")
        return Estimate(30.0, "estimate: an unmeasured analysis, 30 s")

    # ---------------------------------------------------------------- the committed file

    def to_json(self) -> dict:
        return {"about": __doc__.split("\n\n")[0].replace("\n", " "), "runs": self.runs, "analyses": self.analyses,
                "rates": self.rates}

    def save(self, path: Path = COSTS_PATH) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")
        return path


def analysis_units(config: dict) -> float:
    """The work of an analysis, in the unit its cost is measured in (a landscape: grid points x
    images; anything else: one)."""
    if config.get("analysis") == "landscape":
        return float(config["grid"]) ** 2 * config["samples"]
    return 1.0


def _check_device(device: str) -> None:
    if device not in DEVICE_CLASSES:
        raise ValueError(f"device must be one of {', '.join(DEVICE_CLASSES)}, got {device!r}")


def current(store=None, cache=None) -> CostTable:
    """The cost table of everything the store and this machine's cache hold."""
    from ..cache import ResultsCache
    from ..store import Store
    from ..store.exchange import read_records
    store = store if store is not None else Store()
    cache = cache if cache is not None else ResultsCache(store=store)
    records = list(store.records())
    if cache.root.exists():
        seen = {r["key"] for r in records if "key" in r}
        records += [r for _, r in read_records([cache.root]) if isinstance(r, dict) and r.get("key") not in seen]
    return CostTable.from_records(records)
