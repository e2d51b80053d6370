"""The label vocabulary: the 345 Quick, Draw! category names as Google spells them."""

from __future__ import annotations

from pathlib import Path


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a one-per-line file; DoodleNet's underscores become Google's spaces."""
    return [w.strip().replace("_", " ") for w in Path(path).read_text().splitlines() if w.strip()]


def class_names() -> list[str]:
    """The 345 categories in DoodleNet's output order (the project's label order everywhere),
    spelled as Google spells them (``hot dog``; DoodleNet's file writes ``hot_dog``)."""
    from services.common.assets import asset_path

    return read_class_names(asset_path("models/doodlenet/class_names.txt"))
