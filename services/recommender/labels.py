"""Photo-dataset labels (COCO, Open Images, file names) mapped to Quick, Draw! words.

The vocabulary is DoodleNet's ``class_names.txt`` with ``_`` read as a space (Google's spelling).
A label maps when it is a Quick, Draw! word after normalising case and separators, or through the
small alias table below, which only holds pairs that name the same thing (``tv`` -> ``television``).
Ambiguous pairs are left out on purpose: COCO's ``mouse`` is a computer mouse, Quick, Draw!'s is
mostly the animal.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

ALIASES: dict[str, str] = {
    "tv": "television",
    "tvmonitor": "television",
    "motorcycle": "motorbike",
    "teddy bear": "teddy-bear",
    "dining table": "table",
    "potted plant": "house plant",
    "pottedplant": "house plant",
    "handbag": "purse",
    "remote": "remote control",
    "tennis racket": "tennis racquet",
    "aeroplane": "airplane",
    "sofa": "couch",
    "mobile phone": "cell phone",
    "doughnut": "donut",
    "fire engine": "firetruck",
    "watch": "wristwatch",
    "coffee mug": "mug",
    "laptop computer": "laptop",
    "sunglasses": "eyeglasses",
    "glasses": "eyeglasses",
}
# Same word, different thing: never mapped.
DENY = {"mouse"}


def normalise(label: str) -> str:
    s = label.strip().lower().replace("_", " ")
    return re.sub(r"\s+", " ", s)


@lru_cache
def quickdraw_words() -> frozenset[str]:
    from services.common.assets import asset_path

    try:  # the shared folder, else the copy `make setup` fetched; never a download from here
        path = asset_path("models/doodlenet/class_names.txt", download=False)
    except FileNotFoundError:
        return frozenset()
    return frozenset(w.strip().replace("_", " ").lower() for w in Path(path).read_text().splitlines() if w.strip())


def to_quickdraw(label: str, vocab: frozenset[str] | None = None) -> str | None:
    """The Quick, Draw! word for a photo label, or None when none names the same thing."""
    vocab = quickdraw_words() if vocab is None else vocab
    s = normalise(label)
    if s in DENY:
        return None
    if s in ALIASES:
        target = ALIASES[s]
        return target if not vocab or target in vocab else None
    if s in vocab:
        return s
    if s.replace(" ", "-") in vocab:
        return s.replace(" ", "-")
    return None


def labels_from_name(name: str, vocab: frozenset[str] | None = None) -> list[str]:
    """Quick, Draw! words named by a file stem: the whole stem first, else its longest word runs.

    ``hot_dog`` -> ``['hot dog']``; ``kite_and_cold`` -> ``[]`` (kite is denied); ``cat`` -> ``['cat']``.
    """
    vocab = quickdraw_words() if vocab is None else vocab
    whole = to_quickdraw(name, vocab)
    if whole:
        return [whole]
    tokens = [t for t in re.split(r"[\s_\-.]+", name.lower()) if t and not t.isdigit()]
    found: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(len(tokens), i, -1):
            hit = to_quickdraw(" ".join(tokens[i:j]), vocab)
            if hit:
                if hit not in found:
                    found.append(hit)
                i = j
                break
        else:
            i += 1
    return found
