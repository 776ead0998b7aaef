"""One command for a compute window: self-test, benchmark, then the plan, run by run, until the
budget is spent, with every finished result exported at once.

    PYTHONPATH=. python3 -m aux_core.campaign run --device cuda --budget-s 540 --out $OUT

  1. a self-test of the device (at most about 30 s): the vmap engine against the loop on a tiny
     config, bf16 autocast, a checkpoint round trip, TorchJD's aggregation; whatever fails falls
     back (vmap -> the loop engine; bf16 -> fp32; checkpoints -> none; no TorchJD -> the
     aggregated units are skipped, since they cannot run), and the log says so
  2. on CUDA, the training benchmark at a reduced size (the performance page's CUDA rows)
  3. the queue (`campaign.plan.queue`): each unit (a seed group, or an analysis) runs in one of
     `workers` processes sharing the device; a unit whose estimate no longer fits the time
     left is skipped. Every finished run is a record in the local results cache at once, so
     a kill loses only the units in flight, and a campaign started again resumes (finished
     runs are cache hits, a run in flight restarts from its checkpoint)
  4. after every unit, the records made for the queue are rewritten into OUT/records.jsonl.gz,
     and the log into OUT/campaign.json (with the benchmark, at most four files), so that
     whatever the window leaves behind can be merged: `python -m aux_core.store merge OUT`.
"""
from __future__ import annotations

import datetime
import json
import multiprocessing as mp
import os
import queue as queue_lib
import subprocess
import sys
import time
import traceback
from pathlib import Path

from .. import settings
from ..experiments import chapters as chapters_lib
from .costs import current
from .plan import DEVICE_PROFILES, Item, Unit, queue, unpublished

RECORDS_FILE, LOG_FILE = "records.jsonl.gz", "campaign.json"
MARGIN_S = 15.0          # kept back at the end for the last export
START_FACTOR = 1.5       # a unit starts only if 1.5x its estimate fits the time left


# ----------------------------------------------------------------------------- self-test

def self_test(device: str) -> dict:
    """{check: {"ok": bool, "detail": str, "s": seconds}} for vmap, bf16, checkpoints and TorchJD."""
    import numpy as np
    import torch

    from ..config import RunConfig

    from ..runner import checkpoint_round_trip, run_all
    tiny = dict(model="resnet_ds", method="ds", train_per_class=4, test_per_class=2, batch_size=8, steps=3,
                epochs=None, eval_every=3, optimizer="sgd", lr=0.05, device=device, amp=False, checkpoint_every=0)
    checks = {}

    def check(name, fn):
        t0 = time.perf_counter()
        try:
            ok, detail = fn()
        except Exception as err:  # noqa: BLE001 - a failing check is a result, with its reason
            ok, detail = False, f"{type(err).__name__}: {err}".splitlines()[0][:300]
        checks[name] = {"ok": bool(ok), "detail": detail, "s": round(time.perf_counter() - t0, 2)}

    def vmap_matches_loop():   # in float64, where summation order is below the tolerance
        cfgs = [RunConfig(**tiny, seed=s) for s in (0, 1)]
        old = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            alone = run_all(cfgs, cache=False, progress=False, engine="loop")
            grouped = run_all(cfgs, cache=False, progress=False, engine="vmap")
        finally:
            torch.set_default_dtype(old)
        if grouped[0].metrics.get("engine") != "vmap":
            return False, "the vmap engine did not run"
        gap = max(float(np.max(np.abs(a.steps["loss"].to_numpy() - g.steps["loss"].to_numpy())
                               / np.abs(a.steps["loss"].to_numpy()))) for a, g in zip(alone, grouped))
        detail = f"max relative loss difference {gap:.1e} in float64 (limit 1e-6)"
        if device == "cuda":   # the campaign's groups train in bf16: vmap under autocast must run too
            mixed = run_all([c.replace(amp=True) for c in cfgs], cache=False, progress=False, engine="vmap")
            finite = all(r.status == "ok" and np.isfinite(r.metrics["final_train_loss"]) for r in mixed)
            return gap < 1e-6 and finite, detail + f"; under bf16 autocast the group is {mixed[0].status}"
        return gap < 1e-6, detail

    def bf16():
        if device != "cuda":
            return True, "not used on the CPU (amp is ignored there)"
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = torch.randn(64, 64, device="cuda") @ torch.randn(64, 64, device="cuda")
        r = run_all([RunConfig(**{**tiny, "amp": True})], cache=False, progress=False, engine="loop")[0]
        ok = y.dtype == torch.bfloat16 and r.status == "ok" and np.isfinite(r.metrics["final_train_loss"])
        return ok, f"autocast gives {y.dtype}; a 3-step bf16 run is {r.status}"

    def checkpoints():
        gap = checkpoint_round_trip(RunConfig(**{**tiny, "steps": None, "epochs": 2, "checkpoint_every": 1}))
        return gap < 1e-6, f"resumed run differs by {gap:.1e} (relative; limit 1e-6)"

    def aggregation():   # TorchJD and its QP solver: the GPU image lacks them unless a window carries them
        from ..methods.aggregation import aggregated_backward, make_aggregator
        w = torch.ones(2, requires_grad=True)
        terms = {"main": w @ torch.tensor([1.0, 1.0]), "aux": w @ torch.tensor([-2.0, 0.5])}   # they conflict
        aggregated_backward(terms, [w], [], make_aggregator("upgrad"))
        ok = w.grad is not None and bool(torch.isfinite(w.grad).all())
        return ok, f"UPGrad aggregates a conflicting pair of gradients into {[round(g, 3) for g in w.grad.tolist()]}"

    check("vmap", vmap_matches_loop)
    check("bf16", bf16)
    check("checkpoint", checkpoints)
    check("torchjd", aggregation)
    return checks


def fallbacks(checks: dict) -> dict:
    """What the campaign changes for the checks that failed."""
    return {"engine": "auto" if checks.get("vmap", {}).get("ok", True) else "loop",
            "amp": checks.get("bf16", {}).get("ok", True),
            "checkpoint_every": 1 if checks.get("checkpoint", {}).get("ok", True) else 0,
            "aggregators": checks.get("torchjd", {}).get("ok", True)}


def aggregated(payload: dict) -> bool:
    """Whether a unit trains with a conflict-resolving aggregator (it needs TorchJD)."""
    return any((c.get("method_options") or {}).get("aggregator", "sum") != "sum"
               for c in payload["configs"] if "method_options" in c)


def runnable(payloads: list[dict], fixes: dict, report: dict, log=print) -> list[dict]:
    """The units this machine can run: without TorchJD the aggregated ones are skipped (logged
    with the fix), rather than each failing at its first step."""
    if fixes.get("aggregators", True):
        return payloads
    dropped = [p for p in payloads if aggregated(p)]
    for p in dropped:
        report["skipped"].append({"chapter": p["chapter"], "grid": p["grid"], "est_s": round(p["est_s"], 1),
                                  "why": "needs TorchJD"})
    if dropped:
        log(f"skipped {len(dropped)} units with an aggregated backward: TorchJD is missing here "
            f"(carry the wheels of `python -m aux_core.campaign wheels`; README, 'A GPU window')")
    return [p for p in payloads if not aggregated(p)]


# ----------------------------------------------------------------------------- benchmark

def benchmark(out: Path, timeout_s: float) -> dict:
    """The training benchmark at a reduced size (three models, plain and ds, S = 8), into out/."""
    cmd = [sys.executable, str(settings.REPO_ROOT / "benchmarks" / "train_speed.py"), "--models", "mlp6", "cnn6",
           "resnet_ds", "--methods", "plain", "ds", "--seeds", "8", "--steps", "10", "--group-steps", "10",
           "--out", str(out)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                              env={**os.environ, "PYTHONPATH": str(settings.REPO_ROOT)})
        ok, tail = done.returncode == 0, (done.stdout + done.stderr)[-1500:]
    except subprocess.TimeoutExpired:
        ok, tail = False, f"stopped after {timeout_s:.0f} s"
    return {"ok": ok, "s": round(time.perf_counter() - t0, 1), "command": " ".join(cmd[1:]), "tail": tail}


def best_images_per_s(out: Path) -> float | None:
    for f in sorted(out.glob("train_speed-*.json")):
        rows = json.loads(f.read_text()).get("rows", [])
        return max((r["images_per_s"] for r in rows if r.get("loop") != "baseline"), default=None)
    return None


# ----------------------------------------------------------------------------- units

def unit_payload(item: Item, unit: Unit, fixes: dict) -> dict:
    """A unit as plain data a worker process can take."""
    configs = unit.configs if unit.analysis else [
        c.replace(amp=c.amp and fixes["amp"],
                  checkpoint_every=min(c.checkpoint_every, fixes["checkpoint_every"])).to_dict()
        for c in unit.configs]
    return {"chapter": item.chapter, "grid": item.grid, "profile": item.profile, "analysis": unit.analysis,
            "configs": configs, "keys": unit.keys, "est_s": unit.est_s, "engine": fixes["engine"]}


def run_unit(payload: dict, cache_root: str | None = None) -> dict:
    """Train or compute one unit into the local results cache; its log entry."""
    from ..cache import ResultsCache
    from ..config import RunConfig
    from ..runner import run_all
    settings.set_labels(payload["chapter"], payload["profile"])
    cache = ResultsCache(cache_root) if cache_root else ResultsCache()
    t0 = time.perf_counter()
    entry = {"chapter": payload["chapter"], "grid": payload["grid"], "runs": len(payload["configs"]),
             "est_s": round(payload["est_s"], 1)}
    try:
        if payload["analysis"]:
            analyses = chapters_lib.module(payload["chapter"]).ANALYSES
            for config in payload["configs"]:
                analyses[config["analysis"]](config, cache)
            entry.update(status="ok", images=0)
        else:
            configs = [RunConfig(**c) for c in payload["configs"]]
            try:
                results = run_all(configs, cache=cache, progress=False, engine=payload["engine"])
            except Exception as err:  # noqa: BLE001 - a seed group the vmap engine cannot train: one at a time
                if payload["engine"] == "loop" or len(configs) < 2:
                    raise
                entry["fallback"] = f"loop engine after {type(err).__name__}: {err}"[:300]
                results = run_all(configs, cache=cache, progress=False, engine="loop")
            entry.update(status=",".join(sorted({r.status for r in results})),
                         images=sum(r.metrics.get("steps", 0) * r.config["batch_size"] for r in results),
                         engine=results[0].metrics.get("engine"), device=results[0].provenance.get("device"))
    except Exception as err:  # noqa: BLE001 - one failing unit is logged; the campaign goes on
        entry.update(status="failed", error=f"{type(err).__name__}: {err}"[:500], trace=traceback.format_exc()[-2000:])
    entry["s"] = round(time.perf_counter() - t0, 2)
    return entry


def _worker(tasks, done, cache_root, parent: int) -> None:
    """A process sharing the device: units from `tasks` until None arrives, or its campaign dies."""
    while os.getppid() == parent:
        try:
            payload = tasks.get(timeout=1)
        except queue_lib.Empty:
            continue
        if payload is None:
            return
        done.put(run_unit(payload, cache_root))


# ----------------------------------------------------------------------------- export

def export(out: Path, keys: set[str], cache) -> int:
    """Rewrite out/records.jsonl.gz with every record of `keys` in the local cache (compacted
    and sealed as the store keeps them), keeping what the file held already (a campaign
    resumed into the same folder); how many records it holds."""
    from ..store import compact, gzip_text, seal, to_line, write_atomically
    from ..store.exchange import read_records
    path = out / RECORDS_FILE
    held = {r["key"]: r for _, r in read_records([path])} if path.exists() else {}
    for key in keys:
        record = cache.local(key)
        if record is not None:
            sealed = seal(compact(record))
            held[sealed["key"]] = sealed
    lines = [to_line(held[k]) for k in sorted(held)]
    write_atomically(path, gzip_text("\n".join(lines) + ("\n" if lines else "")))
    return len(lines)


# ----------------------------------------------------------------------------- the campaign

def run_campaign(device: str, budget_s: float, out: str | Path, *, profile: str | None = None,
                 chapters=chapters_lib.CHAPTERS, workers: int = 1, run_self_test: bool = True,
                 run_benchmark: bool | None = None, cache=None, items: list[Item] | None = None, log=print) -> dict:
    """Run the queue on `device` for about `budget_s` seconds (or `items`, a queue made
    elsewhere); the log, also in out/campaign.json."""
    from ..cache import ResultsCache
    t0 = time.monotonic()
    deadline = t0 + budget_s
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = cache if cache is not None else ResultsCache()
    profile = profile or DEVICE_PROFILES[device]
    report = {"device": device, "profile": profile, "budget_s": budget_s, "workers": workers,
              "started_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "python": sys.version.split()[0], "units": [], "skipped": []}
    try:   # a campaign resumed into the same folder keeps the log of the earlier ones
        earlier = json.loads((out / LOG_FILE).read_text())
        report["earlier"] = earlier.pop("earlier", []) + [{k: earlier.get(k) for k in
                                                            ("started_utc", "elapsed_s", "units", "throughput")}]
    except (OSError, ValueError):
        pass

    def save():
        from ..store import write_atomically
        report["elapsed_s"] = round(time.monotonic() - t0, 1)
        write_atomically(out / LOG_FILE, json.dumps(report, indent=1, default=str).encode())

    checks = self_test(device) if run_self_test else {}
    fixes = fallbacks(checks)
    report.update(self_test=checks, fallbacks=fixes)
    for name, c in checks.items():
        log(f"self-test {name}: {'ok' if c['ok'] else 'FAILED, falling back'} ({c['detail']}; {c['s']} s)")
    if run_benchmark if run_benchmark is not None else device == "cuda":
        report["benchmark"] = benchmark(out / "benchmarks", timeout_s=max(10.0, min(60.0, 0.12 * budget_s)))
        log(f"benchmark: {'ok' if report['benchmark']['ok'] else 'failed'} in {report['benchmark']['s']} s")
    save()

    if items is None:
        items = queue(device, profile, chapters, current(cache.store, cache), cache)
    payloads = runnable([unit_payload(it, u, fixes) for it in items for u in it.units], fixes, report, log)
    keys = {k for p in payloads for k in p["keys"]} | unpublished(profile, chapters, cache)
    report["queue"] = [it.to_json() for it in items]
    log(f"queue: {len(payloads)} units, {sum(len(p['configs']) for p in payloads)} results, "
        f"about {sum(p['est_s'] for p in payloads):.0f} s serially")

    def finished(entry):
        report["units"].append(entry)
        report["exported"] = export(out, keys, cache)
        save()
        log(f"{entry['status']:>8} {entry['chapter']}/{entry['grid']}: {entry['runs']} in {entry['s']} s "
            f"(estimated {entry['est_s']} s)" + (f" - {entry.get('error')}" if entry["status"] == "failed" else "")
            + (f" ({entry['fallback']})" if entry.get("fallback") else ""))

    t_train = time.monotonic()
    if workers <= 1:
        for p in payloads:
            if starts(p, deadline, report):
                finished(run_unit(p, str(cache.root)))
    else:
        _run_shared(payloads, workers, deadline, cache, finished, report)
    train_s = time.monotonic() - t_train
    report["exported"] = export(out, keys, cache)
    images = sum(u.get("images", 0) for u in report["units"])
    report["throughput"] = {"train_s": round(train_s, 1), "images": images,
                            "images_per_s": round(images / train_s, 1) if train_s > 0 else None,
                            "share_training": round(train_s / max(time.monotonic() - t0, 1e-9), 3),
                            "benchmark_best_images_per_s": best_images_per_s(out / "benchmarks")}
    save()
    log(f"done: {len(report['units'])} units, {report['exported']} records exported to {out / RECORDS_FILE}; "
        f"{report['throughput']['images_per_s']} images/s over {train_s:.0f} s of training")
    return report


def starts(payload: dict, deadline: float, report: dict) -> bool:
    """Whether a unit starts now: 1.5 times its estimate fits before the deadline (else it is
    logged as skipped)."""
    if START_FACTOR * payload["est_s"] <= deadline - MARGIN_S - time.monotonic():
        return True
    report["skipped"].append({"chapter": payload["chapter"], "grid": payload["grid"],
                              "est_s": round(payload["est_s"], 1)})
    return False


def _run_shared(payloads, workers, deadline, cache, finished, report) -> None:
    """Units to `workers` processes sharing the device; a unit starts only while its estimate
    fits; at the deadline the workers are stopped (what they had in flight is lost)."""
    ctx = mp.get_context("spawn")       # CUDA and fork do not mix
    tasks, done = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(tasks, done, str(cache.root), os.getpid()), daemon=True)
             for _ in range(workers)]
    for p in procs:
        p.start()
    pending, running = list(payloads), 0

    def feed():
        nonlocal running
        while pending and running < workers:
            p = pending.pop(0)
            if starts(p, deadline, report):
                tasks.put(p)
                running += 1

    feed()
    while running and time.monotonic() < deadline - MARGIN_S:
        try:
            entry = done.get(timeout=min(5.0, max(0.1, deadline - MARGIN_S - time.monotonic())))
        except queue_lib.Empty:
            continue
        running -= 1
        finished(entry)
        feed()
    for _ in procs:
        tasks.put(None)
    for p in procs:
        p.join(timeout=5 if running == 0 else 0.1)
        if p.is_alive():
            p.kill()
    report["lost_in_flight"] = running
