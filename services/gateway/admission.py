"""Bounded work per upload: refuse by header before decoding, and share a decoded-bytes budget.

PNG has no reduced decode, so a 60 KB PNG of 4000x4000 RGBA always decodes to 64 MB. An upload is
therefore admitted in two steps, both before a single pixel is decoded:

1. :func:`check_png_chunks` and :func:`check_geometry`: the header alone says no to what is too big
   or odd (more than ``max_pixels`` pixels, an aspect ratio over ``max_aspect``, a PNG of thousands
   of chunks or megabytes of text/metadata chunks).
2. :class:`DecodeBudget`: the decoded size (width x height x bytes per pixel of the decoded mode,
   from the header) is reserved from one budget shared by every request in flight in this process;
   when it is used up the upload waits a moment (``decode_budget_wait_s``) for room, then is refused
   with 503 ``server_busy`` and ``Retry-After``, so memory stays bounded whatever arrives at once.

The decode itself (:func:`decode_size`) opens only the sniffed format (``Image.open(formats=[...])``:
a PNG signature followed by another format's body is refused) and keeps one copy of the pixels: the
gateway only needs to know the image is complete and its upright size.
"""

from __future__ import annotations

import io
import struct
import threading

from PIL import Image

from .errors import ApiError

PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
# Bytes per pixel of what Pillow decodes each mode to (its in-memory image; "1" is a byte a pixel).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "La": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2,
                    "RGB": 4, "YCbCr": 4, "LAB": 4, "HSV": 4, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4,
                    "I": 4, "F": 4}
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def bytes_per_pixel(mode: str) -> int:
    return _BYTES_PER_PIXEL.get(mode, 4)


def check_png_chunks(data: bytes, max_chunks: int, max_ancillary_bytes: int) -> None:
    """Walk the PNG's chunk headers (no decompression): at most ``max_chunks`` chunks and
    ``max_ancillary_bytes`` of ancillary chunks (text, metadata: a lower-case first letter)."""
    if not data.startswith(_PNG_SIG):
        return
    pos, count, ancillary = len(_PNG_SIG), 0, 0
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        count += 1
        if count > max_chunks:
            raise ApiError(413, "image_too_many_chunks", f"the PNG has over {max_chunks} chunks")
        if kind[:1].islower():
            ancillary += length
            if ancillary > max_ancillary_bytes:
                raise ApiError(413, "image_too_much_metadata",
                               f"the PNG carries over {max_ancillary_bytes} bytes of ancillary chunks")
        if kind == b"IEND":
            return
        pos += 12 + length


def check_geometry(width: int, height: int, max_pixels: int, max_aspect: float) -> None:
    if width < 1 or height < 1:
        raise ApiError(400, "corrupt_image", "the image has no pixels")
    if width * height > max_pixels:
        raise ApiError(413, "image_too_many_pixels", f"the image is {width}x{height}; the limit is {max_pixels} pixels")
    if max(width, height) > max_aspect * min(width, height):
        raise ApiError(413, "image_aspect_ratio", f"the image is {width}x{height}; the longer side may be at most "
                                                  f"{max_aspect:g} times the shorter")


class DecodeBudget:
    """Bytes of decoded pixels that the requests in flight may hold together (thread-safe)."""

    def __init__(self, limit_bytes: int, wait_s: float = 0.0):
        self.limit = int(limit_bytes)
        self.wait_s = wait_s
        self.used = 0
        self._lock = threading.Condition()

    def reserve(self, n: int) -> Reservation:
        """A reservation of ``n`` bytes (release it when done). Waits at most ``wait_s`` for room,
        then 503 ``server_busy`` with ``Retry-After``."""
        with self._lock:
            if n > self.limit:
                raise ApiError(413, "image_too_many_pixels", "the decoded image is larger than this server allows")
            if not self._lock.wait_for(lambda: self.used + n <= self.limit, timeout=self.wait_s):
                raise ApiError(503, "server_busy", "too many large images are being checked right now; try again",
                               headers={"Retry-After": "1"})
            self.used += n
        return Reservation(self, n)


class Reservation:
    def __init__(self, budget: DecodeBudget, n: int):
        self.budget, self.n = budget, n

    def release(self) -> None:
        """Give the bytes back (idempotent)."""
        with self.budget._lock:
            self.budget.used -= self.n
            self.n = 0
            self.budget._lock.notify_all()


def decode_size(data: bytes, kind: str) -> tuple[int, int]:
    """Decode every pixel of the sniffed format only (a truncated or corrupt file fails here), keeping
    one copy; the upright (width, height) (EXIF orientations 5-8 swap the sides)."""
    try:
        with Image.open(io.BytesIO(data), formats=[PIL_FORMAT[kind]]) as im:
            im.load()
            width, height = im.size
            orientation = im.getexif().get(0x0112, 1)
    except ApiError:
        raise
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise ApiError(400, "corrupt_image", "the image is truncated or corrupt") from exc
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
