"""Detector boxes grown to the ink they cut: a box is the ink extent of its drawing.

The detector sometimes boxes most of a drawing but not all of it (a tail, a handle, the top of a
tree crossing the box edge): the classifier then sees a cut drawing (on val single drawings, a first
box with IoU < 0.8 against the ink extent is labelled right 0.46 of the time against 0.62 for the whole
drawing). :func:`fit_to_ink` grows each box to cover every ink component (8-connected strokes) that
it cuts, as long as no other box shares that component: strokes joining two boxes (touching or
overlapping drawings) are left where the detector put the border. Boxes only grow; a box inside
another (a part of it) does not count as a sharer for the box around it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

INK = 128  # clean sketch: ink is darker than this
POOL_SIDE = 640  # the ink mask is max-pooled to about this longer side (components stay connected)
MIN_INSIDE = 0.3  # a box takes in a component only if this share of its ink is inside the box
JOIN = 0  # strokes this many pooled pixels apart are one component (val: 4 and 8 did no better)
PART_INSIDE = 0.85  # as services.core.pipeline: a box this much inside another is a part of it


def _inside(b, a) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / max((b[2] - b[0]) * (b[3] - b[1]), 1e-6)


def fit_to_ink(clean: Image.Image, boxes: list, join: int = JOIN, min_inside: float = MIN_INSIDE) -> list[list[float]]:
    """``boxes`` (``[x1, y1, x2, y2]`` in pixels of ``clean``, a clean sketch: black ink on white)
    grown to the ink components each one cuts and shares with no other box; same order. Strokes at
    most ``join`` pixels of the pooled mask apart count as one component; a box takes in a component
    only when at least ``min_inside`` of its ink is inside the box (a box that grazes an undetected
    neighbour does not swallow it)."""
    if not boxes:
        return []
    w, h = clean.size
    f = max(1, -(-max(w, h) // POOL_SIDE))
    ink = np.asarray(clean) < INK
    if f > 1:  # max-pool: any ink in an f x f block marks it
        ph, pw = -(-h // f), -(-w // f)
        padded = np.zeros((ph * f, pw * f), bool)
        padded[:h, :w] = ink
        ink = padded.reshape(ph, f, pw, f).any(axis=(1, 3))
    grown = ndimage.binary_dilation(ink, np.ones((join + 1, join + 1), bool)) if join > 0 else ink
    labels, n = ndimage.label(grown, structure=np.ones((3, 3), bool))
    labels[~ink] = 0  # extents and cuts of the ink itself
    if n == 0:
        return [list(map(float, b)) for b in boxes]
    extents = ndimage.find_objects(labels)

    size = np.bincount(labels.ravel(), minlength=n + 1)

    def cut(b) -> tuple[set[int], set[int]]:
        """(components the box touches, those with >= min_inside of their ink inside it)"""
        x1, y1 = max(0, int(b[0] // f)), max(0, int(b[1] // f))
        x2, y2 = min(labels.shape[1], int(-(-b[2] // f))), min(labels.shape[0], int(-(-b[3] // f)))
        region = labels[y1:y2, x1:x2]
        if not region.size:
            return set(), set()
        inside = np.bincount(region.ravel(), minlength=n + 1)
        touched = np.nonzero(inside[1:])[0] + 1
        return set(touched.tolist()), {int(c) for c in touched if inside[c] >= min_inside * size[c]}

    cuts = [cut(b) for b in boxes]
    comps = [c[0] for c in cuts]
    out = []
    for i, b in enumerate(boxes):
        shared = set().union(*(comps[j] for j in range(len(boxes))
                               if j != i and _inside(boxes[j], b) < PART_INSIDE)) if len(boxes) > 1 else set()
        x1, y1, x2, y2 = (float(v) for v in b)
        for c in cuts[i][1] - shared:
            sy, sx = extents[c - 1]
            x1, y1 = min(x1, float(sx.start * f)), min(y1, float(sy.start * f))
            x2, y2 = max(x2, float(min(sx.stop * f, w))), max(y2, float(min(sy.stop * f, h)))
        out.append([x1, y1, x2, y2])
    return out
