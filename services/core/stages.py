"""The stage interfaces: what the recognition core (:mod:`services.core.pipeline`) asks of the
detector, the classifier and the reference provider. Typed :class:`~typing.Protocol` s, so any object
with these methods fits; the core never needs to import a stage package to know what it gets.

Each stage package keeps a small registry of its implementations by name:
:mod:`services.detector.registry` (``Detector``), :mod:`services.classifier.registry` (the
classifier's ``Backbone`` s) and :mod:`services.recommender.providers` (``ReferenceProvider``).

:class:`ReferenceFiles` is what the gateway asks of the recommender when it serves the references a
job answered (the gallery's pictures, Unsplash's download event): the gateway receives an
implementation (:mod:`services.recommender.references`) when its app is built, it never imports one.
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


class DownloadNotTracked(Exception):
    """A picked photo's download event that was not sent, and why (``reason``):

    - ``bad_photo_id``: not a photo id of that source (nothing was sent);
    - ``not_configured``: this server has no access to that source;
    - ``not_found``: the source has no such photo;
    - ``rate_limited``: the source refuses for now (its rate limit);
    - ``rejected``: any other refusal (``status``: the source's HTTP status);
    - ``unreachable``: the source could not be reached (``status`` is None).
    """

    REASONS = ("bad_photo_id", "not_configured", "not_found", "rate_limited", "rejected", "unreachable")

    def __init__(self, reason: str, status: int | None = None, detail: str = "") -> None:
        if reason not in self.REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        super().__init__(f"{reason}: {detail or status}" if detail or status else reason)
        self.reason = reason
        self.status = status
        self.detail = detail


@runtime_checkable
class ReferenceFiles(Protocol):
    """What the gateway serves of the references: the local gallery's pictures by id, and the
    download event of a photo a user picked (sent server-side, with the source's key)."""

    def gallery_image(self, image_id: str, thumb: bool = False) -> tuple[bytes, str] | None:
        """The gallery photo ``image_id`` (or its thumbnail) and its content type; None when there is
        no such image. Raises when the gallery's storage cannot be read."""
        ...

    def track_download(self, photo_id: str, download_location: str | None = None) -> None:
        """Send the download event of Unsplash photo ``photo_id``. ``download_location`` (from the
        reference) is used only where it points at the configured API's own download path.
        Raises :class:`DownloadNotTracked` when the event was not sent."""
        ...
