"""The stage interfaces: what the recognition core (:mod:`services.common.pipeline`) asks of the
detector, the classifier and the reference provider. Typed :class:`~typing.Protocol` s, so any object
with these methods fits; the core never needs to import a stage package to know what it gets.

Each stage package keeps a small registry of its implementations by name:
:mod:`services.detector.registry` (``Detector``), :mod:`services.classifier.registry` (the
classifier's ``Backbone`` s) and :mod:`services.recommender.providers` (``ReferenceProvider``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from PIL import Image

from .contracts import Reference

Box = tuple[float, float, float, float]
# (box in input pixels, confidence, the detector's own label: "object" when class-agnostic)
Detection = tuple[Box, float, str]
# per object, (label, probability) best first
Ranked = list[tuple[str, float]]


@runtime_checkable
class Detector(Protocol):
    def detect(self, gray: Image.Image) -> list[Detection]:
        """Boxes in input pixels of a greyscale sketch, most confident first."""
        ...


@runtime_checkable
class Classifier(Protocol):
    def classify(self, gray: Image.Image, boxes: list[list[float]], top_k: int = 5) -> list[Ranked]:
        """For each box of ``gray``, its ``top_k`` labels with probabilities, best first."""
        ...


@runtime_checkable
class ReferenceProvider(Protocol):
    def recommend(self, label: str, n: int = 6, crop: Image.Image | None = None) -> list[Reference]:
        """Up to ``n`` reference pictures for ``label``, best first; ``[]`` when none. Never raises
        into a job: a provider that fails answers ``[]`` (or its fallback's answer)."""
        ...
