"""Reliability: the results cache under faults and concurrency, sweeps through the local and
Ray executors (a real local Ray cluster), and property-based checks of input validation."""
import json
import multiprocessing as mp
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aux_core import executors, sweep
from aux_core.cache import ResultsCache, make_key
from aux_core.config import RunConfig

from conftest import needs_cifar10

TINY = dict(dataset="cifar10", train_per_class=2, test_per_class=1, model="mlp6", method="plain", epochs=None,
            steps=12, batch_size=10, optimizer="sgd", lr=0.05, device="cpu")


def tiny(**changes) -> RunConfig:
    return RunConfig(**{**TINY, **changes})


# ----------------------------------------------------------------------------- the cache

def test_a_tampered_record_fails_its_checksum_is_moved_aside_and_recomputed(tmp_path):
    cache = ResultsCache(tmp_path)
    key = make_key({"a": 1}, "d")
    cache.put(key, {"metrics": {"acc": 0.5}, "nan": float("nan")})
    assert cache.get(key)["metrics"]["acc"] == 0.5            # NaN survives the checksum round trip
    record = json.loads(cache.path(key).read_text())
    record["metrics"]["acc"] = 0.9                             # valid JSON, wrong content
    cache.path(key).write_text(json.dumps(record))
    with pytest.warns(UserWarning, match="does not match its checksum"):
        assert cache.get(key) is None
    assert cache.path(key).with_name(f"{key}.json.corrupt").exists() and not cache.path(key).exists()
    calls = []
    rec, cached = cache.get_or_compute(key, lambda: calls.append(1) or {"metrics": {"acc": 0.5}})
    assert (rec["metrics"]["acc"], cached, calls) == (0.5, False, [1])


def test_a_truncated_record_is_a_miss_and_is_moved_aside(tmp_path):
    cache = ResultsCache(tmp_path)
    key = make_key({"a": 2}, "d")
    cache.put(key, {"v": list(range(100))})
    text = cache.path(key).read_text()
    cache.path(key).write_text(text[: len(text) // 2])
    with pytest.warns(UserWarning, match="unreadable"):
        assert cache.get(key) is None
    assert key not in cache.keys()


def _compute_once(root: str, key: str, log: str) -> None:
    def compute():
        with open(log, "a") as f:
            f.write("computed\n")
        import time
        time.sleep(0.5)            # long enough for the other process to arrive meanwhile
        return {"v": 1}
    ResultsCache(root).get_or_compute(key, compute)


def test_two_processes_computing_one_key_compute_it_once(tmp_path):
    key = make_key({"a": 3}, "d")
    log = tmp_path / "log"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_compute_once, args=(str(tmp_path / "cache"), key, str(log))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert [p.exitcode for p in procs] == [0, 0]
    assert log.read_text() == "computed\n"
    assert ResultsCache(tmp_path / "cache").get(key)["v"] == 1


# ----------------------------------------------------------------------------- sweeps

@needs_cifar10
def test_sweep_through_local_workers_trains_only_whats_missing(tmp_path):
    cache = ResultsCache(tmp_path)
    configs = sweep.expand(tiny(), seed=[0, 1, 2], lr=[0.05])
    first = sweep.run_sweep(configs[:1], cache=cache, progress=False)        # one finished before a "kill"
    assert not first[0].cached
    results = sweep.run_sweep(configs, executor="local", workers=2, cache=cache, progress=False)
    assert [r.cached for r in results] == [True, False, False]
    assert [r.config["seed"] for r in results] == [0, 1, 2] and len(cache.keys()) == 3
    again = sweep.run_sweep(configs, cache=cache, progress=False)
    assert all(r.cached for r in again)
    assert [r.metrics["final_test_acc"] for r in again] == [r.metrics["final_test_acc"] for r in results]
    assert [r.steps["loss"].tolist() for r in again] == [r.steps["loss"].tolist() for r in results]


@needs_cifar10
def test_sweep_on_a_real_local_ray_cluster_matches_the_local_executor(tmp_path):
    pytest.importorskip("ray")
    configs = sweep.expand(tiny(), seed=[3, 4])
    by_ray = sweep.run_sweep(configs, executor="ray", workers=2, cache=ResultsCache(tmp_path / "ray"), progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(executors.RAY_TASK_THREADS)  # a CPU reduction's order depends on the thread count
    try:
        here = sweep.run_sweep(configs, cache=ResultsCache(tmp_path / "local"), progress=False)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(by_ray, here):
        assert a.key == b.key and a.status == b.status == "ok"
        assert a.provenance["device"] == b.provenance["device"]             # the same CPU and thread count
        assert a.steps["loss"].tolist() == b.steps["loss"].tolist()      # same machine, same numbers
    assert len(ResultsCache(tmp_path / "ray").keys()) == 2


def test_unknown_executor_and_bad_workers_fail_at_once(tmp_path):
    with pytest.raises(ValueError, match="unknown executor 'slurm'; available: local, ray"):
        sweep.run_sweep([], executor="slurm", cache=ResultsCache(tmp_path))
    with pytest.raises(ValueError, match="workers must be an integer >= 0"):
        sweep.run_sweep([], workers=-1, cache=ResultsCache(tmp_path))
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- validation, property-based

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(field=st.sampled_from(["batch_size", "eval_batch_size", "step_log_every", "probe_images"]),
       value=st.integers(max_value=0))
def test_counts_below_one_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"{field} must be an integer >= 1"):
        RunConfig(**{field: value})


@FAST
@given(field=st.sampled_from(["lr", "weight_decay", "momentum", "gamma", "warmup_epochs"]),
       value=st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False))
def test_negative_rates_are_refused_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"{field} must be a number >= 0"):
        RunConfig(**{field: value})


@FAST
@given(rate=st.one_of(st.floats(min_value=1.0, allow_nan=False, allow_infinity=False),
                      st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False)))
def test_noise_rates_outside_0_1_are_refused(rate):
    with pytest.raises(ValueError, match=r"label_noise must be (in \[0, 1\)|a number >= 0)"):
        RunConfig(label_noise=rate)


@FAST
@given(rate=st.floats(min_value=0.0, max_value=0.999, allow_nan=False), lr=st.floats(min_value=1e-8, max_value=10.0),
       batch=st.integers(min_value=1, max_value=4096), seed=st.integers(min_value=0, max_value=2 ** 31))
def test_in_range_values_are_accepted(rate, lr, batch, seed):
    cfg = RunConfig(label_noise=rate, lr=lr, batch_size=batch, seed=seed)
    assert (cfg.label_noise, cfg.batch_size) == (rate, batch)


@FAST
@given(alpha=st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False), n=st.integers(max_value=0))
def test_method_options_out_of_range_are_refused(alpha, n):
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        RunConfig(model="mlp6", method="asymmetric", method_options={"alpha": alpha})
    with pytest.raises(ValueError, match="n_branches must be an integer >= 1"):
        RunConfig(model="mlp6", method="asymmetric", method_options={"n_branches": n})


@FAST
@given(r=st.floats(max_value=-1e-12, allow_nan=False, allow_infinity=False))
def test_wamal_negative_r_is_refused(r):
    with pytest.raises(ValueError, match="r must be a number >= 0"):
        RunConfig(model="vgg16", method="wamal", method_options={"r": r})


@FAST
@given(name=st.text(min_size=1, max_size=12).filter(lambda s: s not in ("mlp6", "cnn6", "vit6")))
def test_unknown_model_names_list_the_allowed_ones(name):
    from aux_core.models import list_models
    if name in list_models():
        return
    with pytest.raises(ValueError, match="model=.* is not one of: .*resnet_ds"):
        RunConfig(model=name)


def test_step_schedule_needs_a_positive_step_size():
    with pytest.raises(ValueError, match="step_size must be >= 1 with schedule 'step'"):
        RunConfig(schedule="step", step_size=0)


@needs_cifar10
def test_a_bad_config_in_a_sweep_fails_before_any_run_or_file(tmp_path, monkeypatch):
    monkeypatch.setenv("AUX_CORE_RESULTS", str(tmp_path))
    with pytest.raises(ValueError, match="label_noise must be in"):
        sweep.run_sweep(sweep.expand(tiny(), label_noise=[0.0, 1.5]), progress=False)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- resumable runs

class Killed(Exception):
    pass


def _crash_after_checkpoints(monkeypatch, n: int):
    """Make the n-th checkpoint the last thing a run does (a kill right after it)."""
    from aux_core import train
    real, count = train.save_checkpoint, {"n": 0}

    def save(path, state):
        real(path, state)
        count["n"] += 1
        if count["n"] == n:
            raise Killed
    monkeypatch.setattr(train, "save_checkpoint", save)   # the one loop saves for both engines
    return lambda: monkeypatch.setattr(train, "save_checkpoint", real)


def _same_numbers(a, b):
    assert a.status == b.status and a.metrics["steps"] == b.metrics["steps"]
    assert a.steps.drop(columns="lr").equals(b.steps.drop(columns="lr"))
    assert a.history.equals(b.history)
    for k in ("final_train_loss", "final_test_acc", "final_test_loss"):
        assert a.metrics[k] == b.metrics[k]


@needs_cifar10
@pytest.mark.parametrize("changes", [
    dict(model="mlp6", method="asymmetric", method_options={"alpha": 0.5}, augment="crop_flip", steps=None, epochs=5),
    dict(model="resnet_ds", method="wamal", train_per_class=2, batch_size=10, steps=None, epochs=3),
    # the label pass on the auxiliary set: its data order must survive the kill too
    dict(model="resnet_ds", method="wamal", train_per_class=2, test_per_class=2, batch_size=10, steps=None, epochs=3,
         val_fraction=0.2, method_options={"aux_set": True}),
    # a label-net step every primary step on a 3-batch auxiliary set: the kill lands mid-cycle
    dict(model="resnet_ds", method="auxilearn", train_per_class=2, test_per_class=3, batch_size=10, steps=None,
         epochs=3, val_fraction=0.2, method_options={"update_every": 1}),
], ids=["asymmetric-mlp", "wamal-resnet", "wamal-aux-set", "auxilearn"])
def test_a_run_killed_after_a_checkpoint_resumes_to_the_same_numbers(tmp_path, monkeypatch, changes):
    from aux_core.runner import run
    cfg = tiny(**changes)
    calm = run(cfg, cache=ResultsCache(tmp_path / "calm"), progress=False)
    meta = cfg.method in ("wamal", "auxilearn")
    restore = _crash_after_checkpoints(monkeypatch, 1 if meta else 2)
    with pytest.raises(Killed):
        run(cfg, cache=ResultsCache(tmp_path / "chaos"), progress=False)
    key, chaos = sweep.cache_key(cfg), ResultsCache(tmp_path / "chaos")
    assert chaos.checkpoint_path(key).exists() and chaos.get(key) is None
    restore()
    resumed = run(cfg, cache=chaos, progress=False)
    _same_numbers(calm, resumed)
    if meta:
        assert resumed.metrics["extras"]["label_passes"] == [
            {**p, "seconds": q["seconds"]} for p, q in zip(calm.metrics["extras"]["label_passes"],
                                                          resumed.metrics["extras"]["label_passes"])]
        assert resumed.metrics["extras"].get("weights") == calm.metrics["extras"].get("weights")
    assert not chaos.checkpoint_path(key).exists()      # removed once the record is stored


@needs_cifar10
def test_a_seed_group_killed_after_a_checkpoint_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    """The multi-seed engine (vmap, the default on CUDA) checkpoints the whole group."""
    from aux_core.runner import run_all
    cfgs = [tiny(model="resnet_ds", method="ds", augment="crop_flip", train_per_class=2, batch_size=10, steps=None,
                 epochs=3, seed=s) for s in (0, 1)]
    calm = run_all(cfgs, cache=ResultsCache(tmp_path / "calm"), progress=False, engine="vmap")
    assert {r.metrics["engine"] for r in calm} == {"vmap"}
    restore = _crash_after_checkpoints(monkeypatch, 2)
    chaos = ResultsCache(tmp_path / "chaos")
    with pytest.raises(Killed):
        run_all(cfgs, cache=chaos, progress=False, engine="vmap")
    assert len(list(chaos.root.glob("checkpoints/*.pt"))) == 1 and chaos.keys() == []
    restore()
    resumed = run_all(cfgs, cache=chaos, progress=False, engine="vmap")
    for a, b in zip(calm, resumed):
        _same_numbers(a, b)
    assert list(chaos.root.glob("checkpoints/*.pt")) == []


@needs_cifar10
def test_a_sigkilled_run_resumes_from_its_checkpoint(tmp_path):
    """A real SIGKILL of a training process, then the same run again: same numbers."""
    import signal
    import subprocess
    import sys
    import time
    from aux_core.runner import run
    cfg = tiny(steps=None, epochs=12, train_per_class=5, batch_size=10)
    env = {**os.environ, "AUX_CORE_RESULTS": str(tmp_path / "chaos")}
    code = ("from aux_core.config import RunConfig; from aux_core.runner import run; import json, sys; "
            "run(RunConfig(**json.loads(sys.argv[1])), progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(cfg.to_dict())], env=env)
    key, chaos = sweep.cache_key(cfg), ResultsCache(tmp_path / "chaos" / "cache")   # the child's default cache
    ckpt = chaos.checkpoint_path(key)
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and chaos.get(key) is None
    resumed = run(cfg, cache=chaos, progress=False)
    calm = run(cfg, cache=ResultsCache(tmp_path / "calm"), progress=False)
    _same_numbers(calm, resumed)


def test_checkpoints_load_with_weights_only(tmp_path):
    import torch
    from aux_core import train
    train.save_checkpoint(tmp_path / "c.pt", {"step": 3, "rng": torch.get_rng_state(), "history": [{"a": 1.0}]})
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert state["step"] == 3 and state["history"] == [{"a": 1.0}]
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


@needs_cifar10
def test_staged_search_through_an_executor_matches_the_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("AUX_CORE_RESULTS", str(tmp_path))
    base = tiny(val_fraction=0.2, steps=6)
    stages = [("lr", [0.01, 0.1]), ("weight_decay", [0.0, 1e-3])]
    plain = sweep.staged_search(base, stages, progress=False)
    via = sweep.staged_search(base, stages, progress=False, executor="local", workers=2)
    assert via.best == plain.best
    assert via.trials.drop(columns="key").equals(plain.trials.drop(columns="key"))
