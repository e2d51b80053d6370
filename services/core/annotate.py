"""Draw detections and their top labels over a sketch (the demo's and the CLI's annotated PNG)."""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from .contracts import DetectedObject

PALETTE = [(230, 57, 70), (29, 120, 214), (42, 157, 143), (244, 162, 97), (131, 56, 236), (255, 0, 110)]


def _font(size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        from pathlib import Path

        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), size)


def label_text(o: DetectedObject, maybe: int = 2) -> str:
    """``cat 91%`` for a confident object, ``Not sure — maybe: cat, tiger`` otherwise."""
    if not o.labels:
        return o.detector_label
    if o.confident:
        return f"{o.labels[0].label} {o.labels[0].score:.0%}"
    return "Not sure — maybe: " + ", ".join(lab.label for lab in o.labels[:maybe])


def annotate(gray: Image.Image, objects: list[DetectedObject]) -> Image.Image:
    im = gray.convert("RGB")
    draw = ImageDraw.Draw(im)
    lw = max(2, round(min(im.size) / 250))
    font = _font(max(12, round(min(im.size) / 32)))
    for i, o in enumerate(objects):
        color = PALETTE[i % len(PALETTE)]
        x1, y1, x2, y2 = o.box
        draw.rectangle((x1, y1, x2, y2), outline=color, width=lw)
        text = label_text(o)
        tb = draw.textbbox((0, 0), text, font=font)
        tw, th = tb[2] - tb[0] + 8, tb[3] - tb[1] + 8
        ty = y1 - th if y1 - th >= 0 else y1
        draw.rectangle((x1, ty, x1 + tw, ty + th), fill=color)
        draw.text((x1 + 4, ty + 4 - tb[1]), text, fill=(255, 255, 255), font=font)
    return im
