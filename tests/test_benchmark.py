"""The benchmark script runs end to end and writes its results with provenance (no timing
assertions: speed is measured by the script, never by a test)."""
import json
import subprocess
import sys

import pandas as pd

from aux_core.settings import REPO_ROOT

from conftest import needs_cifar10

pytestmark = needs_cifar10


def test_benchmark_writes_every_loop_side_by_side(tmp_path):
    cmd = [sys.executable, str(REPO_ROOT / "benchmarks" / "train_speed.py"), "--models", "mlp6", "--methods", "ds",
           "--seeds", "2", "--steps", "1", "--group-steps", "1", "--warmup", "1", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    kind = next(tmp_path.glob("train_speed-*.csv")).stem.split("-")[1]
    frame = pd.read_csv(tmp_path / f"train_speed-{kind}.csv")
    assert list(zip(frame["loop"], frame["seeds"])) == [("baseline", 1), ("aux_core", 1), ("vmap", 2)]
    assert (frame["images_per_s"] > 0).all() and frame["speedup_vs_baseline"].iloc[0] == 1.0
    prov = json.loads((tmp_path / f"train_speed-{kind}.json").read_text())["provenance"]
    assert {"device", "git_commit", "torch", "data_checksum", "command"} <= set(prov)
