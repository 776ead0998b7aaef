"""The results store: keys derived from content, idempotent merges, conflicts, lossless packing,
stale records served and labelled, refresh, training refused, export, the CLI, the committed
store's integrity and size."""
import gzip
import json

import numpy as np
import pytest

from aux_core import records as R
from aux_core import settings
from aux_core import store as S
from aux_core.store import exchange as X
from aux_core.store.cli import main
from aux_core.cache import ResultsCache, TrainingRefused
from conftest import COMMITTED_STORE, needs_cifar10


def run_record(seed=0, acc=0.5, device="cpu: test", code="abc", steps=10, threshold=None, labels=("lion_dg", "cpu")):
    config = {"model": "mlp6", "method": "plain", "seed": seed, "device": "auto", "lr": 1e-3,
              "convergence_threshold": threshold}
    return {"kind": "run", "config": config, "status": "ok",
            "metrics": {"final_test_acc": acc, "wall_time_s": 1.0 + seed, "images_per_s": 100.0, "engine": "loop"},
            "history": {"step": [steps], "test_acc": [acc]},
            "steps": {"step": list(range(1, steps + 1)),
                      "loss": [float(np.float32(1 / (i + 1))) for i in range(steps)]},
            "diagnostics": {}, "provenance": {"code_version": code, "device": device, "data_checksum": "d" * 64,
                                              "created_utc": "2026-12-02T00:00:00+00:00"},
            "labels": {"chapter": labels[0], "profile": labels[1]}}


def test_keys_come_from_content_and_ignore_execution_fields_and_code():
    a, b = run_record(), run_record(code="other", device="cuda: H200")
    b["config"]["device"] = "cuda"
    assert R.record_key(a) == R.record_key(b) == R.run_key(a["config"], "d" * 64)
    assert R.record_key(run_record(seed=1)) != R.record_key(a)
    assert R.same_numbers(a, b)                    # timings and provenance are not numbers
    assert not R.same_numbers(a, run_record(acc=0.6))


def test_merge_is_idempotent_and_reports_conflicts_without_overwriting(tmp_path):
    store = S.Store(tmp_path)
    first = store.add([("a", run_record(0)), ("b", run_record(1))])
    assert (first.added, first.same, first.conflicts) == (2, 0, [])
    again = store.add([("a", run_record(0)), ("b", run_record(1, device="elsewhere", code="zzz"))])
    assert (again.added, again.same, again.conflicts) == (0, 2, [])
    size = store.size_bytes()
    clash = store.add([("c", run_record(0, acc=0.9, device="cuda: H200"))])
    assert clash.added == 0 and len(clash.conflicts) == 1
    key, shard, why = clash.conflicts[0]
    assert shard == "lion_dg/cpu" and "metrics" in why and "H200" in why
    assert store.get(key)["metrics"]["final_test_acc"] == 0.5 and store.size_bytes() == size
    forced = store.add([("c", run_record(0, acc=0.9))], replace=True)
    assert forced.replaced == 1 and S.Store(tmp_path).get(key)["metrics"]["final_test_acc"] == 0.9
    assert len(S.Store(tmp_path)) == 2 and S.Store(tmp_path).verify() == []


def test_the_same_content_gives_the_same_bytes(tmp_path):
    for root in (tmp_path / "a", tmp_path / "b"):
        S.Store(root).add([("x", run_record(s)) for s in (2, 0, 1)])
    assert (tmp_path / "a/lion_dg/cpu.jsonl.gz").read_bytes() == (tmp_path / "b/lion_dg/cpu.jsonl.gz").read_bytes()


def test_packing_is_lossless_and_compaction_keeps_what_chapters_read():
    rec = S.seal(run_record(steps=2000))
    line = S.to_line(rec)
    assert "__f32__" in line and "__i32__" in line and S.from_line(line) == rec
    assert S.verified(S.from_line(line))
    doubles = {"x": [0.1 * i for i in range(100)]}          # not float32-exact: kept as JSON numbers
    assert "__f32__" not in json.dumps(S.pack(doubles)) and S.unpack(S.pack(doubles)) == doubles
    thin = S.compact(rec)
    assert len(thin["steps"]["step"]) <= S.STEP_ROWS and thin["steps"]["step"][-1] == 2000
    assert thin["compacted"] == {"steps_every": 4, "steps_logged": 2000} and S.compact(thin) == thin
    kept = S.compact(run_record(steps=2000, threshold=0.7))   # LION-DG reads every step
    assert len(kept["steps"]["step"]) == 2000 and "compacted" not in kept


def test_a_large_shard_is_cut_into_parts_that_read_back_as_one(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "PART_BYTES", 600)             # a few records a part
    store = S.Store(tmp_path)
    store.add([(str(i), run_record(seed=i, steps=40)) for i in range(6)])
    parts = store.shard_parts("lion_dg/cpu")
    assert [p.name for p in parts][:2] == ["cpu.jsonl.gz", "cpu-2.jsonl.gz"] and len(parts) >= 3
    assert [p.name for p in store.shards()] == sorted(p.name for p in parts)
    assert {store.shard_name(p) for p in parts} == {"lion_dg/cpu"}
    keys = [R.record_key(run_record(seed=i, steps=40)) for i in range(6)]
    fresh = S.Store(tmp_path)
    assert sorted(fresh.keys()) == sorted(keys) and {fresh.shard_for(k) for k in keys} == {"lion_dg/cpu"}
    assert all(fresh.get(k) is not None for k in keys)
    first = parts[0].read_bytes()
    store.add([("late", run_record(seed=9, steps=40))])     # an append leaves the earlier parts' bytes alone
    assert store.shard_parts("lion_dg/cpu")[0].read_bytes() == first
    assert store.remove(keys + [R.record_key(run_record(seed=9, steps=40))]) == 7
    assert store.shard_parts("lion_dg/cpu") == [] and store.shards() == []   # no part left behind


def test_a_record_that_fails_its_checksum_is_not_served(tmp_path):
    store = S.Store(tmp_path)
    store.add([("a", run_record())])
    path = tmp_path / "lion_dg/cpu.jsonl.gz"
    text = gzip.decompress(path.read_bytes()).decode().replace('"final_test_acc":0.5', '"final_test_acc":0.99')
    path.write_bytes(gzip.compress(text.encode()))
    tampered = S.Store(tmp_path)
    with pytest.warns(UserWarning, match="fails its checksum"):
        assert tampered.get(R.record_key(run_record())) is None
    assert len(tampered.verify()) == 1


def test_export_then_merge_elsewhere_round_trips(tmp_path):
    cache = tmp_path / "cache"
    for rec in (run_record(0), run_record(1, labels=("wamal", "gpu"))):
        ResultsCache(cache, store=False).put(R.record_key(rec), rec)
    files = X.export(tmp_path / "out", only=["wamal"], sources=[cache])
    assert [p.relative_to(tmp_path / "out").as_posix() for p in files] == ["wamal/gpu.jsonl.gz"]
    target = S.Store(tmp_path / "store")
    report = X.merge([tmp_path / "out"], store=target)
    assert report.added == 1 and X.merge([tmp_path / "out"], store=target).same == 1
    assert X.merge([cache], store=target).added == 1             # a local cache folder merges too


def test_merge_refuses_a_record_that_fails_the_checksum_it_carries(tmp_path):
    rec = S.seal(run_record())
    rec["metrics"]["final_test_acc"] = 0.0
    (tmp_path / "r.json").write_text(json.dumps(rec))
    report = X.merge([tmp_path / "r.json"], store=S.Store(tmp_path / "store"))
    assert report.added == 0 and report.invalid and "checksum" in report.invalid[0][1]


def test_cli_merge_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(settings.STORE_ENV, str(tmp_path / "store"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.json").write_text(json.dumps(run_record()))
    assert main(["merge", str(tmp_path / "in")]) == 0 and "1 added" in capsys.readouterr().out
    clash = run_record(acc=0.1)
    (tmp_path / "in" / "a.json").write_text(json.dumps(clash))
    assert main(["merge", str(tmp_path / "in")]) == 1 and "CONFLICT" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["merge", str(tmp_path / "missing")])
    assert main(["verify"]) == 0


@needs_cifar10
def test_a_stale_record_is_served_labelled_and_refreshed_on_request(tmp_path, monkeypatch):
    from aux_core.experiments.common import describe
    from aux_core.config import RunConfig
    from aux_core.runner import run_all
    cfg = RunConfig(model="mlp6", train_per_class=4, test_per_class=2, batch_size=8, epochs=None, steps=2, seed=3)
    fresh = run_all([cfg], cache=ResultsCache(tmp_path / "a", store=False), progress=False)[0]
    old = fresh.to_record()
    old["provenance"] = {**old["provenance"], "code_version": "0123456789abcdef"}
    store = S.Store(tmp_path / "store")
    assert store.add([("old", old)]).added == 1
    cache = ResultsCache(tmp_path / "b", store=store)
    served = run_all([cfg], cache=cache, progress=False)[0]
    assert served.cached and served.stale and served.metrics["final_test_acc"] == fresh.metrics["final_test_acc"]
    assert "1 of them made by an older code version" in describe([served])
    monkeypatch.setenv(settings.REFRESH_ENV, "1")
    again = run_all([cfg], cache=cache, progress=False)[0]
    assert not again.cached and not again.stale


@needs_cifar10
def test_training_is_refused_where_switched_off(tmp_path, monkeypatch):
    from aux_core.experiments import asymmetric as A
    from aux_core.config import RunConfig
    from aux_core.runner import run_all
    monkeypatch.setenv(settings.NO_TRAINING_ENV, "1")
    cfg = RunConfig(model="mlp6", train_per_class=4, test_per_class=2, batch_size=8, epochs=None, steps=2, seed=4)
    with pytest.raises(TrainingRefused, match="mlp6/plain seed 4"):
        run_all([cfg], cache=ResultsCache(tmp_path), progress=False)
    with pytest.raises(TrainingRefused, match="landscape"):
        A.landscape("MLP", 1, kind="paper", dataset="cifar10", grid=2, samples=4, seed=0, cache=ResultsCache(tmp_path))
    assert not list(tmp_path.rglob("*.json"))


def test_publishing_adds_new_records_to_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.PUBLISH_ENV, "1")
    monkeypatch.setenv(settings.LABELS_ENV, "dks/smoke")
    store = S.Store(tmp_path / "store")
    rec = run_record(labels=("", ""))
    rec.pop("labels")
    ResultsCache(tmp_path / "cache", store=store).put(R.record_key(rec), rec)
    assert [p.relative_to(tmp_path / "store").as_posix() for p in store.shards()] == ["dks/smoke.jsonl.gz"]


def test_the_committed_store_is_sound_and_small():
    store = S.Store(COMMITTED_STORE)
    assert store.verify() == []
    assert store.size_bytes() < S.SIZE_LIMIT, f"the results store is {store.size_bytes() / 2**20:.1f} MB"
    for record in store.records():
        prov = record["provenance"]
        assert {"code_version", "git_commit", "device", "data_checksum", "wall_time_s"} <= set(prov), record["key"]
        assert record["labels"]["chapter"] and record["labels"]["profile"]


@needs_cifar10
def test_the_readme_summary_is_the_committed_stores():
    from aux_core.experiments import chapters
    readme = (COMMITTED_STORE.parent.parent / "README.md").read_text()
    assert chapters.readme_block(chapters.summary(S.Store(COMMITTED_STORE))) in readme, \
        "README.md's store summary is out of date: run python -m aux_core.store summary --readme"


def test_label_from_grids_and_a_given_label(tmp_path):
    rec = run_record()
    rec.pop("labels")
    (tmp_path / "r.json").write_text(json.dumps(rec))
    store = S.Store(tmp_path / "store")
    X.merge([tmp_path / "r.json"], store=store, label="dks/cpu")
    assert [p.relative_to(store.root).as_posix() for p in store.shards()] == ["dks/cpu.jsonl.gz"]
    with pytest.raises(ValueError, match="label must be"):
        X.merge([tmp_path / "r.json"], store=store, label="dks")


def test_tests_and_their_notebook_kernels_use_private_folders():
    """conftest sets these at import, so nbval's kernels inherit them: no test writes into the
    committed store or the project's own results cache."""
    import os
    for name in (settings.RESULTS_ENV, settings.STORE_ENV):
        assert not os.environ[name].startswith(str(COMMITTED_STORE.parent)), name
    assert settings.store_dir() != COMMITTED_STORE and COMMITTED_STORE.parent not in settings.results_dir().parents


def test_prune_removes_only_what_the_shards_grids_do_not_need(tmp_path, monkeypatch, capsys):
    from aux_core.experiments import chapters
    monkeypatch.setenv(settings.STORE_ENV, str(tmp_path / "store"))
    kept, gone = run_record(0, labels=("dks", "smoke")), run_record(1, labels=("dks", "smoke"))
    migrated = {**run_record(2, labels=("dks", "smoke")), "kind": "migrated_run", "grid": "main"}
    S.Store().add([("a", kept), ("b", gone), ("c", migrated)])
    keep_key = R.record_key(kept)
    monkeypatch.setattr(chapters, "needed", lambda chapter, profile: {"main": (keep_key,)})
    assert main(["prune", "dks/smoke", "--dry-run"]) == 0 and "1 of 3 records" in capsys.readouterr().out
    assert len(S.Store()) == 3
    assert main(["prune", "dks/smoke"]) == 0 and "1 records removed" in capsys.readouterr().out
    assert set(S.Store().keys()) == {keep_key, R.record_key(migrated)} and S.Store().verify() == []
    with pytest.raises(SystemExit):
        main(["prune", "nochapter/smoke"])
