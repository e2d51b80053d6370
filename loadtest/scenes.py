"""Sketch scenes for the load test: 1–3 real Quick, Draw! drawings placed on a phone-sized canvas.

Kept apart from the locustfile because importing locust monkey-patches the process (gevent). The
drawings come from the project's Quick, Draw! loader; the layout is the load test's own (1-3 cells
side by side, strokes in canvas pixels, as the app sends them).
"""

from __future__ import annotations

import random

from services.core.rendering import place_strokes, render_strokes  # noqa: F401  (the locustfile renders)
from training.data import quickdraw

CANVASES = [(720, 1280), (1280, 720), (800, 800), (600, 900)]
WORDS = ["cat", "house", "tree", "bicycle", "fish", "apple", "car", "sun", "flower", "clock", "guitar", "bird"]
PER_WORD = 20


def load_drawings() -> list[list]:
    """A few hundred real drawings (strokes) from the shared Quick, Draw! simplified files, through the
    project's loader (training.data.quickdraw)."""
    return [d.strokes for d in quickdraw.load_drawings("simplified", words=WORDS, per_class=PER_WORD)]


DRAWINGS: list[list] = []


def compose_scene(rng: random.Random) -> tuple[list, int, int]:
    """1–3 drawings side by side on a phone canvas; strokes in canvas pixels (as the app sends)."""
    w, h = rng.choice(CANVASES)
    n = rng.randint(1, 3)
    vertical = h >= w
    strokes: list = []
    for i in range(n):
        if vertical:
            cell = (0.0, h * i / n, float(w), h * (i + 1) / n)
        else:
            cell = (w * i / n, 0.0, w * (i + 1) / n, float(h))
        cw, ch = cell[2] - cell[0], cell[3] - cell[1]
        pad = 0.12 + rng.random() * 0.1
        box = (cell[0] + cw * pad, cell[1] + ch * pad, cell[2] - cw * pad, cell[3] - ch * pad)
        placed, _ = place_strokes(rng.choice(DRAWINGS), box, stroke_width=6.0)
        strokes += [[[round(float(x), 1) for x in p[:, 0]], [round(float(y), 1) for y in p[:, 1]]] for p in placed]
    return strokes, w, h
