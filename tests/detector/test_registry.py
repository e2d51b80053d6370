"""Detectors by name; any object with ``detect`` fits the core, which is handed its stages."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from services.core.contracts import Reference
from services.core.pipeline import Recognizer
from services.core.stages import Classifier, Detector, ReferenceProvider
from services.detector import registry


class BoxOfInk:
    """One box around all the ink."""

    def detect(self, gray):
        bbox = Image.eval(gray.convert("L"), lambda v: 255 - v).getbbox()
        return [(tuple(float(v) for v in bbox), 0.9, "object")] if bbox else []


class Wide:
    def classify(self, gray, boxes, top_k=5):
        return [[("wide", 0.8), ("tall", 0.2)] if b[2] - b[0] > b[3] - b[1] else [("tall", 0.8), ("wide", 0.2)]
                for b in boxes]


class OneRef:
    def recommend(self, label, n=6, crop=None):
        return [Reference(provider="stub", id=label, url=f"file:///{label}.png", thumb_url=f"file:///{label}.png")]


@registry.register_detector("stub-ink")
def load_stub(settings=None):
    return BoxOfInk()


def test_registry_names_and_loads():
    assert registry.detector_names() == ["stub-ink", "yolo"]
    assert isinstance(registry.load("stub-ink"), Detector)
    assert registry.get_loader("yolo").__name__ == "load_detector"
    with pytest.raises(ValueError, match="unknown detector"):
        registry.load("nope")
    with pytest.raises(ValueError, match="taken"):
        registry.register_detector("yolo")(load_stub)


def test_the_core_runs_on_whatever_stages_it_is_given():
    assert isinstance(Wide(), Classifier) and isinstance(OneRef(), ReferenceProvider)
    im = Image.new("L", (200, 100), 255)
    ImageDraw.Draw(im).line((20, 50, 180, 60), fill=0, width=4)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    result = Recognizer(registry.load("stub-ink"), Wide(), OneRef()).recognize(buf.getvalue(), top_k=2)
    [obj] = result.objects
    assert obj.detector_label == "object" and obj.labels[0].label == "wide"
    assert [r.id for r in obj.references] == ["wide"]
    assert result.image.width == 200
