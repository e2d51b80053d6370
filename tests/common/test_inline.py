"""Decode once (services/common/inline.py): the payload is used only when it is the job's."""

from __future__ import annotations

import hashlib

from PIL import Image, ImageDraw

from services.common.inline import clean_image, upload_bytes, upload_payload, with_clean
from services.core.imaging import encode_image, load_image
from services.core.preprocess import CLEAN_KEY, STATS_KEY, SketchStats, clean_sketch


def _sketch() -> bytes:
    im = Image.new("L", (200, 120), 255)
    ImageDraw.Draw(im).ellipse((20, 20, 90, 100), outline=0, width=4)
    return encode_image(im)


def test_upload_round_trip_and_sha_check():
    data = _sketch()
    p = upload_payload(data, limit=1 << 20)
    assert upload_bytes(p, hashlib.sha256(data).hexdigest()) == data
    assert upload_bytes(p, hashlib.sha256(b"other").hexdigest()) is None  # not this job's: read S3
    assert upload_bytes(None, "x") is None
    assert upload_payload(data, limit=10) is None  # over the limit: nothing inline
    assert upload_payload(data, limit=0) is None


def test_clean_image_round_trip_is_exact_and_keeps_stats():
    stats = SketchStats()
    clean = clean_sketch(load_image(_sketch()), stats)
    p = with_clean(upload_payload(_sketch(), limit=1 << 20), clean, limit=1 << 20)
    back = clean_image(p, clean.width, clean.height)
    assert back is not None and back.tobytes() == clean.tobytes()
    assert back.info[CLEAN_KEY] and back.info[STATS_KEY] == clean.info[STATS_KEY]
    assert clean_image(p, clean.width + 1, clean.height) is None  # another job's size: not used
    assert clean_sketch(back) is back  # marked clean: the classifier does not clean it again


def test_a_corrupt_clean_payload_is_ignored():
    p = {"clean": {"w": 10, "h": 10, "z": "not base64!", "stats": None}}
    assert clean_image(p, 10, 10) is None
