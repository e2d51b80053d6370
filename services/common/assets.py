"""Find read-only assets: the shared folder first, then the local cache, else their public URL.

Every asset has a path relative to the shared folder (``models/doodlenet/model.json``) and a public
URL. ``SKETCHREF_ASSET_MIRROR`` replaces the scheme and host of public URLs, so a real user behind a
mirror (or with no network but a local copy served over HTTP) gets the same files.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from .settings import get_settings

log = logging.getLogger(__name__)

DOODLENET_URL = "https://raw.githubusercontent.com/ml5js/ml5-data-and-models/main/models/doodlenet/"
QUICKDRAW_URL = "https://storage.googleapis.com/quickdraw_dataset/full/"

# relative path prefix -> public base URL
_PUBLIC = {
    "models/doodlenet/": DOODLENET_URL,
    "data/quickdraw/raw/": QUICKDRAW_URL + "raw/",
    "data/quickdraw/simplified/": QUICKDRAW_URL + "simplified/",
    "data/quickdraw/bitmaps/": QUICKDRAW_URL + "numpy_bitmap/",
}


def public_url(rel: str) -> str:
    for prefix, base in _PUBLIC.items():
        if rel.startswith(prefix):
            url = base + rel[len(prefix):]
            mirror = get_settings().asset_mirror
            if mirror:
                parts = urlsplit(url)
                url = mirror.rstrip("/") + "/" + parts.netloc + parts.path
            return url
    raise KeyError(f"no public source known for {rel}")


def asset_path(rel: str, download: bool = True) -> Path:
    """Local path of an asset; downloads it into the cache when neither local copy exists."""
    s = get_settings()
    for base in (s.shared_dir, s.assets_dir):
        p = Path(base) / rel
        if p.exists():
            return p
    target = Path(s.assets_dir) / rel
    if not download:
        raise FileNotFoundError(f"{rel} is neither in {s.shared_dir} nor in {s.assets_dir}")
    url = public_url(rel)
    log.info("fetching %s", url)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as r:
            r.raise_for_status()
            for chunk in r.iter_bytes():
                tmp.write(chunk)
    shutil.move(tmp.name, target)
    return target


def asset_dir(rel_dir: str, names: list[str]) -> Path:
    """A folder holding all ``names`` (fetched one by one if needed)."""
    for name in names:
        path = asset_path(rel_dir.rstrip("/") + "/" + name)
    return path.parent
