"""Training and evaluation inputs for the classifier, made the way users make them.

Each drawing is rendered by :func:`render_strokes` as a user's sketch image (canvas size, pen width
and margin varied), then normalized by :func:`normalize_sketch`: the same two functions serving uses.
Results are cached per (split, variant, seed) because normalization dominates the cost.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np

from services.common.settings import ROOT
from services.core.preprocess import DEFAULT_NORM, SketchNorm, normalize_sketch
from services.core.rendering import render_strokes

from ..data.quickdraw import Drawing

CACHE = ROOT / ".cache" / "renders"

# The reference rendering of "a real drawing as a PNG" used by the acceptance bars.
REFERENCE = {"size": 512, "stroke_width": 6.0, "margin": 0.1}


def reference_image(d: Drawing):
    return render_strokes(d.strokes, **REFERENCE)


def random_render(d: Drawing, rng: random.Random):
    size = rng.choice([256, 384, 512, 512, 768, 1024])
    width = rng.uniform(0.004, 0.025) * size
    margin = rng.uniform(0.02, 0.25)
    return render_strokes(d.strokes, size, max(1.5, width), margin)


def normalized_batch(drawings: list[Drawing], variant: str, seed: int = 0,
                     norm: SketchNorm = DEFAULT_NORM, tag: str = "") -> np.ndarray:
    """``(N, 28, 28)`` float32 for ``variant`` = ``reference`` or ``random``; cached on disk.

    ``tag`` separates cache entries of lists with the same key_ids (e.g. another file format).
    """
    key = hashlib.sha1(
        ("|".join(d.key_id for d in drawings) + f"|{variant}|{seed}|{norm.to_dict()}"
         + (f"|{tag}" if tag else "")).encode(), usedforsecurity=False  # a cache key, not security
    ).hexdigest()[:16]
    path = CACHE / f"{variant}-{key}.npy"
    if path.exists():
        return np.load(path)
    rng = random.Random(seed)
    out = np.stack([
        normalize_sketch(reference_image(d) if variant == "reference" else random_render(d, rng), norm=norm)
        for d in drawings
    ]).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, out)
    return out
