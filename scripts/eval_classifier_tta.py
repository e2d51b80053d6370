"""Does test-time augmentation help the classifier? Val split, reference rendering, top-1.

Each val drawing is rendered as a user's PNG (512 px, 6 px pen, 10% margin) and normalized with
several pen widths and borders (and mirrored); DoodleNet's head and the shipped projections score
each variant, and the mean log-probabilities of a set of variants are compared with the plain input.

    .venv/bin/python scripts/eval_classifier_tta.py
"""

from __future__ import annotations

import numpy as np
import torch

from services.classifier.model import load_classifier
from services.core.preprocess import DEFAULT_NORM, SketchNorm, normalize_sketch
from training.classifier.renders import reference_image
from training.data.quickdraw import load_drawings

PENS, BORDERS = (0.040, DEFAULT_NORM.stroke, 0.065), (0.02, DEFAULT_NORM.padding, 0.09)


def main() -> int:
    torch.set_num_threads(1)
    clf = load_classifier()
    m, index = clf.model, {c: i for i, c in enumerate(clf.classes)}
    drawings = load_drawings("raw", split="val")
    y = np.array([index[d.word] for d in drawings])
    grays = [reference_image(d).convert("L") for d in drawings]
    logp = {}  # (pen, border, mirrored) -> (head, projections) log-probabilities
    with torch.inference_mode():
        for pen in PENS:
            for border in BORDERS:
                x = torch.from_numpy(np.stack([normalize_sketch(g, norm=SketchNorm(stroke=pen, padding=border))
                                               for g in grays]))[:, None]
                for mirrored in (False, True):
                    f = m.image_tower.features(x.flip(-1) if mirrored else x)
                    logp[(pen, border, mirrored)] = (m.image_tower.head(f).log_softmax(-1).numpy(),
                                                     m.logits_from_features(f).log_softmax(-1).numpy())
    plain = (DEFAULT_NORM.stroke, DEFAULT_NORM.padding, False)
    sets = {"plain": [plain], "pens": [(p, DEFAULT_NORM.padding, False) for p in PENS],
            "borders": [(DEFAULT_NORM.stroke, b, False) for b in BORDERS],
            "mirror": [plain, (DEFAULT_NORM.stroke, DEFAULT_NORM.padding, True)],
            "all 18": list(logp)}
    print(f"{'variants':<10} {'head':>6} {'proj.':>6} {'both':>6}   (val top-1, {len(y)} drawings)")
    for name, keys in sets.items():
        head = np.mean([logp[k][0] for k in keys], 0)
        proj = np.mean([logp[k][1] for k in keys], 0)
        acc = [float((z.argmax(1) == y).mean()) for z in (head, proj, head + proj)]
        print(f"{name:<10} {acc[0]:6.3f} {acc[1]:6.3f} {acc[2]:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
