"""A new backbone is one class with ``@register_backbone``: LoRA sizing, the model folder loader and
the classifier work with it without any other file knowing its name."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

from services.classifier import lora
from services.classifier.model import load_adapted
from services.classifier.registry import (
    Backbone,
    backbone_class,
    backbone_names,
    get_backbone,
    register_backbone,
)
from services.core.preprocess import SketchNorm

CLASSES = ["circle", "line"]


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(16 * 16, 8)
        self.out = nn.Linear(8, len(CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.lin(x.flatten(1))))


@register_backbone("stub-tiny", aliases=("stub-tiny-v0",))
class StubBackbone:
    name = "stub-tiny"
    placements = {"first": r"lin", "both": r"lin|out"}
    reference = ("both", 2)
    shipped_head = False

    def __init__(self, source: str | None = None) -> None:
        self.norm = SketchNorm(side=16, work=4)

    def build(self, classes=None, text_features=None, head=None):
        torch.manual_seed(0)
        model = TinyNet()
        if head is not None:
            model.load_state_dict(head)
        return model, list(classes or CLASSES)

    def prepare(self, arrs: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(arrs, dtype=np.float32))[:, None]

    def lora_root(self, model: nn.Module) -> nn.Module:
        return model

    def trainable_head(self, model: nn.Module) -> list[nn.Parameter]:
        return list(model.out.parameters())

    def teacher(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return model(x)

    def split(self, model: nn.Module, placement: str):
        return None, model


def test_registered_backbones_fit_the_interface():
    assert {"doodlenet", "clip", "stub-tiny"} <= set(backbone_names())
    assert isinstance(get_backbone("doodlenet"), Backbone) and isinstance(get_backbone("stub-tiny"), Backbone)
    assert backbone_class("doodlenet+minilm") is backbone_class("doodlenet")  # the shipped config's name
    assert backbone_class("stub-tiny-v0") is StubBackbone
    for name in backbone_names():
        cls = backbone_class(name)
        assert cls.reference[0] in cls.placements, name
    with pytest.raises(ValueError, match="unknown backbone"):
        get_backbone("nope")
    with pytest.raises(ValueError, match="taken"):
        register_backbone("clip")(StubBackbone)


def test_lora_sizes_a_new_backbone_from_its_own_declarations():
    root = TinyNet()
    # budget: reference placement "both" at rank 2 = 2 * ((256 + 8) + (8 + 2))
    assert lora.budget(root, "stub-tiny") == 2 * (264 + 10)
    cfg = lora.lora_config(root, "stub-tiny", "first")
    assert cfg.r == round(2 * 274 / 264)
    lora.inject(root, cfg)
    assert lora.count(root) == cfg.r * 264
    with pytest.raises(ValueError, match="unknown placement"):
        lora.placement_pattern("stub-tiny", "dense")


def test_a_model_folder_naming_the_new_backbone_loads_and_classifies(tmp_path):
    backbone = get_backbone("stub-tiny")
    model, _ = backbone.build()
    torch.save(model.state_dict(), tmp_path / "head.pt")
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (tmp_path / "config.json").write_text(json.dumps({"backbone": "stub-tiny-v0"}))
    clf = load_adapted(tmp_path)
    gray = Image.new("L", (64, 64), 255)
    ImageDraw.Draw(gray).ellipse((8, 8, 56, 56), outline=0, width=3)
    ranked = clf.classify(gray, [[0, 0, 64, 64], [0, 0, 32, 32]], top_k=2)
    assert [sorted(n for n, _ in r) for r in ranked] == [CLASSES, CLASSES]
    assert all(abs(sum(p for _, p in r) - 1.0) < 1e-3 for r in ranked)
    x = backbone.prepare(np.zeros((1, 16, 16), dtype=np.float32))
    want = model(x).softmax(-1)[0]
    got = clf.probabilities(x)[0]
    assert torch.allclose(want, got, atol=1e-6), "the loaded head is the saved one"
