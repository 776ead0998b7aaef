"""The compute campaign: its queue (order, budget, what the store holds), the run (self-test
fallbacks, export, kill and resume) and what it may import on a GPU machine's own image."""
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import campaign_chapter as toy
from aux_core.cache import ResultsCache
from aux_core.campaign import costs as costs_lib
from aux_core.campaign import plan as plan_lib
from aux_core.campaign import run as run_lib
from aux_core.experiments import chapters as chapters_lib
from aux_core.store import Store
from aux_core.store.exchange import merge, read_records
from conftest import needs_cifar10

REPO = Path(__file__).resolve().parent.parent
TOY_COSTS = costs_lib.CostTable(runs={"cpu|mlp6|ds": {"s_per_image": 0.01, "runs": 1, "devices": ["test"]},
                                      "cpu|mlp6|plain": {"s_per_image": 0.001, "runs": 1, "devices": ["test"]}},
                                analyses={"cpu|toy_sum|": {"s_per_unit": 0.5, "records": 1, "devices": ["test"]}})


def unit(est, n=1):
    return plan_lib.Unit([object()] * n, [f"k{est}-{i}" for i in range(n)], est, "test")


# ----------------------------------------------------------------------------- the queue

def test_fit_takes_items_in_order_and_cuts_the_one_that_does_not_fit():
    items = [plan_lib.Item("a", "claims", "cpu", 0, [unit(10), unit(30)]),
             plan_lib.Item("b", "table", "cpu", 1, [unit(50), unit(5), unit(20)]),
             plan_lib.Item("c", "figure", "cpu", 2, [unit(100)]),
             plan_lib.Item("d", "figure", "cpu", 2, [unit(4)])]
    planned = plan_lib.fit(items, 70)
    assert [(it.chapter, it.part, it.est_s) for it in planned] == [("a", False, 40), ("b", True, 25), ("d", False, 4)]
    assert sum(it.est_s for it in planned) <= 70
    assert planned[1].to_json()["item"] == "table (part)"
    with pytest.raises(ValueError, match="seconds > 0"):
        plan_lib.fit(items, 0)


def test_a_result_two_grids_share_is_planned_once_in_the_first_item_that_needs_it():
    shared = unit(10, n=2)
    table = plan_lib.Item("a", "few_shot", "cpu", 1, [shared, unit(7)])
    claims = plan_lib.Item("a", "few_shot_claims", "cpu", 0, [plan_lib.Unit([object()], shared.keys[:1], 5.0, "test")])
    again = plan_lib.Item("a", "copy", "cpu", 2, [plan_lib.Unit([object()], shared.keys[:1], 5.0, "test")])
    out = plan_lib.without_repeats([claims, table, again])
    assert [it.grid for it in out] == ["few_shot_claims", "few_shot"]          # nothing new left in the copy
    assert out[1].runs == 2 and out[1].est_s == pytest.approx(5 + 7)          # the shared key's share left
    assert [k for u in out[1].units for k in u.keys] == [shared.keys[1], "k7-0"]


@needs_cifar10
def test_the_queue_orders_claims_then_tables_then_figures_with_costs_from_the_table(monkeypatch):
    toy.install(monkeypatch)
    items = plan_lib.queue("cpu", "smoke", chapters=("toy",), costs=TOY_COSTS, cache=ResultsCache())
    assert [(it.grid, plan_lib.TIERS[it.tier]) for it in items] == [
        ("claims_grid", "claims"), ("table_grid", "table"), ("figure_grid", "figure")]
    claims, table, figure = items
    assert claims.runs == 2 and len(claims.units) == 1           # two seeds of one config: one group
    assert claims.est_s == pytest.approx(2 * 0.01 * 2 * 10)      # 2 runs x 2 steps x batch 10 x 0.01 s
    assert table.est_s == pytest.approx(2 * 0.001 * 3 * 10)
    assert figure.runs == 2 and len(figure.units) == 2 and figure.est_s == pytest.approx(1.0)
    assert all("measured" in it.to_json()["cost_source"] for it in items)
    json.dumps({"items": [it.to_json() for it in items]})        # the --json output is plain data


@needs_cifar10
def test_the_queue_skips_what_the_store_holds(monkeypatch, tmp_path):
    toy.install(monkeypatch)
    store = Store(tmp_path / "store")
    cache = ResultsCache(tmp_path / "cache", store=store)
    from aux_core.runner import run_all
    done = run_all([toy.tiny("ds", 0)], cache=ResultsCache(tmp_path / "elsewhere", store=False), progress=False)[0]
    store.add([("elsewhere", {**done.to_record(), "key": done.key, "labels": {"chapter": "toy", "profile": "smoke"}})])
    items = plan_lib.queue("cpu", "smoke", chapters=("toy",), costs=TOY_COSTS, cache=cache)
    claims = [it for it in items if it.grid == "claims_grid"][0]
    assert claims.runs == 1 and done.key not in claims.units[0].keys


def test_unmeasured_costs_are_flops_estimates_calibrated_where_a_rate_was_measured():
    cfg = toy.tiny("plain").to_dict()
    guess = costs_lib.CostTable().run(cfg, "cuda")
    assert "assumed" in guess.source and guess.seconds > 0
    calibrated = costs_lib.CostTable(rates={"cpu": {"flops_per_s": 1e9, "groups": 2}}).run(cfg, "cpu")
    assert "rate of 2 measured groups" in calibrated.source
    assert calibrated.seconds == pytest.approx(costs_lib.training_flops(cfg) / 1e9 + costs_lib.RUN_OVERHEAD_S["cpu"])
    with pytest.raises(ValueError, match="cpu, cuda"):
        costs_lib.CostTable().run(cfg, "tpu")


def test_the_cost_table_is_measured_from_records():
    records = [{"kind": "run", "status": "ok", "config": {"model": "mlp6", "method": "plain", "batch_size": 10},
                "metrics": {"steps": s, "wall_time_s": w}, "provenance": {"device": "cpu: test (2 threads)"}}
               for s, w in ((100, 10.0), (100, 12.0), (2, 5.0))]        # the tiny run is left out (start-up)
    table = costs_lib.CostTable.from_records(records)
    assert table.runs["cpu|mlp6|plain"]["s_per_image"] == pytest.approx(11.0 / 1000)
    assert table.runs["cpu|mlp6|plain"]["runs"] == 2
    assert table.run({"model": "mlp6", "method": "plain", "steps": 50, "batch_size": 10},
                     "cpu").seconds == pytest.approx(5.5)


def test_the_images_a_run_plans_follow_its_datasets_size():
    """Validation is cut before the per-class subset (as make_splits cuts it), so it does not
    shrink a per-class subset; it does shrink the full training set."""
    cfg = {"epochs": 2, "train_per_class": 10, "val_fraction": 0.5}
    datasets = ("cifar10", "cifar100-20", "svhn")
    assert [costs_lib.planned_images({**cfg, "dataset": d}) for d in datasets] == [200, 400, 200]
    assert costs_lib.planned_images({"epochs": 2, "val_fraction": 0.2, "dataset": "cifar10"}) == 80_000
    assert costs_lib.planned_images({"epochs": 1, "dataset": "svhn"}) == 73_257
    assert costs_lib.planned_images({"steps": 5, "batch_size": 8, "dataset": "svhn"}) == 40


def test_the_flops_of_asymmetric_branches_count_the_active_ones():
    one, every = ({"model": "mlp6", "method": "asymmetric", "steps": 10, "batch_size": 10,
                   "method_options": {"n_branches": 300, "activation": a}} for a in ("last", "all"))
    assert costs_lib.training_flops(every) > 5 * costs_lib.training_flops(one)
    wider = {**every, "dataset": "cifar100"}      # 300 branches of 100 logits, not 10
    assert costs_lib.training_flops(wider) > 5 * costs_lib.training_flops(every)


def test_what_a_profile_buys_is_the_median_accuracy_of_its_stored_runs_per_model():
    runs = [{"kind": "run", "config": {"model": m}, "metrics": {"final_test_acc": a}}
            for m, a in (("cnn6", 0.40), ("cnn6", 0.50), ("cnn6", 0.47), ("vit6", 0.3), ("vit6", float("nan")))]
    analysis = {"kind": "analysis", "config": {"model": "cnn6"}, "metrics": {"final_test_acc": 0.9}}
    assert plan_lib.accuracy_by_model(runs + [analysis]) == "cnn6 47% (3), vit6 30% (1)"
    assert plan_lib.accuracy_by_model([]) == ""


def test_each_chapters_ledger_notebooks_are_the_ones_that_show_its_claims_ledger():
    for chapter in chapters_lib.CHAPTERS:
        folder = REPO / "notebooks" / chapter
        showing = {p.stem for p in folder.glob("*.ipynb")
                   if any(c["cell_type"] == "code" and re.search(r"\bledgers?\b", "".join(c["source"]))
                          for c in json.loads(p.read_text())["cells"])}
        assert set(chapters_lib.module(chapter).LEDGER_NOTEBOOKS) == showing, chapter


# ----------------------------------------------------------------------------- the run

@needs_cifar10
def test_a_small_campaign_runs_its_queue_and_its_export_merges_into_the_store(monkeypatch, tmp_path):
    toy.install(monkeypatch)
    cache = ResultsCache(tmp_path / "cache", store=Store(tmp_path / "store"))
    items = plan_lib.queue("cpu", "smoke", chapters=("toy",), costs=TOY_COSTS, cache=cache)
    report = run_lib.run_campaign("cpu", 600, tmp_path / "out", profile="smoke", chapters=("toy",), cache=cache,
                                  items=items, run_self_test=False, log=lambda *_: None)
    assert report["self_test"] == {} and report["fallbacks"]["engine"] == "auto"
    assert [u["status"] for u in report["units"]] == ["ok"] * 4 and report["exported"] == 6
    assert report["throughput"]["images"] == 2 * 2 * 10 + 2 * 3 * 10
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["campaign.json", "records.jsonl.gz"]
    merged = merge([tmp_path / "out" / "records.jsonl.gz"], Store(tmp_path / "published"))
    again = merge([tmp_path / "out" / "records.jsonl.gz"], Store(tmp_path / "published"))
    assert merged.added == 6 and again.added == 0 and not again.conflicts
    shards = {Path(s).name for s, _ in read_records([tmp_path / "published"])}
    assert {re.sub(r":\d+$", "", s) for s in shards} == {"smoke.jsonl.gz"}
    assert all(r["labels"] == {"chapter": "toy", "profile": "smoke"} for _, r in read_records([tmp_path / "published"]))
    again = run_lib.run_campaign("cpu", 600, tmp_path / "out2", profile="smoke", chapters=("toy",), cache=cache,
                                 run_self_test=False, log=lambda *_: None)
    assert again["units"] == [] and again["queue"] == []          # nothing left: the cache holds it all


@needs_cifar10
def test_a_failing_vmap_engine_falls_back_to_the_loop(monkeypatch, tmp_path):
    import aux_core.multiseed as multiseed

    def broken(*args, **kwargs):
        raise RuntimeError("vmap is broken here")
    monkeypatch.setattr(multiseed, "train_group", broken)
    checks = run_lib.self_test("cpu")
    assert not checks["vmap"]["ok"] and "vmap is broken here" in checks["vmap"]["detail"]
    assert checks["checkpoint"]["ok"] and checks["bf16"]["ok"]
    assert run_lib.fallbacks(checks) == {"engine": "loop", "amp": True, "checkpoint_every": 1, "aggregators": True}
    toy.install(monkeypatch)
    cache = ResultsCache(tmp_path / "cache", store=Store(tmp_path / "store"))
    items = [it for it in plan_lib.queue("cpu", "smoke", chapters=("toy",), costs=TOY_COSTS, cache=cache)
             if it.grid == "claims_grid"]
    report = run_lib.run_campaign("cpu", 600, tmp_path / "out", cache=cache, items=items, log=lambda *_: None)
    assert report["fallbacks"]["engine"] == "loop"
    assert [(u["status"], u["engine"]) for u in report["units"]] == [("ok", "loop")]


@needs_cifar10
def test_a_seed_group_the_vmap_engine_cannot_train_is_retrained_one_seed_at_a_time(monkeypatch, tmp_path):
    """A failure the self-test did not foresee (a model vmap cannot batch on that device) costs
    one attempt, not the unit."""
    import aux_core.multiseed as multiseed

    def broken(*args, **kwargs):
        raise RuntimeError("no batching rule here")
    monkeypatch.setattr(multiseed, "train_group", broken)
    toy.install(monkeypatch)
    cache = ResultsCache(tmp_path / "cache", store=Store(tmp_path / "store"))
    item = next(it for it in plan_lib.queue("cpu", "smoke", chapters=("toy",), costs=TOY_COSTS, cache=cache)
                if it.grid == "claims_grid")
    payload = run_lib.unit_payload(item, item.units[0], {**run_lib.fallbacks({}), "engine": "vmap"})
    entry = run_lib.run_unit(payload, str(cache.root))
    assert (entry["status"], entry["engine"], entry["runs"]) == ("ok", "loop", 2)
    assert "no batching rule here" in entry["fallback"]
    monkeypatch.setattr(multiseed, "train_group", broken)
    failed = run_lib.run_unit({**payload, "engine": "loop", "configs": [{**payload["configs"][0], "lr": -1.0}]})
    assert failed["status"] == "failed" and "fallback" not in failed   # the loop's own failure is reported as such


def test_without_torchjd_the_self_test_says_so_and_the_aggregated_units_are_skipped(monkeypatch):
    """The GPU image lacks TorchJD unless a window carries its wheels: the campaign must not
    spend the window failing one aggregated unit after another."""
    for name in ("torchjd", "torchjd.aggregation", "torchjd.autojac"):
        monkeypatch.setitem(sys.modules, name, None)   # absent: importing it fails
    checks = run_lib.self_test("cpu")
    assert not checks["torchjd"]["ok"] and "torchjd" in checks["torchjd"]["detail"]
    assert checks["vmap"]["ok"] and checks["checkpoint"]["ok"]
    fixes = run_lib.fallbacks(checks)
    assert fixes["aggregators"] is False and fixes["engine"] == "auto"

    def payload(grid, aggregator=None, analysis=False):
        opts = {"alpha": 0.3} | ({"aggregator": aggregator} if aggregator else {})
        configs = [{"analysis": "landscape"}] if analysis else [{"method": "ds", "method_options": opts}]
        return {"chapter": "bench", "grid": grid, "analysis": analysis, "configs": configs, "est_s": 2.0}
    payloads = [payload("plain"), payload("summed", "sum"), payload("pcgrad", "pcgrad"), payload("an analysis",
                                                                                                analysis=True)]
    report, lines = {"skipped": []}, []
    kept = run_lib.runnable(payloads, fixes, report, log=lines.append)
    assert [p["grid"] for p in kept] == ["plain", "summed", "an analysis"]
    assert report["skipped"] == [{"chapter": "bench", "grid": "pcgrad", "est_s": 2.0, "why": "needs TorchJD"}]
    assert "campaign wheels" in lines[0]
    assert run_lib.runnable(payloads, run_lib.fallbacks({}), {"skipped": []}) == payloads   # TorchJD here: all run


def test_the_carried_wheels_are_the_versions_tested_here():
    from importlib.metadata import version

    from aux_core.campaign import wheels
    pins = dict(w.split("==") for w in wheels.CARRIED)
    assert pins == {name: version(name) for name in pins}
    assert '"torchjd[quadprog_projector]==%s"' % pins["torchjd"] in (REPO / "pyproject.toml").read_text()
    cmd = wheels.download_command("/tmp/w")
    assert cmd[cmd.index("--python-version") + 1] == "3.12" and "--no-deps" in cmd and cmd[-3:] == list(wheels.CARRIED)
    assert wheels.install_line().startswith("python3 -m pip install") and "--no-index" in wheels.install_line()
    assert ".whl/" in (REPO / ".gitignore").read_text().split()


KILLED_CAMPAIGN = """
import sys
sys.path.insert(0, {tests!r})
import campaign_chapter as toy
toy.install()
from aux_core.campaign import plan, run
from aux_core.cache import ResultsCache
from aux_core.store import Store
if __name__ == "__main__":   # the workers are spawned: they import this file, and install the toy chapter too
    cache = ResultsCache({cache!r}, store=Store({store!r}))
    items = plan.queue("cpu", "smoke", chapters=("toy",), cache=cache)
    run.run_campaign("cpu", 600, {out!r}, chapters=("toy",), cache=cache, items=items, run_self_test=False,
                     workers={workers})
"""


@needs_cifar10
def test_a_killed_campaign_resumes_and_loses_only_the_units_in_flight(tmp_path, workers=2):
    """Two worker processes (the GPU window's path; one worker runs in process and shares the code)."""
    script = tmp_path / "campaign.py"
    paths = dict(tests=str(REPO / "tests"), cache=str(tmp_path / "cache"), store=str(tmp_path / "store"))
    script.write_text(KILLED_CAMPAIGN.format(out=str(tmp_path / "out"), workers=workers, **paths))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # the two analyses (queued last) take 10 s each, so the kill lands while they run, however loaded the machine
    proc = subprocess.Popen([sys.executable, str(script)], env={**env, "TOY_SUM_SLEEP_S": "10"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    log = tmp_path / "out" / "campaign.json"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        if log.exists() and json.loads(log.read_text()).get("units"):
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    first = json.loads(log.read_text())["units"]
    assert 1 <= len(first) < 4, "the kill came after the first unit and before the last"
    kept = {r["key"]: r["content_sha256"] for _, r in read_records([tmp_path / "out" / "records.jsonl.gz"])}
    assert len(kept) >= sum(u["runs"] for u in first)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    second = json.loads(log.read_text())
    assert len(first) + len(second["units"]) <= 4 + 1                # at most the one in flight runs again
    assert second["earlier"][0]["units"][:len(first)] == first         # the killed campaign's log is kept
    final = {r["key"]: r["content_sha256"] for _, r in read_records([tmp_path / "out" / "records.jsonl.gz"])}
    assert len(final) == 6 and all(final[k] == v for k, v in kept.items())   # finished runs were not retrained


# ----------------------------------------------------------------------------- the GPU image

NOT_ON_THE_GPU_IMAGE = ("papermill", "nbval", "nbformat", "nbclient", "jupyter_book", "myst_nb", "IPython", "ipykernel",
                        "ray", "hypothesis", "pytest", "torchjd", "quadprog", "qpsolvers")

IMPORT_CHECK = """
import sys
for name in {blocked!r}:   # absent, as on the GPU machine's image: importing them fails, find_spec says None
    sys.modules[name] = None
sys.path.insert(0, {tests!r})
import aux_core.campaign.cli, aux_core.campaign.run as run
import campaign_chapter as toy
toy.install()
from aux_core.campaign import plan
items = plan.queue("cpu", "smoke", chapters=("toy", "pipeline", "performance", "asymmetric", "lion_dg", "wamal", "dks",
                                            "bench"))
assert items, "an empty queue"
entry = run.run_unit(run.unit_payload(items[0], items[0].units[0], run.fallbacks({{}})))
assert entry["status"] == "ok", entry
print("ok", len(items))
"""


@needs_cifar10
def test_the_campaign_imports_and_trains_without_the_book_and_test_packages(tmp_path):
    code = IMPORT_CHECK.format(blocked=NOT_ON_THE_GPU_IMAGE, tests=str(REPO / "tests"))
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("ok"), done.stderr[-3000:]


def test_the_cli_refuses_bad_arguments_before_any_work():
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "aux_core.campaign", *args], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    for args, message in ((["plan", "--device", "tpu", "--budget-s", "5"], "invalid choice"),
                          (["plan", "--device", "cpu", "--budget-s", "-5"], "must be > 0"),
                          (["plan", "--device", "cpu", "--budget-s", "5", "--chapters", "toys"], "unknown chapter"),
                          (["plan", "--device", "cpu", "--budget-s", "5", "--chapters", "dks", "--items", "dks/mian"],
                           "unknown item(s) ['dks/mian']; available: dks/ablation, dks/gradients, dks/main, dks/noise"),
                          (["run", "--device", "cpu", "--budget-s", "5", "--out", "x", "--workers", "0"], ">= 1")):
        done = cli(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
