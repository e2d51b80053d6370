"""The local reference gallery: labelled photos in storage, ranked for a Quick, Draw! label.

Storage layout (under ``SKETCHREF_RECOMMENDER_GALLERY_PREFIX``, default ``gallery``):

- ``images/<id>.<ext>``: the photo, copied (JPEG/PNG/WebP as given; other formats re-encoded as JPEG);
- ``thumbs/<id>.jpg``: a thumbnail (longest side ``gallery_thumb_px``);
- ``index.json``: every image's labels (Quick, Draw! words), where each label is in the picture
  (largest box, share of the picture) and an embedding of that region for sketch similarity, and its
  credit (:mod:`.credits`: author, licence and the photo's own page where its source gives them).

``id`` is the first 16 hex digits of the photo's SHA-256, so adding a folder twice adds nothing.
Ranking for a label: images showing it prominently (its boxes cover >= 10% of the picture, or the
label names the whole image) before incidental ones; within a tier, by similarity of the region's
embedding to the sketch crop when both exist, then by prominence. No match is an empty list.

The default embedded gallery is built lazily from ``<shared>/data/photos`` (COCO128 with its YOLO
labels, Open Images photos named by subject) the first time it is needed, or by
:func:`ensure_default_gallery` from the setup script. It lives in local storage, never in git.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
from pathlib import Path

from PIL import Image, ImageOps

from services.common.settings import CommonSettings, get_settings
from services.common.storage import LocalStorage, NotFound, Storage, get_storage
from services.core.contracts import Reference
from services.core.imaging import encode_image, sniff_type

from .cache import best_effort, make_lock_factory
from .credits import Credit, Creditor, creditor_for, folder_credit
from .embedding import EdgeOrientationEmbedder, cosine
from .gallery_sources import Item, scan_folder
from .settings import RecommenderSettings, get_recommender_settings

log = logging.getLogger(__name__)

PRIMARY_SHARE = 0.10
INDEX_TTL_S = 30.0
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
EXTS = {"jpeg": "jpg", "png": "png", "webp": "webp"}
# Index entries credited per photo (:mod:`.credits`) since version 2; an older default gallery is
# credited again by ensure_default_gallery (its photos, labels and embeddings are kept).
CREDITS_VERSION = 2


class LocalGallery:
    name = "local"

    def __init__(self, storage: Storage | None = None, settings: RecommenderSettings | None = None,
                 embedder=None, common: CommonSettings | None = None, autobuild: bool | None = None):
        self.settings = settings or get_recommender_settings()
        self.common = common or get_settings()
        self.storage = storage if storage is not None else get_storage(self.common)
        self.embedder = embedder if embedder is not None else EdgeOrientationEmbedder()
        self.prefix = self.settings.gallery_prefix.strip("/")
        self.autobuild = self.settings.gallery_autobuild if autobuild is None else autobuild
        self._index: dict | None = None
        self._loaded_at = 0.0
        self._mutex = threading.Lock()
        self._built = False

    # ---- storage layout -------------------------------------------------------------------------
    @property
    def index_key(self) -> str:
        return f"{self.prefix}/index.json"

    def thumb_key(self, image_id: str) -> str:
        return f"{self.prefix}/thumbs/{image_id}.jpg"

    def url_for(self, entry: dict, thumb: bool = False) -> str:
        base = self.settings.gallery_url_base
        if base is None and isinstance(self.storage, LocalStorage):
            key = self.thumb_key(entry["id"]) if thumb else entry["key"]
            return (Path(self.storage.root) / key).resolve().as_uri()
        base = (base if base is not None else "/v1/gallery").rstrip("/")
        return f"{base}/{entry['id']}" + ("/thumb" if thumb else "")

    # ---- index ----------------------------------------------------------------------------------
    def load_index(self, refresh: bool = False) -> dict:
        with self._mutex:
            if refresh or self._index is None or time.monotonic() - self._loaded_at > INDEX_TTL_S:
                try:
                    self._index = json.loads(self.storage.get(self.index_key))
                except NotFound:
                    self._index = None
                except Exception as exc:
                    log.warning("gallery index unreadable: %s", type(exc).__name__)
                    self._index = None
                self._loaded_at = time.monotonic()
            return self._index or {"version": 1, "images": {}}

    def has_index(self) -> bool:
        self.load_index()
        return self._index is not None

    def entries(self) -> list[dict]:
        return list(self.load_index()["images"].values())

    def get(self, image_id: str) -> dict | None:
        return self.load_index()["images"].get(image_id)

    def read(self, image_id: str, thumb: bool = False) -> tuple[bytes, str] | None:
        """The stored photo (or thumbnail) and its content type, or None."""
        entry = self.get(image_id) or self.load_index(refresh=True)["images"].get(image_id)
        if entry is None:
            return None
        key = self.thumb_key(image_id) if thumb else entry["key"]
        try:
            data = self.storage.get(key)
        except NotFound:
            return None
        return data, CONTENT_TYPES.get(sniff_type(data) or "", "application/octet-stream")

    # ---- adding ---------------------------------------------------------------------------------
    def _lock(self, name: str):
        return best_effort(make_lock_factory(self.storage, self.settings, self.common)(name))

    def add_folder(self, root: str | Path, labels_file: str | Path | None = None, credit: str = "",
                   source_url: str = "", known_only: bool = False) -> dict:
        """Add the photos under ``root``, credited by :func:`.credits.creditor_for` (a known source
        per photo, else ``credit``/``source_url`` for all). ``known_only``: only credit again the
        photos already in the gallery, add none."""
        items = scan_folder(root, labels_file)
        if isinstance(self.storage, LocalStorage):  # never index the storage's own copies
            own = Path(self.storage.root).resolve()
            items = [i for i in items if own not in i.path.resolve().parents]
        return self.add_items(items, creditor_for(Path(root), credit, source_url), base=Path(root),
                              known_only=known_only)

    def add_items(self, items: list[Item], credit: Creditor | str = "", source_url: str = "",
                  base: Path | None = None, known_only: bool = False) -> dict:
        """Copy, thumbnail and index ``items``; returns counts (added, unchanged, recredited: already
        there with another credit, now updated, unlabelled, failed)."""
        creditor = folder_credit(credit, source_url) if isinstance(credit, str) else credit
        summary = {"added": 0, "unchanged": 0, "recredited": 0, "unlabelled": 0, "failed": 0}
        new: dict[str, dict] = {}
        known = self.load_index(refresh=True)["images"]
        for item in items:
            try:
                entry, added = self._add_one(item, creditor(item.path), base, known, known_only)
            except Exception as exc:  # one unreadable file must not stop the rest
                log.warning("gallery: skipping %s (%s)", item.path.name, exc)
                summary["failed"] += 1
                continue
            if not item.labels:
                summary["unlabelled"] += 1
            if entry is None:
                summary["unchanged"] += 1
            else:
                new[entry["id"]] = entry
                summary["added" if added else "recredited"] += 1
        with self._lock("gallery-index"):  # merge with whatever another writer saved meanwhile
            index = self.load_index(refresh=True)
            index = {**index, "version": 1, "embedder": self.embedder.name, "images": {**index["images"], **new}}
            self._save(index)
        return summary

    def _save(self, index: dict) -> None:
        self.storage.put(self.index_key, json.dumps(index, separators=(",", ":")).encode(), "application/json")
        self.load_index(refresh=True)

    def mark_credited(self) -> None:
        """Record that the default photos in the index carry per-photo credits (CREDITS_VERSION)."""
        with self._lock("gallery-index"):
            self._save({**self.load_index(refresh=True), "credits": CREDITS_VERSION})

    def _add_one(self, item: Item, credit: Credit, base: Path | None, known: dict, known_only: bool = False
                 ) -> tuple[dict | None, bool]:
        """(the new or re-credited entry, whether it is new); (None, False) when already there as is
        (or new and ``known_only``)."""
        data = item.path.read_bytes()
        image_id = hashlib.sha256(data).hexdigest()[:16]
        if image_id not in known and known_only:
            return None, False
        if image_id in known:
            entry = known[image_id]
            if entry.get("credit") == credit.as_dict():
                return None, False
            return {**entry, "credit": credit.as_dict()}, False
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            image = ImageOps.exif_transpose(im).convert("RGB")
        kind = sniff_type(data)
        if kind is None:  # BMP, GIF, TIFF...: store a JPEG that every browser shows
            data, kind = encode_image(image, "JPEG", quality=90), "jpeg"
        key = f"{self.prefix}/images/{image_id}.{EXTS[kind]}"
        self.storage.put(key, data, CONTENT_TYPES[kind])
        thumb = image.copy()
        thumb.thumbnail((self.settings.gallery_thumb_px, self.settings.gallery_thumb_px))
        self.storage.put(self.thumb_key(image_id), encode_image(thumb, "JPEG", quality=85), "image/jpeg")
        small = image.copy()
        small.thumbnail((512, 512))
        labels = {}
        for word, region in item.labels.items():
            crop = small
            if region.box is not None:
                w, h = small.size
                x1, y1, x2, y2 = region.box
                crop = small.crop((int(x1 * w), int(y1 * h), max(int(x2 * w), int(x1 * w) + 1),
                                   max(int(y2 * h), int(y1 * h) + 1)))
            vec = self.embedder.embed(crop)
            labels[word] = {"prominence": round(region.prominence, 4),
                            "box": [round(v, 4) for v in region.box] if region.box else None,
                            "embedding": [round(float(v), 4) for v in vec]}
        try:
            source = item.path.relative_to(base).as_posix() if base and base.is_dir() else item.path.name
        except ValueError:
            source = item.path.name
        return {"id": image_id, "key": key, "width": image.width, "height": image.height,
                "labels": labels, "source_labels": item.source_labels, "source": source,
                "credit": credit.as_dict()}, True

    # ---- recommending ---------------------------------------------------------------------------
    def ensure_built(self) -> None:
        """Build the default gallery on first use, or credit an index from before per-photo credits
        again (both once per process; nothing to do when the index is current)."""
        if not self._built and self.autobuild:
            ensure_default_gallery(self)
        self._built = True

    def recommend(self, label: str, n: int = 6, crop: Image.Image | None = None) -> list[Reference]:
        """Up to ``n`` references for a Quick, Draw! label, best first; [] when nothing matches."""
        if n <= 0 or not label:
            return []
        try:
            self.ensure_built()
            index = self.load_index()
        except Exception as exc:  # a broken gallery gives no references, never an error
            log.warning("gallery unavailable: %s", exc)
            return []
        word = " ".join(label.lower().replace("_", " ").split())
        query_vec = None
        if crop is not None and index.get("embedder") == self.embedder.name:
            try:
                query_vec = self.embedder.embed(crop)
            except Exception:
                query_vec = None
        ranked = []
        for entry in index["images"].values():
            info = entry["labels"].get(word)
            if info is None:
                continue
            tier = 0 if info["prominence"] >= PRIMARY_SHARE else 1
            sim = cosine(query_vec, info["embedding"]) if query_vec is not None and info.get("embedding") else 0.0
            ranked.append(((tier, -sim, -info["prominence"], entry["id"]), entry))
        ranked.sort(key=lambda t: t[0])
        return [self.reference(e) for _, e in ranked[:n]]

    def reference(self, entry: dict) -> Reference:
        credit = entry.get("credit")
        if not isinstance(credit, dict):  # an index written before per-photo credits
            credit = {"collection": credit or "", "source_url": entry.get("source_url", "")}
        return Reference(provider="local", id=entry["id"], url=self.url_for(entry),
                         thumb_url=self.url_for(entry, thumb=True), **credit)


def default_source_dir(settings: RecommenderSettings | None = None, common: CommonSettings | None = None) -> Path:
    s = settings or get_recommender_settings()
    return Path(s.gallery_source_dir) if s.gallery_source_dir else Path((common or get_settings()).shared_dir) / "data" / "photos"


def ensure_default_gallery(gallery: LocalGallery | None = None, source: str | Path | None = None) -> int:
    """Build the gallery from the shared photos when storage holds none yet; returns its size.

    Safe to call from several processes at once (one builds, the others wait and find it built) and
    from ``scripts/setup_assets.py``. A missing source folder leaves the gallery empty, no error.
    """
    g = gallery or LocalGallery(autobuild=False)
    src = Path(source) if source else default_source_dir(g.settings, g.common)
    if g.has_index() and g.load_index().get("credits") == CREDITS_VERSION:
        return len(g.entries())
    if not src.is_dir():
        log.info("no gallery source at %s: the local gallery stays empty", src)
        return len(g.entries())
    with g._lock("gallery-build"):
        index = g.load_index(refresh=True)
        if g.has_index() and index.get("credits") == CREDITS_VERSION:  # built by another process meanwhile
            return len(g.entries())
        # an index from before per-photo credits: its photos are credited again, nothing is added
        known_only = g.has_index()
        log.info("%s the local gallery from %s", "crediting" if known_only else "building", src)
        subdirs = sorted(p for p in src.iterdir() if p.is_dir())
        for sub in subdirs:
            g.add_folder(sub, known_only=known_only)
        loose = [p for p in src.iterdir() if p.is_file()]
        if loose or not subdirs:
            g.add_items([i for i in scan_folder(src) if i.path.parent == src], base=src, known_only=known_only)
        g.mark_credited()
    return len(g.entries())
