"""Training throughput (images/s) of every registered model, with `plain` and `ds`.

Two loops side by side, on this machine's CPU and on CUDA when present:
  baseline  the textbook loop: torchvision transforms on PIL images in a DataLoader (2 workers),
            a host-to-device copy per batch, fp32, a loss.item() per step
  aux_core  aux_core.train.run: data on the device, augmentation there, no per-step sync,
            channels-last, bf16 autocast on CUDA
Both train the same model, method (alpha 0.3), AdamW and batch size on real CIFAR-10 with crop
and flip. aux_core's time is the difference of two runs (warm-up steps, warm-up + timed steps),
so start-up and the final evaluation cancel out.

    python benchmarks/train_speed.py [--steps 20] [--warmup 5] [--models mlp6 cnn6]

Writes results/benchmarks/train_speed-<device>.csv and .json (the rows plus provenance).
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

from aux_core.data import load_dataset
from aux_core.methods import Batch, create_method
from aux_core.models import create_model, list_models
from aux_core.provenance import collect
from aux_core.settings import REPO_ROOT
from aux_core.train import RunConfig, resolve_device, run

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


def ours_images_per_s(model_name, method_name, device, warmup, steps):
    def timed(n):
        cfg = RunConfig(model=model_name, method=method_name,
                        method_options={"alpha": 0.3} if method_name == "ds" else {},
                        optimizer="adamw", lr=1e-3, weight_decay=0.05, batch_size=BATCH, steps=n, epochs=None,
                        train_per_class=BATCH * (warmup + steps) // 10 + 1, test_per_class=1, device=device.type)
        return run(cfg, cache=False, progress=False).metrics["train_time_s"]
    return steps * BATCH / (timed(warmup + steps) - timed(warmup))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    ap.add_argument("--models", nargs="*", default=list_models())
    ap.add_argument("--methods", nargs="*", default=["plain", "ds"])
    ap.add_argument("--out", default=str(REPO_ROOT / "results" / "benchmarks"))
    args = ap.parse_args()
    device = resolve_device("auto")
    ds = load_dataset("cifar10")
    rows = []
    for m in args.models:
        for meth in args.methods:
            base = baseline_images_per_s(m, meth, ds, device, args.warmup, args.steps)
            ours = ours_images_per_s(m, meth, device, args.warmup, args.steps)
            rows.append({"model": m, "method": meth, "baseline_img_s": round(base, 1),
                         "aux_core_img_s": round(ours, 1), "speedup": round(ours / base, 2)})
            print(rows[-1], flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kind = "cuda" if device.type == "cuda" else "cpu"
    frame = pd.DataFrame(rows)
    frame.to_csv(out / f"train_speed-{kind}.csv", index=False)
    prov = collect(device, ds.checksum, ds.source)
    prov.update({"batch_size": BATCH, "warmup_steps": args.warmup, "timed_steps": args.steps,
                 "torch_threads": torch.get_num_threads()})
    (out / f"train_speed-{kind}.json").write_text(json.dumps({"provenance": prov, "rows": rows}, indent=1))
    print(frame.to_string(index=False))
    print(f"geometric-mean speed-up: {np.exp(np.log(frame['speedup']).mean()):.2f}x")


if __name__ == "__main__":
    main()
