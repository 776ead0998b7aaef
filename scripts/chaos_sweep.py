"""Chaos check for sweeps: kill the driver or a worker at random moments, restart, repeat
until the sweep completes, then compare its table with an uninterrupted run's; again, in
fresh rounds, until the number of kills asked for has been survived.

    python scripts/chaos_sweep.py --runs 8 --kills 20 --seed 0

Each attempt starts the sweep (local executor, 2 worker processes) in a child process
group and, after a random delay, SIGKILLs either the whole group (the driver and its
workers) or one worker, at most one uninterrupted sweep's duration after the start; a kill
that would land after the sweep finished counts as none. A
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
from aux_core.config import RunConfig
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
    ap.add_argument("--kills", type=int, default=20, help="kills in all, over as many rounds as they take")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    code = SWEEP.format(runs=args.runs)
    base_env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as calm_dir:
        t0 = time.time()
        calm = subprocess.run([sys.executable, "-c", code], env={**base_env, "AUX_CORE_RESULTS": calm_dir}, cwd=REPO,
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        calm_s = time.time() - t0
    print(f"uninterrupted sweep: {calm_s:.0f} s; kills land up to that long after a start", flush=True)
    kills = resumed = corrupt = rounds = identical = 0
    t0 = time.time()
    while kills < args.kills:  # one round: a fresh cache, killed until a start finishes the sweep
        rounds += 1
        with tempfile.TemporaryDirectory() as chaos_dir:
            env = {**base_env, "AUX_CORE_RESULTS": chaos_dir}
            table = None
            while table is None:
                table, what = attempt(code, env, rng, calm_s)
                done = len(list(Path(chaos_dir).glob("cache/*/*.json")))
                resumable = len(list(Path(chaos_dir).glob("cache/checkpoints/*.pt")))
                if not what.startswith("none"):
                    kills += 1
                    resumed += resumable
                print(f"round {rounds}, kill {kills}: killed {what}; {done} of {args.runs} runs in the cache, "
                      f"{resumable} to resume from a checkpoint", flush=True)
                if table is None and what.startswith("none"):  # finished but failed: show why
                    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True)
            corrupt += len(list(Path(chaos_dir).glob("cache/*/*.corrupt")))
            identical += table == calm
            print(f"round {rounds}: final table identical to the uninterrupted sweep's: {table == calm}", flush=True)
    print(f"kills survived: {kills} in {rounds} rounds ({time.time() - t0:.0f} s; "
          f"one uninterrupted sweep {calm_s:.0f} s); "
          f"restarts that resumed a run from its checkpoint: {resumed}; records moved aside as corrupt: {corrupt}")
    print(f"rounds whose final table is identical to the uninterrupted sweep's: {identical} of {rounds}")
    sys.exit(0 if identical == rounds else 1)


if __name__ == "__main__":
    main()
