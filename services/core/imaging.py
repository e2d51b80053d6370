"""Reading user images safely.

Used by the gateway (validation only, no decoding beyond the header) and by the workers and the CLI
(full decode). Types are sniffed from the bytes, never from a filename or a header.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, ImageStat

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 16_000_000

_SIGNATURES = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "webp": (b"RIFF",),
}


class ImageError(ValueError):
    """A user image that cannot be used; ``code`` is the API's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def sniff_type(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``webp`` from the leading bytes, else None."""
    if data.startswith(_SIGNATURES["png"][0]):
        return "png"
    if data.startswith(_SIGNATURES["jpeg"][0]):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


_PIL_FORMATS = {"png": ["PNG"], "jpeg": ["JPEG"], "webp": ["WEBP"]}


@dataclass(frozen=True)
class ImageHeader:
    kind: str
    width: int
    height: int
    mode: str = ""  # what Pillow decodes it to (its bytes per pixel size the decode)


def inspect_image(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> ImageHeader:
    """Check type, size and pixel count without decoding the pixels (decompression-bomb guard)."""
    if not data:
        raise ImageError("empty_image", "the image is empty")
    if len(data) > max_bytes:
        raise ImageError("image_too_large", f"the image is {len(data)} bytes; the limit is {max_bytes}")
    kind = sniff_type(data)
    if kind is None:
        raise ImageError("unsupported_image", "not a PNG, JPEG or WebP image")
    try:
        with Image.open(io.BytesIO(data), formats=_PIL_FORMATS[kind]) as im:  # only the sniffed format
            width, height = im.size
            mode = im.mode
    except Exception as exc:  # PIL raises many types for corrupt headers
        raise ImageError("corrupt_image", f"the {kind.upper()} header cannot be read") from exc
    if width < 1 or height < 1:
        raise ImageError("corrupt_image", "the image has no pixels")
    if width * height > max_pixels:
        raise ImageError(
            "image_too_many_pixels", f"the image is {width}x{height}; the limit is {max_pixels} pixels"
        )
    return ImageHeader(kind, width, height, mode)


def encode_image(image: Image.Image, fmt: str = "PNG", **params: Any) -> bytes:
    """The image as file bytes (``fmt`` and PIL's save ``params``, e.g. ``compress_level=1``)."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def load_image(source: bytes | str | Path | Image.Image, max_pixels: int = MAX_PIXELS,
               flatten: bool = True) -> Image.Image:
    """Decode a PNG/JPEG/WebP fully into greyscale ``L`` on white, EXIF orientation applied.

    Transparent pixels become white, or black under light strokes (:func:`flatten_alpha`). ``flatten=False``
    returns the decoded image in its own mode (colour, alpha) for
    :func:`services.core.preprocess.clean_sketch`. Raises :class:`ImageError` for anything that is
    not a complete, supported image.
    """
    if isinstance(source, Image.Image):
        im = source
    else:
        data = Path(source).read_bytes() if isinstance(source, (str, Path)) else source
        hdr = inspect_image(data, max_bytes=max(MAX_BYTES, len(data)), max_pixels=max_pixels)
        try:
            im = Image.open(io.BytesIO(data), formats=_PIL_FORMATS[hdr.kind])
            im.load()
        except Exception as exc:
            raise ImageError("corrupt_image", "the image is truncated or corrupt") from exc
    im = ImageOps.exif_transpose(im)
    if not flatten:
        return im
    return flatten_alpha(im).convert("L")


def flatten_alpha(im: Image.Image) -> Image.Image:
    """Transparency flattened onto black or white, whichever contrasts with the opaque pixels (dark
    strokes on a transparent layer land on white, white strokes on black); other images unchanged."""
    if not (im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)):
        return im
    rgba = im.convert("RGBA")
    alpha = rgba.getchannel("A")
    grey = rgba.convert("L")
    opaque = alpha.point(lambda v: 255 if v > 127 else 0)
    n = opaque.histogram()[255]
    light = n > 0 and ImageStat.Stat(grey, mask=opaque).mean[0] > 127
    back = Image.new("RGBA", rgba.size, (0, 0, 0, 255) if light else (255, 255, 255, 255))
    return Image.alpha_composite(back, rgba).convert("RGB")
