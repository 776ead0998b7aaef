"""Where a sweep's runs train. An executor takes the configurations that are not in the
results cache yet and trains them; their records land in the cache, which is the only way
results come back, so a sweep killed part-way and started again trains only what is missing.

  local  in this process (workers=1), or `workers` processes on this machine sharing the
         cache (on a GPU machine several small runs share the device)
  ray    one Ray task per run: `ray.init()` starts a local cluster, or joins the one that
         RAY_ADDRESS names; a task asks for one GPU where the cluster has GPUs. A task returns
         its record and the driver stores it, so workers need no shared filesystem.

Two workers that reach the same configuration take turns on its key's lock in the cache
(`ResultsCache.lock`): the second finds the first's record and trains nothing.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from typing import Callable

from . import settings
from .cache import ResultsCache
from .config import RunConfig
from .runner import run_all

EXECUTORS = ("local", "ray")


def _train_share(configs: list[dict], root: str, gpu: int | None = None) -> None:
    """One worker's share, run by run: a run that raises is reported and the others go on.
    `gpu`: the one GPU this worker may see (set before CUDA starts in this process)."""
    import traceback
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    failed = 0
    for c in configs:
        try:
            run_all([RunConfig(**c)], cache=ResultsCache(root), progress=False)
        except Exception:  # noqa: BLE001 - report and keep the share going; the exit code tells the driver
            failed += 1
            print(f"FAILED {c['model']}/{c['method']} seed {c['seed']}:\n{traceback.format_exc()}", flush=True)
    if failed:
        raise SystemExit(1)


def local(configs: list[RunConfig], store: ResultsCache, workers: int = 1, progress: bool = True) -> None:
    """Train `configs` here: in this process, or in `workers` spawned processes; on a machine
    with several GPUs, worker i sees only GPU i mod their number."""
    if workers <= 1:
        run_all(configs, cache=store, progress=progress, desc="sweep")
        return
    ctx = mp.get_context("spawn")  # CUDA and fork do not mix
    shares = [[c.to_dict() for c in configs[i::workers]] for i in range(workers)]
    import torch
    n_gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    procs = [ctx.Process(target=_train_share, args=(share, str(store.root), i % n_gpus if n_gpus > 1 else None))
             for i, share in enumerate(shares) if share]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode]
    if failed:
        raise RuntimeError(f"{len(failed)} local worker(s) failed (exit codes {failed}); finished runs are cached, "
                           "run the sweep again to train the rest")


RAY_TASK_THREADS = 1  # a task holds one CPU: one intra-op thread (the numbers match a 1-thread local run)


def _ray_task(config: dict, root: str) -> tuple[str, dict]:
    import torch
    torch.set_num_threads(RAY_TASK_THREADS)
    result = run_all([RunConfig(**config)], cache=ResultsCache(root), progress=False)[0]
    return result.key, result.to_record()


def ray(configs: list[RunConfig], store: ResultsCache, workers: int = 0, progress: bool = True) -> None:
    """Train `configs` as Ray tasks on a local cluster (started here with `workers` CPUs, 0:
    all) or on the cluster RAY_ADDRESS names."""
    import ray as ray_lib
    from tqdm.auto import tqdm

    started = False
    if not ray_lib.is_initialized():
        env = {k: os.environ[k] for k in (settings.DATA_ENV, settings.RESULTS_ENV, settings.CACHE_ENV,
                                          settings.DOWNLOAD_ENV) if k in os.environ}
        address = os.environ.get("RAY_ADDRESS")
        ray_lib.init(address=address, num_cpus=None if address or not workers else workers,
                     runtime_env={"env_vars": env}, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        started = True
    try:
        gpus = 1 if ray_lib.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray_lib.remote(num_cpus=RAY_TASK_THREADS, num_gpus=gpus, max_retries=2)(_ray_task)
        pending = [task.remote(c.to_dict(), str(store.root)) for c in configs]
        bar = tqdm(total=len(pending), desc="sweep (ray)", disable=not progress)
        while pending:
            done, pending = ray_lib.wait(pending, num_returns=1)
            key, record = ray_lib.get(done[0])
            if store.get(key) is None:  # a worker without the driver's filesystem
                store.put(key, record)
            bar.update(1)
        bar.close()
    finally:
        if started:
            ray_lib.shutdown()


def get_executor(name: str) -> Callable:
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; available: {', '.join(EXECUTORS)}")
    return {"local": local, "ray": ray}[name]
