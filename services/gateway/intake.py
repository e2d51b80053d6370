"""Reading and validating a submission: an uploaded image or strokes JSON, before any job exists.

Everything a client can get wrong ends as an :class:`ApiError` (a 4xx JSON answer) before a job
exists: the body is read with a hard cap (a 50 MB upload is cut off at the limit, never buffered
whole), the image type is sniffed from the bytes, the header is checked against the size and pixel
limits before decoding (decompression-bomb guard), and the image is decoded fully so a truncated file
is refused in the gateway rather than in a worker (:attr:`Submission.decode`, run while the upload is
being stored). Strokes and every numeric option go through the shared typed models of
:mod:`services.core.requests` (finite, bounded numbers; a 422 naming the field otherwise), then the
cross-field rules (equal xs/ys, total points, on the canvas, rendering cost); valid strokes are
rendered with :func:`render_strokes`, the project's one rasteriser, in a separate process
(:func:`render_png`), so a slow drawing never stalls the gateway's event loop or its GIL.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from fastapi import Request
from PIL.Image import DecompressionBombError
from pydantic import ValidationError
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartParser

from services.core.imaging import ImageError, ImageHeader, inspect_image, sniff_type
from services.core.requests import (
    MAX_POINTS,
    MAX_STROKES,
    REFERENCES,
    TOP_K,
    StrokesBody,
    StrokesError,
    check_strokes,
)

from .admission import DecodeBudget, bytes_per_pixel, check_geometry, check_png_chunks, decode_size
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
    # Strokes still to draw: the arguments of :func:`render_png` (the route renders them in the
    # render process pool, then sets ``data`` and ``sha256``).
    render: tuple | None = None
    # The strokes body as sent, stored beside the sketch: the classifier tells touching drawings apart
    # by the order of their strokes (services/core/stroke_groups.py).
    strokes_json: bytes | None = None
    # Gives back what the submission holds of the decode budget (idempotent; called when done).
    release: Callable[[], None] = lambda: None

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


def _option(adapter, value, name: str, default: int) -> int:
    """A numeric form/query option through the shared typed model (422 naming it otherwise)."""
    if value is None or value == "":
        return default
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ApiError(422, "invalid_request", f"{name} must be an integer")
    try:
        n = adapter.validate_python(value)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", f"{name}: {exc.errors()[0]['msg']}") from exc
    return default if n is None else n


def _capped(n: int, name: str, hi: int) -> int:
    if n > hi:
        raise ApiError(422, "invalid_request", f"{name} must be at most {hi} on this server")
    return n


def options(s: GatewaySettings, top_k, references) -> tuple[int, int]:
    tk = _capped(_option(TOP_K, top_k, "top_k", s.default_top_k), "top_k", s.max_top_k)
    nr = _capped(_option(REFERENCES, references, "references", s.default_references), "references",
                 s.max_references)
    return tk, nr


def _refusal(exc: ImageError, s: GatewaySettings) -> ApiError:
    if isinstance(exc.__cause__, DecompressionBombError):  # PIL refuses the header itself
        return ApiError(413, "image_too_many_pixels", f"the image is over {s.max_pixels} pixels")
    return ApiError(_IMAGE_STATUS.get(exc.code, 400), exc.code, exc.message)


def check_header(data: bytes, s: GatewaySettings) -> ImageHeader:
    """A supported image within every limit, from its header only (no pixels decoded): size, type,
    PNG chunks, pixels, aspect ratio; else ApiError."""
    if sniff_type(data) == "png":
        check_png_chunks(data, s.max_png_chunks, s.max_png_ancillary_bytes)
    try:
        hdr = inspect_image(data, max_bytes=s.max_upload_bytes, max_pixels=s.max_pixels)
    except ImageError as exc:
        raise _refusal(exc, s) from exc
    check_geometry(hdr.width, hdr.height, s.max_pixels, s.max_aspect_ratio)
    return hdr


def _schema_refusal(exc: ValidationError) -> ApiError:
    """The first schema error as an ApiError that names the field."""
    e = exc.errors()[0]
    loc = tuple(e.get("loc", ()))
    where = ".".join(str(p) for p in loc)
    msg = f"{where}: {e['msg']}" if where else e["msg"]
    if e["type"] == "json_invalid":
        return ApiError(400, "invalid_json", f"the body is not valid JSON ({e['msg']})")
    if e["type"] == "finite_number":
        return ApiError(422, "invalid_number", f"{where}: must be a finite number within the limits")
    if e["type"] == "too_long" and loc == ("strokes",):
        return ApiError(413, "too_many_strokes", f"at most {MAX_STROKES} strokes")
    if e["type"] == "too_long" and len(loc) == 3:  # one axis of one stroke
        return ApiError(413, "too_many_points", f"{where}: at most {MAX_POINTS} points in all")
    if e["type"] == "model_type":
        return ApiError(422, "invalid_strokes", "the body must be a JSON object with strokes, width and height")
    return ApiError(422, "invalid_strokes", msg)


def parse_strokes(body: bytes, s: GatewaySettings) -> StrokesBody:
    """The strokes body through the shared model, then the rules the schema cannot state."""
    try:
        obj = StrokesBody.model_validate_json(body)
    except ValidationError as exc:
        raise _schema_refusal(exc) from exc
    if max(obj.width, obj.height) > s.max_canvas_side:
        raise ApiError(422, "invalid_strokes", f"width and height are at most {s.max_canvas_side} on this server")
    if len(obj.strokes) > s.max_strokes:
        raise ApiError(413, "too_many_strokes", f"at most {s.max_strokes} strokes")
    if obj.width * obj.height > s.max_pixels:
        raise ApiError(413, "image_too_many_pixels", f"the canvas is over {s.max_pixels} pixels")
    try:
        check_strokes(obj, s.max_points, s.max_render_cost)
    except StrokesError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return obj


def render_png(strokes: list, width: int, height: int, stroke_width: float) -> bytes:
    """The sketch PNG of validated strokes (picklable: it runs in the render process pool)."""
    from services.core.rendering import sketch_png

    return sketch_png(strokes, width, height, stroke_width)


def _payload_sha(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


def from_image(data: bytes, s: GatewaySettings, top_k, references, budget: DecodeBudget) -> Submission:
    """An upload checked up to its header, with its decoded size reserved from ``budget``; the full
    decode is left in ``decode`` (see Submission), which gives the reservation back."""
    hdr = check_header(data, s)
    tk, nr = options(s, top_k, references)
    sha = hashlib.sha256(data).hexdigest()
    reservation = budget.reserve(hdr.width * hdr.height * bytes_per_pixel(hdr.mode))

    def decode() -> tuple[int, int]:
        try:
            return decode_size(data, hdr.kind)
        finally:
            reservation.release()

    return Submission(data, hdr.kind, 0, 0, sha, tk, nr, _payload_sha("image", sha, str(tk), str(nr)),
                      decode=decode, release=reservation.release)


def from_strokes_json(body: bytes, s: GatewaySettings, top_k, references) -> Submission:
    """Validated strokes; the PNG is rendered later, out of the gateway process (``render``)."""
    obj = parse_strokes(body, s)
    tk, nr = options(s, obj.top_k if obj.top_k is not None else top_k,
                     obj.references if obj.references is not None else references)
    sw = obj.resolved_stroke_width()
    strokes = [[st[0], st[1]] for st in obj.strokes]
    # the body as sent (no re-serialisation of 100k points while holding the GIL): a retry with the
    # same Idempotency-Key sends the same bytes
    return Submission(b"", "png", obj.width, obj.height, "", tk, nr,
                      _payload_sha("strokes", hashlib.sha256(body).hexdigest(), str(tk), str(nr)),
                      render=(strokes, obj.width, obj.height, sw), strokes_json=body)


async def parse_multipart(headers: Headers, body: bytes) -> FormData:
    """The form of a multipart ``body`` already read (and capped): Starlette's public parser over it,
    at most one file and 16 fields."""
    async def once() -> AsyncGenerator[bytes, None]:
        yield body

    return await MultiPartParser(headers, once(), max_files=1, max_fields=16).parse()


async def read_submission(request: Request, s: GatewaySettings, top_k: int | None = None,
                          references: int | None = None):
    """Read the body (capped) and return a callable that validates it (run it in a thread).
    ``top_k``/``references``: the query's, already typed (form or JSON fields take precedence)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await read_capped(request, s.max_upload_bytes + MULTIPART_OVERHEAD)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty: send an image or strokes JSON")
    if ctype == "multipart/form-data":
        try:
            form = await parse_multipart(request.headers, body)
        except Exception as exc:
            raise ApiError(400, "invalid_multipart", "the multipart body cannot be parsed") from exc
        try:
            upload = form.get("image")
            if not isinstance(upload, UploadFile):
                raise ApiError(422, "missing_image", "the multipart field 'image' (a file) is required")
            data = await upload.read()
            top_k = form.get("top_k", top_k)
            references = form.get("references", references)
        finally:
            await form.close()
        return lambda: from_image(data, s, top_k, references, request.app.state.decode_budget)
    if ctype in ("application/json", "") and body.lstrip()[:1] in (b"{", b"[") or ctype == "application/json":
        if len(body) > s.max_upload_bytes:
            raise ApiError(413, "payload_too_large", "the JSON body is over the size limit")
        return lambda: from_strokes_json(body, s, top_k, references)
    # a raw image body (image/png, application/octet-stream, ...): the type is sniffed anyway
    return lambda: from_image(body, s, top_k, references, request.app.state.decode_budget)
