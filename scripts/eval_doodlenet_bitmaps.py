"""Prove the TF.js -> PyTorch conversion: DoodleNet's top-1 on Google's own 28x28 bitmaps.

    .venv/bin/python scripts/eval_doodlenet_bitmaps.py   # every bitmap in <shared>/data/quickdraw/bitmaps
"""

from __future__ import annotations

import numpy as np
import torch

from services.classifier.doodlenet import FILES, load_doodlenet
from services.common.assets import asset_dir
from training.data.quickdraw import bitmap_words, load_bitmaps
from training.eval.stats import wilson


def main() -> int:
    model, classes = load_doodlenet(asset_dir("models/doodlenet", FILES))
    correct = total = 0
    for word in bitmap_words():
        b = load_bitmaps(word)
        with torch.no_grad():
            pred = model(torch.from_numpy(b.astype(np.float32) / 255.0)[:, None]).argmax(1)
        hits = int((pred == classes.index(word)).sum())
        print(f"{word:>10} {len(b):>6} {hits / len(b):.3f}")
        correct, total = correct + hits, total + len(b)
    lo, hi = wilson(correct, total)
    print(f"{'overall':>10} {total:>6} {correct / total:.4f} (95% CI {lo:.4f}-{hi:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
