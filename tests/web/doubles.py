"""A classifier stand-in for working on the app without trained weights (``SKETCHREF_WEB_MODELS=doubles``).

It names every box with the same plausible, ranked Quick, Draw! labels (``SKETCHREF_WEB_DOUBLE_LABELS``,
comma-separated; default a cat and its look-alikes), so the real recommender finds real gallery photos.
The browser tests' real runs use the real classifier.
"""

from __future__ import annotations

import os

DEFAULT = "cat,lion,tiger,raccoon,dog"
SCORES = (0.81, 0.07, 0.04, 0.03, 0.02, 0.01)


class FixedClassifier:
    def classify(self, gray, boxes, top_k=5):
        names = [n.strip() for n in os.environ.get("SKETCHREF_WEB_DOUBLE_LABELS", DEFAULT).split(",") if n.strip()]
        ranked = list(zip(names, SCORES, strict=False))[:top_k]
        return [ranked for _ in boxes]


def load_classifier():
    return FixedClassifier()
