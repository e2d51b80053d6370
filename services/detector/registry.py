"""The detectors by name: a name maps to a loader ``(DetectorSettings | None) -> Detector``.

``yolo`` (the shipped ultralytics model, :func:`services.detector.model.load_detector`) is built in.
A new detector is a module with a loader registered by :func:`register_detector`; what it must
answer is :class:`services.core.stages.Detector`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from services.core.stages import Detector

from .settings import DetectorSettings

Loader = Callable[[DetectorSettings | None], Detector]

BUILTIN = {"yolo": "services.detector.model:load_detector"}
_LOADERS: dict[str, Loader] = {}


def register_detector(name: str) -> Callable[[Loader], Loader]:
    """Decorator: ``loader`` builds the detector called ``name``."""

    def add(loader: Loader) -> Loader:
        if name in _LOADERS or name in BUILTIN:
            raise ValueError(f"detector name {name!r} is taken")
        _LOADERS[name] = loader
        return loader

    return add


def detector_names() -> list[str]:
    return sorted({*BUILTIN, *_LOADERS})


def get_loader(name: str) -> Loader:
    if name in _LOADERS:
        return _LOADERS[name]
    if name in BUILTIN:
        module, attr = BUILTIN[name].split(":")
        loader: Loader = getattr(importlib.import_module(module), attr)
        return loader
    raise ValueError(f"unknown detector {name!r}; choose from {', '.join(detector_names())}")


def load(name: str = "yolo", settings: DetectorSettings | None = None) -> Detector:
    """The detector ``name``, loaded with ``settings`` (the environment's by default)."""
    return get_loader(name)(settings)
