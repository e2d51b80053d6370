"""Scene style families: how real submissions look (appearance) and how people place drawings (layout).

Each family is a named option (:data:`STYLES`) of :func:`styled_scene`:

- ``clean``: issue 5's scenes, black 4-8 px strokes on white (:meth:`SceneConfig.issue5`);
- ``dark``: light strokes on a near-black canvas (dark mode);
- ``colour``: a coloured pen on tinted paper;
- ``photo``: a phone photo of a pencil sketch: grey paper, grain, uneven light and vignetting, soft
  strokes, blur, JPEG;
- ``touching``: every drawing after the first placed 0-10 px from one already there (ink boxes);
- ``overlap``: every drawing after the first overlapping one already there by a few % of its side;
- ``strays``: stray dots, dashes, ticks and small scribbles that are not objects (no box);
- ``thin``: thin (1-2 px) and faint (grey) strokes.

**Honest evaluation**: every random appearance/layout parameter has a ``train`` and an ``eval`` range
or set, and the two are disjoint (pen and paper colours, paper levels, grain, vignetting, blur, JPEG
quality, gap sizes, overlap, stray sizes, stroke widths). Training scenes use ``train``; the
evaluation uses ``eval`` on test-split drawings, so its figures measure robustness, not the generator.
Boxes are always the ink extents of each drawing (appearance does not move ink).
"""

from __future__ import annotations

import io
import random
from dataclasses import replace

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

from .scenes import Scene, SceneConfig, compose_scene

STYLES = ("clean", "dark", "colour", "photo", "touching", "overlap", "strays", "thin")
APPEARANCE = ("dark", "colour", "photo", "thin")

# (train, eval): disjoint sets / ranges. Colours are RGB in 0-255.
PARAMS = {
    "dark_bg": ([(0, 0, 0), (18, 18, 18), (30, 30, 36), (10, 22, 40), (28, 20, 30)],
                [(44, 44, 44), (24, 30, 24), (40, 30, 20), (12, 12, 28)]),
    "dark_ink": ([(255, 255, 255), (230, 230, 230), (255, 220, 120), (140, 200, 255)],
                 [(200, 200, 200), (180, 255, 180), (255, 170, 200), (245, 245, 210)]),
    "paper": ([(255, 250, 205), (255, 228, 225), (224, 240, 255), (230, 255, 230), (245, 235, 220)],
              [(255, 239, 213), (235, 225, 255), (220, 245, 245), (250, 250, 240), (255, 218, 185)]),
    "pen": ([(20, 40, 200), (200, 20, 30), (20, 130, 40), (100, 30, 140), (40, 40, 40)],
            [(0, 110, 120), (180, 80, 0), (170, 0, 120), (20, 20, 90), (60, 90, 20)]),
    "paper_level": ((0.74, 0.88), (0.62, 0.73)),  # grey paper in a photo, fraction of white
    "pencil": ((0.38, 0.62), (0.30, 0.37)),  # how much darker than the paper a pencil stroke is
    "grain": ((0.008, 0.025), (0.026, 0.04)),
    "vignette": ((0.08, 0.28), (0.29, 0.42)),
    "blur": ((0.3, 0.8), (0.81, 1.15)),
    "jpeg": ((66, 80), (50, 65)),
    "thin_width": ((1.0, 1.5), (1.51, 2.0)),
    "thin_level": ((0.5, 0.75), (0.38, 0.49)),
    # layout: gaps in pixels (train in [2k, 2k+1), eval in [2k+1, 2k+2), k = 0..4), overlap, strays
    "gap_odd": (False, True),
    "overlap": ((0.02, 0.07), (0.07, 0.12)),  # fraction of the smaller drawing's side
    "stray_size": ((0.008, 0.016), (0.016, 0.035)),
}


def param(name: str, split: str):
    return PARAMS[name][0 if split == "train" else 1]


def _u(rng: random.Random, name: str, split: str) -> float:
    return rng.uniform(*param(name, split))


def gap_ranges(split: str) -> tuple[tuple[float, float], ...]:
    o = 1 if param("gap_odd", split) else 0
    return tuple((2.0 * k + o, 2.0 * k + o + 1) for k in range(5))


def layout_config(style: str, split: str) -> SceneConfig:
    """The scene layout of a family (appearance families use the clean layout)."""
    base = SceneConfig.issue5()
    if style == "touching":
        return replace(base, min_objects=2, near_gaps=gap_ranges(split))
    if style == "overlap":
        return replace(base, min_objects=2, near_overlap=param("overlap", split))
    if style == "strays":
        return replace(base, stray_prob=1.0, max_strays=4, stray_size=param("stray_size", split))
    if style == "thin":
        return replace(base, stroke_abs=param("thin_width", split))
    return base


def _mix(mask: np.ndarray, paper: np.ndarray, ink: np.ndarray) -> Image.Image:
    """Per-pixel blend: ``mask`` (H, W) ink coverage, ``paper`` (H, W, 3) or (3,), ``ink`` (3,)."""
    m = mask[..., None]
    out = paper * (1.0 - m) + np.asarray(ink, np.float32) * m
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")


def _jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _photo(mask: np.ndarray, rng: random.Random, split: str) -> Image.Image:
    h, w = mask.shape
    nrng = np.random.default_rng(rng.randrange(2**32))
    level = 255 * _u(rng, "paper_level", split)
    tint = np.array([1.0, rng.uniform(0.96, 1.0), rng.uniform(0.88, 0.98)], np.float32)  # warm light
    grain = nrng.normal(0, 1, (h, w)).astype(np.float32)
    grain = ndimage.gaussian_filter(grain, 1.0)
    grain *= _u(rng, "grain", split) * 255 / max(float(grain.std()), 1e-6)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
    r2 = ((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2
    light = 1.0 - _u(rng, "vignette", split) * np.clip(r2 / 0.5, 0, 1)
    a = rng.uniform(0, 2 * np.pi)
    light *= 1.0 - 0.12 * rng.random() * ((np.cos(a) * (xx / w - 0.5) + np.sin(a) * (yy / h - 0.5)) + 0.5)
    paper = (level + grain)[..., None] * tint
    pencil = _u(rng, "pencil", split)
    soft = ndimage.gaussian_filter(mask.astype(np.float32), 0.6)
    stroke = soft * np.clip(0.75 + 0.25 * nrng.normal(0, 1, (h, w)), 0.3, 1.0)  # graphite is patchy
    out = paper * (1.0 - pencil * stroke[..., None])
    out = out * light[..., None]
    im = Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGB")
    im = im.filter(ImageFilter.GaussianBlur(_u(rng, "blur", split)))
    return _jpeg(im, int(round(_u(rng, "jpeg", split))))


def apply_appearance(image: Image.Image, style: str, rng: random.Random, split: str) -> Image.Image:
    """Recolour a clean black-on-white scene into a family's look (RGB); ink stays where it was."""
    if style not in APPEARANCE:
        return image
    mask = 1.0 - np.asarray(image.convert("L"), np.float32) / 255.0
    if style == "dark":
        return _mix(mask, np.array(rng.choice(param("dark_bg", split)), np.float32), rng.choice(param("dark_ink", split)))
    if style == "colour":
        return _mix(mask, np.array(rng.choice(param("paper", split)), np.float32), rng.choice(param("pen", split)))
    if style == "thin":
        v = 255 * (1.0 - _u(rng, "thin_level", split))
        return _mix(mask, np.array([255, 255, 255], np.float32), (v, v, v))
    return _photo(mask, rng, split)


def styled_scene(drawings, rng: random.Random, style: str, split: str = "eval") -> Scene:
    """One scene of family ``style`` with ``split`` (``train`` | ``eval``) appearance parameters."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(STYLES)}")
    look = random.Random(rng.random())  # the look has its own stream: same seed, same layouts in clean,
    scene = compose_scene(drawings, rng, layout_config(style, split))  # dark, colour, photo and thin
    scene.image = apply_appearance(scene.image, style, look, split)
    return scene
