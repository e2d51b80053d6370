"""How the detector picks between its passes (as is, and shrunk onto a larger canvas)."""

from PIL import Image

from services.detector.model import Detector


def _detector(passes: dict, margin: float) -> Detector:
    det = Detector.__new__(Detector)  # the choice only: no weights needed
    det.pads, det.pad_margin, det.keep_wholes = tuple(passes), margin, False
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


def test_keep_wholes_adds_the_other_pass_box_around_two_parts():
    """With ``keep_wholes`` a box of another pass that holds two chosen boxes is kept beside them
    (the classifier chooses later); boxes around one part, or repeating one, are not."""
    parts = [((0, 0, 10, 10), 0.6, "object"), ((20, 0, 30, 10), 0.6, "object")]
    whole = ((0, 0, 30, 10), 0.5, "object")
    one_part = ((0, 0, 12, 11), 0.5, "object")  # holds one part: a repeat, not a whole
    image = Image.new("L", (32, 32), 255)
    det = _detector({1.0: parts, 2.0: [whole, one_part]}, 0.15)
    assert det.detect(image) == parts
    det.keep_wholes = True
    assert det.detect(image) == parts + [whole]
    det = _detector({1.0: [whole], 2.0: parts}, 0.15)  # the whole chosen: parts are never added
    det.keep_wholes = True
    assert det.detect(image) == [whole]
