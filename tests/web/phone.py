"""Driving the phone app like a person: Debian Chromium through Playwright at a phone viewport,
drawing with real touch events (CDP ``Input.dispatchTouchEvent``), and a real Quick, Draw! drawing
from the held-out test split.
"""

from __future__ import annotations

import os
from pathlib import Path

from services.common.settings import ROOT

CHROMIUM = os.environ.get("SKETCHREF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
]
# SKETCHREF_WEB_MODELS=doubles runs the workers on the plumbing doubles (UI work without weights).
DOUBLES = os.environ.get("SKETCHREF_WEB_MODELS", "real") == "doubles"
PHONE = {"viewport": {"width": 412, "height": 915}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}


def artifacts_dir() -> Path:
    d = Path(os.environ.get("SKETCHREF_ARTIFACTS_DIR") or ROOT / "out" / "artifacts")
    d.mkdir(parents=True, exist_ok=True)
    return d


def held_out_drawing(word: str, min_strokes: int = 3):
    """The first recognised drawing of ``word`` whose ``key_id`` hashes to the test split."""
    from training.data.quickdraw import _fmt_dir, read_ndjson, split_of

    path = _fmt_dir("raw") / f"{word}.ndjson"
    for d in read_ndjson(path):
        if split_of(d.key_id) == "test" and d.recognized and len(d.strokes) >= min_strokes:
            return d
    raise LookupError(f"no test-split drawing of {word!r} in {path}")


def fit_strokes(strokes, box, margin: float = 0.12):
    """Scale and centre Quick, Draw! strokes (``[[xs, ys, ...], ...]``) into ``box`` = (x, y, w, h)."""
    xs = [x for s in strokes for x in s[0]]
    ys = [y for s in strokes for y in s[1]]
    x0, y0 = min(xs), min(ys)
    w, h = max(max(xs) - x0, 1), max(max(ys) - y0, 1)
    bx, by, bw, bh = box
    scale = min(bw * (1 - 2 * margin) / w, bh * (1 - 2 * margin) / h)
    ox = bx + (bw - w * scale) / 2
    oy = by + (bh - h * scale) / 2
    return [[(ox + (x - x0) * scale, oy + (y - y0) * scale) for x, y in zip(s[0], s[1], strict=False)]
            for s in strokes]


class Finger:
    """One finger on the touch screen, through the DevTools protocol (real touch events, so the page
    sees ``pointerType == "touch"`` pointer events exactly as on a phone)."""

    def __init__(self, page):
        self.page = page
        self.cdp = page.context.new_cdp_session(page)

    def _touch(self, kind: str, x: float | None = None, y: float | None = None) -> None:
        points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1, "radiusX": 2, "radiusY": 2, "force": 0.5}]
        self.cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    def stroke(self, points, step: float = 12.0) -> None:
        """Draw one stroke through ``points`` (CSS px of the viewport), moving at most ``step`` px per event.

        Headless Chromium acknowledges one touch event per frame (~17 ms), so the step sets the finger's
        speed: 12 px a frame is ~720 px/s, a brisk doodling pace. Points closer than that to the last
        one sent are skipped (raw Quick, Draw! strokes hold a point every pixel or two; one event each
        made every drawn test ~10 s longer for nothing it checks)."""
        (x, y), rest = points[0], points[1:]
        self._touch("touchStart", x, y)
        for i, (nx, ny) in enumerate(rest):
            dist = max(abs(nx - x), abs(ny - y))
            if dist < step and i < len(rest) - 1:
                continue  # a raw drawing's dense points: one event per frame, as a touch screen sends
            n = max(1, int(dist // step))
            for k in range(1, n + 1):
                self._touch("touchMove", x + (nx - x) * k / n, y + (ny - y) * k / n)
            x, y = nx, ny
        self._touch("touchEnd")

    def draw(self, strokes) -> None:
        for s in strokes:
            self.stroke(s)


def canvas_box(page):
    b = page.get_by_test_id("canvas").bounding_box()
    return b["x"], b["y"], b["width"], b["height"]


def draw_drawing(page, drawing, margin: float = 0.14) -> int:
    """Draw a Quick, Draw! drawing on the app's canvas by touch; answers the number of strokes."""
    strokes = fit_strokes(drawing.strokes, canvas_box(page), margin)
    Finger(page).draw(strokes)
    return len(strokes)
