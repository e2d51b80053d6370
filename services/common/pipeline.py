"""The recognition core: one sketch image in, every object found, labelled and given references out.

Each stage is a pure function over already-loaded models (``detect``, ``classify``, ``recommend``);
the Celery workers call exactly these, one stage per queue, and the embedded mode (``sketchref
recognize``) chains them in-process through :class:`Recognizer`. Models are imported lazily so this
module stays importable without torch (the gateway only uses the contracts around it).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

from PIL import Image

from .contracts import DetectedObject, ImageInfo, Label, Timings
from .imaging import load_image


def image_info(data: bytes, gray: Image.Image) -> ImageInfo:
    return ImageInfo(width=gray.width, height=gray.height, sha256=hashlib.sha256(data).hexdigest())


def detect(gray: Image.Image, detector) -> list[DetectedObject]:
    """Boxes in input pixels, most confident first; no labels yet."""
    return [DetectedObject(box=list(box), score=score, detector_label=label)
            for box, score, label in detector.detect(gray)]


def classify(gray: Image.Image, objects: list[DetectedObject], classifier, top_k: int = 5) -> list[DetectedObject]:
    """Fill ``labels`` (sorted by score) of every object from its box in ``gray``."""
    ranked = classifier.classify(gray, [o.box for o in objects], top_k=top_k)
    return [o.model_copy(update={"labels": [Label(label=n, score=s) for n, s in labels]})
            for o, labels in zip(objects, ranked, strict=True)]


def recommend(objects: list[DetectedObject], recommender, n: int = 6, gray: Image.Image | None = None
              ) -> list[DetectedObject]:
    """Fill ``references`` of every object from its top label; when a provider has nothing for it
    (a small local gallery), from the next candidates (up to the third). Empty when nothing matches."""
    out = []
    for o in objects:
        refs = []
        if n > 0:
            crop = gray.crop(tuple(int(v) for v in o.box)) if gray is not None else None
            # a label the user picked comes first (its references follow the pick)
            names = ([o.picked_label] if o.picked_label else []) + [c.label for c in o.labels[:3]]
            for name in dict.fromkeys(names):
                refs = recommender.recommend(name, n=n, crop=crop)
                if refs:
                    break
        out.append(o.model_copy(update={"references": refs}))
    return out


@dataclass
class Recognition:
    image: ImageInfo
    objects: list[DetectedObject]
    timings_ms: Timings = field(default_factory=Timings)


class Recognizer:
    """All three stages in one process (the embedded default)."""

    def __init__(self, detector=None, classifier=None, recommender=None):
        if detector is None:
            from services.detector.model import load_detector

            detector = load_detector()
        if classifier is None:
            from services.classifier.model import load_classifier

            classifier = load_classifier()
        if recommender is None:
            from services.recommender.providers import load_recommender

            recommender = load_recommender()
        self.detector, self.classifier, self.recommender = detector, classifier, recommender

    def recognize(self, source: bytes, top_k: int = 5, references: int = 6) -> Recognition:
        t0 = time.perf_counter()
        gray = load_image(source)
        info = image_info(source, gray)
        t1 = time.perf_counter()
        objects = detect(gray, self.detector)
        t2 = time.perf_counter()
        objects = classify(gray, objects, self.classifier, top_k)
        t3 = time.perf_counter()
        objects = recommend(objects, self.recommender, references, gray)
        t4 = time.perf_counter()
        ms = lambda a, b: round((b - a) * 1000, 2)  # noqa: E731
        return Recognition(info, objects, Timings(detect=ms(t1, t2), classify=ms(t2, t3),
                                                   recommend=ms(t3, t4), total=ms(t0, t4)))
