"""Touching drawings told apart by the order of their strokes (services/core/stroke_groups.py), and
the classifier's say over it (pipeline.split_by_strokes)."""

from __future__ import annotations

import pytest
from PIL import Image

from services.core import pipeline
from services.core.contracts import DetectedObject
from services.core.rendering import render_strokes
from services.core.stroke_groups import candidate_parts, prefer_parts


def square(x1, y1, x2, y2):
    return [[x1, x2, x2, x1, x1], [y1, y1, y2, y2, y1]]


def line(x1, y1, x2, y2):
    return [[x1, x2], [y1, y2]]


def box_of(*strokes, pen=4.0):
    xs = [x for s in strokes for x in s[0]]
    ys = [y for s in strokes for y in s[1]]
    return (min(xs) - pen / 2, min(ys) - pen / 2, max(xs) + pen / 2, max(ys) + pen / 2)


CUP = [square(20, 40, 100, 120), line(40, 60, 80, 60)]  # a drawing of two strokes
SAUCER = [square(104, 40, 184, 120), line(124, 100, 164, 100)]  # drawn next, its ink touching the cup's
WHOLE = [10.0, 30.0, 194.0, 130.0]


def test_two_touching_drawings_drawn_one_after_the_other_are_two_parts():
    parts = candidate_parts([WHOLE], CUP + SAUCER, 4.0)
    assert parts == {0: [box_of(*CUP), box_of(*SAUCER)]}


def test_three_in_a_row_are_three_parts_and_other_boxes_keep_their_strokes():
    third = [square(188, 40, 268, 120)]
    far = [square(400, 400, 450, 450), line(410, 420, 440, 420)]
    boxes = [[10.0, 30.0, 280.0, 130.0], [390.0, 390.0, 460.0, 460.0]]
    parts = candidate_parts(boxes, CUP + SAUCER + far + third, 4.0)
    assert parts == {0: [box_of(*CUP), box_of(*SAUCER), box_of(*third)]}  # far: one drawing, its own box


def test_a_chain_whose_joint_extents_overlap_is_still_cut():
    """A left, C under both A and B, then B right of A: no single cut in drawing order leaves two
    groups whose joint boxes are apart (A and B+C overlap, A+C and B overlap), but each drawing's own
    ink is apart from the others'."""
    a = [square(20, 20, 100, 100), line(40, 60, 80, 60)]
    c = [square(20, 104, 184, 160), line(40, 130, 160, 130)]
    b = [square(104, 20, 184, 100), line(120, 60, 170, 60)]
    parts = candidate_parts([[10.0, 10.0, 194.0, 170.0]], a + c + b, 4.0)
    assert parts == {0: [box_of(*a), box_of(*c), box_of(*b)]}


def test_drawings_whose_ink_overlaps_are_not_cut():
    over = [square(96, 40, 176, 120), line(116, 100, 156, 100)]  # 4 px of ink over the cup's
    assert candidate_parts([WHOLE], CUP + over, 4.0) == {}


def test_strokes_going_back_and_forth_between_two_drawings_are_not_cut():
    assert candidate_parts([WHOLE], [CUP[0], SAUCER[0], CUP[1], SAUCER[1]], 4.0) == {}


def test_details_inside_a_drawing_and_small_marks_beside_it_are_not_drawings():
    face = [square(20, 20, 120, 120), line(50, 50, 55, 50), line(85, 50, 90, 50), line(50, 90, 90, 90)]
    assert candidate_parts([[10.0, 10.0, 130.0, 130.0]], face, 4.0) == {}
    tail = [square(20, 20, 120, 120), line(120, 70, 135, 60)]  # a tail drawn last: 15 px of 100
    assert candidate_parts([[10.0, 10.0, 140.0, 130.0]], tail, 4.0) == {}


def test_nothing_to_cut_without_boxes_strokes_or_with_strokes_outside_every_box():
    assert candidate_parts([], CUP + SAUCER, 4.0) == {}
    assert candidate_parts([WHOLE], [], 4.0) == {}
    assert candidate_parts([[500.0, 500.0, 600.0, 600.0]], CUP + SAUCER, 4.0) == {}


def test_parts_win_only_when_the_classifier_is_as_sure_of_every_part():
    assert prefer_parts(0.3, [0.7, 0.5])
    assert not prefer_parts(0.5, [0.8, 0.3])  # every part, not on average
    assert not prefer_parts(0.9, [0.6, 0.95])  # a house: walls and roof are less of a thing than the house
    assert not prefer_parts(0.3, [])


class ByWidth:
    """A classifier double: sure (0.9) of boxes narrower than 120 pixels (each drawing alone) and
    unsure (0.3) of wider ones (the two together), or with ``wide=True`` the other way round."""

    def __init__(self, wide: bool = False):
        self.wide, self.calls = wide, []

    def classify(self, gray, boxes, top_k=5):
        self.calls.append([list(b) for b in boxes])
        return [[(f"w{int(b[2] - b[0])}", 0.9 if (b[2] - b[0] >= 120) == self.wide else 0.3)][:top_k]
                for b in boxes]


@pytest.fixture
def sketch() -> Image.Image:
    return render_strokes(CUP + SAUCER, size=(240, 160), stroke_width=4.0, margin=None)


def objects():
    return [DetectedObject(box=list(WHOLE), score=0.8, detector_label="object")]


def test_classify_with_strokes_cuts_a_box_the_classifier_prefers_in_parts(sketch):
    drawn = {"strokes": CUP + SAUCER, "stroke_width": 4.0}
    out = pipeline.classify(sketch, objects(), ByWidth(), top_k=1, strokes=drawn)
    assert [o.box for o in out] == [list(box_of(*CUP)), list(box_of(*SAUCER))]
    assert all(o.labels[0].score == 0.9 and o.score == 0.8 for o in out)
    # the whole is kept where the classifier is surer of it, and without strokes nothing is tried
    kept = pipeline.classify(sketch, objects(), ByWidth(wide=True), top_k=1, strokes=drawn)
    assert [o.box for o in kept] == [WHOLE]
    clf = ByWidth()
    assert [o.box for o in pipeline.classify(sketch, objects(), clf, top_k=1)] == [WHOLE]
    assert clf.calls == [[WHOLE]]


def test_classify_many_carries_each_jobs_strokes(sketch):
    drawn = {"strokes": CUP + SAUCER, "stroke_width": 4.0}
    out = pipeline.classify_many([(sketch, objects(), 1, drawn), (sketch, objects(), 1)], ByWidth())
    assert [len(o) for o in out] == [2, 1]


def test_drawings_in_no_box_are_proposed_and_stray_marks_are_not():
    from services.core.stroke_groups import unboxed_runs

    missed = [square(300, 40, 380, 120), line(320, 80, 360, 80)]
    tick = [line(200, 200, 206, 196)]
    assert unboxed_runs([WHOLE], CUP + SAUCER + missed + tick, 4.0, short_side=400) == [box_of(*missed)]
    assert unboxed_runs([WHOLE], CUP + SAUCER, 4.0, short_side=400) == []  # every stroke is boxed
    assert unboxed_runs([], CUP, 4.0, short_side=400) == [box_of(*CUP)]  # nothing boxed at all


class SureOf:
    """A classifier double, confident (0.9) only of boxes whose left edge is at ``x`` or beyond."""

    def __init__(self, x: float):
        self.x = x

    def classify(self, gray, boxes, top_k=5):
        return [[("far" if b[0] >= self.x else "near", 0.9 if b[0] >= self.x else 0.3)][:top_k] for b in boxes]


def test_a_drawing_the_detector_missed_is_added_only_when_the_classifier_is_sure_of_it():
    missed = [square(300, 40, 380, 120), line(320, 80, 360, 80)]
    drawn = {"strokes": CUP + missed, "stroke_width": 4.0}
    sketch = render_strokes(CUP + missed, size=(400, 160), stroke_width=4.0, margin=None)
    cup = [DetectedObject(box=list(box_of(*CUP)), score=0.8, detector_label="object")]
    out = pipeline.classify(sketch, cup, SureOf(250), top_k=1, strokes=drawn)
    assert [(o.box, o.detector_label, o.score) for o in out] == [
        (list(box_of(*CUP)), "object", 0.8), (list(box_of(*missed)), "strokes", 0.0)]
    assert out[1].confident
    assert len(pipeline.classify(sketch, cup, SureOf(1000), top_k=1, strokes=drawn)) == 1  # not sure: left out
