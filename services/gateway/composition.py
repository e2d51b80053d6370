"""What the gateway receives from the stage packages, named ``"module:attr"`` and resolved when an app
is built (:func:`services.gateway.main.create_app`), so that no gateway module imports a stage package
(``tests/project/test_layers.py``); the gateway knows only the interface
(:class:`services.core.stages.ReferenceFiles`).
"""

from __future__ import annotations

import importlib
from typing import Any

from services.core.stages import ReferenceFiles

# what -> "module:factory"; the factory takes the app's storage and returns the implementation
PROVIDED = {
    "references": "services.recommender.references:for_gateway",
}


def resolve(path: str) -> Any:
    """``"package.module:attr"`` -> the attribute."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def reference_files(storage: object, path: str | None = None) -> ReferenceFiles:
    """The gallery pictures and download tracking the references route serves."""
    found = resolve(path or PROVIDED["references"])(storage)
    if not isinstance(found, ReferenceFiles):
        raise TypeError(f"{path or PROVIDED['references']} gave {type(found).__name__}, not ReferenceFiles")
    return found
