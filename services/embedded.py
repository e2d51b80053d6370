"""The embedded default: the three stages loaded in this one process (no Redis, no S3, no workers).

The recognition core's :class:`~services.core.pipeline.Recognizer` receives its stages; it never
imports a stage package. This module is where the shipped ones are chosen and loaded for whoever
runs the whole pipeline in-process: ``sketchref recognize``, the benchmarks and the evaluations.
"""

from __future__ import annotations

from services.core.pipeline import Recognizer


def load_recognizer(detector=None, classifier=None, recommender=None) -> Recognizer:
    """A :class:`Recognizer` over the given stages; each one not given is the shipped default
    (``load_detector()``, ``load_classifier()``, ``load_recommender()`` with their settings)."""
    if detector is None:
        from services.detector.model import load_detector

        detector = load_detector()
    if classifier is None:
        from services.classifier.model import load_classifier

        classifier = load_classifier()
    if recommender is None:
        from services.recommender.providers import load_recommender

        recommender = load_recommender()
    return Recognizer(detector, classifier, recommender)
