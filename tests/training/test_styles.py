import random

import numpy as np
import pytest

from services.core.preprocess import clean_sketch
from training.data.quickdraw import load_drawings
from training.data.styles import APPEARANCE, PARAMS, STYLES, gap_ranges, styled_scene


@pytest.fixture(scope="module")
def drawings():
    return load_drawings("raw", split="test", words=["cat", "house", "sun", "tree", "cup", "bicycle"])


def _disjoint(a, b):
    if isinstance(a, tuple) and len(a) == 2 and all(isinstance(v, (int, float)) for v in a):
        return a[1] <= b[0] or b[1] <= a[0]
    if isinstance(a, bool):
        return a != b
    return not set(map(tuple, a)) & set(map(tuple, b))


def test_train_and_eval_appearance_parameters_are_disjoint():
    for name, (train, ev) in PARAMS.items():
        assert _disjoint(train, ev), name
    tr, ev = gap_ranges("train"), gap_ranges("eval")
    assert all(a[1] <= b[0] or b[1] <= a[0] for a in tr for b in ev)
    assert min(r[0] for r in tr + ev) == 0 and max(r[1] for r in tr + ev) == 10


@pytest.mark.parametrize("style", STYLES)
def test_every_family_keeps_ink_boxes_and_cleans_back_to_the_drawing(style, drawings):
    s = styled_scene(drawings, random.Random(2), style, "eval")
    ink = np.asarray(clean_sketch(s.image)) < 128
    assert s.boxes and len(s.boxes) == len(s.words)
    for x1, y1, x2, y2 in s.boxes:
        assert ink[int(y1):int(y2) + 1, int(x1):int(x2) + 1].any()
    # little ink outside the boxes and the strays (paper grain, JPEG) after cleaning
    inside = np.zeros_like(ink)
    for x1, y1, x2, y2 in s.boxes + s.strays:
        inside[max(0, int(y1) - 2):int(y2) + 3, max(0, int(x1) - 2):int(x2) + 3] = True
    assert (ink & ~inside).sum() <= 0.02 * ink.sum() + 20, style
    if style in APPEARANCE:
        assert s.image.mode == "RGB"


def test_touching_family_puts_neighbours_0_to_10_px_apart(drawings):
    rng = random.Random(5)
    gaps = []
    for _ in range(6):
        s = styled_scene(drawings, rng, "touching", "eval")
        for a in s.boxes:
            d = min(max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]) for b in s.boxes if b is not a)
            gaps.append(d)
            assert d > -0.01  # never overlapping
    assert min(gaps) < 10 and np.median(gaps) <= 10


def test_overlap_family_overlaps(drawings):
    s = styled_scene(drawings, random.Random(1), "overlap", "eval")
    a, b = s.boxes[0], s.boxes[1]
    assert not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])
