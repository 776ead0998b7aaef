"""Training throughput (images/s, every seed's images counted) of every registered model, with
`plain` and `ds`, for three loops measured side by side in one process:

  baseline  the textbook loop: torchvision transforms on PIL images in a DataLoader (2 workers),
            a host-to-device copy per batch, fp32, a loss.item() per step, one seed at a time
  aux_core  aux_core.train with one seed: data and augmentation on the device, no per-step
            host sync, channels-last, bf16 autocast and fused optimisers on CUDA
  vmap xS   aux_core.multiseed with S seeds trained as one batched computation

All three train the same model, method (alpha 0.3), AdamW and batch size on real CIFAR-10
with crop and flip. Each timing excludes warm-up: the baseline's first `--warmup` steps,
aux_core's first step (the metric `images_per_s` starts after it).

    python benchmarks/train_speed.py                         # defaults for this machine
    python benchmarks/train_speed.py --models mlp6 --seeds 4 8 --steps 20 --compile

Writes results/benchmarks/train_speed-<cpu|cuda>.csv and .json (rows plus provenance);
the book's performance page reads them.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch
import torchvision.transforms as T
from PIL import Image
from tqdm import tqdm

from aux_core.data import load_dataset
from aux_core.methods import Batch, create_method
from aux_core.models import create_model, list_models
from aux_core.multiseed import train_group
from aux_core.provenance import collect
from aux_core.settings import REPO_ROOT
from aux_core.config import RunConfig
from aux_core.devices import resolve_device
from aux_core.train import train_one

BATCH = 128


class PilDataset(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform):
        self.x, self.y, self.transform = x.permute(0, 2, 3, 1).numpy(), y, transform

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.x[i])), self.y[i]


def baseline_images_per_s(model_name, method_name, ds, device, warmup, steps):
    torch.manual_seed(0)
    model = create_model(model_name, ds.num_classes)
    method = create_method(method_name, **({"alpha": 0.3} if method_name == "ds" else {}))
    heads = method.build_heads(model, ds.num_classes)
    model.to(device), heads.to(device)
    opt = torch.optim.AdamW(list(model.parameters()) + list(heads.parameters()), lr=1e-3, weight_decay=0.05)
    tf = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(ds.mean, ds.std)])
    n = BATCH * (warmup + steps)
    loader = torch.utils.data.DataLoader(PilDataset(ds.train.x[:n], ds.train.y[:n], tf), batch_size=BATCH,
                                         shuffle=True, num_workers=2, drop_last=True, persistent_workers=False)
    ctx = SimpleNamespace(heads=heads, step=0)  # the StepContext fields plain and ds read
    t0 = None
    for i, (x, y) in enumerate(loader):
        if i == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        x, y = x.to(device), y.to(device)
        logits, taps = model(x)
        loss = sum(method.loss_terms(logits, taps, Batch(x, y), ctx).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # the textbook loop logs every step
    return steps * BATCH / (time.perf_counter() - t0)


def config(model_name, method_name, device, steps, seed=0, compile=False) -> RunConfig:
    """`steps` timed steps after one warm-up step; a test set of 10 images keeps the final
    evaluation negligible."""
    return RunConfig(model=model_name, method=method_name, method_options={"alpha": 0.3} if method_name == "ds" else {},
                     optimizer="adamw", lr=1e-3, weight_decay=0.05, batch_size=BATCH, steps=steps + 1, epochs=None,
                     train_per_class=BATCH * (steps + 1) // 10 + 1, test_per_class=1, device=device.type,
                     seed=seed, compile=compile)


def ours_images_per_s(model_name, method_name, ds, device, steps, seeds=1, compile=False) -> float:
    cfgs = [config(model_name, method_name, device, steps, seed, compile) for seed in range(seeds)]
    results = [train_one(cfgs[0], ds, progress=False)] if seeds == 1 else train_group(cfgs, ds, progress=False)
    return results[0].metrics["images_per_s"]  # a group's share of time: every seed's images per second


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=None, help="timed steps, one seed (default: 20 on CUDA, 6 on CPU)")
    ap.add_argument("--group-steps", type=int, default=None,
                    help="timed steps, S seeds (default: 20 on CUDA, 1 on CPU)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps of the baseline loop")
    ap.add_argument("--seeds", type=int, nargs="*", default=[4, 8, 16], help="group sizes S for vmap")
    ap.add_argument("--models", nargs="*", default=list_models())
    ap.add_argument("--methods", nargs="*", default=["plain", "ds"])
    ap.add_argument("--compile", action="store_true", help="also time aux_core with torch.compile (one seed)")
    ap.add_argument("--out", default=str(REPO_ROOT / "results" / "benchmarks"))
    args = ap.parse_args()
    device = resolve_device("auto")
    cuda = device.type == "cuda"
    steps = args.steps or (20 if cuda else 6)
    group_steps = args.group_steps or (20 if cuda else 1)
    ds = load_dataset("cifar10")
    loops = [("baseline", 1), ("aux_core", 1)] + ([("aux_core+compile", 1)] if args.compile else []) + \
            [("vmap", s) for s in args.seeds]
    rows = []
    bar = tqdm([(m, meth, lp) for m in args.models for meth in args.methods for lp in loops], desc="benchmark")
    for model_name, method_name, (loop, seeds) in bar:
        bar.set_postfix_str(f"{model_name}/{method_name}/{loop} x{seeds}")
        if loop == "baseline":
            img_s = baseline_images_per_s(model_name, method_name, ds, device, args.warmup, steps)
        else:
            img_s = ours_images_per_s(model_name, method_name, ds, device, group_steps if seeds > 1 else steps,
                                      seeds, compile=loop.endswith("compile"))
        rows.append({"model": model_name, "method": method_name, "loop": loop, "seeds": seeds,
                     "images_per_s": round(img_s, 1)})
        tqdm.write(str(rows[-1]))
    frame = pd.DataFrame(rows)
    base = frame[frame["loop"] == "baseline"].set_index(["model", "method"])["images_per_s"]
    frame["speedup_vs_baseline"] = [round(r.images_per_s / base[(r.model, r.method)], 2) for r in frame.itertuples()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kind = "cuda" if cuda else "cpu"
    frame.to_csv(out / f"train_speed-{kind}.csv", index=False)
    prov = collect(device, ds.checksum, ds.source)
    prov.update({"batch_size": BATCH, "baseline_warmup_steps": args.warmup, "timed_steps": steps,
                 "timed_steps_group": group_steps, "torch_threads": torch.get_num_threads(),
                 "command": "python benchmarks/train_speed.py " + " ".join(
                     f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                     for k, v in vars(args).items() if k not in ("out", "compile"))
                     + (" --compile" if args.compile else "")})
    (out / f"train_speed-{kind}.json").write_text(json.dumps({"provenance": prov, "rows": frame.to_dict("records")},
                                                             indent=1))
    print(frame.to_string(index=False))
    ours = frame[frame["loop"] == "aux_core"]["speedup_vs_baseline"]
    print(f"aux_core (one seed) vs baseline: geometric mean {np.exp(np.log(ours).mean()):.2f}x")


if __name__ == "__main__":
    main()
