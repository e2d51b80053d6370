"""Reading and validating a submission: an uploaded image or strokes JSON, before any job exists.

Everything a client can get wrong ends as an :class:`ApiError` (a 4xx JSON answer) before a job
exists: the body is read with a hard cap (a 50 MB upload is cut off at the limit, never buffered
whole), the image type is sniffed from the bytes, the header is checked against the size and pixel
limits before decoding (decompression-bomb guard), and the image is decoded fully so a truncated file
is refused in the gateway rather than in a worker (:attr:`Submission.decode`, run while the upload is
being stored). Strokes are checked against a schema with size limits; NaN and infinities are refused;
valid strokes are rendered with :func:`render_strokes`, the project's one rasteriser.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from fastapi import Request
from PIL.Image import DecompressionBombError
from starlette.datastructures import UploadFile

from services.common.imaging import ImageError, encode_image, inspect_image, load_image

from .errors import ApiError
from .settings import GatewaySettings

MULTIPART_OVERHEAD = 64 * 1024
_IMAGE_STATUS = {"empty_image": 400, "image_too_large": 413, "unsupported_image": 415,
                 "corrupt_image": 400, "image_too_many_pixels": 413}
_EXT = {"png": "png", "jpeg": "jpg", "webp": "webp"}


@dataclass
class Submission:
    data: bytes  # the image to store (the upload as sent, or the PNG rendered from strokes)
    kind: str  # png | jpeg | webp
    width: int  # 0 until ``decode`` has run
    height: int
    sha256: str
    top_k: int
    references: int
    payload_sha: str  # what Idempotency-Key compares
    # An upload's full decode, still to do: returns the upright (width, height) or raises ApiError.
    # The gateway runs it while the upload is stored (both take a few ms), and deletes the stored copy
    # when it fails. None for a sketch rendered here from strokes (known good).
    decode: Callable[[], tuple[int, int]] | None = None

    @property
    def ext(self) -> str:
        return _EXT[self.kind]


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, "payload_too_large", f"the request body is over the {limit}-byte limit")
        except ValueError as exc:
            raise ApiError(400, "bad_request", "invalid Content-Length") from exc
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"the request body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _int_option(value, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ApiError(422, "invalid_request", f"{name} must be an integer")
    try:
        n = int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, "invalid_request", f"{name} must be an integer") from exc
    if isinstance(value, float) and value != n:
        raise ApiError(422, "invalid_request", f"{name} must be an integer")
    if not lo <= n <= hi:
        raise ApiError(422, "invalid_request", f"{name} must be between {lo} and {hi}")
    return n


def _refusal(exc: ImageError, s: GatewaySettings) -> ApiError:
    if isinstance(exc.__cause__, DecompressionBombError):  # PIL refuses the header itself
        return ApiError(413, "image_too_many_pixels", f"the image is over {s.max_pixels} pixels")
    return ApiError(_IMAGE_STATUS.get(exc.code, 400), exc.code, exc.message)


def check_header(data: bytes, s: GatewaySettings) -> str:
    """The kind of a supported image within the size and pixel limits, from its header only (no pixels
    decoded: the decompression-bomb guard); else ApiError."""
    try:
        return inspect_image(data, max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels).kind
    except ImageError as exc:
        raise _refusal(exc, s) from exc


def decoded_size(data: bytes, s: GatewaySettings) -> tuple[int, int]:
    """Decode every pixel (a truncated or corrupt file fails only here); the upright (width, height)."""
    try:
        gray = load_image(data, max_pixels=s.max_pixels)
    except ImageError as exc:
        raise _refusal(exc, s) from exc
    return gray.width, gray.height


def _reject_constant(name: str):
    raise ApiError(422, "invalid_number", f"{name} is not a valid number")


def parse_strokes(obj, s: GatewaySettings):
    """Validated ``(strokes as float arrays, width, height, stroke_width)`` from the JSON object."""
    if not isinstance(obj, dict):
        raise ApiError(422, "invalid_strokes", "the body must be a JSON object with strokes, width and height")
    strokes = obj.get("strokes")
    if not isinstance(strokes, list) or not strokes:
        raise ApiError(422, "invalid_strokes", "strokes must be a non-empty list of [xs, ys] strokes")
    if len(strokes) > s.max_strokes:
        raise ApiError(413, "too_many_strokes", f"at most {s.max_strokes} strokes")
    total = 0
    for st in strokes:
        if not isinstance(st, list) or len(st) not in (2, 3) or not all(isinstance(a, list) for a in st):
            raise ApiError(422, "invalid_strokes", "each stroke must be [xs, ys] or [xs, ys, ts]")
        if len(st[0]) != len(st[1]) or not st[0]:
            raise ApiError(422, "invalid_strokes", "each stroke needs as many xs as ys, at least one")
        total += len(st[0])
        if total > s.max_points:
            raise ApiError(413, "too_many_points", f"at most {s.max_points} points in all")
    width = _int_option(obj.get("width"), "width", -1, 1, s.max_canvas_side)
    height = _int_option(obj.get("height"), "height", -1, 1, s.max_canvas_side)
    if width < 0 or height < 0:
        raise ApiError(422, "invalid_strokes", "width and height are required")
    if width * height > s.max_pixels:
        raise ApiError(413, "image_too_many_pixels", f"the canvas is over {s.max_pixels} pixels")
    arrays = []
    for st in strokes:
        xy = []
        for axis in st[:2]:
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in axis):
                raise ApiError(422, "invalid_strokes", "coordinates must be numbers")
            a = np.asarray(axis, dtype=np.float64)
            if not np.isfinite(a).all():
                raise ApiError(422, "invalid_number", "coordinates must be finite numbers")
            if np.abs(a).max() > 1e6:
                raise ApiError(422, "invalid_strokes", "coordinates are out of range")
            xy.append(a)
        arrays.append(xy)
    sw = obj.get("stroke_width")
    if sw is None:
        stroke_width = max(2.0, round(max(width, height) / 160, 1))
    else:
        if isinstance(sw, bool) or not isinstance(sw, int | float) or not 0.5 <= sw <= 64:
            raise ApiError(422, "invalid_strokes", "stroke_width must be a number from 0.5 to 64")
        stroke_width = float(sw)
    return arrays, width, height, stroke_width


def render_png(strokes, width: int, height: int, stroke_width: float) -> bytes:
    from services.common.rendering import render_strokes

    im = render_strokes([[xs.tolist(), ys.tolist()] for xs, ys in strokes], size=(width, height),
                        stroke_width=stroke_width, margin=None)
    return encode_image(im)


def _payload_sha(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


def from_image(data: bytes, s: GatewaySettings, top_k, references) -> Submission:
    """An upload checked up to its header; the full decode is left in ``decode`` (see Submission)."""
    kind = check_header(data, s)
    tk = _int_option(top_k, "top_k", s.default_top_k, 1, s.max_top_k)
    nr = _int_option(references, "references", s.default_references, 0, s.max_references)
    sha = hashlib.sha256(data).hexdigest()
    return Submission(data, kind, 0, 0, sha, tk, nr, _payload_sha("image", sha, str(tk), str(nr)),
                      decode=lambda: decoded_size(data, s))


def from_strokes_json(body: bytes, s: GatewaySettings, top_k, references) -> Submission:
    try:
        obj = json.loads(body, parse_constant=_reject_constant)
    except ApiError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc
    strokes, w, h, sw = parse_strokes(obj, s)
    tk = _int_option(obj.get("top_k", top_k), "top_k", s.default_top_k, 1, s.max_top_k)
    nr = _int_option(obj.get("references", references), "references", s.default_references, 0, s.max_references)
    png = render_png(strokes, w, h, sw)
    canonical = json.dumps({"strokes": obj["strokes"], "width": w, "height": h, "stroke_width": sw},
                           sort_keys=True, separators=(",", ":"))
    return Submission(png, "png", w, h, hashlib.sha256(png).hexdigest(), tk, nr,
                      _payload_sha("strokes", canonical, str(tk), str(nr)))


async def read_submission(request: Request, s: GatewaySettings):
    """Read the body (capped) and return a callable that validates it (run it in a thread)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    q = request.query_params
    top_k, references = q.get("top_k"), q.get("references")
    body = await read_capped(request, s.max_upload_bytes + MULTIPART_OVERHEAD)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty: send an image or strokes JSON")
    if ctype == "multipart/form-data":
        request._body = body  # let Starlette parse the capped, buffered body
        try:
            form = await request.form(max_files=1, max_fields=16)
        except Exception as exc:
            raise ApiError(400, "invalid_multipart", "the multipart body cannot be parsed") from exc
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "missing_image", "the multipart field 'image' (a file) is required")
        data = await upload.read()
        top_k = form.get("top_k", top_k)
        references = form.get("references", references)
        return lambda: from_image(data, s, top_k, references)
    if ctype in ("application/json", "") and body.lstrip()[:1] in (b"{", b"["):
        if len(body) > s.max_upload_bytes:
            raise ApiError(413, "payload_too_large", "the JSON body is over the size limit")
        return lambda: from_strokes_json(body, s, top_k, references)
    if ctype == "application/json":
        raise ApiError(400, "invalid_json", "the body is not valid JSON")
    # a raw image body (image/png, application/octet-stream, ...): the type is sniffed anyway
    return lambda: from_image(body, s, top_k, references)
