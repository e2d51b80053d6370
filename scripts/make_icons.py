"""Draw the phone app's icons with Pillow and write them to services/gateway/static/icons/.

The mark: a hand-drawn house on an indigo tile, framed by amber detection-box corners — a sketch,
recognised. Drawn 4x larger and downsampled for smooth edges. Run: ``python scripts/make_icons.py``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "services" / "gateway" / "static" / "icons"
SS = 4  # supersampling factor
TOP, BOTTOM = (79, 70, 229), (55, 48, 163)  # indigo gradient
INK = (255, 255, 255)
AMBER = (251, 191, 36)


def _gradient(size: int) -> Image.Image:
    g = Image.new("RGB", (1, size))
    for y in range(size):
        t = y / max(size - 1, 1)
        g.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(TOP, BOTTOM, strict=True)))
    return g.resize((size, size))


def _wobbly(points: list[tuple[float, float]], amp: float, seed: int) -> list[tuple[float, float]]:
    """Resample a polyline densely and nudge it sideways a little, like a hand-drawn line."""
    out = []
    for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
        n = max(2, int(math.hypot(x2 - x1, y2 - y1) / 0.002))
        nx, ny = -(y2 - y1), x2 - x1
        norm = math.hypot(nx, ny) or 1
        for i in range(n):
            t = i / n
            w = amp * math.sin(7.0 * t + seed) * math.sin(math.pi * t)
            out.append((x1 + (x2 - x1) * t + nx / norm * w, y1 + (y2 - y1) * t + ny / norm * w))
    out.append(points[-1])
    return out


def _line(d: ImageDraw.ImageDraw, pts, size: int, width: float, color) -> None:
    # Stamp round dabs along the (densely sampled) line: smooth round caps and joins at any width.
    r = max(0.5, width * size / 2)
    for x, y in pts:
        x, y = x * size, y * size
        d.ellipse((x - r, y - r, x + r, y + r), fill=color)


def draw_mark(size: int, *, inset: float, rounded: bool) -> Image.Image:
    """The icon at ``size`` px; ``inset`` shrinks the artwork (maskable icons keep a safe zone)."""
    big = size * SS
    tile = _gradient(big).convert("RGBA")
    if rounded:
        mask = Image.new("L", (big, big), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, big - 1, big - 1), radius=int(big * 0.22), fill=255)
        tile.putalpha(mask)
    art = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(art)

    def at(x: float, y: float) -> tuple[float, float]:  # artwork coords (0..1) -> tile coords
        return inset + x * (1 - 2 * inset), inset + y * (1 - 2 * inset)

    s = 1 - 2 * inset
    stroke = 0.052 * s
    # Detection-box corners.
    x1, y1, x2, y2, arm = 0.16, 0.16, 0.84, 0.84, 0.15
    for cx, cy, dx, dy in ((x1, y1, 1, 1), (x2, y1, -1, 1), (x1, y2, 1, -1), (x2, y2, -1, -1)):
        corner = [(cx + dx * arm, cy), (cx, cy), (cx, cy + dy * arm)]
        _line(d, [at(x, y) for x, y in _wobbly(corner, 0.0, 0)], big, 0.045 * s, AMBER)
    # The doodle: a little house with a door.
    house = [(0.30, 0.50), (0.30, 0.72), (0.70, 0.72), (0.70, 0.50)]
    roof = [(0.25, 0.53), (0.50, 0.29), (0.75, 0.53)]
    door = [(0.44, 0.72), (0.44, 0.58), (0.56, 0.58), (0.56, 0.72)]
    for i, part in enumerate((house, roof, door)):
        _line(d, [at(x, y) for x, y in _wobbly(part, 0.006, i)], big, stroke, INK)
    tile.alpha_composite(art)
    return tile.resize((size, size), Image.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    outputs = {
        "icon-192.png": draw_mark(192, inset=0.0, rounded=True),
        "icon-512.png": draw_mark(512, inset=0.0, rounded=True),
        # Maskable: full-bleed tile, artwork inside the central 80% safe zone.
        "maskable-512.png": draw_mark(512, inset=0.12, rounded=False),
        # iOS rounds the corners itself and dislikes transparency.
        "apple-touch-icon.png": draw_mark(180, inset=0.04, rounded=False).convert("RGB"),
        "favicon-32.png": draw_mark(32, inset=0.0, rounded=True),
    }
    for name, img in outputs.items():
        img.save(OUT / name, optimize=True)
        print(OUT / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
