"""Loaders for Google's Quick, Draw! formats and the project's fixed split.

Formats (https://github.com/googlecreativelab/quickdraw-dataset):
- raw ndjson: ``drawing`` = ``[[xs, ys, ts], ...]`` in canvas pixels;
- simplified ndjson: ``drawing`` = ``[[xs, ys], ...]`` in a 0-255 box;
- numpy bitmaps: ``(N, 784)`` uint8, 28x28, 0 = background.

**Split** (fixed, documented in the README): a drawing's ``key_id`` is hashed with SHA-1; the first
byte modulo 10 decides: 0-6 train, 7 val, 8-9 test. The same drawing has the same ``key_id`` in raw and
simplified files, so it always lands on the same side. The test split is what "drawings no one working
on the project has seen" means: nothing is tuned or trained on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.classifier.labels import class_names as class_names  # the label order lives in the service
from services.common.assets import asset_path
from services.common.settings import get_settings

SPLITS = ("train", "val", "test")


def split_of(key_id: str | int) -> str:
    b = hashlib.sha1(str(key_id).encode(), usedforsecurity=False).digest()[0] % 10
    return "train" if b < 7 else ("val" if b == 7 else "test")


@dataclass
class Drawing:
    word: str
    key_id: str
    strokes: list  # [[xs, ys(, ts)], ...]
    recognized: bool = True
    countrycode: str = ""

    @property
    def split(self) -> str:
        return split_of(self.key_id)


def read_ndjson(path: str | Path, limit: int | None = None) -> Iterator[Drawing]:
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            yield Drawing(
                word=d["word"],
                key_id=str(d["key_id"]),
                strokes=d["drawing"],
                recognized=bool(d.get("recognized", True)),
                countrycode=d.get("countrycode", ""),
            )


def _fmt_dir(fmt: str) -> Path:
    return Path(get_settings().shared_dir) / "data" / "quickdraw" / fmt


def load_drawings(
    fmt: str = "raw",
    split: str | None = None,
    words: list[str] | None = None,
    per_class: int | None = None,
    recognized_only: bool = False,
    fetched: str | Path | None = None,
) -> list[Drawing]:
    """All drawings of a format (``raw`` or ``simplified``), optionally one split / some classes.

    Reads ``<shared>/data/quickdraw/<fmt>/<word>.ndjson``; for a missing class file, falls back to
    the public file (through :func:`asset_path`), which is large: pass ``per_class`` then.

    ``fetched``: a folder written by ``sketchref data fetch quickdraw`` (Google's simplified drawings,
    train split only). For the train split (or all splits), its drawings of each word are added after
    the shared ones, skipping key_ids already read; anything not in the train split is ignored, so
    held-out drawings can never enter training this way. ``per_class`` caps the total.
    """
    words = words or class_names()
    out: list[Drawing] = []
    for word in words:
        before = len(out)
        _read_word(out, fmt, word, split, per_class, recognized_only)
        extra = Path(fetched) / f"{word}.ndjson" if fetched is not None and split in (None, "train") else None
        if extra is not None and extra.exists():
            seen = {d.key_id for d in out[before:]}
            for d in read_ndjson(extra):
                if per_class is not None and len(out) - before >= per_class:
                    break
                if d.split != "train" or d.key_id in seen or (recognized_only and not d.recognized):
                    continue
                seen.add(d.key_id)
                out.append(d)
    return out


def _read_word(out: list[Drawing], fmt: str, word: str, split: str | None, per_class: int | None,
               recognized_only: bool) -> None:
    local = _fmt_dir(fmt) / f"{word}.ndjson"
    if not local.exists():
        if fmt == "simplified" and word == "zigzag" and (_fmt_dir(fmt)).exists():
            return  # the shared simplified set has no zigzag
        local = asset_path(f"data/quickdraw/{fmt}/{word}.ndjson")
    n = 0
    for d in read_ndjson(local):
        if split is not None and d.split != split:
            continue
        if recognized_only and not d.recognized:
            continue
        out.append(d)
        n += 1
        if per_class is not None and n >= per_class:
            break


def load_bitmaps(word: str, limit: int | None = None) -> np.ndarray:
    """Google's own 28x28 renderings of one class, ``(N, 28, 28)`` uint8."""
    arr = np.load(asset_path(f"data/quickdraw/bitmaps/{word}.npy"), mmap_mode="r")
    if limit is not None:
        arr = arr[:limit]
    return np.asarray(arr).reshape(-1, 28, 28)


def bitmap_words() -> list[str]:
    d = _fmt_dir("bitmaps")
    return sorted(p.stem for p in d.glob("*.npy")) if d.exists() else []
