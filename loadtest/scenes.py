"""Sketch scenes for the load test: 1–3 real Quick, Draw! drawings placed on a phone-sized canvas.

Kept apart from the locustfile because importing locust monkey-patches the process (gevent).
"""

from __future__ import annotations

import itertools
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from services.common.rendering import place_strokes, render_strokes  # noqa: E402,F401
from services.common.settings import CommonSettings  # noqa: E402

CANVASES = [(720, 1280), (1280, 720), (800, 800), (600, 900)]
WORDS = ["cat", "house", "tree", "bicycle", "fish", "apple", "car", "sun", "flower", "clock", "guitar", "bird"]
PER_WORD = 20


def load_drawings() -> list[list]:
    """A few hundred real drawings (strokes) from the shared Quick, Draw! files."""
    base = Path(CommonSettings().shared_dir) / "data" / "quickdraw"
    out = []
    for fmt in ("simplified", "raw"):
        for word in WORDS:
            path = base / fmt / f"{word}.ndjson"
            if not path.is_file():
                continue
            with open(path, encoding="utf-8") as f:
                for line in itertools.islice(f, PER_WORD):
                    if line.strip():
                        out.append(json.loads(line)["drawing"])
        if out:
            return out
    raise RuntimeError(f"no Quick, Draw! drawings under {base} (set SKETCHREF_SHARED_DIR)")


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
