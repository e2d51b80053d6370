"""How a detector loses single drawings: for the 250 val drawings of `eval recognition single
--split val --limit 250`, each one not found as exactly one object, with its boxes' IoU to the
drawing's ink, and whether any box lies inside another ("nested") or not ("side by side").

    python reports/recognition/detector-run8-candidate/singles_split.py MODEL_DIR
"""

from __future__ import annotations

import collections
import random
import sys
from pathlib import Path

import numpy as np

from services.classifier.model import load_classifier
from services.core import pipeline
from services.core.preprocess import clean_sketch
from services.detector.model import load_detector
from services.detector.settings import DetectorSettings
from training.classifier.renders import reference_image
from training.data.quickdraw import load_drawings


def main(model_dir: str) -> None:
    drawings = random.Random(0).sample(load_drawings("raw", split="val"), 250)
    detector = load_detector(DetectorSettings(model_dir=Path(model_dir), runtime="torch"))
    classifier = load_classifier()
    kinds: collections.Counter = collections.Counter()
    for d in drawings:
        gray = clean_sketch(reference_image(d).convert("L"))
        ys, xs = np.nonzero(np.asarray(gray) < 128)
        ink = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        found = pipeline.detect(gray, detector)
        kept = pipeline.classify(gray, found, classifier)
        if len(kept) == 1:
            continue
        nested = any(pipeline.inside(x.box, y.box) >= pipeline.PART_INSIDE for x in found for y in found if x is not y)
        kinds[(len(kept), "nested" if nested else "side by side")] += 1
        sys.stdout.write(f"{d.word}: {len(kept)} objects, IoU with the ink "
                         f"{sorted(round(pipeline.iou(o.box, ink), 2) for o in kept)}\n")
    sys.stdout.write(f"{dict(kinds)}\n")


if __name__ == "__main__":
    main(sys.argv[1])
