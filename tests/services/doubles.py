"""Small stand-ins for the three models, for plumbing tests (the integration test uses the real ones).

Injected into a worker process with ``SKETCHREF_<KIND>_LOADER=tests.services.doubles:<loader>``.
The detector finds ink blobs per column band, the classifier names them by position, and
``SKETCHREF_TEST_CLASSIFY_DELAY`` makes classification slow enough to kill a worker mid-task
(``SKETCHREF_TEST_DETECT_DELAY``, and ``SKETCHREF_TEST_RECOMMEND_DELAY`` per object, the other stages),
and ``SKETCHREF_TEST_LOAD_DELAY`` makes the detector's load slow (a worker that is not ready yet).
"""

from __future__ import annotations

import os
import time

import numpy as np

from services.core.contracts import Reference


def _sleep(variable: str) -> None:
    delay = float(os.environ.get(variable, "0"))
    if delay:
        time.sleep(delay)


class BandDetector:
    """One box per vertical band of ink separated by blank columns. Like a real detector it reports
    no specks: a band smaller than ``MIN_SIDE`` of the image's longer side both ways is not an object
    (so a lone dot finds nothing, the app's empty result)."""

    MIN_SIDE = 0.03

    def detect(self, gray):
        _sleep("SKETCHREF_TEST_DETECT_DELAY")
        ink = np.asarray(gray) < 128
        least = max(4.0, self.MIN_SIDE * max(ink.shape))
        cols = ink.any(axis=0)
        boxes, x = [], 0
        while x < len(cols):
            if cols[x]:
                x0 = x
                while x < len(cols) and cols[x]:
                    x += 1
                rows = np.where(ink[:, x0:x].any(axis=1))[0]
                box = [float(x0), float(rows[0]), float(x), float(rows[-1] + 1)]
                if box[2] - box[0] >= least or box[3] - box[1] >= least:
                    boxes.append((box, 0.9, "object"))
            x += 1
        return boxes


POISON_WIDTH = 77  # a box exactly this wide makes the classifier raise (a poisoned job in a batch)


class PositionClassifier:
    def classify(self, gray, boxes, top_k=5):
        delay = float(os.environ.get("SKETCHREF_TEST_CLASSIFY_DELAY", "0"))
        if delay:
            time.sleep(delay)
        if any(round(b[2] - b[0]) == POISON_WIDTH for b in boxes):
            raise ValueError("poisoned sketch")
        return [[(f"thing{int(b[0]) // 50}", 0.8), ("other", 0.1)][:top_k] for b in boxes]

    def classify_many(self, items):
        """One call for several sketches (cross-job batching); a poisoned one breaks the whole call."""
        self.batches = [*getattr(self, "batches", []), len(items)]
        return [self.classify(gray, boxes, top_k) for gray, boxes, top_k in items]


class EchoRecommender:
    def recommend(self, label, n, crop=None):
        _sleep("SKETCHREF_TEST_RECOMMEND_DELAY")
        return [Reference(provider="local", id=f"{label}-{i}", url=f"/r/{label}/{i}.jpg",
                          thumb_url=f"/r/{label}/{i}_t.jpg") for i in range(n)]


def load_detector():
    delay = float(os.environ.get("SKETCHREF_TEST_LOAD_DELAY", "0"))  # a slow model load (readiness tests)
    if delay:
        time.sleep(delay)
    return BandDetector()


def load_classifier():
    return PositionClassifier()


def load_recommender():
    return EchoRecommender()


DOUBLES_ENV = {
    "SKETCHREF_DETECTOR_LOADER": "tests.services.doubles:load_detector",
    "SKETCHREF_CLASSIFIER_LOADER": "tests.services.doubles:load_classifier",
    "SKETCHREF_RECOMMENDER_LOADER": "tests.services.doubles:load_recommender",
}
