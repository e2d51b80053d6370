"""The label vocabulary: the 345 Quick, Draw! category names as Google spells them."""

from __future__ import annotations

from pathlib import Path


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a one-per-line file; DoodleNet's underscores become Google's spaces."""
    return [w.strip().replace("_", " ") for w in Path(path).read_text().splitlines() if w.strip()]
