"""The hostile-input suite: >= 200 generated hostile or odd requests against a real gateway process
(real Redis and S3): every format Pillow can write, every numeric field x {NaN, +-inf, 1e400, -1, 0,
huge, string, ...}, nesting, sizes, bombs, truncated files, traversal and malformed HTTP.

For each: no 5xx (nothing here takes a dependency down), a JSON error body on every 4xx, and
``/healthz`` green right after. Behaviour only: no time or memory is asserted (a client timeout only
turns a hang into a failure); ``scripts/hostile_bench.py`` measures memory and latency.
"""

from __future__ import annotations

import io
import socket
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
import pytest
from PIL import Image

from services.core.imaging import encode_image

HANG_S = 30


@dataclass
class Case:
    name: str
    send: Callable[[httpx.Client, str], httpx.Response | int]  # a response, or a raw status code
    ok: tuple[int, ...] = ()  # statuses that are fine besides any 4xx (e.g. 202)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header(w: int, h: int, depth: int = 8, color: int = 6, body: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + body + _chunk(b"IEND", b"")


def _png_bomb(w: int, h: int) -> bytes:
    comp = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * ((w + 7) // 8)
    idat = b"".join(comp.compress(row) for _ in range(h)) + comp.flush()
    return _png_header(w, h, 1, 0, _chunk(b"IDAT", idat))


def _saved(fmt: str) -> bytes | None:
    for mode in ("RGB", "L", "1"):
        try:
            buf = io.BytesIO()
            Image.new(mode, (24, 24), 0).save(buf, format=fmt)
            return buf.getvalue()
        except Exception:
            continue
    return None


def _upload(data: bytes, name="x.bin", ctype="application/octet-stream", **form):
    return lambda c, u: c.post("/v1/jobs", files={"image": (name, data, ctype)}, data=form or None)


def _raw_body(data: bytes, ctype: str):
    return lambda c, u: c.post("/v1/jobs", content=data, headers={"content-type": ctype})


def _json_text(text: str):
    return _raw_body(text.encode(), "application/json")


def _raw_http(request: bytes):
    """Send bytes as they are; the status code of the answer (0: the server closed without one)."""
    def send(c, url):
        p = urlparse(url)
        with socket.create_connection((p.hostname, p.port), timeout=HANG_S) as s:
            try:
                s.sendall(request)
            except OSError:
                pass
            data = b""
            try:
                while chunk := s.recv(65536):
                    data += chunk
                    if b"\r\n\r\n" in data and len(data) > 12:
                        break
            except OSError:
                pass
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return send


def _cases() -> list[Case]:
    cases: list[Case] = []
    Image.init()
    # 1. every format Pillow can write, as multipart and as a raw body; and behind a PNG signature
    for fmt in sorted(Image.SAVE):
        data = _saved(fmt)
        if data is None:
            continue
        ok = (202,) if fmt in ("PNG", "JPEG", "WEBP", "MPO") else ()
        cases.append(Case(f"format-{fmt}-multipart", _upload(data), ok))
        cases.append(Case(f"format-{fmt}-raw", _raw_body(data, "image/png"), ok))
        cases.append(Case(f"format-{fmt}-behind-png-signature", _upload(b"\x89PNG\r\n\x1a\n" + data)))
    # 2. every numeric field x hostile values, in the JSON body
    values = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "-1", "0", "1e30", "9" * 400, '"12"', "true",
              "null", "[]", "{}", "0.5", "-0.0"]
    base = {"strokes": "[[[10, 60, 110], [10, 110, 10]]]", "width": "128", "height": "128"}
    for field in ("width", "height", "top_k", "references", "stroke_width", "x", "y"):
        for v in values:
            parts = dict(base)
            if field == "x":
                parts["strokes"] = f"[[[10, {v}, 110], [10, 110, 10]]]"
            elif field == "y":
                parts["strokes"] = f"[[[10, 60, 110], [10, 110, {v}]]]"
            else:
                parts[field] = v
            text = "{" + ", ".join(f'"{k}": {w}' for k, w in parts.items()) + "}"
            cases.append(Case(f"json-{field}={v[:12]}", _json_text(text), (202,)))
    # ... and as query and form fields
    png = encode_image(Image.new("L", (64, 64), 255))
    for field in ("top_k", "references"):
        for v in ("NaN", "inf", "-inf", "1e400", "-1", "0", "99999999999999999999", "abc", "", "1.5", "%00"):
            cases.append(Case(f"query-{field}={v}", lambda c, u, f=field, v=v: c.post(
                "/v1/jobs", params={f: v}, files={"image": ("x.png", png, "image/png")}), (202,)))
            cases.append(Case(f"form-{field}={v}", _upload(png, "x.png", "image/png", **{field: v}), (202,)))
    cases.append(Case("query-wait=nan", lambda c, u: c.get("/v1/jobs/" + "0" * 32, params={"wait": "nan"})))
    cases.append(Case("query-wait=1e400", lambda c, u: c.get("/v1/jobs/" + "0" * 32, params={"wait": "1e400"})))
    # 3. nesting and shapes
    for depth in (3, 10, 100, 1000, 100_000):
        cases.append(Case(f"nested-array-{depth}", _json_text(
            '{"strokes": ' + "[" * depth + "]" * depth + ', "width": 10, "height": 10}')))
        cases.append(Case(f"nested-object-{depth}", _json_text('{"a": ' * depth + "1" + "}" * depth)))
    for text in ("[]", "null", "1", '"s"', "{}", '{"strokes": {}}', '{"strokes": [[]]}', '{"strokes": [[[], []]]}',
                 '{"strokes": [[[1], [1], [1], [1]]], "width": 9, "height": 9}', "\ufeff{}", '{"a":1,"a":2}',
                 '{"strokes": [[[1e-320], [5e-324]]], "width": 1, "height": 1}'):
        cases.append(Case(f"shape-{text[:24]}", _json_text(text), (202,)))
    # 4. sizes
    cases.append(Case("empty-body", _raw_body(b"", "application/octet-stream")))
    cases.append(Case("one-byte", _raw_body(b"\x89", "image/png")))
    cases.append(Case("over-10mb", _raw_body(b"\x89PNG\r\n\x1a\n" + b"\0" * (10 * 1024 * 1024 + 70_000), "image/png")))
    cases.append(Case("many-strokes", _json_text('{"strokes": [' + ",".join(["[[1],[1]]"] * 2001)
                                                 + '], "width": 9, "height": 9}')))
    cases.append(Case("many-points", _json_text('{"strokes": [[[' + ",".join(["1"] * 100_001) + "], ["
                                                + ",".join(["1"] * 100_001) + ']]], "width": 9, "height": 9}')))
    cases.append(Case("many-form-fields", lambda c, u: c.post(
        "/v1/jobs", files=[("image", ("x.png", png, "image/png"))] + [(f"f{i}", (None, "1")) for i in range(50)])))
    cases.append(Case("two-images", lambda c, u: c.post(
        "/v1/jobs", files=[("image", ("x.png", png, "image/png")), ("image", ("y.png", png, "image/png"))])))
    cases.append(Case("no-image-field", lambda c, u: c.post("/v1/jobs", files={"picture": ("x.png", png)})))
    # 5. bombs and odd headers
    cases.append(Case("png-bomb-20000", _upload(_png_bomb(20000, 20000))))
    cases.append(Case("png-1x16M", _upload(_png_bomb(1, 16_000_000))))
    cases.append(Case("png-16Mx1", _upload(_png_bomb(16_000_000, 1))))
    cases.append(Case("png-zero-size", _upload(_png_header(0, 0))))
    cases.append(Case("png-2^31", _upload(_png_header(2**31 - 1, 2**31 - 1))))
    cases.append(Case("png-text-chunks", _upload(png[:33] + b"".join(_chunk(b"tEXt", b"k\0v") for _ in range(5000)) + png[33:])))
    cases.append(Case("png-huge-iccp", _upload(png[:33] + _chunk(b"iCCP", b"p\0\0" + zlib.compress(b"\0" * 5_000_000)) + png[33:]), (202,)))
    cases.append(Case("png-ztxt-bomb", _upload(png[:33] + _chunk(b"zTXt", b"k\0\0" + zlib.compress(b"a" * 8_000_000)) + png[33:]), (202,)))
    cases.append(Case("png-bad-crc", _upload(png[:29] + b"\0\0\0\0" + png[33:])))
    cases.append(Case("png-4000x4000-rgba", _upload(encode_image(Image.new("RGBA", (4000, 4000), (0, 0, 0, 0)),
                                                                 compress_level=9)), (202,)))
    cases.append(Case("jpeg-65500", _upload(b"\xff\xd8\xff\xc0\x00\x11\x08\xff\xdc\xff\xdc\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
                                            + b"\xff\xd9")))
    cases.append(Case("webp-huge-dims", _upload(b"RIFF\x24\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"
                                                + b"\xff\xff\xff\xff\xff\xff")))
    cases.append(Case("gif-bomb", _upload(b"GIF89a\xff\xff\xff\xff\x00\x00\x00" + b"\0" * 100)))
    cases.append(Case("photocd-behind-png", _upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 2040 + b"PCD_" + b"\0" * 500_000)))
    cases.append(Case("strokes-costly", _json_text(
        '{"strokes": [[[' + ",".join(str(i % 4000) for i in range(50_000)) + "], [" +
        ",".join(str((i * 7) % 3999) for i in range(50_000)) + ']]], "width": 4000, "height": 3999, "stroke_width": 64}')))
    cases.append(Case("strokes-off-canvas", _json_text('{"strokes": [[[900, 950], [900, 950]]], "width": 100, "height": 100}')))
    # 6. truncated files
    jpeg = encode_image(Image.effect_noise((200, 200), 80).convert("RGB"), "JPEG", quality=90)
    webp = encode_image(Image.effect_noise((200, 200), 80).convert("RGB"), "WEBP")
    noise_png = encode_image(Image.effect_noise((200, 200), 80))
    for kind, data in (("png", noise_png), ("jpeg", jpeg), ("webp", webp)):
        for frac in (0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            cases.append(Case(f"truncated-{kind}-{frac}", _upload(data[: max(1, int(len(data) * frac))]), (202,)))
        cases.append(Case(f"garbage-tail-{kind}", _upload(data + b"\0" * 1000), (202,)))
        cases.append(Case(f"flipped-bytes-{kind}", _upload(data[:100] + bytes(b ^ 0xFF for b in data[100:300])
                                                           + data[300:]), (202,)))
    # 7. traversal and odd paths
    for path in ("/v1/jobs/../../etc/passwd", "/v1/jobs/..%2f..%2fetc%2fpasswd", "/v1/jobs/%00",
                 "/v1/jobs/" + "a" * 5000, "/v1/gallery/..%2f..%2fetc%2fpasswd", "/v1/gallery/%2e%2e/thumb",
                 "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/static/../../pyproject.toml",
                 "/js/..%2f..%2f..%2fsettings.py", "/index.html%00.png", "/v1/jobs/0123456789abcdef0123456789abcdeF",
                 "/v1/references/unsplash/..%2f/download", "/metrics/../openapi.json", "//etc/passwd"):
        cases.append(Case(f"path-{path[:40]}", lambda c, u, p=path: c.get(p), (200,)))
        cases.append(Case(f"delete-{path[:40]}", lambda c, u, p=path: c.delete(p)))
    # 8. malformed HTTP (raw socket)
    host = b"Host: x\r\n"
    for name, raw in (
        ("cl-te-smuggle", b"POST /v1/jobs HTTP/1.1\r\n" + host + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        ("bad-chunk", b"POST /v1/jobs HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"),
        ("cl-negative", b"POST /v1/jobs HTTP/1.1\r\n" + host + b"Content-Length: -5\r\n\r\n"),
        ("cl-huge", b"POST /v1/jobs HTTP/1.1\r\n" + host + b"Content-Length: 99999999999999999999\r\n\r\n"),
        ("cl-two", b"POST /v1/jobs HTTP/1.1\r\n" + host + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        ("header-17kb", b"GET /healthz HTTP/1.1\r\n" + host + b"X-A: " + b"a" * 17_000 + b"\r\n\r\n"),
        ("header-4mb", b"GET /healthz HTTP/1.1\r\n" + host + b"X-A: " + b"a" * 4_000_000 + b"\r\n\r\n"),
        ("many-headers", b"GET /healthz HTTP/1.1\r\n" + host + b"".join(b"X-%d: 1\r\n" % i for i in range(3000)) + b"\r\n"),
        ("bad-method", b"BREW /v1/jobs HTTP/1.1\r\n" + host + b"\r\n"),
        ("bad-version", b"GET /healthz HTTP/9.9\r\n" + host + b"\r\n"),
        ("nul-in-path", b"GET /v1/jobs/\x00 HTTP/1.1\r\n" + host + b"\r\n"),
        ("no-host", b"GET /healthz HTTP/1.1\r\n\r\n"),
    ):
        cases.append(Case(f"http-{name}", _raw_http(raw), (200,)))
    # 9. odd content types and headers on a good body
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                  "multipart/form-data; boundary=", "application/json; charset=utf-16", "image/png; x=" + "y" * 500):
        cases.append(Case(f"ctype-{ctype[:30]}", _raw_body(png, ctype), (202,)))
    cases.append(Case("idempotency-key-long", lambda c, u: c.post(
        "/v1/jobs", files={"image": ("x.png", png)}, headers={"Idempotency-Key": "k" * 300})))
    cases.append(Case("auth-garbage", lambda c, u: c.post(
        "/v1/jobs", files={"image": ("x.png", png)}, headers={"Authorization": b"Bearer \xff\xfe"}), (202,)))
    return cases


CASES = _cases()


def test_at_least_200_hostile_inputs():
    assert len(CASES) >= 200, len(CASES)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def client(gateway):
    with httpx.Client(base_url=gateway, timeout=HANG_S) as c:
        yield c


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input(client, case):
    got = case.send(client, str(client.base_url))
    status = got if isinstance(got, int) else got.status_code
    assert status == 0 or status < 500, (case.name, status, getattr(got, "text", "")[:300])
    assert status == 0 or 400 <= status < 500 or status in case.ok, (case.name, status)
    if isinstance(got, httpx.Response) and status >= 400 and got.request.method != "HEAD":
        body = got.json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert "Traceback" not in got.text
    assert client.get("/healthz").status_code == 200
