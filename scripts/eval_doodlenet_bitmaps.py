"""DoodleNet on Google's own 28x28 bitmaps, and on our rendering of held-out drawings of the same words.

The first table proves the TF.js -> PyTorch conversion. The second asks how much of the accuracy lost
on our inputs is a rendering gap: the val+test drawings of the same words (strokes, not bitmaps),
rendered as a user's PNG (512 px, 6 px pen, 10% margin) and normalized by ``normalize_sketch`` as in
serving, through DoodleNet's own head. Equal accuracy means our preprocessing closes the domain gap
and what remains over all 345 classes is the model's own error.

    .venv/bin/python scripts/eval_doodlenet_bitmaps.py
"""

from __future__ import annotations

import numpy as np
import torch

from services.classifier.doodlenet import FILES, load_doodlenet
from services.common.assets import asset_dir
from services.core.preprocess import normalize_sketch
from training.classifier.renders import reference_image
from training.data.quickdraw import bitmap_words, load_bitmaps, load_drawings
from training.eval.stats import wilson


def _hits(model, classes: list[str], drawings) -> int:
    """How many drawings DoodleNet's head gets right, rendered and normalized as in serving."""
    x = torch.from_numpy(np.stack([normalize_sketch(reference_image(d)) for d in drawings]))[:, None]
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + 512]).argmax(1) for i in range(0, len(x), 512)]).numpy()
    return int((pred == np.array([classes.index(d.word) for d in drawings])).sum())


def _line(name: str, hits: int, n: int) -> str:
    lo, hi = wilson(hits, n)
    return f"{name:>10} {n:>6} {hits / n:.3f} (95% CI {lo:.3f}-{hi:.3f})"


def main() -> int:
    model, classes = load_doodlenet(asset_dir("models/doodlenet", FILES))
    words = bitmap_words()
    print("Google's bitmaps")
    correct = total = 0
    for word in words:
        b = load_bitmaps(word)
        with torch.no_grad():
            pred = model(torch.from_numpy(b.astype(np.float32) / 255.0)[:, None]).argmax(1)
        hits = int((pred == classes.index(word)).sum())
        print(f"{word:>10} {len(b):>6} {hits / len(b):.3f}")
        correct, total = correct + hits, total + len(b)
    print(_line("overall", correct, total))

    print("\nour rendering + normalize_sketch, val+test drawings of the same words")
    held_out = [d for split in ("val", "test") for d in load_drawings("raw", split=split)]
    same_words = [d for d in held_out if d.word in words]
    print(_line("overall", _hits(model, classes, same_words), len(same_words)))
    print(_line("345 words", _hits(model, classes, held_out), len(held_out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
