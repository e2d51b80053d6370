import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from services.common.imaging import ImageError, encode_image
from services.common.preprocess import DEFAULT_NORM, normalize_sketch
from services.common.rendering import render_strokes

CAT = [[[10, 60, 110, 60, 10], [60, 10, 60, 110, 60]], [[40, 80], [40, 80]]]


def test_output_shape_range_and_polarity():
    x = normalize_sketch(render_strokes(CAT, 512, 6, 0.1))
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    assert x[0].max() < 0.05 and x.max() > 0.9  # white strokes on black, border free


def test_same_drawing_any_size_width_polarity_alpha_format_gives_nearly_same_input():
    ref = normalize_sketch(render_strokes(CAT, 512, 6, 0.1))
    variants = [
        render_strokes(CAT, 1280, 3, 0.3),
        render_strokes(CAT, 256, 12, 0.02),
        ImageOps.invert(render_strokes(CAT, 512, 6, 0.1)),  # dark mode
    ]
    rgba = render_strokes(CAT, 400, 5, 0.1).convert("RGBA")
    alpha = Image.eval(rgba.getchannel("R"), lambda v: 255 - v)
    transparent = Image.new("RGBA", rgba.size, (0, 0, 0, 0))
    transparent.putalpha(alpha)
    variants += [Image.open(io.BytesIO(encode_image(transparent))), Image.open(io.BytesIO(encode_image(variants[0].convert("RGB"), "JPEG")))]
    for v in variants:
        x = normalize_sketch(v)
        assert np.abs(x - ref).mean() < 0.05, v


def test_box_selects_a_region_and_blank_is_zero():
    im = Image.new("L", (600, 300), 255)
    render_strokes(CAT, stroke_width=5, margin=None, canvas=im)
    assert normalize_sketch(im, box=(300, 0, 600, 300)).max() == 0
    assert normalize_sketch(im, box=(0, 0, 150, 150)).max() > 0.9
    assert DEFAULT_NORM.side == 28


def test_rejects_non_images():
    with pytest.raises(ImageError):
        normalize_sketch(b"hello")
    with pytest.raises(ImageError):
        normalize_sketch(encode_image(render_strokes(CAT, 64))[:60])


def test_widen_boxes_grows_but_never_into_a_neighbour():
    from services.common.preprocess import widen_boxes

    (alone,) = widen_boxes([(100, 100, 200, 200)], 0.1)
    assert alone == (90, 90, 210, 210)
    a, b = widen_boxes([(0, 0, 100, 100), (104, 0, 204, 100)], 0.1)
    assert a[2] == 102 and b[0] == 102  # halfway into the 4 px gap, not 10 px
    assert a[1] == -10 and b[3] == 110  # free sides still grow
