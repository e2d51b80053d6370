"""The one preprocessing path: any sketch image (or a crop of one) -> the 28x28 the classifier sees.

Training, serving and evaluation all call :func:`normalize_sketch`. It reproduces how Google rendered
the Quick, Draw! bitmaps DoodleNet learned from: the drawing scaled so its longer side spans the
frame less a small padding, centred, strokes of one fixed width relative to the frame, anti-aliased,
white ink on black. What differs between a phone photo, a 512 px PNG with 6 px strokes and a
1280 px canvas with 3 px strokes is undone here: polarity, margins, scale and stroke width.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from .imaging import ink_map, load_image

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SketchNorm:
    """Geometry of the normalized sketch (fractions of the output side)."""

    side: int = 28  # output pixels
    work: int = 8  # supersampling factor of the working canvas (side * work pixels)
    padding: float = 0.05  # free border on each side, fraction of the side
    stroke: float = 0.052  # stroke width, fraction of the side (tuned on the train split, 0.045-0.064)

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_NORM = SketchNorm()


def widen_boxes(boxes: list[Box], frac: float) -> list[Box]:
    """Grow each box by ``frac`` of its size on every side, but never into another box: a side
    stops halfway to the nearest box facing it. A detector box a little tighter than the ink then
    still holds the whole drawing, and neighbours' ink stays out."""
    out = []
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        dx, dy = frac * (x2 - x1), frac * (y2 - y1)
        nx1, ny1, nx2, ny2 = x1 - dx, y1 - dy, x2 + dx, y2 + dy
        for j, (ox1, oy1, ox2, oy2) in enumerate(boxes):
            if i == j:
                continue
            if oy1 < y2 and oy2 > y1:  # side by side
                if ox2 <= x1:
                    nx1 = max(nx1, (ox2 + x1) / 2)
                if ox1 >= x2:
                    nx2 = min(nx2, (x2 + ox1) / 2)
            if ox1 < x2 and ox2 > x1:  # one above the other
                if oy2 <= y1:
                    ny1 = max(ny1, (oy2 + y1) / 2)
                if oy1 >= y2:
                    ny2 = min(ny2, (y2 + oy1) / 2)
        out.append((min(nx1, x1), min(ny1, y1), max(nx2, x2), max(ny2, y2)))
    return out


def _stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary ink mask: 2 * area / boundary length (exact for long strokes)."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    interior = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), border_value=0)
    boundary = area - int(interior.sum())
    return max(1.0, 2.0 * area / max(boundary, 1))


def _set_width(mask: np.ndarray, current: float, target: float) -> np.ndarray:
    """Grow or thin strokes by the radius that turns width ``current`` into ``target``."""
    delta = (target - current) / 2.0
    if delta > 0.5:
        return ndimage.distance_transform_edt(~mask) <= delta
    if delta < -0.5:
        # thin, but never by more than leaves one pixel of every stroke
        r = min(-delta, max(current - 1.0, 0.0) / 2.0)
        return ndimage.distance_transform_edt(mask) > r
    return mask


def _pad(mask: np.ndarray, n: int) -> np.ndarray:
    return np.pad(mask, n, constant_values=False)


def _tight(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return mask
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def normalize_sketch(
    source, box: Box | None = None, norm: SketchNorm = DEFAULT_NORM
) -> np.ndarray:
    """Return a ``(side, side)`` float32 array in [0, 1], white strokes on black.

    ``source``: image bytes, a path or a PIL image (any mode, size, polarity, alpha). ``box``: an
    optional ``[x1, y1, x2, y2]`` region (a detection) to normalize instead of the whole image.
    A blank input gives an all-zero array.
    """
    gray = load_image(source)
    if box is not None:
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        x1, y1 = max(0, x1), max(0, y1)
        x2, y2 = min(gray.width, max(x2, x1 + 1)), min(gray.height, max(y2, y1 + 1))
        gray = gray.crop((x1, y1, x2, y2))
    ink = ink_map(gray)
    ys, xs = np.nonzero(ink > 0.5)
    out = np.zeros((norm.side, norm.side), np.float32)
    if len(xs) == 0:
        return out
    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    work = norm.side * norm.work
    width_work = norm.stroke * work
    inner = work * (1 - 2 * norm.padding) - width_work  # span of the stroke centre lines
    h, w = ink.shape
    mask = ink > 0.5
    width_src = _stroke_width(mask)
    # the ink box includes half a stroke on each side: scale the centre-line span to ``inner``
    span = max(max(h, w) - width_src, 1.0)
    scale = inner / span
    # strokes that would vanish when shrinking are first thickened at the source resolution
    if width_src * scale < 2.0:
        mask = _set_width(_pad(mask, int(np.ceil(1.0 / scale)) + 1), width_src, 2.0 / scale)
        h, w = mask.shape
        width_src = 2.0 / scale
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray(mask.astype(np.uint8) * 255).resize((nw, nh), Image.Resampling.BOX)
    mask_w = np.asarray(small) >= 128
    mask_w = _set_width(_pad(mask_w, int(np.ceil(width_work)) + 1), max(width_src * scale, 1.0), width_work)
    mask_w = _tight(mask_w)
    canvas = np.zeros((work, work), bool)
    # centre the (possibly grown) drawing; clip if it overflows by a pixel
    mh, mw = mask_w.shape
    top, left = (work - mh) // 2, (work - mw) // 2
    src = mask_w[max(0, -top) : mh - max(0, top + mh - work), max(0, -left) : mw - max(0, left + mw - work)]
    t, lft = max(0, top), max(0, left)
    canvas[t : t + src.shape[0], lft : lft + src.shape[1]] = src
    img = Image.fromarray(canvas.astype(np.uint8) * 255).resize((norm.side, norm.side), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / 255.0
