"""Bounded work per request: uploads refused by their header before decoding, the decoded-bytes
budget shared by the requests in flight, and strokes drawn out of the gateway's process.

Against real gateway processes (uvicorn) on the real test Redis and S3, except the budget's
deterministic case, which fills the budget of an in-process app (same Redis and S3) first."""

from __future__ import annotations

import asyncio
import io
import struct
import threading
import zlib

import httpx
import pytest
from PIL import Image

from services.core.imaging import encode_image
from services.gateway.admission import DecodeBudget, check_geometry, check_png_chunks
from services.gateway.errors import ApiError
from tests.services.stack import start_gateway


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_text_chunks(n: int, size: int = 1) -> bytes:
    png = encode_image(Image.new("L", (8, 8), 255))
    head, rest = png[:33], png[33:]  # signature + IHDR, then IDAT.. IEND
    return head + b"".join(_chunk(b"tEXt", b"k\x00" + b"v" * size) for _ in range(n)) + rest


def rgba_png(w: int, h: int) -> bytes:
    return encode_image(Image.new("RGBA", (w, h), (255, 255, 255, 0)), compress_level=9)


def photocd_behind_png_signature() -> bytes:
    body = bytearray(b"\x89PNG\r\n\x1a\n" + b"\x00" * (2048 - 8))
    body += b"PCD_" + b"\x00" * (1539 - 4)
    body += b"\x00" * (768 * 512 * 2)
    return bytes(body)


def _code(r: httpx.Response) -> str:
    return r.json()["error"]["code"]


@pytest.fixture(scope="module")
def client(gateway):
    with httpx.Client(base_url=gateway, timeout=60) as c:
        yield c
        assert c.get("/healthz").status_code == 200


def _upload(c, data: bytes):
    return c.post("/v1/jobs", files={"image": ("x.png", data, "image/png")})


def test_png_chunk_limits_by_header():
    check_png_chunks(png_with_text_chunks(10), 2048, 1 << 20)
    with pytest.raises(ApiError) as e:
        check_png_chunks(png_with_text_chunks(3000), 2048, 1 << 20)
    assert e.value.code == "image_too_many_chunks"
    with pytest.raises(ApiError) as e:
        check_png_chunks(png_with_text_chunks(3, size=600_000), 2048, 1 << 20)
    assert e.value.code == "image_too_much_metadata"


def test_geometry_limits():
    check_geometry(4000, 4000, 16_000_000, 20)
    for w, h, code in ((1, 16_000_000, "image_aspect_ratio"), (5000, 5000, "image_too_many_pixels"),
                       (2100, 100, "image_aspect_ratio")):
        with pytest.raises(ApiError) as e:
            check_geometry(w, h, 16_000_000, 20)
        assert e.value.code == code and e.value.status == 413


def test_budget_waits_then_refuses():
    b = DecodeBudget(100, wait_s=0.05)
    first = b.reserve(60)
    with pytest.raises(ApiError) as e:
        b.reserve(60)
    assert e.value.status == 503 and e.value.headers == {"Retry-After": "1"}
    threading.Timer(0.01, first.release).start()
    DecodeBudget.reserve(b, 40).release()
    b2 = DecodeBudget(100, wait_s=5)
    held = b2.reserve(100)
    threading.Timer(0.1, held.release).start()
    b2.reserve(100).release()  # waited for room
    held.release()  # idempotent
    assert b2.used == 0
    with pytest.raises(ApiError) as e:
        b2.reserve(101)
    assert e.value.status == 413


def test_hostile_headers_refused_before_decoding(client):
    r = _upload(client, png_with_text_chunks(20_000))
    assert r.status_code == 413 and _code(r) == "image_too_many_chunks", r.text
    r = _upload(client, rgba_png(16_000_000 // 8000, 8000))  # 2000 x 8000 is fine by pixels, 4:1
    assert r.status_code in (202, 503), r.text
    r = _upload(client, rgba_png(20, 800))  # 40:1
    assert r.status_code == 413 and _code(r) == "image_aspect_ratio", r.text
    r = _upload(client, photocd_behind_png_signature())
    assert r.status_code == 400 and _code(r) == "corrupt_image", r.text


def test_concurrent_big_uploads_are_admitted_or_refused_busy(stack_env):
    # a budget of two 2000x2000 RGBA decodes (16 MB each), no waiting: 6 at once get 202 or 503
    p, url = start_gateway(stack_env, SKETCHREF_GATEWAY_DECODE_BUDGET_BYTES=str(33 * 1024 * 1024),
                           SKETCHREF_GATEWAY_DECODE_BUDGET_WAIT_S="0")
    try:
        data = rgba_png(2000, 2000)
        out = []

        def send():
            with httpx.Client(base_url=url, timeout=60) as c:
                out.append(_upload(c, data))

        ts = [threading.Thread(target=send) for _ in range(6)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert {r.status_code for r in out} <= {202, 503}, [r.text for r in out]
        for r in out:
            if r.status_code == 503:
                assert _code(r) == "server_busy" and r.headers["Retry-After"] == "1"
        assert httpx.get(url + "/healthz").status_code == 200
    finally:
        p.stop()


def test_a_full_budget_answers_503_with_retry_after(stack_env, monkeypatch):
    asyncio.run(_full_budget(stack_env, monkeypatch))


async def _full_budget(stack_env, monkeypatch):
    from services.gateway.main import create_app
    from services.gateway.settings import GatewaySettings

    for k, v in stack_env.items():
        if k.startswith("SKETCHREF_"):
            monkeypatch.setenv(k, v)
    app = create_app(GatewaySettings(decode_budget_bytes=8 * 1024 * 1024, decode_budget_wait_s=0))
    data = encode_image(Image.new("RGB", (600, 600), "white"))  # 1.4 MB decoded
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        hold = app.state.decode_budget.reserve(7 * 1024 * 1024)
        r = await c.post("/v1/jobs", files={"image": ("x.png", data, "image/png")})
        assert r.status_code == 503 and _code(r) == "server_busy" and r.headers["Retry-After"] == "1"
        hold.release()
        r = await c.post("/v1/jobs", files={"image": ("x.png", data, "image/png")})
        assert r.status_code == 202, r.text
        assert app.state.decode_budget.used == 0  # given back after the decode


def _walk_strokes(n: int, side: int, seed: int) -> dict:
    import random

    rng = random.Random(seed)
    x = y = side / 2
    xs, ys = [], []
    for _ in range(n):
        x = min(max(x + rng.uniform(-3, 3), 0), side - 1)
        y = min(max(y + rng.uniform(-3, 3), 0), side - 1)
        xs.append(round(x, 1))
        ys.append(round(y, 1))
    return {"strokes": [[xs, ys]], "width": side, "height": side - 1, "stroke_width": 8}


def test_healthz_answers_while_big_strokes_render(client):
    bodies = [_walk_strokes(100_000, 4000, s) for s in range(3)]
    out, health = [], []

    def send(b):
        with httpx.Client(base_url=client.base_url, timeout=120) as c:
            out.append(c.post("/v1/jobs", json=b))

    ts = [threading.Thread(target=send, args=(b,)) for b in bodies]
    [t.start() for t in ts]
    while any(t.is_alive() for t in ts):
        # a hang shows as a timeout error here (10 s), never as a measured time
        health.append(client.get("/healthz", timeout=10).status_code)
    [t.join() for t in ts]
    assert [r.status_code for r in out] == [202, 202, 202], [r.text for r in out]
    assert health and set(health) == {200}


def test_decoded_image_is_not_converted(client):
    # a big RGBA upload decodes once: the job answers with its upright size (EXIF orientation 6)
    im = Image.new("RGB", (300, 200), "white")
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    r = client.post("/v1/jobs", files={"image": ("x.jpg", buf.getvalue(), "image/jpeg")})
    assert r.status_code == 202, r.text
    assert (r.json()["image"]["width"], r.json()["image"]["height"]) == (200, 300)


def test_render_processes_die_with_a_killed_gateway(stack_env):
    import os
    import signal

    import psutil

    from services.common.processes import wait_until

    p, url = start_gateway(stack_env)
    try:
        body = {"strokes": [[[1, 50], [1, 50]]], "width": 64, "height": 64}
        assert httpx.post(url + "/v1/jobs", json=body, timeout=60).status_code == 202
        kids = psutil.Process(p.pid).children(recursive=True)
        assert kids
        os.kill(p.pid, signal.SIGKILL)  # the gateway alone, not its process group

        def gone():
            return all(not k.is_running() or k.status() == psutil.STATUS_ZOMBIE for k in kids)

        wait_until(gone, 20, "render processes ending with the gateway")
    finally:
        p.stop()


def test_the_budget_comes_back_when_the_wait_cannot_subscribe(stack_env, monkeypatch):
    asyncio.run(_subscription_fails(stack_env, monkeypatch))


async def _subscription_fails(stack_env, monkeypatch):
    """``Prefer: wait`` subscribes before anything is stored; a Redis that fails right then is a 503,
    and the upload's reserved decode bytes are given back (they were kept for good before)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    from services.gateway.main import create_app
    from services.gateway.settings import GatewaySettings

    for k, v in stack_env.items():
        if k.startswith("SKETCHREF_"):
            monkeypatch.setenv(k, v)
    app = create_app(GatewaySettings())

    def broken(channel):
        raise RedisConnectionError("Redis went away")

    monkeypatch.setattr(app.state.job_watch, "watch", broken)
    data = encode_image(Image.new("RGB", (600, 600), "white"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        r = await c.post("/v1/jobs", files={"image": ("x.png", data, "image/png")}, headers={"Prefer": "wait=5"})
        assert r.status_code == 503, r.text
        assert app.state.decode_budget.used == 0
