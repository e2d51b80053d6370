"""Decode once (services/common/inline.py): the payload is used only when it is the job's."""

from __future__ import annotations

import hashlib

from PIL import Image, ImageDraw

from services.common.inline import (
    clean_image,
    strokes_bytes,
    upload_bytes,
    upload_payload,
    with_clean,
    with_strokes,
)
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


def test_strokes_travel_inline_only_beside_an_inline_upload_and_only_when_they_are_the_jobs():
    body = b'{"strokes": [[[1, 2], [3, 4]]], "width": 10, "height": 10}'
    sha = hashlib.sha256(body).hexdigest()
    p = with_strokes(upload_payload(_sketch(), limit=1 << 20), body, limit=1 << 20)
    assert strokes_bytes(p, sha) == body
    assert strokes_bytes(p, hashlib.sha256(b"other").hexdigest()) is None  # not this job's: read S3
    assert strokes_bytes(p, "") is None and strokes_bytes(None, sha) is None
    assert with_strokes(None, body, limit=1 << 20) is None  # the upload is not inline: neither are they
    assert "strokes" not in with_strokes({"upload": "x"}, body, limit=10)  # over the limit
    assert "strokes" not in with_strokes({"upload": "x"}, b"\xff\xfe", limit=1 << 20)  # not text


class _Storage:
    def __init__(self, objects):
        self.objects, self.gets = objects, []

    def get(self, key):
        self.gets.append(key)
        return self.objects[key]


class _Ctx:
    def __init__(self, storage):
        self._s = storage

    def storage(self):
        return self._s


def test_the_classifier_reads_strokes_inline_else_from_s3_and_never_fails_a_job_over_them():
    from types import SimpleNamespace

    from services.classifier.worker import load_strokes
    from services.common.worker import _PAYLOAD_IN

    body = b'{"strokes": [[[1, 2], [3, 4]]], "width": 10, "height": 10, "stroke_width": 3}'
    rec = SimpleNamespace(id="j", strokes_key="sketches/j.strokes.json", strokes_sha256=hashlib.sha256(body).hexdigest())
    want = {"strokes": [[[1.0, 2.0], [3.0, 4.0]]], "stroke_width": 3.0}
    s3 = _Storage({rec.strokes_key: body})
    token = _PAYLOAD_IN.set(with_strokes({"upload": "x"}, body, 1 << 20))
    try:
        assert load_strokes(_Ctx(s3), rec) == want and s3.gets == []  # inline: no GET
    finally:
        _PAYLOAD_IN.reset(token)
    assert load_strokes(_Ctx(s3), rec) == want and s3.gets == [rec.strokes_key]  # no payload: S3
    assert load_strokes(_Ctx(_Storage({})), rec) is None  # gone from S3: pixels only
    assert load_strokes(_Ctx(s3), SimpleNamespace(id="k", strokes_key="", strokes_sha256="")) is None  # an image


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
