"""The gateway's bad-input matrix against a real uvicorn process (Redis and SeaweedFS real too).

Every bad input gets a 4xx JSON ``{"error": {"code", "message"}}`` and the gateway stays healthy.
"""

from __future__ import annotations

import json
import struct
import zlib

import httpx
import pytest
from PIL import Image

from services.common.settings import ROOT
from services.core.imaging import encode_image

SKETCH = (ROOT / "examples" / "three_objects.png").read_bytes()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 20000) -> bytes:
    """A real, complete 1-bit PNG of side x side white pixels: tiny on disk, 400 MP decoded."""
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _assert_error(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Traceback" not in r.text
    if code:
        assert body["error"]["code"] == code, body


@pytest.fixture(scope="module")
def client(gateway):
    with httpx.Client(base_url=gateway, timeout=60) as c:
        yield c
        # after the whole matrix: still healthy, still accepting good work
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.post("/v1/jobs", files={"image": ("s.png", SKETCH)}).status_code == 202


def _upload(c, data: bytes, name="x.png", ctype="image/png"):
    return c.post("/v1/jobs", files={"image": (name, data, ctype)})


def test_empty_body(client):
    _assert_error(client.post("/v1/jobs"), 400, "empty_body")
    _assert_error(_upload(client, b""), 400, "empty_image")


def test_text_file_named_png(client):
    _assert_error(_upload(client, b"hello, this is not a picture\n" * 10), 415, "unsupported_image")


def test_truncated_png(client):
    data = encode_image(Image.effect_noise((300, 300), 60))
    _assert_error(_upload(client, data[: len(data) // 2]), 400, "corrupt_image")


def test_a_refused_upload_leaves_nothing_behind(client, stack_env):
    # the full decode runs while the upload is being stored: a refused one is deleted again
    import redis

    from services.common.job_store import JOB_METRICS
    from tests.services.stack import s3_storage

    s3 = s3_storage(stack_env["SKETCHREF_S3_ENDPOINT_URL"])
    r = redis.Redis.from_url(stack_env["SKETCHREF_REDIS_URL"])
    before = (set(s3.list("sketches/")), r.hget(JOB_METRICS, "created"))
    data = encode_image(Image.effect_noise((300, 300), 60))
    for bad in (data[: len(data) // 2], data[:-40]):
        _assert_error(_upload(client, bad), 400, "corrupt_image")
    assert (set(s3.list("sketches/")), r.hget(JOB_METRICS, "created")) == before


def test_png_bomb(client):
    bomb = png_bomb()
    assert len(bomb) < 1_000_000
    _assert_error(_upload(client, bomb), 413, "image_too_many_pixels")


def test_50mb_upload(client):
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (50 * 1024 * 1024)
    _assert_error(_upload(client, big), 413, "payload_too_large")


def test_50mb_chunked_upload_without_length(client):
    def chunks():
        for _ in range(50):
            yield b"\x00" * (1024 * 1024)

    r = client.post("/v1/jobs", content=chunks(), headers={"content-type": "application/octet-stream"})
    _assert_error(r, 413, "payload_too_large")


def test_strokes_with_nan_or_infinity(client):
    for bad in ("NaN", "Infinity", "-Infinity", "1e999"):
        body = '{"strokes": [[[1, 2, ' + bad + '], [3, 4, 5]]], "width": 100, "height": 100}'
        _assert_error(client.post("/v1/jobs", content=body, headers={"content-type": "application/json"}),
                      422, "invalid_number")


def test_strokes_with_a_million_points(client):
    xs = ",".join(["1"] * 1_000_000)
    body = '{"strokes": [[[' + xs + '], [' + xs + ']]], "width": 100, "height": 100}'
    _assert_error(client.post("/v1/jobs", content=body, headers={"content-type": "application/json"}),
                  413, "too_many_points")


@pytest.mark.parametrize("body", [
    {"strokes": [], "width": 10, "height": 10},
    {"strokes": [[[1, 2], [3]]], "width": 10, "height": 10},
    {"strokes": [[[1, "a"], [3, 4]]], "width": 10, "height": 10},
    {"strokes": [[[1, 2], [3, 4]]], "width": 0, "height": 10},
    {"strokes": [[[1, 2], [3, 4]]], "width": 100000, "height": 10},
    {"strokes": [[[1, 2], [3, 4]]]},
    {"strokes": [[[1, 2], [3, 4]]], "width": 10, "height": 10, "top_k": 0},
    [1, 2, 3],
])
def test_strokes_schema(client, body):
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == 422, r.text
    _assert_error(r, 422)


def test_not_json(client):
    _assert_error(client.post("/v1/jobs", content=b"{nope", headers={"content-type": "application/json"}),
                  400, "invalid_json")


def test_unknown_job(client):
    _assert_error(client.get("/v1/jobs/0123456789abcdef0123456789abcdef"), 404, "job_not_found")
    _assert_error(client.get("/v1/jobs/../../etc/passwd"), 404)
    _assert_error(client.get("/v1/nothing-here"), 404)


def test_valid_strokes_are_rendered(client):
    body = json.loads((ROOT / "examples" / "three_objects.json").read_text())
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued"
    assert job["image"]["width"] == body["width"] and job["image"]["height"] == body["height"]
    got = client.get(f"/v1/jobs/{job['id']}").json()
    assert got["id"] == job["id"]


def test_health_ready_metrics_docs(client):
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"redis": "ok", "storage": "ok"}
    m = client.get("/metrics")
    assert m.status_code == 200 and "sketchref_jobs_total" in m.text and "sketchref_queue_depth" in m.text
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/jobs" in paths and "/v1/jobs/{job_id}" in paths
