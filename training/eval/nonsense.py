"""``sketchref eval recognition nonsense``: inputs that are not drawings of any of the 345 things.

- scribbles: random-walk scribbles, hatching, shading (colouring-in) and text-like loops (seeded,
  ``--scenes`` of them), black pen on white, 512-1024 px canvases;
- photos: every JPEG/BMP under ``data/photos`` (people, a bus, a flower, animals...).

The figure is the share of inputs in which any object is marked ``confident`` (bar: <= 10%), with a
95% Wilson interval, per kind; also the share with any object at all.
"""

from __future__ import annotations

import io
import math
import random
from pathlib import Path

from PIL import Image

from services.core.imaging import encode_image
from services.core.rendering import render_strokes

from .stats import wilson

KINDS = ("scribble", "hatching", "shading", "text")  # none a drawing of one of the 345 things


def scribble(rng: random.Random, kind: str) -> list:
    """Strokes (``[[xs, ys], ...]``, unit square) of a mark that is not a drawing of a thing."""
    if kind == "scribble":
        x, y, xs, ys = 0.5, 0.5, [], []
        for _ in range(rng.randint(20, 60)):
            x = min(1, max(0, x + rng.uniform(-0.25, 0.25)))
            y = min(1, max(0, y + rng.uniform(-0.25, 0.25)))
            xs.append(x)
            ys.append(y)
        return [[xs, ys]]
    if kind == "hatching":
        a, n = rng.uniform(0, math.pi), rng.randint(6, 16)
        dx, dy = math.cos(a), math.sin(a)
        out = []
        for i in range(n):
            o = (i / (n - 1) - 0.5)
            cx, cy = 0.5 - dy * o, 0.5 + dx * o
            out.append([[cx - dx * 0.4, cx + dx * 0.4], [cy - dy * 0.4, cy + dy * 0.4]])
        return out
    if kind == "shading":  # colouring-in: one stroke back and forth across a blob
        xs, ys, n = [], [], rng.randint(8, 20)
        for i in range(n):
            y = i / (n - 1)
            half = 0.5 * (1 - abs(2 * y - 1)) ** 0.5 * rng.uniform(0.7, 1.0)
            xs += [0.5 - half, 0.5 + half] if i % 2 == 0 else [0.5 + half, 0.5 - half]
            ys += [y + rng.uniform(-0.02, 0.02), y + rng.uniform(-0.02, 0.02)]
        return [[xs, ys]]
    # text-like: a few rows of small loops, like handwriting
    out = []
    for row in range(rng.randint(1, 4)):
        xs, ys, x = [], [], 0.0
        while x < 1:
            r = rng.uniform(0.02, 0.05)
            for k in range(8):
                t = 2 * math.pi * k / 8
                xs.append(x + r * math.cos(t) + r)
                ys.append(0.2 + 0.2 * row + r * math.sin(t))
            x += rng.uniform(1.5, 3) * r
        out.append([xs, ys])
    return out


def scribble_image(rng: random.Random, kind: str) -> Image.Image:
    size = rng.choice([512, 640, 768, 1024])
    return render_strokes(scribble(rng, kind), size, rng.uniform(0.006, 0.014) * size, rng.uniform(0.05, 0.3))


def photo_paths(root: str | Path | None = None) -> list[Path]:
    if root is None:
        from services.common.settings import get_settings

        root = Path(get_settings().shared_dir) / "data" / "photos"
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".bmp", ".png"))


def _as_upload(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix.lower() == ".bmp":  # the API takes PNG/JPEG/WebP: a user would send it as PNG
        return encode_image(Image.open(io.BytesIO(data)).convert("RGB"))
    return data


def eval_nonsense(recognizer, n: int, seed: int, photos_root=None, sheet: str | None = None) -> dict:
    rng = random.Random(seed)
    inputs = [("scribble", encode_image(scribble_image(rng, KINDS[i % len(KINDS)]))) for i in range(n)]
    inputs += [("photo", _as_upload(p)) for p in photo_paths(photos_root)]
    counts: dict[str, list[int]] = {}
    examples = []
    for kind, data in inputs:
        objs = recognizer.recognize(data, top_k=3, references=0).objects
        c = counts.setdefault(kind, [0, 0, 0])
        c[0] += 1
        c[1] += any(o.confident for o in objs)
        c[2] += bool(objs)
        if sheet and sum(k == kind for k, _ in examples) < 4 and objs:
            examples.append((kind, (Image.open(io.BytesIO(data)), objs)))
    if sheet:
        from .sheet import contact_sheet

        contact_sheet([e for _, e in examples], sheet, title="nonsense: scribbles and photos")
    res = {}
    for kind, (total, conf, anyobj) in counts.items():
        res[kind] = {"inputs": total, "confident_rate": conf / total, "confident_rate_ci": wilson(conf, total),
                     "any_object_rate": anyobj / total}
    allc = [sum(v[i] for v in counts.values()) for i in range(2)]
    res["all"] = {"inputs": allc[0], "confident_rate": allc[1] / max(allc[0], 1),
                  "confident_rate_ci": wilson(allc[1], allc[0])}
    res["bar_met"] = all(v["confident_rate"] <= 0.10 for k, v in res.items() if isinstance(v, dict))
    return res
