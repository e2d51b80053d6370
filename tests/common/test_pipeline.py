"""The recognition core on inputs off the happy path, with the shipped models (no doubles)."""


import numpy as np
import pytest
from PIL import Image, ImageDraw

from services.core.imaging import encode_image
from services.core.pipeline import resolve_parts
from services.core.rendering import render_strokes
from services.embedded import load_recognizer

HOUSE = [[[0, 100, 100, 0, 0], [40, 40, 140, 140, 40]], [[0, 50, 100], [40, 0, 40]]]


class _NoRefs:
    def recommend(self, label, n, crop=None):
        return []


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer(recommender=_NoRefs())


def _dot():
    im = Image.new("L", (512, 512), 255)
    ImageDraw.Draw(im).ellipse((250, 250, 256, 256), fill=0)
    return im


@pytest.mark.parametrize("name,image", [
    ("blank", Image.new("L", (512, 512), 255)),
    ("all black", Image.new("L", (512, 512), 0)),
    ("dark blank", Image.new("RGB", (400, 700), (18, 18, 22))),
    ("strip", Image.new("L", (1, 4000), 255)),
    ("black strip", Image.new("L", (4000, 1), 0)),
    ("single dot", _dot()),
])
def test_degenerate_inputs_give_no_whole_image_box_and_nothing_confident(recognizer, name, image):
    objs = recognizer.recognize(encode_image(image), references=0).objects
    w, h = image.size
    for o in objs:
        x1, y1, x2, y2 = o.box
        assert (x2 - x1) * (y2 - y1) < 0.5 * w * h, name  # never the whole image
        assert not o.confident, name
    if name != "single dot":
        assert objs == [], name


def test_dark_mode_and_coloured_pen_find_the_same_drawing(recognizer):
    base = render_strokes(HOUSE, 512, 6, 0.2)
    mask = 1 - np.asarray(base, np.float32)[..., None] / 255
    looks = [base,
             Image.fromarray((np.array([20, 20, 26]) * (1 - mask) + 240 * mask).astype(np.uint8)),
             Image.fromarray((np.array([255, 239, 213]) * (1 - mask) + np.array([0, 110, 120]) * mask).astype(np.uint8))]
    boxes = []
    for im in looks:
        objs = recognizer.recognize(encode_image(im), references=0).objects
        assert len(objs) == 1
        boxes.append(np.array(objs[0].box))
        assert objs[0].labels[0].label == "house"
    assert np.abs(boxes[1] - boxes[0]).max() < 8 and np.abs(boxes[2] - boxes[0]).max() < 8


def test_a_photo_gets_no_confident_object(recognizer):
    photo = Image.new("RGB", (640, 480), (90, 140, 210))
    d = ImageDraw.Draw(photo)
    d.rectangle((0, 300, 640, 480), fill=(60, 110, 40))
    d.rectangle((80, 180, 300, 360), fill=(180, 160, 140))
    d.polygon([(70, 180), (190, 90), (310, 180)], fill=(150, 40, 30))
    d.ellipse((380, 60, 600, 320), fill=(30, 80, 30))
    objs = recognizer.recognize(encode_image(photo, "JPEG"), references=0).objects
    assert not any(o.confident for o in objs)


def test_resolve_parts_keeps_the_surer_of_whole_and_parts():
    whole, left, right, apart = (0, 0, 100, 50), (0, 0, 48, 50), (52, 0, 100, 50), (200, 0, 260, 50)
    assert resolve_parts([left, right, whole, apart], [0.5, 0.4, 0.8, 0.9]) == {2, 3}
    assert resolve_parts([left, right, whole, apart], [0.7, 0.6, 0.3, 0.9]) == {0, 1, 3}
    assert resolve_parts([left, apart], [0.1, 0.1]) == {0, 1}


def test_resolve_parts_whole_margin_favours_the_whole():
    whole, left, right = (0, 0, 100, 50), (0, 0, 48, 50), (52, 0, 100, 50)
    assert resolve_parts([left, right, whole], [0.7, 0.6, 0.6]) == {0, 1}
    assert resolve_parts([left, right, whole], [0.7, 0.6, 0.6], whole_margin=0.15) == {2}
