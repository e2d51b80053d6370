import numpy as np
from PIL import Image

from services.core.rendering import place_strokes, render_strokes

SQUARE = [[[0, 100, 100, 0, 0], [0, 0, 100, 100, 0]]]


def test_render_fits_with_margin_and_width():
    im = render_strokes(SQUARE, 200, stroke_width=6, margin=0.1)
    a = np.asarray(im) < 128
    ys, xs = np.nonzero(a)
    # ink extent = 10% margin on each side (within a pixel of anti-aliasing)
    assert abs(xs.min() - 20) <= 1 and abs(xs.max() - 179) <= 1
    assert abs(ys.min() - 20) <= 1 and abs(ys.max() - 179) <= 1
    # a vertical edge is ~6 px thick
    assert 5 <= a[100, :60].sum() <= 7


def test_render_raw_format_ignores_timestamps_and_draws_on_canvas():
    canvas = Image.new("L", (64, 32), 255)
    out = render_strokes([[[5, 20], [5, 20], [0, 10]]], stroke_width=2, margin=None, canvas=canvas)
    assert out is canvas and np.asarray(out).min() < 50


def test_place_strokes_returns_ink_box_inside_target():
    placed, ink = place_strokes(SQUARE, (10, 10, 110, 60), stroke_width=4)
    assert ink[0] >= 10 - 1e-6 and ink[2] <= 110 + 1e-6 and ink[1] >= 10 - 1e-6 and ink[3] <= 60 + 1e-6
    assert abs((ink[3] - ink[1]) - 50) < 1e-6  # touches the short side
