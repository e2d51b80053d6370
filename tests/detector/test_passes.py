"""How the detector picks between its passes (as is, and shrunk onto a larger canvas)."""

from PIL import Image

from services.detector.model import Detector


def _detector(passes: dict, margin: float) -> Detector:
    det = Detector.__new__(Detector)  # the choice only: no weights needed
    det.pads, det.pad_margin = tuple(passes), margin
    det._predict = lambda gray, pad: passes[pad]
    return det


def test_a_later_pass_wins_only_by_more_than_the_margin():
    parts = [((0, 0, 10, 10), 0.6, "object"), ((20, 0, 30, 10), 0.6, "object")]
    whole = [((0, 0, 30, 10), 0.7, "object")]
    image = Image.new("L", (32, 32), 255)
    assert _detector({1.0: parts, 2.0: whole}, 0.15).detect(image) == parts  # 0.7 is not above 0.6 + 0.15
    assert _detector({1.0: parts, 2.0: whole}, 0.0).detect(image) == whole
    surer = [((0, 0, 30, 10), 0.8, "object")]
    assert _detector({1.0: parts, 2.0: surer}, 0.15).detect(image) == surer
    assert _detector({1.0: [], 2.0: []}, 0.15).detect(image) == []
