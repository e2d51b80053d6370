"""Loading the shipped classifier and classifying the objects of a sketch.

``models/classifier/`` holds ``head.pt`` (projections, logit scale, class text embeddings), the class
list and ``config.json`` naming the backbone; the DoodleNet tower is converted from its TF.js files
at load time (see :mod:`services.classifier.doodlenet`). When ``config.json`` names an ``adapter``
(a sub-folder, e.g. ``"adapter": "lora-conv-all-v1"``), that folder is loaded instead: its own
``config.json`` (backbone, norm), ``head.pt`` and a peft LoRA adapter injected into the freshly
loaded base tower (see :mod:`services.classifier.registry`, :mod:`services.classifier.lora`). Either way
the backbone named in ``config.json`` builds the model: one build path per backbone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from services.core.preprocess import SketchNorm, normalize_sketch, object_crops

from .settings import ClassifierSettings, get_classifier_settings
from .vlm import SketchVLM


class Labels(list):
    """One object's ``(label, probability)`` pairs, best first, and ``ink``: the share of its
    normalised input (the 28x28 the model sees) covered by strokes. Hatching, shading and
    colouring-in cover more of it than drawings of things do (see ``max_ink``)."""

    ink: float = 0.0


class SketchClassifier:
    """Scores are calibrated probabilities: ``softmax(logits / temperature)``, the temperature fitted on
    val (``calibration`` in ``config.json``, see :mod:`training.eval.calibration`); a top label is
    ``confident`` when its score reaches ``threshold`` (chosen on val: confident answers right >= 90%)
    and its input is not denser than ``max_ink`` (chosen on val drawings: the 99th percentile of the
    ink share of their confident objects; denser marks are scribbles, hatching or shading, not things)."""

    def __init__(self, model: SketchVLM, classes: list[str], norm: SketchNorm, device: str = "cpu",
                 batch_size: int = 64, prepare=None, widen: float = 0.10, temperature: float = 1.0,
                 threshold: float = 0.5, own_ink: bool = True, max_ink: float = 1.0):
        self.own_ink, self.max_ink = own_ink, float(max_ink)
        self.temperature, self.threshold = float(temperature), float(threshold)
        self.threads = 0  # torch intra-op threads it was loaded for (0: torch's default)
        self.model = model.to(device).eval()
        self.widen = widen
        self.prepare = prepare
        self.classes = classes
        self.norm = norm
        self.device = device
        self.batch_size = batch_size

    def arrays(self, gray: Image.Image, boxes: list) -> np.ndarray:
        """``(N, side, side)`` normalised inputs, white strokes on black. Detector boxes can be a
        little tighter than the ink: widened (0.10, chosen on val); each crop holds its object's own
        ink only (``own_ink``, :func:`object_crops`; chosen on val)."""
        arrs = [normalize_sketch(c, norm=self.norm) for c in object_crops(gray, list(boxes), self.widen, self.own_ink)]
        return np.stack(arrs) if arrs else np.zeros((0, self.norm.side, self.norm.side), np.float32)

    def _prepared(self, arrs: np.ndarray) -> torch.Tensor:
        if self.prepare is not None:
            return self.prepare(arrs)
        return torch.from_numpy(np.ascontiguousarray(arrs, dtype=np.float32))[:, None]

    def tensors(self, gray: Image.Image, boxes: list) -> torch.Tensor:
        return self._prepared(self.arrays(gray, boxes))

    @torch.inference_mode()
    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out = [self.model(x[i:i + self.batch_size].to(self.device)).float().cpu()
               for i in range(0, len(x), self.batch_size)]
        return torch.cat(out) if out else torch.zeros(0, len(self.classes))

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        return (self.logits(x) / self.temperature).softmax(-1)

    def confident(self, labels: list[tuple[str, float]]) -> bool:
        """Is the top label of one object (as :meth:`classify` returns it) a confident answer?"""
        return bool(labels) and labels[0][1] >= self.threshold and getattr(labels, "ink", 0.0) <= self.max_ink

    def classify(self, gray: Image.Image, boxes: list, top_k: int = 5) -> list[Labels]:
        arrs = self.arrays(gray, boxes)
        return self._ranked(self.probabilities(self._prepared(arrs)), top_k, arrs)

    def classify_many(self, items) -> list[list[Labels]]:
        """``classify`` of several sketches, ``items`` = ``[(gray, boxes, top_k), ...]``, through ONE
        model call over all their boxes (cross-job batching: services/core/batching.py)."""
        arrs = [self.arrays(gray, boxes) for gray, boxes, _ in items]
        probs = (self.probabilities(self._prepared(np.concatenate(arrs))) if arrs
                 else torch.zeros(0, len(self.classes)))
        out, at = [], 0
        for a, (_, _, top_k) in zip(arrs, items, strict=True):
            out.append(self._ranked(probs[at:at + len(a)], top_k, a))
            at += len(a)
        return out

    def _ranked(self, probs: torch.Tensor, top_k: int, arrs: np.ndarray) -> list[Labels]:
        k = max(1, min(top_k, len(self.classes)))
        result = []
        for row, arr in zip(probs, arrs, strict=True):
            scores, idx = row.topk(k)
            labels = Labels((self.classes[i], round(float(s), 4)) for s, i in zip(scores, idx, strict=True))
            labels.ink = float(arr.mean())
            result.append(labels)
        return result


def load_classifier(settings: ClassifierSettings | None = None) -> SketchClassifier:
    """The shipped model folder: itself, or the adapter sub-folder its ``config.json`` names."""
    from services.common.model_source import service_model_dir

    s = settings or get_classifier_settings()
    model_dir = service_model_dir("classifier", s)
    cfg = json.loads((model_dir / "config.json").read_text())
    clf = load_adapted(model_dir / cfg.get("adapter", "."), device=s.device, batch_size=s.batch_size)
    if s.threads > 0:  # process-wide; a prefork child sets it again (serving.warm_child)
        clf.threads = s.threads
        torch.set_num_threads(s.threads)
    if cfg.get("calibration"):  # the shipped folder's calibration wins over its adapter's
        cal = calibration(cfg)
        clf.temperature, clf.threshold, clf.max_ink = cal["temperature"], cal["threshold"], cal["max_ink"]
    return clf


def calibration(cfg: dict) -> dict[str, float]:
    """``temperature``, ``threshold`` and ``max_ink`` from a ``config.json``'s ``calibration``
    (defaults: none)."""
    cal = cfg.get("calibration") or {}
    return {"temperature": float(cal.get("temperature", 1.0)), "threshold": float(cal.get("threshold", 0.5)),
            "max_ink": float(cal.get("max_ink", 1.0))}


def load_adapted(model_dir: str | Path, device: str = "cpu", batch_size: int = 64) -> SketchClassifier:
    """A classifier from an adapter folder: ``config.json``, ``head.pt``, optional LoRA, ``classes.txt``."""
    from . import lora
    from .labels import read_class_names
    from .registry import get_backbone

    model_dir = Path(model_dir)
    cfg = json.loads((model_dir / "config.json").read_text())
    backbone = get_backbone(cfg.get("backbone", "doodlenet"), cfg.get("model"))
    head = torch.load(model_dir / "head.pt", map_location="cpu", weights_only=True)
    classes = read_class_names(model_dir / "classes.txt") if (model_dir / "classes.txt").exists() else None
    model, classes = backbone.build(classes, head=head)
    if (model_dir / "adapter_config.json").exists():
        lora.load_adapter(backbone.lora_root(model), model_dir)
    norm = SketchNorm(**cfg["norm"]) if cfg.get("norm") else backbone.norm
    return SketchClassifier(model, classes, norm, device=device, batch_size=batch_size, prepare=backbone.prepare,
                            **calibration(cfg))
