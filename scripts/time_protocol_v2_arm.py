"""CPU time of one protocol-v2 arm's epoch per placement and mode (sizes the run-here grid).

Trains each (placement, mode) for 3 epochs on random inputs of the long-tailed run's size (3,000 train
samples, 800 val, 1,657 test: the cost does not depend on the pixels), one torch thread, and prints a
table of *process* CPU seconds per epoch (val evaluation included) — a figure a busy machine inflates
much less than wall time. Writes ``reports/classifier/v2/timing.json`` and the upper-bound CPU hours
of the here-grid at its maximum epochs (early stopping only shortens it).

    PYTHONPATH=. .venv/bin/python scripts/time_protocol_v2_arm.py
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from training.classifier import protocol_v2 as P
from training.classifier.adapt import AdaptConfig, Data, build, train

EPOCHS = 3
CASES = [("dense", "lora+head"), ("dense", "head"), ("dense", "lora"), ("conv-early", "lora+head"),
         ("conv-late", "lora+head")]


def fake_data(backbone, model, n: int = 3000) -> Data:
    g = torch.Generator().manual_seed(0)
    d = object.__new__(Data)
    d.x = torch.rand(n, 1, 28, 28, generator=g)
    d.y = torch.randint(0, 345, (n,), generator=g)
    d.counts = np.bincount(d.y.numpy(), minlength=345).astype(np.float32)
    d.teacher = torch.cat([backbone.teacher(model, d.x[i:i + 512]) for i in range(0, n, 512)])
    d._prefixed = {}
    d.val = (torch.rand(800, 1, 28, 28, generator=g), torch.randint(0, 345, (800,), generator=g))
    d.test = (torch.rand(1657, 1, 28, 28, generator=g), torch.randint(0, 345, (1657,), generator=g))
    d.train_keys, d.longtail = n, None
    return d


def main() -> int:
    torch.set_num_threads(1)
    base = AdaptConfig(epochs=EPOCHS, init_head="", cap_rank=True, progress=False, batch=128, lr=2e-3,
                       head_lr=1e-3, longtail=100.0, loss="qmw", out="runs/classifier/v2-timing/x")
    backbone, model, _ = build(base)
    data = fake_data(backbone, model)
    per_epoch = {}
    for placement, mode in CASES:
        cfg = replace(base, placement=placement, mode=mode, out=f"runs/classifier/v2-timing/{placement}-{mode}")
        c0 = time.process_time()
        train(cfg, data)
        per_epoch[f"{placement}/{mode}"] = (time.process_time() - c0) / EPOCHS
    max_epochs = P.SIZES["here"]["max_epochs"]
    arms = P.grid("here")
    upper = sum(per_epoch.get(f"{a.placement}/{a.mode}", per_epoch["dense/lora+head"]) for a in arms) * max_epochs
    print("| placement / mode | CPU s per epoch |\n|---|---|")
    for k, v in per_epoch.items():
        print(f"| {k} | {v:.2f} |")
    print(f"here-grid: {len(arms)} arms, at most {max_epochs} epochs each: <= {upper / 3600:.2f} h CPU")
    out = Path("reports/classifier/v2/timing.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"cpu_seconds_per_epoch": per_epoch, "here_arms": len(arms),
                               "max_epochs": max_epochs, "here_upper_bound_cpu_hours": upper / 3600,
                               "load_average": os.getloadavg(), "cpus": os.cpu_count(),
                               "python": sys.version.split()[0], "machine": platform.machine(),
                               "torch_threads": 1}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
