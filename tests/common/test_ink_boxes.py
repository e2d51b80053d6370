from PIL import Image

from services.core.ink_boxes import fit_to_ink
from services.core.rendering import render_strokes


def _canvas():
    im = Image.new("L", (400, 200), 255)
    render_strokes([[[20, 150, 150, 20, 20], [20, 20, 150, 150, 20]]], stroke_width=4, margin=None, canvas=im)
    return im


def test_a_box_that_cuts_a_drawing_grows_to_its_ink():
    (box,) = fit_to_ink(_canvas(), [(40, 18, 152, 152)])  # the left side of the square is outside
    assert box == [18, 18, 153, 152]  # the ink extent (exclusive right edge)


def test_ink_shared_with_another_box_or_mostly_outside_is_not_taken():
    im = _canvas()
    render_strokes([[[152, 300], [80, 80]]], stroke_width=4, margin=None, canvas=im)  # a line touching the square
    left, right = fit_to_ink(im, [(18, 18, 152, 152), (150, 70, 302, 90)])
    assert left == [18, 18, 152, 152] and right == [150, 70, 302, 90]  # one component, two boxes: unchanged
    (alone,) = fit_to_ink(im, [(250, 70, 302, 90)])  # a box grazing a few percent of a big component
    assert alone == [250, 70, 302, 90]


def test_a_part_inside_a_box_does_not_stop_the_whole_from_growing():
    whole, part = fit_to_ink(_canvas(), [(40, 18, 152, 152), (60, 60, 100, 100)])
    assert whole == [18, 18, 153, 152] and part == [60, 60, 100, 100]
    assert fit_to_ink(Image.new("L", (50, 50), 255), [(1, 1, 9, 9)]) == [[1, 1, 9, 9]]
    assert fit_to_ink(_canvas(), []) == []
