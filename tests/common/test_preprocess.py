import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from services.core.imaging import ImageError, encode_image
from services.core.preprocess import DEFAULT_NORM, normalize_sketch
from services.core.rendering import render_strokes

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
    from services.core.preprocess import widen_boxes

    (alone,) = widen_boxes([(100, 100, 200, 200)], 0.1)
    assert alone == (90, 90, 210, 210)
    a, b = widen_boxes([(0, 0, 100, 100), (104, 0, 204, 100)], 0.1)
    assert a[2] == 102 and b[0] == 102  # halfway into the 4 px gap, not 10 px
    assert a[1] == -10 and b[3] == 110  # free sides still grow


def test_object_crops_hold_the_objects_own_ink_only():
    from services.core.preprocess import object_crops

    im = Image.new("L", (320, 200), 255)
    render_strokes([[[10, 100, 100, 10, 10], [10, 10, 100, 100, 10]]], stroke_width=4, margin=None, canvas=im)
    render_strokes([[[80, 180, 180, 80, 80], [40, 40, 140, 140, 40]]], stroke_width=4, margin=None, canvas=im)
    boxes = [(8, 8, 102, 102), (78, 38, 182, 142)]  # two overlapping squares
    mixed = object_crops(im, boxes, 0.1, own_ink=False)
    own = object_crops(im, boxes, 0.1)
    assert [c.size for c in own] == [c.size for c in mixed]
    for c_mixed, c_own, (x1, y1, x2, y2) in zip(mixed, own, boxes, strict=True):
        a_mixed, a_own = np.asarray(c_mixed) < 128, np.asarray(c_own) < 128
        assert a_own.sum() < a_mixed.sum()  # the neighbour's ink is gone...
        ox, oy = max(0, int(x1 - 0.1 * (x2 - x1))), max(0, int(y1 - 0.1 * (y2 - y1)))
        inside = np.zeros_like(a_own)
        inside[int(y1) - oy:int(y2) - oy, int(x1) - ox:int(x2) - ox] = True
        assert (a_own[inside] == a_mixed[inside]).all()  # ...but nothing inside its own box
    # a part inside the whole erases nothing from the whole; a lone box is unchanged
    whole, part = object_crops(im, [(8, 8, 182, 142), (78, 38, 182, 142)], 0.1)
    assert (np.asarray(whole) == np.asarray(object_crops(im, [(8, 8, 182, 142)], 0.1)[0])).all()


# --- clean_sketch: one input normalisation for detector and classifier ---------------------------

def _scene():
    im = Image.new("L", (480, 360), 255)
    render_strokes([[[40, 200, 200, 40, 40], [40, 40, 200, 200, 40]]], stroke_width=5, margin=None, canvas=im)
    render_strokes([[[260, 440], [300, 60]], [[300, 420], [120, 120]]], stroke_width=4, margin=None, canvas=im)
    return im


def _looks(im, mask, paper, ink):
    m = mask[..., None].astype(np.float32)
    return Image.fromarray((np.array(paper, np.float32) * (1 - m) + np.array(ink, np.float32) * m).astype(np.uint8))


def _ink(im):
    from services.core.preprocess import clean_sketch

    return np.asarray(clean_sketch(im)) < 128


def _agree(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_clean_sketch_maps_every_look_to_the_same_black_on_white_sketch():
    from scipy import ndimage

    base = _scene()
    mask = 1 - np.asarray(base, np.float32) / 255
    ref = _ink(base)
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    light = 1 - 0.35 * (((xx - w * 0.3) / w) ** 2 + ((yy - h * 0.6) / h) ** 2)  # uneven light, vignetting
    rng = np.random.default_rng(0)
    grain = ndimage.gaussian_filter(rng.normal(0, 6, (h, w)), 1)
    pencil = ((185 + grain) * (1 - 0.4 * ndimage.gaussian_filter(mask, 0.6)) * light)[..., None] * [1, 0.98, 0.93]
    photo = Image.open(io.BytesIO(encode_image(Image.fromarray(np.clip(pencil, 0, 255).astype(np.uint8)), "JPEG",
                                               quality=55)))
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = 255  # white strokes on a transparent layer (a dark-mode drawing app)
    rgba[..., 3] = (mask * 255).astype(np.uint8)
    looks = {
        "dark": _looks(base, mask, (20, 20, 24), (235, 235, 235)),
        "colour": _looks(base, mask, (255, 239, 213), (0, 110, 120)),
        "red on pink": _looks(base, mask, (255, 228, 225), (200, 20, 30)),
        "pencil photo": photo,
        "alpha white": Image.open(io.BytesIO(encode_image(Image.fromarray(rgba, "RGBA")))),
        "alpha black": Image.open(io.BytesIO(encode_image(Image.merge("RGBA", [base.point(lambda v: 0)] * 3 + [
            Image.fromarray((mask * 255).astype(np.uint8))])))),
        "jpeg": Image.open(io.BytesIO(encode_image(base.convert("RGB"), "JPEG", quality=40))),
    }
    for name, im in looks.items():
        got = _ink(im)
        assert _agree(got, ref) > 0.7, name
        # and the classifier sees nearly the same input for each object
        for box in [(30, 30, 210, 210), (250, 50, 450, 310)]:
            assert np.abs(normalize_sketch(im, box=box) - normalize_sketch(base, box=box)).mean() < 0.06, name


@pytest.mark.parametrize("im", [Image.new("L", (400, 300), 255), Image.new("L", (400, 300), 0),
                                Image.new("RGB", (300, 300), (200, 180, 90)), Image.new("L", (1, 4000), 255),
                                Image.new("L", (4000, 1), 0)])
def test_clean_sketch_of_blank_or_uniform_input_is_blank_paper(im):
    from services.core.preprocess import clean_sketch

    out = clean_sketch(im)
    assert out.size == im.size and out.mode == "L" and np.asarray(out).min() == 255


def test_clean_sketch_is_idempotent_and_marks_photos():
    from services.core.preprocess import SketchStats, clean_sketch

    once = clean_sketch(_scene())
    assert clean_sketch(once) is once
    stats = SketchStats()
    clean_sketch(_scene(), stats)
    assert not stats.looks_like_photo() and 0 < stats.ink < 0.1 and stats.ms > 0
    photo = Image.new("RGB", (640, 480), (90, 140, 210))  # sky, ground, a house, a tree: big filled areas
    from PIL import ImageDraw

    d = ImageDraw.Draw(photo)
    d.rectangle((0, 300, 640, 480), fill=(60, 110, 40))
    d.rectangle((80, 180, 300, 360), fill=(180, 160, 140))
    d.ellipse((380, 60, 600, 320), fill=(30, 80, 30))
    stats = SketchStats()
    clean_sketch(photo, stats)
    assert stats.looks_like_photo()
