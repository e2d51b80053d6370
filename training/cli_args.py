"""One way to turn a config dataclass into command-line options (every trainer's ``add_arguments``).

Each scalar field ``some_name`` becomes ``--some-name`` with the field's default. Booleans get
``--flag`` / ``--no-flag``; the type comes from ``types`` (a parser per field), else the default's
type, else the annotation (``float | None`` parses as float). Fields whose default is a container
(``dict``, ``list``) are left to the code. ``choices`` restrict a field's values.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_SCALARS: dict[str, type] = {"int": int, "float": float, "str": str}


def _annotated_type(annotation: object) -> Callable[[str], Any]:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    for part in str(text).replace(" ", "").split("|"):
        if part in _SCALARS:
            return _SCALARS[part]
    return str


def add_dataclass_arguments(p: argparse.ArgumentParser, cls: type, *,
                            types: Mapping[str, Callable[[str], Any]] | None = None,
                            choices: Mapping[str, Sequence[Any]] | None = None) -> None:
    """Add an option per scalar field of the dataclass ``cls`` to ``p`` (see the module docstring)."""
    defaults = cls()
    types, choices = types or {}, choices or {}
    for f in dataclasses.fields(cls):
        default = getattr(defaults, f.name)
        if isinstance(default, (dict, list, set, tuple)):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
            continue
        typ = types.get(f.name) or (type(default) if default is not None else _annotated_type(f.type))
        p.add_argument(flag, type=typ, default=default, choices=choices.get(f.name))
