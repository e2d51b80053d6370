"""The one way strokes become pixels.

Training scenes, single-drawing test images, the classifier's training crops and the examples all go
through :func:`render_strokes`; nothing else in the project rasterises strokes.

Strokes follow Google's Quick, Draw! formats: a drawing is a list of strokes, each ``[xs, ys]`` or
``[xs, ys, ts]`` (raw format; the timestamps are ignored).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

Box = tuple[float, float, float, float]


def as_point_arrays(strokes: Sequence) -> list[np.ndarray]:
    """Turn ``[[xs, ys(, ts)], ...]`` into a list of float ``(N, 2)`` arrays, dropping empty strokes."""
    out = []
    for stroke in strokes:
        xs, ys = np.asarray(stroke[0], dtype=np.float64), np.asarray(stroke[1], dtype=np.float64)
        n = min(len(xs), len(ys))
        if n:
            out.append(np.stack([xs[:n], ys[:n]], axis=1))
    return out


def extent(points: list[np.ndarray]) -> Box:
    allp = np.concatenate(points, axis=0)
    x1, y1 = allp.min(axis=0)
    x2, y2 = allp.max(axis=0)
    return float(x1), float(y1), float(x2), float(y2)


def place_strokes(
    strokes: Sequence, box: Box, stroke_width: float = 0.0, rotation_deg: float = 0.0
) -> tuple[list[np.ndarray], Box]:
    """Rotate a drawing about its centre, then scale it (aspect kept) and centre it in ``box``.

    The centre lines are fitted into ``box`` shrunk by half the stroke width, so the returned ink box
    (centre-line extent grown by half the width) lies inside ``box`` and touches it on the long side.
    """
    pts = as_point_arrays(strokes)
    if not pts:
        raise ValueError("drawing has no points")
    if rotation_deg:
        x1, y1, x2, y2 = extent(pts)
        c = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        a = math.radians(rotation_deg)
        rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        pts = [(p - c) @ rot.T + c for p in pts]
    x1, y1, x2, y2 = extent(pts)
    half = stroke_width / 2
    bw, bh = box[2] - box[0] - 2 * half, box[3] - box[1] - 2 * half
    w, h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    scale = min(bw / w, bh / h)
    off = np.array([box[0] + half + (bw - w * scale) / 2, box[1] + half + (bh - h * scale) / 2])
    placed = [(p - [x1, y1]) * scale + off for p in pts]
    cx1, cy1, cx2, cy2 = extent(placed)
    return placed, (cx1 - half, cy1 - half, cx2 + half, cy2 + half)


def render_strokes(
    strokes: Sequence,
    size: int | tuple[int, int] = 512,
    stroke_width: float = 6.0,
    margin: float | None = 0.1,
    *,
    canvas: Image.Image | None = None,
    supersample: int = 2,
    ink: int = 0,
) -> Image.Image:
    """Rasterise strokes with round caps and joins, anti-aliased by supersampling.

    - ``margin`` not None: the drawing is scaled to fit ``size`` leaving ``margin`` (a fraction of
      each side) free on every side, and centred. ``margin=None``: points are already in pixels.
    - ``canvas``: draw onto this greyscale image (``size`` is then taken from it) instead of a new
      white one. Returns the canvas (mode ``L``, ink dark on white unless ``ink`` says otherwise).
    """
    if canvas is not None:
        size = canvas.size
    w, h = (size, size) if isinstance(size, int) else size
    if margin is not None:
        mx, my = margin * w, margin * h
        pts, _ = place_strokes(strokes, (mx, my, w - mx, h - my), stroke_width)
    else:
        pts = as_point_arrays(strokes)
    s = max(1, int(supersample))
    big = Image.new("L", (w * s, h * s), 255 - ink if canvas is None else 0)
    if canvas is not None:
        # draw a mask, then composite, so strokes over an existing picture stay anti-aliased
        big = Image.new("L", (w * s, h * s), 0)
    draw = ImageDraw.Draw(big)
    lw = max(1.0, stroke_width * s)
    r = lw / 2
    fill = 255 if canvas is not None else ink
    for p in pts:
        q = [(float(x) * s + s / 2 - 0.5, float(y) * s + s / 2 - 0.5) for x, y in p]
        if len(q) > 1:
            draw.line(q, fill=fill, width=int(round(lw)), joint="curve")
        for x, y in (q[0], q[-1]) if len(q) > 1 else q:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    small = big.resize((w, h), Image.Resampling.BOX) if s > 1 else big
    if canvas is None:
        return small
    layer = Image.new("L", (w, h), ink)
    canvas.paste(layer, (0, 0), small)
    return canvas


def sketch_png(strokes: Sequence, width: int, height: int, stroke_width: float) -> bytes:
    """The PNG of a strokes body as the API takes it (points in canvas pixels, a ``width`` x ``height``
    canvas): what the gateway stores for a strokes job and ``sketchref recognize`` reads from a
    ``.json`` input."""
    from .imaging import encode_image

    return encode_image(render_strokes(strokes, size=(width, height), stroke_width=stroke_width, margin=None))
