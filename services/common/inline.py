"""Decode once: a small copy of the sketch travels inline in the stage messages.

Before this, every stage fetched the upload from S3 and decoded it again, and the classifier also
cleaned it again (:func:`services.core.preprocess.clean_sketch`, the costliest step outside the
models). Now a message may carry, besides the job id, a payload of a few KB (DESIGN.md §1):

- ``upload``: the bytes the gateway stored (base64), when they are at most ``queue_inline_max_bytes``;
  the detector decodes these instead of a GET from S3, and so does the recommender for the crops it
  stores once the job is answered;
- ``strokes``: a strokes job's body as sent (JSON text), when the upload travels inline and the body is
  at most ``queue_inline_max_bytes`` too; the classifier reads it instead of its S3 copy
  (``sketches/<id>.strokes.json``), after checking its SHA-256 against the record's;
- ``clean``: the detector's cleaned working image (mode ``L``, zlib level 1, ~8 KB for a 512×512
  three-object sketch) with its :class:`SketchStats`; the classifier labels and the recommender
  ranks photos on it directly (no GET, no decode, no second cleaning), as the in-process pipeline
  does. Level 1 costs ~0.5 ms each way; PNG would cost 2-4× that.

S3 stays the durable copy: a message without a payload (an old producer, a sweeper's re-send, an
upload over the limit) reads S3 as before, and every payload is checked against the job record (the
upload's SHA-256, the clean image's size) before it is trusted, so a redelivered message is still
correct. ``SKETCHREF_QUEUE_INLINE_MAX_BYTES=0`` turns inline payloads off.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import asdict

from PIL import Image

from services.core.preprocess import CLEAN_KEY, STATS_KEY, SketchStats


def upload_payload(data: bytes, limit: int) -> dict | None:
    """The gateway's payload for the ``detect`` message: the upload itself when it is at most
    ``limit`` bytes (the setting ``queue_inline_max_bytes``)."""
    if not data or len(data) > limit:
        return None
    return {"upload": base64.b64encode(data).decode("ascii")}


def with_strokes(payload: dict | None, body: bytes | None, limit: int) -> dict | None:
    """The ``detect`` payload plus a strokes body (JSON text) when both travel inline: the upload does
    (``payload`` is not None) and the body is at most ``limit`` bytes."""
    if payload is None or not body or len(body) > limit:
        return payload
    try:
        return {**payload, "strokes": body.decode("utf-8")}
    except UnicodeDecodeError:
        return payload


def strokes_bytes(payload: dict | None, sha256: str) -> bytes | None:
    """The inline strokes body if present and it is the job's (same SHA-256); else None (read S3)."""
    raw = (payload or {}).get("strokes")
    if not isinstance(raw, str) or not sha256:
        return None
    data = raw.encode("utf-8")
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def upload_bytes(payload: dict | None, sha256: str) -> bytes | None:
    """The inline upload if present and it is the job's (same SHA-256); else None (read S3)."""
    raw = (payload or {}).get("upload")
    if not isinstance(raw, str) or not sha256:
        return None
    try:
        data = base64.b64decode(raw, validate=True)
    except ValueError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def with_clean(payload: dict | None, clean: Image.Image, limit: int) -> dict | None:
    """``payload`` plus the clean working image (and its stats) for the classifier, unless its
    compressed form is over 4x ``limit`` (the setting ``queue_inline_max_bytes``; 0: never)."""
    if limit <= 0 or clean.mode != "L":
        return payload
    packed = zlib.compress(clean.tobytes(), 1)
    if len(packed) > 4 * limit:
        return payload
    stats = clean.info.get(STATS_KEY)
    return {**(payload or {}), "clean": {"w": clean.width, "h": clean.height,
                                         "z": base64.b64encode(packed).decode("ascii"),
                                         "stats": asdict(stats) if isinstance(stats, SketchStats) else None}}


def clean_image(payload: dict | None, width: int, height: int) -> Image.Image | None:
    """The inline clean image, marked clean (with its stats), if present and of the job's size."""
    c = (payload or {}).get("clean")
    if not isinstance(c, dict) or (c.get("w"), c.get("h")) != (width, height):
        return None
    try:
        raw = zlib.decompress(base64.b64decode(c["z"], validate=True))
        im = Image.frombytes("L", (width, height), raw)
    except (KeyError, ValueError, TypeError, zlib.error):
        return None
    im.info[CLEAN_KEY] = True
    if isinstance(c.get("stats"), dict):
        try:
            im.info[STATS_KEY] = SketchStats(**c["stats"])
        except TypeError:
            return None
    return im
