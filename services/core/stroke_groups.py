"""Touching drawings told apart by the order their strokes were drawn in.

Pixels alone cannot always say where one drawing ends and the next begins: a cup drawn right against
its saucer is one connected blot of ink, and the detector draws one box around both. The app knows
more: it sends the strokes in the order they were drawn, and people draw a scene one thing after
another. Inside one detector box, the strokes (in drawing order) that split into an earlier run and a
later run whose ink extents barely overlap, each a sizeable share of the box, are a candidate pair of
drawings; each run splits again the same way (three drawings in a row).

A candidate is only a candidate: many single drawings are also drawn part by part (a house's walls,
then its roof; a tree's crown, then its trunk). The classifier arbitrates (:func:`prefer_parts`): the
parts replace the whole only when it is surer of every part than of the whole. Nothing here draws
pixels: the boxes are cut from the same clean sketch as every other box (one preprocessing path);
the strokes only say where to cut.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .rendering import Box, as_point_arrays

MIN_PART = 0.3  # the smaller run's longer side, at least this share of the larger run's
MAX_OVERLAP = 0.02  # the two runs' ink extents overlap by at most this share of the smaller one (val: 0.1 split
# 1.2% of single drawings sent as strokes, 0.02 none, touching recall 0.744 -> 0.734)
MAX_STROKES = 400  # a box with more strokes than this is not searched (hatching, scribbles)
MAX_PARTS = 6
PARTS_RATIO = 1.0  # prefer_parts: chosen on val (touching scenes and single drawings sent as strokes)


def _extent(points: list[np.ndarray], half: float) -> Box:
    allp = np.concatenate(points, axis=0)
    (x1, y1), (x2, y2) = allp.min(axis=0), allp.max(axis=0)
    return float(x1 - half), float(y1 - half), float(x2 + half), float(y2 + half)


def _overlap(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy / max(smaller, 1e-6)


def _long(b: Box) -> float:
    return max(b[2] - b[0], b[3] - b[1])


def owners(boxes: Sequence[Sequence[float]], strokes: list[np.ndarray]) -> list[int | None]:
    """For each stroke, the box holding most of its points (at least half), else None; where boxes
    nest, the smallest such box."""
    out: list[int | None] = []
    areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    for p in strokes:
        best, best_area = None, float("inf")
        for j, b in enumerate(boxes):
            inside = np.mean((p[:, 0] >= b[0]) & (p[:, 0] <= b[2]) & (p[:, 1] >= b[1]) & (p[:, 1] <= b[3]))
            if inside >= 0.5 and areas[j] < best_area:
                best, best_area = j, areas[j]
        out.append(best)
    return out


def _runs(ext: np.ndarray, min_part: float, max_overlap: float) -> list[slice]:
    """Split strokes (in drawing order; ``ext`` their ink extents, one row each) into consecutive
    runs, recursively, while a split point leaves two runs whose extents overlap at most
    ``max_overlap``, the smaller one's longer side at least ``min_part`` of the larger one's; the split point with the least overlap
    wins. Returns the runs as slices of ``ext``."""
    n = len(ext)
    if n < 2:
        return [slice(0, n)]
    lo = np.minimum.accumulate(ext[:, :2], axis=0)
    hi = np.maximum.accumulate(ext[:, 2:], axis=0)
    rlo = np.minimum.accumulate(ext[::-1, :2], axis=0)[::-1]
    rhi = np.maximum.accumulate(ext[::-1, 2:], axis=0)[::-1]
    best, best_k = max_overlap, None
    for k in range(1, n):
        a, b = (*lo[k - 1], *hi[k - 1]), (*rlo[k], *rhi[k])
        la, lb = _long(a), _long(b)
        if min(la, lb) < min_part * max(la, lb):
            continue
        o = _overlap(a, b)
        if o <= best:
            best, best_k = o, k
    if best_k is None:
        return [slice(0, n)]
    tail = _runs(ext[best_k:], min_part, max_overlap)
    return _runs(ext[:best_k], min_part, max_overlap) + [slice(s.start + best_k, s.stop + best_k) for s in tail]


def candidate_parts(boxes: Sequence[Sequence[float]], strokes: Sequence, stroke_width: float,
                    min_part: float = MIN_PART, max_overlap: float = MAX_OVERLAP) -> dict[int, list[Box]]:
    """``{box index: [part boxes]}`` for every box whose strokes split into two or more drawings (see
    the module's docstring). ``strokes`` as the API takes them (``[[xs, ys], ...]`` in the sketch's
    pixels, in drawing order); part boxes are ink extents (centre lines grown by half the pen)."""
    pts = as_point_arrays(strokes)
    if not pts or not boxes:
        return {}
    half = stroke_width / 2
    own = owners(boxes, pts)
    out: dict[int, list[Box]] = {}
    for j in range(len(boxes)):
        mine = [p for p, o in zip(pts, own, strict=True) if o == j]
        if len(mine) < 2 or len(mine) > MAX_STROKES:
            continue
        ext = np.array([_extent([p], half) for p in mine])
        runs = _runs(ext, min_part, max_overlap)
        if 1 < len(runs) <= MAX_PARTS:
            out[j] = [(float(ext[r, 0].min()), float(ext[r, 1].min()), float(ext[r, 2].max()),
                       float(ext[r, 3].max())) for r in runs]
    return out


def prefer_parts(whole: float, parts: Sequence[float], ratio: float = PARTS_RATIO) -> bool:
    """Whether the parts replace the whole: the classifier's top score for every part is at least
    ``ratio`` times its top score for the whole."""
    return bool(parts) and min(parts) >= ratio * whole
