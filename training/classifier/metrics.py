"""The classifier's one accuracy function: the trainer's val/test metrics, the model card's test
metrics and the ablation all score predictions with :func:`accuracy`."""

from __future__ import annotations

import numpy as np


def accuracy(top5, y, per_class: bool = False) -> dict:
    """From each sample's top-5 class ids (best first, ``(N, 5)``) and its true class (``(N,)``):
    ``top1``, ``top5``, ``macro`` (the mean over classes of each class's top-1), ``worst10`` (the mean
    of the ten weakest classes' top-1) and ``n``; ``per_class`` adds each class's top-1 (sorted by class
    id) as ``per_class``. Arrays or tensors."""
    top5, y = np.asarray(top5), np.asarray(y)
    hit1 = top5[:, 0] == y
    hit5 = (top5 == y[:, None]).any(1)
    classes = np.array([hit1[y == c].mean() for c in np.unique(y)], dtype=np.float64)
    out = {"top1": float(hit1.mean()), "top5": float(hit5.mean()), "macro": float(classes.mean()),
           "worst10": float(np.sort(classes)[:10].mean()), "n": int(len(y))}
    if per_class:
        out["per_class"] = classes.tolist()
    return out
