"""Draw the example sketches in examples/ (our own strokes, not Quick, Draw! data).

Run: .venv/bin/python scripts/make_examples.py  — writes examples/*.json (strokes) and *.png.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from services.core.rendering import place_strokes, render_strokes

OUT = Path(__file__).resolve().parents[1] / "examples"


def wobble(points, rng, amount=0.7):
    return [[x + rng.uniform(-amount, amount) for x, _ in points], [y + rng.uniform(-amount, amount) for _, y in points]]


def line(a, b, n=8):
    return [(a[0] + (b[0] - a[0]) * t / n, a[1] + (b[1] - a[1]) * t / n) for t in range(n + 1)]


def circle(cx, cy, r, n=28, start=0.0, stop=2 * math.pi):
    return [(cx + r * math.cos(start + (stop - start) * t / n), cy + r * math.sin(start + (stop - start) * t / n))
            for t in range(n + 1)]


def house(rng):
    body = line((20, 60), (20, 120)) + line((20, 120), (100, 120))[1:] + line((100, 120), (100, 60))[1:] + line((100, 60), (20, 60))[1:]
    roof = line((12, 62), (60, 18)) + line((60, 18), (108, 62))[1:]
    door = line((50, 120), (50, 88)) + line((50, 88), (70, 88))[1:] + line((70, 88), (70, 120))[1:]
    window = line((78, 72), (92, 72)) + line((92, 72), (92, 84))[1:] + line((92, 84), (78, 84))[1:] + line((78, 84), (78, 72))[1:]
    return [wobble(s, rng) for s in (body, roof, door, window)]


def sun(rng):
    strokes = [wobble(circle(60, 60, 24), rng)]
    for k in range(10):
        a = 2 * math.pi * k / 10
        strokes.append(wobble(line((60 + 32 * math.cos(a), 60 + 32 * math.sin(a)),
                                   (60 + 50 * math.cos(a), 60 + 50 * math.sin(a)), 4), rng, 0.8))
    return strokes


def fish(rng):
    body = circle(55, 50, 32, n=30, start=0.6, stop=2 * math.pi - 0.6)
    body = [(x, 50 + (y - 50) * 0.6) for x, y in body]
    tail = line(body[-1], (100, 32)) + line((100, 32), (100, 70))[1:] + line((100, 70), body[0])[1:]
    eye = circle(36, 45, 3, n=10)
    return [wobble(s, rng, 0.5) for s in (body, tail, eye)]


def clock(rng):
    strokes = [wobble(circle(60, 60, 48, n=36), rng, 0.5)]
    for k in range(12):
        a = 2 * math.pi * k / 12
        strokes.append(wobble(line((60 + 40 * math.cos(a), 60 + 40 * math.sin(a)),
                                   (60 + 46 * math.cos(a), 60 + 46 * math.sin(a)), 2), rng, 0.3))
    strokes.append(wobble(line((60, 60), (60, 26), 5), rng, 0.4))
    strokes.append(wobble(line((60, 60), (84, 70), 5), rng, 0.4))
    return strokes


def umbrella(rng):
    canopy = circle(60, 60, 50, n=30, start=math.pi, stop=2 * math.pi)
    scallops = []
    for k in range(4):
        scallops += circle(22.5 + 25 * k, 60, 12.5, n=8, start=math.pi, stop=0)[(1 if k else 0):]
    handle = line((60, 12), (60, 112), 12) + circle(50, 112, 10, n=8, start=0, stop=math.pi)[1:]
    return [wobble(s, rng, 0.5) for s in (canopy, scallops, handle)]


def cup(rng):
    body = line((20, 20), (28, 110)) + line((28, 110), (82, 110))[1:] + line((82, 110), (90, 20))[1:]
    rim = circle(55, 20, 35, n=24)
    rim = [(x, 20 + (y - 20) * 0.2) for x, y in rim]
    handle = circle(90, 62, 20, n=14, start=-math.pi / 2, stop=math.pi / 2)
    return [wobble(s, rng, 0.5) for s in (body, rim, handle)]


def main() -> None:
    rng = random.Random(7)
    OUT.mkdir(exist_ok=True)
    w, h = 720, 1280
    boxes = [(60, 90, 420, 450), (380, 520, 660, 800), (120, 860, 620, 1210)]
    scene = []
    for make, box in zip((clock, umbrella, cup), boxes, strict=True):
        placed, _ = place_strokes(make(rng), box, 7.0, rng.uniform(-5, 5))
        scene += [[[round(float(x), 1) for x in p[:, 0]], [round(float(y), 1) for y in p[:, 1]]] for p in placed]
    (OUT / "three_objects.json").write_text(json.dumps({"strokes": scene, "width": w, "height": h}))
    render_strokes(scene, (w, h), 7.0, margin=None).save(OUT / "three_objects.png")


if __name__ == "__main__":
    main()
