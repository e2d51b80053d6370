"""Finding labelled images in a folder, for the local gallery.

Three ways a folder says what its images show, tried in this order:

1. ``--labels FILE``: JSON ``{"path/or/name.jpg": ["cat", ...]}`` (a string for one label), or text
   lines ``path,label[,label...]`` (tabs work too, ``#`` starts a comment). Paths are relative to the
   folder; only the listed images are taken.
2. YOLO datasets inside the folder (a ``config.yaml``/``data.yaml``/``dataset.yaml`` with ``names``;
   each ``images/.../x.jpg`` has ``labels/.../x.txt`` rows ``class cx cy w h``): every labelled class,
   with its largest box and the share of the picture its boxes cover.
3. Any other image: its file name (``hot_dog.jpg``), else its parent folder's name (``cat/001.jpg``).

Labels are mapped to Quick, Draw! words (:mod:`.labels`); images with none are still listed (they
never match a query), so the caller can report them.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .labels import labels_from_name, normalise, to_quickdraw

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
YOLO_CONFIGS = ("config.yaml", "data.yaml", "dataset.yaml")


@dataclass
class Region:
    prominence: float  # share of the picture showing this label, 0..1 (1 for whole-image labels)
    box: tuple[float, float, float, float] | None = None  # largest box, relative x1, y1, x2, y2


@dataclass
class Item:
    path: Path
    labels: dict[str, Region] = field(default_factory=dict)  # Quick, Draw! word -> where
    source_labels: list[str] = field(default_factory=list)


def is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_EXTS


def _whole(words: list[str]) -> dict[str, Region]:
    return {w: Region(1.0) for w in words}


def read_labels_file(path: Path) -> dict[str, list[str]]:
    text = Path(path).read_text()
    if text.lstrip().startswith("{"):
        raw = json.loads(text)
        return {k: [v] if isinstance(v, str) else list(v) for k, v in raw.items()}
    out: dict[str, list[str]] = {}
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    dialect = "excel-tab" if lines and "\t" in lines[0] else "excel"
    for row in csv.reader(lines, dialect=dialect):
        if len(row) >= 2:
            out.setdefault(row[0].strip(), []).extend(c.strip() for c in row[1:] if c.strip())
    return out


def from_labels_file(root: Path, labels_file: Path) -> list[Item]:
    items = []
    for rel, labels in read_labels_file(labels_file).items():
        p = (root / rel) if not Path(rel).is_absolute() else Path(rel)
        if not is_image(p):
            continue
        words = [w for w in (to_quickdraw(lb) for lb in labels) if w]
        items.append(Item(p, _whole(list(dict.fromkeys(words))), labels))
    return items


def yolo_names(config: Path) -> dict[int, str]:
    """``names`` of a YOLO dataset yaml, as a dict (``0: person`` lines) or a list; no yaml library."""
    lines = config.read_text().splitlines()
    names: dict[int, str] = {}
    for i, line in enumerate(lines):
        m = re.match(r"^names\s*:\s*(.*)$", line)
        if not m:
            continue
        inline = m.group(1).strip()
        if inline.startswith("["):
            parts = [x.strip().strip("'\"") for x in inline.strip("[]").split(",")]
            return {k: v for k, v in enumerate(parts) if v}
        for sub in lines[i + 1:]:
            if sub.strip() and not sub.startswith((" ", "\t")):
                break
            dm = re.match(r"^\s+(\d+)\s*:\s*(.+?)\s*$", sub)
            lm = re.match(r"^\s+-\s*(.+?)\s*$", sub)
            if dm:
                names[int(dm.group(1))] = dm.group(2).strip("'\"")
            elif lm:
                names[len(names)] = lm.group(1).strip("'\"")
        return names
    return names


def _yolo_item(image: Path, label_file: Path, names: dict[int, str]) -> Item:
    regions: dict[str, Region] = {}
    source: list[str] = []
    for row in label_file.read_text().splitlines():
        parts = row.split()
        if len(parts) < 5:
            continue
        name = names.get(int(float(parts[0])), parts[0])
        if name not in source:
            source.append(name)
        word = to_quickdraw(name)
        if not word:
            continue
        cx, cy, w, h = (float(v) for v in parts[1:5])
        box = (max(cx - w / 2, 0.0), max(cy - h / 2, 0.0), min(cx + w / 2, 1.0), min(cy + h / 2, 1.0))
        r = regions.setdefault(word, Region(0.0, box))
        r.prominence = min(1.0, r.prominence + w * h)
        if r.box is None or w * h > (r.box[2] - r.box[0]) * (r.box[3] - r.box[1]):
            r.box = box
    return Item(image, regions, source)


def from_yolo(dataset: Path) -> tuple[list[Item], set[Path]]:
    names = {}
    for c in YOLO_CONFIGS:
        if (dataset / c).is_file():
            names = yolo_names(dataset / c)
            break
    items, seen = [], set()
    images_dir = dataset / "images"
    for p in sorted(images_dir.rglob("*")) if images_dir.is_dir() else []:
        if not is_image(p):
            continue
        seen.add(p)
        lab = dataset / "labels" / p.relative_to(images_dir).with_suffix(".txt")
        if lab.is_file():
            items.append(_yolo_item(p, lab, names))
        else:
            items.append(Item(p))
    return items, seen


def scan_folder(root: str | Path, labels_file: str | Path | None = None) -> list[Item]:
    root = Path(root)
    if root.is_file():
        return [Item(root, _whole(labels_from_name(root.stem)), [root.stem])] if is_image(root) else []
    if labels_file:
        return from_labels_file(root, Path(labels_file))
    items: list[Item] = []
    claimed: set[Path] = set()
    for config in sorted(p for c in YOLO_CONFIGS for p in root.rglob(c)):
        if (config.parent / "images").is_dir():
            found, seen = from_yolo(config.parent)
            items += found
            claimed |= seen
    for p in sorted(root.rglob("*")):
        if p in claimed or not is_image(p):
            continue
        words = labels_from_name(p.stem) or (labels_from_name(p.parent.name) if p.parent != root else [])
        items.append(Item(p, _whole(words), [normalise(p.stem)]))
    return items
