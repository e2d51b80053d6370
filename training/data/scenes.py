"""Multi-object sketch scenes composed from real Quick, Draw! drawings, with YOLO boxes.

A scene is a phone-like canvas holding 1-6 real drawings, each scaled, rotated a little, drawn with a
pen width shared by the scene (sometimes varied per object) and placed so that the objects do not
overlap. The box of an object is the extent of its ink. Scenes for a split draw only on drawings of
that split (see :func:`training.data.quickdraw.split_of`), so train/val/test scenes never share a
drawing.

Harder scenes (:meth:`SceneConfig.hard`) add what people do on phones: objects that touch or overlap a
little, very small and very large objects, thick and thin pens, stray marks and scribbles that are not
objects (no box), and drawings made of separated parts (``rain``, ``star``, ``snowflake``...) that stay
one object with one box. :meth:`SceneConfig.issue5` is the must-show distribution of issue 5 (pen in
pixels, 4-8 px; objects 18-42% of the short side; a few pixels apart).
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image

from services.core.rendering import Box, as_point_arrays, place_strokes, render_strokes

from .quickdraw import Drawing

CANVASES = [(512, 512), (720, 1280), (1280, 720), (600, 800), (800, 600), (1080, 1920), (768, 1024), (640, 640)]
# phone screens in CSS pixels, portrait and landscape, besides the photo-like sizes above
PHONE_CANVASES = [(360, 780), (780, 360), (390, 844), (844, 390), (412, 915), (915, 412), (1170, 2532 // 2)]
ISSUE5_CANVASES = [(512, 512), (540, 960), (600, 800), (640, 640), (720, 720), (720, 1280), (800, 600),
                   (960, 540), (1280, 720)]
# categories whose drawings are usually several separated pieces; each stays ONE object (one box)
MULTIPART_WORDS = ("rain", "star", "snowflake", "grapes", "peas", "blueberry", "stitches", "eyeglasses",
                   "hurricane", "camouflage", "beard", "drums", "snowman", "house plant", "toe")


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
    # --- harder scenes (all off by default: the defaults compose the original scenes) ---
    stroke_abs: tuple[float, float] | None = None  # pen width in pixels; overrides stroke_px
    pen_vary: float = 0.3  # probability that an object gets its own pen width (x0.8-1.25)
    touch_prob: float = 0.0  # probability that an object may touch/overlap its neighbours a little
    max_overlap: float = 0.08  # then: intersection <= this fraction of the smaller ink box
    tiny_prob: float = 0.0  # probability of a very small object...
    tiny_size: tuple[float, float] = (0.05, 0.10)
    huge_prob: float = 0.0  # ...or of a very large one (fractions of the short side)
    huge_size: tuple[float, float] = (0.5, 0.85)
    stray_prob: float = 0.0  # probability that a scene has stray marks (dots, dashes, scribbles: no box)
    max_strays: int = 3
    stray_size: tuple[float, float] = (0.01, 0.04)  # longer side of a stray mark, fraction of the short side
    multipart_prob: float = 0.0  # probability of drawing an object from a multi-part category
    multipart_words: tuple[str, ...] = MULTIPART_WORDS
    # --- near layouts (style families): each drawing after the first is put next to one already there
    near_gaps: tuple[tuple[float, float], ...] = ()  # gap ranges in pixels between the ink boxes
    near_overlap: tuple[float, float] | None = None  # or overlap, fraction of the smaller drawing's side

    @classmethod
    def large(cls, **kw) -> SceneConfig:
        """One or two big drawings filling up to 92% of the short side (a single sketch on a phone)."""
        return cls(**{"min_objects": 1, "max_objects": 2, "min_size": 0.45, "max_size": 0.92,
                      "max_rotation": 8.0, **kw})

    @classmethod
    def hard(cls, **kw) -> SceneConfig:
        """Realistic phone scenes: every difficulty above switched on."""
        base = cls(min_size=0.10, max_size=0.45, min_gap=2.0, stroke_px=(0.002, 0.022), max_rotation=15.0,
                   canvases=CANVASES + PHONE_CANVASES, pen_vary=0.4, touch_prob=0.25, max_overlap=0.08,
                   tiny_prob=0.12, huge_prob=0.08, stray_prob=0.35, multipart_prob=0.15)
        return replace(base, **kw)

    @classmethod
    def issue5(cls, **kw) -> SceneConfig:
        """Issue 5's must-show scenes: 1-6 drawings, black 4-8 px strokes on white, canvases 512x512 to
        720x1280 (either way up), objects 18-42% of the short side, a few pixels apart."""
        base = cls(min_objects=1, max_objects=6, min_size=0.18, max_size=0.42, min_gap=4.0,
                   stroke_abs=(4.0, 8.0), max_rotation=10.0, canvases=list(ISSUE5_CANVASES), pen_vary=0.3)
        return replace(base, **kw)


@dataclass
class Scene:
    image: Image.Image
    boxes: list[Box]
    words: list[str]
    strays: list[Box] = field(default_factory=list)  # ink of marks that are not objects (never labelled)
    key_ids: list[str] = field(default_factory=list)
    # what a phone would have sent: each object's strokes in canvas pixels ((N, 2) arrays), objects in
    # the order they were drawn, and the scene's pen width (objects may have been drawn a little wider
    # or thinner; ``boxes`` are the ink as drawn)
    strokes: list[list[np.ndarray]] = field(default_factory=list)
    pen: float = 0.0

    def strokes_request(self) -> dict:
        """The scene as the app submits it (``POST /v1/jobs`` strokes JSON): one drawing after the other,
        stray marks last, all in the scene's pen width."""
        strokes = [[p[:, 0].tolist(), p[:, 1].tolist()] for obj in self.strokes for p in obj]
        return {"strokes": strokes, "width": self.image.width, "height": self.image.height,
                "stroke_width": self.pen}


def _overlaps(a: Box, b: Box, gap: float) -> bool:
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])


def _too_close(a: Box, b: Box, cfg: SceneConfig, touching: bool) -> bool:
    if not touching:
        return _overlaps(a, b, cfg.min_gap)
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return False
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy > cfg.max_overlap * smaller


def _size(rng: random.Random, cfg: SceneConfig) -> float:
    r = rng.random()
    if r < cfg.tiny_prob:
        return rng.uniform(*cfg.tiny_size)
    if r < cfg.tiny_prob + cfg.huge_prob:
        return rng.uniform(*cfg.huge_size)
    return rng.uniform(cfg.min_size, cfg.max_size)


def _pick(drawings: list[Drawing], rng: random.Random, cfg: SceneConfig, multipart: list[Drawing]) -> Drawing:
    if multipart and rng.random() < cfg.multipart_prob:
        return rng.choice(multipart)
    return rng.choice(drawings)


def stray_strokes(rng: random.Random, center: tuple[float, float], size: float) -> list:
    """A mark that is not an object: a dot, a dash, a tick or a small scribble, about ``size`` long."""
    cx, cy = center
    kind = rng.choice(["dot", "dash", "tick", "scribble"])
    if kind == "dot":
        return [[[cx], [cy]]]
    if kind == "dash":
        a = rng.uniform(0, math.pi)
        dx, dy = math.cos(a) * size / 2, math.sin(a) * size / 2
        return [[[cx - dx, cx + dx], [cy - dy, cy + dy]]]
    if kind == "tick":
        return [[[cx - size / 2, cx - size / 6, cx + size / 2], [cy, cy + size / 3, cy - size / 2]]]
    n = rng.randint(4, 8)
    xs = [cx + rng.uniform(-size / 2, size / 2) for _ in range(n)]
    ys = [cy + rng.uniform(-size / 4, size / 4) for _ in range(n)]
    return [[xs, ys]]


def _add_strays(image: Image.Image, boxes: list[Box], rng: random.Random, cfg: SceneConfig, pen: float,
                marks: list[list[np.ndarray]]) -> list[Box]:
    """Stray marks between the objects; their ink boxes, and their strokes appended to ``marks``."""
    w, h = image.size
    short = min(w, h)
    out: list[Box] = []
    for _ in range(rng.randint(1, cfg.max_strays)):
        size = rng.uniform(*cfg.stray_size) * short
        width = max(1.0, pen * rng.uniform(0.6, 1.0))
        for _attempt in range(20):
            cx, cy = rng.uniform(size, w - size), rng.uniform(size, h - size)
            r = size / 2 + width
            ink = (cx - r, cy - r, cx + r, cy + r)
            if any(_overlaps(ink, b, max(cfg.min_gap, 0.03 * short)) for b in boxes + out):
                continue
            mark = stray_strokes(rng, (cx, cy), size)
            render_strokes(mark, stroke_width=width, margin=None, canvas=image)
            marks.append(as_point_arrays(mark))
            out.append(ink)
            break
    return out


def _near(placed, ink: Box, boxes: list[Box], rng: random.Random, cfg: SceneConfig):
    """Move a placed drawing so its ink box is ``gap`` px from (or overlaps) a random existing box, on
    a random side, sharing at least a third of that side. Returns (points, ink) or None."""
    b = rng.choice(boxes)
    w, h = ink[2] - ink[0], ink[3] - ink[1]
    if cfg.near_overlap:
        gap = -rng.uniform(*cfg.near_overlap) * min(w, h, b[2] - b[0], b[3] - b[1])
    else:
        gap = rng.uniform(*rng.choice(cfg.near_gaps))
    side = rng.choice("lrtb")
    if side in "lr":
        x = b[2] + gap if side == "r" else b[0] - gap - w
        lo, hi = b[1] - 2 * h / 3, b[3] - h / 3
        y = rng.uniform(min(lo, hi), max(lo, hi))
    else:
        y = b[3] + gap if side == "b" else b[1] - gap - h
        lo, hi = b[0] - 2 * w / 3, b[2] - w / 3
        x = rng.uniform(min(lo, hi), max(lo, hi))
    dx, dy = x - ink[0], y - ink[1]
    return [p + [dx, dy] for p in placed], (ink[0] + dx, ink[1] + dy, ink[2] + dx, ink[3] + dy), b


def compose_scene(drawings: list[Drawing], rng: random.Random, cfg: SceneConfig | None = None,
                  canvas: tuple[int, int] | None = None) -> Scene:
    cfg = cfg or SceneConfig()
    w, h = canvas or rng.choice(cfg.canvases)
    short = min(w, h)
    image = Image.new("L", (w, h), 255)
    pen = rng.uniform(*cfg.stroke_abs) if cfg.stroke_abs else rng.uniform(*cfg.stroke_px) * short
    multipart = [d for d in drawings if d.word in cfg.multipart_words] if cfg.multipart_prob > 0 else []
    boxes: list[Box] = []
    words: list[str] = []
    keys: list[str] = []
    drawn: list[list[np.ndarray]] = []
    want = rng.randint(cfg.min_objects, cfg.max_objects)
    for _ in range(want):
        d = _pick(drawings, rng, cfg, multipart)
        width = max(1.5, pen * rng.uniform(0.8, 1.25) if rng.random() < cfg.pen_vary else pen)
        if cfg.stroke_abs:
            width = min(max(width, cfg.stroke_abs[0]), cfg.stroke_abs[1])
        touching = rng.random() < cfg.touch_prob
        for _attempt in range(40):
            size = min(_size(rng, cfg) * short, short - 1)
            x1 = rng.uniform(0, w - size)
            y1 = rng.uniform(0, h - size)
            placed, ink = place_strokes(d.strokes, (x1, y1, x1 + size, y1 + size), width,
                                        rng.uniform(-cfg.max_rotation, cfg.max_rotation))
            near = None
            if boxes and (cfg.near_gaps or cfg.near_overlap):
                placed, ink, near = _near(placed, ink, boxes, rng, cfg)
            if ink[0] < 0 or ink[1] < 0 or ink[2] > w or ink[3] > h:
                continue
            if near is not None:
                if any(_too_close(ink, b, replace(cfg, max_overlap=0.15), True) if cfg.near_overlap
                       else _overlaps(ink, b, -0.01) for b in boxes if b is not near):
                    continue
            elif any(_too_close(ink, b, cfg, touching) for b in boxes):
                continue
            render_strokes([[p[:, 0], p[:, 1]] for p in placed], stroke_width=width, margin=None, canvas=image)
            boxes.append(ink)
            words.append(d.word)
            keys.append(d.key_id)
            drawn.append(placed)
            break
    if not boxes:  # a crowded canvas can refuse everything: one centred object then
        return compose_scene(drawings, rng, cfg, canvas=(w, h))
    marks: list[list[np.ndarray]] = []
    strays = _add_strays(image, boxes, rng, cfg, pen, marks) if rng.random() < cfg.stray_prob else []
    return Scene(image, boxes, words, strays, keys, drawn + marks, pen)


def yolo_line(box: Box, size: tuple[int, int], cls: int = 0) -> str:
    w, h = size
    x1, y1, x2, y2 = box
    return f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"


def downscale(image: Image.Image, max_side: int) -> Image.Image:
    """Area-average down to ``max_side``: the detector's own input resize, so scenes match serving."""
    from services.detector.model import downscale as detector_downscale

    return detector_downscale(image, max_side)[0]


def write_yolo_split(out_dir: Path, split: str, drawings: list[Drawing], n: int, seed: int,
                     max_side: int, cfg: SceneConfig | None = None,
                     class_ids: dict[str, int] | None = None, prefix: str = "",
                     styles: tuple[str, ...] = ()) -> None:
    """Write ``n`` scenes as ``images/<split>/<prefix><i>.png`` + ``labels/<split>/<prefix><i>.txt``.

    One class (``object``, id 0) unless ``class_ids`` maps each word to its id (e.g. the index in
    :func:`training.data.quickdraw.class_names`) for the class-head experiment. ``styles``: style
    families (:mod:`training.data.styles`, **train** parameters) used in turn instead of ``cfg``.
    Every image is saved as the detector sees it in serving: through ``clean_sketch``, then shrunk.
    """
    from services.core.preprocess import clean_sketch

    from .styles import styled_scene

    rng = random.Random(seed)
    (out_dir / "images" / split).mkdir(parents=True, exist_ok=True)
    (out_dir / "labels" / split).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        scene = (styled_scene(drawings, rng, styles[i % len(styles)], "train") if styles
                 else compose_scene(drawings, rng, cfg))
        size = scene.image.size
        downscale(clean_sketch(scene.image), max_side).save(out_dir / "images" / split / f"{prefix}{i:05d}.png")
        lines = [yolo_line(b, size, class_ids[word] if class_ids else 0)
                 for b, word in zip(scene.boxes, scene.words, strict=True)]
        (out_dir / "labels" / split / f"{prefix}{i:05d}.txt").write_text("\n".join(lines) + "\n")


HELDOUT_SEED = 5_000_005


def heldout_scenes(n: int = 300, seed: int = HELDOUT_SEED, cfg: SceneConfig | None = None,
                   drawings: list[Drawing] | None = None):
    """The fixed held-out scene set: hard scenes from **test-split** drawings only (never trained or
    tuned on), the same ``n`` scenes for the same seed. Yields :class:`Scene` at full resolution."""
    if drawings is None:
        from .quickdraw import load_drawings

        drawings = load_drawings("raw", split="test")
    rng = random.Random(seed)
    cfg = cfg or SceneConfig.hard()
    for _ in range(n):
        yield compose_scene(drawings, rng, cfg)


def write_heldout(out_dir: Path, n: int = 300, seed: int = HELDOUT_SEED, cfg: SceneConfig | None = None,
                  drawings: list[Drawing] | None = None) -> Path:
    """Save the held-out set as full-size PNGs plus ``scenes.json`` (boxes, words, key ids, strays)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    index = []
    for i, s in enumerate(heldout_scenes(n, seed, cfg, drawings)):
        name = f"{i:05d}.png"
        s.image.save(out_dir / name)
        index.append({"image": name, "size": list(s.image.size), "boxes": [list(b) for b in s.boxes],
                      "words": s.words, "key_ids": s.key_ids, "strays": [list(b) for b in s.strays]})
    path = out_dir / "scenes.json"
    path.write_text(json.dumps({"seed": seed, "n": n, "scenes": index}))
    return path
