"""Multi-object sketch scenes composed from real Quick, Draw! drawings, with YOLO boxes.

A scene is a phone-like canvas holding 1-6 real drawings, each scaled, rotated a little, drawn with a
pen width shared by the scene (sometimes varied per object) and placed so that the objects do not
overlap. The box of an object is the extent of its ink. Scenes for a split draw only on drawings of
that split (see :func:`training.data.quickdraw.split_of`), so train/val/test scenes never share a
drawing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from services.common.rendering import Box, place_strokes, render_strokes

from .quickdraw import Drawing

CANVASES = [(512, 512), (720, 1280), (1280, 720), (600, 800), (800, 600), (1080, 1920), (768, 1024), (640, 640)]


@dataclass
class SceneConfig:
    min_objects: int = 1
    max_objects: int = 6
    min_size: float = 0.12  # object's longer side, fraction of the canvas's short side
    max_size: float = 0.45
    min_gap: float = 4.0  # pixels between ink boxes
    stroke_px: tuple[float, float] = (0.004, 0.014)  # pen width, fraction of the short side
    max_rotation: float = 12.0
    canvases: list[tuple[int, int]] = field(default_factory=lambda: list(CANVASES))


@dataclass
class Scene:
    image: Image.Image
    boxes: list[Box]
    words: list[str]


def _overlaps(a: Box, b: Box, gap: float) -> bool:
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])


def compose_scene(drawings: list[Drawing], rng: random.Random, cfg: SceneConfig | None = None,
                  canvas: tuple[int, int] | None = None) -> Scene:
    cfg = cfg or SceneConfig()
    w, h = canvas or rng.choice(cfg.canvases)
    short = min(w, h)
    image = Image.new("L", (w, h), 255)
    pen = rng.uniform(*cfg.stroke_px) * short
    boxes: list[Box] = []
    words: list[str] = []
    want = rng.randint(cfg.min_objects, cfg.max_objects)
    for _ in range(want):
        d = rng.choice(drawings)
        width = max(1.5, pen * rng.uniform(0.8, 1.25) if rng.random() < 0.3 else pen)
        for _attempt in range(40):
            size = rng.uniform(cfg.min_size, cfg.max_size) * short
            x1 = rng.uniform(0, w - size)
            y1 = rng.uniform(0, h - size)
            placed, ink = place_strokes(d.strokes, (x1, y1, x1 + size, y1 + size), width,
                                        rng.uniform(-cfg.max_rotation, cfg.max_rotation))
            if ink[0] < 0 or ink[1] < 0 or ink[2] > w or ink[3] > h:
                continue
            if any(_overlaps(ink, b, cfg.min_gap) for b in boxes):
                continue
            render_strokes([[p[:, 0], p[:, 1]] for p in placed], stroke_width=width, margin=None, canvas=image)
            boxes.append(ink)
            words.append(d.word)
            break
    if not boxes:  # a crowded canvas can refuse everything: one centred object then
        return compose_scene(drawings, rng, cfg, canvas=(w, h))
    return Scene(image, boxes, words)


def yolo_line(box: Box, size: tuple[int, int], cls: int = 0) -> str:
    w, h = size
    x1, y1, x2, y2 = box
    return f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"


def downscale(image: Image.Image, max_side: int) -> Image.Image:
    """Area-average down to ``max_side``: what the detector does to every input too."""
    s = max_side / max(image.size)
    if s >= 1:
        return image
    return image.resize((max(1, round(image.width * s)), max(1, round(image.height * s))), Image.Resampling.BOX)


def write_yolo_split(out_dir: Path, split: str, drawings: list[Drawing], n: int, seed: int,
                     max_side: int, cfg: SceneConfig | None = None) -> None:
    """Write ``n`` scenes as ``images/<split>/*.png`` + ``labels/<split>/*.txt`` (one class: object)."""
    rng = random.Random(seed)
    (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
    (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        scene = compose_scene(drawings, rng, cfg)
        size = scene.image.size
        downscale(scene.image, max_side).save(out_dir / "images" / split / f"{i:05d}.png")
        lines = [yolo_line(b, size) for b in scene.boxes]
        (out_dir / "labels" / split / f"{i:05d}.txt").write_text("\n".join(lines) + "\n")
