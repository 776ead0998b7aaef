"""Chaos check for sweeps: kill the driver or a worker at random moments, restart, repeat
until the sweep completes, then compare its table with an uninterrupted run's.

    python scripts/chaos_sweep.py --runs 8 --kills 20 --seed 0

Each attempt starts the sweep (local executor, 2 worker processes) in a child process
group and, after a random delay, SIGKILLs either the whole group (the driver and its
workers) or one worker; a kill that lands after the sweep finished counts as none. A
restarted sweep trains only what the cache lacks, and a run killed mid-way resumes from its
last checkpoint (written atomically every epoch: every 5 steps here). The check is that the
final table, every per-step loss of every run, is identical to an uninterrupted sweep's on
this machine, and that no half-written record or checkpoint is ever read.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SWEEP = """
import sys
from aux_core import sweep
from aux_core.train import RunConfig
base = RunConfig(dataset="cifar10", train_per_class=5, test_per_class=2, model="mlp6", method="asymmetric",
                 epochs=None, steps=60, batch_size=10, optimizer="sgd", lr=0.05, device="cpu")
configs = sweep.expand(base, seed=list(range({runs})), **{{"method_options.alpha": [0.5]}})
results = sweep.run_sweep(configs, executor="local", workers=2, progress=False)
import json
print(json.dumps([[r.key, r.status, r.steps["loss"].tolist(), r.metrics["final_test_acc"]] for r in results]))
"""


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def attempt(code: str, env: dict, rng: random.Random, max_delay: float) -> tuple[str | None, str]:
    """One try: returns (table, what was killed)."""
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    time.sleep(rng.uniform(0.5, max_delay))
    if proc.poll() is not None:
        out = proc.stdout.read()
        return (out.strip().splitlines()[-1] if proc.returncode == 0 and out.strip() else None), "none (finished)"
    workers = [c for c in children(proc.pid) if c != proc.pid]
    if workers and rng.random() < 0.5:
        victim = rng.choice(workers)
        os.kill(victim, signal.SIGKILL)
        what = "a worker"
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        what = "the driver and its workers"
    try:
        out, _ = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out = ""
    with_table = proc.returncode == 0 and out.strip()
    return (out.strip().splitlines()[-1] if with_table else None), what


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--kills", type=int, default=20, help="attempts with a kill before letting it finish")
    ap.add_argument("--max-delay", type=float, default=25.0, help="longest wait before a kill (s)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    code = SWEEP.format(runs=args.runs)
    with tempfile.TemporaryDirectory() as chaos_dir, tempfile.TemporaryDirectory() as calm_dir:
        base_env = {**os.environ, "PYTHONPATH": str(REPO)}
        env = {**base_env, "AUX_CORE_RESULTS": chaos_dir}
        survived, resumed, table, t0 = 0, 0, None, time.time()
        for i in range(args.kills):
            table, what = attempt(code, env, rng, args.max_delay)
            done = len(list(Path(chaos_dir).glob("cache/*/*.json")))
            resumable = len(list(Path(chaos_dir).glob("cache/checkpoints/*.pt")))
            resumed += resumable
            print(f"attempt {i + 1}: killed {what}; {done} of {args.runs} runs in the cache, "
                  f"{resumable} to resume from a checkpoint", flush=True)
            if what.startswith("none"):
                break
            survived += 1
        if table is None:
            out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, check=True)
            table = out.stdout.strip().splitlines()[-1]
        chaos_s = time.time() - t0
        t1 = time.time()
        calm = subprocess.run([sys.executable, "-c", code], env={**base_env, "AUX_CORE_RESULTS": calm_dir}, cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        calm_s = time.time() - t1
        corrupt = list(Path(chaos_dir).glob("cache/*/*.corrupt"))
        print(f"kills survived: {survived}; restarts that resumed a run from its checkpoint: {resumed}; "
              f"chaos sweep {chaos_s:.0f} s, uninterrupted {calm_s:.0f} s")
        print(f"records moved aside as corrupt: {len(corrupt)}")
        print("final table identical to the uninterrupted run:", table == calm)
        sys.exit(0 if table == calm else 1)


if __name__ == "__main__":
    main()
