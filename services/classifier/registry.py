"""The classifier backbone interface (:class:`Backbone`) and the registry that names them.

A backbone is a class registered under a name with :func:`register_backbone`; ``config.json`` of a
model folder and ``--backbone`` of the trainer choose one by that name (:func:`get_backbone`). Each
declares everything the rest of the code needs to know about it, so nothing else names a backbone:

- ``placements``: its LoRA placements, name -> peft ``target_modules`` regex (relative to
  :meth:`Backbone.lora_root`), and ``reference``: the placement and rank whose adapter size is the
  common budget every placement is sized to (:mod:`services.classifier.lora`);
- ``norm``: how a sketch is normalized for it; ``shipped_head``: whether it starts from the projections
  shipped in ``models/classifier/head.pt``;
- how to build the two-tower logits model, prepare its input, what LoRA adapts, what is trained
  besides LoRA, the distillation teacher, and the frozen prefix training may compute once.

The built-in backbones live in :mod:`services.classifier.backbones`; a new one is a class there (or in
its own module) with ``@register_backbone("name")``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from services.core.preprocess import SketchNorm

BUILTIN_MODULES = ("services.classifier.backbones",)

Stage = Callable[[torch.Tensor], torch.Tensor]


@runtime_checkable
class Backbone(Protocol):
    name: ClassVar[str]
    placements: ClassVar[Mapping[str, str]]
    reference: ClassVar[tuple[str, int]]
    shipped_head: ClassVar[bool]
    norm: SketchNorm

    def __init__(self, source: str | None = None) -> None: ...

    def build(self, classes: list[str] | None = None, text_features: torch.Tensor | None = None,
              head: dict[str, torch.Tensor] | None = None) -> tuple[nn.Module, list[str]]:
        """``(model, classes)``: ``model(x) -> (N, C)`` scaled similarities; ``head`` restores a trained one."""
        ...

    def prepare(self, arrs: np.ndarray) -> torch.Tensor:
        """Normalized ``(N, side, side)`` sketches -> the model's input tensor."""
        ...

    def lora_root(self, model: nn.Module) -> nn.Module: ...

    def trainable_head(self, model: nn.Module) -> list[nn.Parameter]: ...

    def teacher(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor: ...

    def split(self, model: nn.Module, placement: str | None) -> tuple[Stage | None, Stage]:
        """``(prefix, suffix)``, ``model(x) == suffix(prefix(x))``, no LoRA in ``prefix`` (or ``None``).
        ``placement`` None: nothing in the tower is adapted (the prefix may be the whole image tower)."""
        ...


BackboneClass = type[Backbone]

_BACKBONES: dict[str, BackboneClass] = {}
_ALIASES: dict[str, str] = {}


def register_backbone(name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[BackboneClass], BackboneClass]:
    """Class decorator: the backbone answers to ``name`` (and ``aliases``, e.g. older config names)."""

    def add(cls: BackboneClass) -> BackboneClass:
        for key in (name, *aliases):
            if key in _BACKBONES or key in _ALIASES:
                raise ValueError(f"backbone name {key!r} is taken")
        _BACKBONES[name] = cls
        _ALIASES.update({a: name for a in aliases})
        return cls

    return add


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def backbone_names() -> list[str]:
    _load_builtins()
    return sorted(_BACKBONES)


def backbone_class(name: str) -> BackboneClass:
    """The registered class for ``name`` (or one of its aliases)."""
    _load_builtins()
    key = _ALIASES.get(name, name)
    if key not in _BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {', '.join(sorted(_BACKBONES))}")
    return _BACKBONES[key]


def get_backbone(name: str = "doodlenet", source: str | None = None) -> Backbone:
    """A backbone instance by name; ``source`` is its weights (hub id or folder) where it takes one."""
    return backbone_class(name)(source)
