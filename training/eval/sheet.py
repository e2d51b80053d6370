"""Contact sheets: a few inputs with their boxes, labels and "Not sure — maybe: …", in one PNG.

Used by ``sketchref eval recognition`` (one sheet per style family and one for nonsense inputs) so that
each family can be checked by eye.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from services.core.annotate import annotate

TILE = 360


def contact_sheet(examples, path: str | Path, title: str = "", cols: int = 4) -> Path:
    """``examples``: (scene or image, objects) pairs; a scene's own boxes are drawn thin and grey."""
    tiles = []
    for item, objs in examples:
        image = getattr(item, "image", item)
        im = annotate(image.convert("RGB"), objs)
        draw = ImageDraw.Draw(im)
        for b in getattr(item, "boxes", []):
            draw.rectangle(tuple(b), outline=(128, 128, 128), width=1)
        im.thumbnail((TILE, TILE))
        tiles.append(im)
    rows = max(1, -(-len(tiles) // cols))
    sheet = Image.new("RGB", (cols * (TILE + 8) + 8, rows * (TILE + 8) + 36), (60, 60, 60))
    ImageDraw.Draw(sheet).text((8, 8), title, fill=(255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, (8 + (i % cols) * (TILE + 8), 32 + (i // cols) * (TILE + 8)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def style_figure(path: str | Path, seed: int = 7) -> Path:
    """One example per style family (test drawings, eval appearance), one scribble and one photo, each
    through the recognizer: boxes, labels and "Not sure — maybe: …"."""
    import io
    import random

    from services.core.imaging import encode_image
    from services.embedded import load_recognizer
    from training.data.quickdraw import load_drawings
    from training.data.styles import STYLES, styled_scene

    from .nonsense import _as_upload, photo_paths, scribble_image
    from .recognition import _NoReferences

    recognizer = load_recognizer(recommender=_NoReferences())
    drawings = load_drawings("raw", split="test")
    examples = []
    for style in STYLES:
        scene = styled_scene(drawings, random.Random(seed), style, "eval")
        examples.append((scene, recognizer.recognize(encode_image(scene.image), references=0).objects))
    nonsense = [encode_image(scribble_image(random.Random(seed), "scribble"))]
    nonsense += [_as_upload(p) for p in photo_paths()[:1]]
    for data in nonsense:
        examples.append((Image.open(io.BytesIO(data)), recognizer.recognize(data, references=0).objects))
    return contact_sheet(examples, path, title=" | ".join(STYLES) + " | scribble | photo", cols=5)


if __name__ == "__main__":
    import sys

    print(style_figure(sys.argv[1] if len(sys.argv) > 1 else "reports/recognition/styles.png"))
