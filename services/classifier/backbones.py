"""The built-in classifier backbones (interface and registry: :mod:`services.classifier.registry`).

A backbone builds the two-tower logits model (``model(x) -> (N, C)`` scaled cosine similarities
between image and class-prompt embeddings), says how a sketch becomes its input (``norm`` for
:func:`normalize_sketch`, then :meth:`prepare`), which module LoRA adapts (:meth:`lora_root`) and what
the distillation teacher is (:meth:`teacher`).

- ``doodlenet`` (offline default): DoodleNet image tower + MiniLM prompt embeddings + trained
  projections (:class:`~services.classifier.vlm.SketchVLM`).
- ``clip``: a Hugging Face ``CLIPModel`` and its processor from a hub id (default
  ``openai/clip-vit-base-patch32``) or a local folder; class texts are the CLIP text tower's
  embeddings of the same prompt ensembles. ``HF_HUB_OFFLINE=1`` is set unless already set.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from services.core.preprocess import DEFAULT_NORM, SketchNorm

from .labels import class_names
from .registry import get_backbone as get_backbone  # where callers have always found it
from .registry import register_backbone
from .text_tower import PROMPTS

CLIP_DEFAULT = "openai/clip-vit-base-patch32"


@register_backbone("doodlenet", aliases=("doodlenet+minilm",))
class DoodleNetBackbone:
    name = "doodlenet"
    norm = DEFAULT_NORM
    # LoRA on the CNN: the four convs of blocks 1-2, the two of block 3, the 576->512 embedding layer
    placements = {
        "conv-early": r"convs\.(0|2|5|7)",
        "conv-late": r"convs\.(10|12)",
        "conv-all": r"convs\.(0|2|5|7|10|12)",
        "dense": r"dense",
        "all": r"convs\.(0|2|5|7|10|12)|dense",
    }
    reference = ("dense", 8)
    shipped_head = True  # starts from models/classifier/head.pt's projections

    def __init__(self, source: str | None = None):
        self.source = source

    def build(self, classes: list[str] | None = None, text_features: torch.Tensor | None = None,
              head: dict | None = None):
        """``(SketchVLM, classes)`` with ``head`` (a ``head.pt`` state) loaded if given — its shapes set the
        embedding size; else projections start from DoodleNet's own head when the model supports it.
        MiniLM embeds the prompts unless ``text_features`` (or the head's) are given."""
        from services.common.assets import asset_dir

        from .doodlenet import FILES, load_doodlenet
        from .text_tower import encode_labels
        from .vlm import SketchVLM

        if head is not None:
            text_features = head["text_features"]
        if text_features is None:
            text_features = encode_labels(classes or class_names())
        tower, names = load_doodlenet(asset_dir("models/doodlenet", FILES))
        for p in tower.parameters():
            p.requires_grad_(False)
        kw = {"embed_dim": head["image_proj.weight"].shape[0]} if head is not None else {}
        model = SketchVLM(tower, text_features, **kw)
        if head is not None:
            model.load_state_dict(head, strict=False)
        elif hasattr(model, "init_from_head") and model.image_proj.weight.shape[0] == model.image_proj.weight.shape[1]:
            model.init_from_head(tower.head)
        return model, names

    def prepare(self, arrs: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(arrs, dtype=np.float32))[:, None]

    def lora_root(self, model: nn.Module) -> nn.Module:
        return model.image_tower

    def trainable_head(self, model: nn.Module) -> list[nn.Parameter]:
        return [model.image_proj.weight, model.text_proj.weight, model.logit_scale]

    @torch.no_grad()
    def teacher(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """DoodleNet's own 345-way head (trained on 50k drawings per class)."""
        return model.image_tower(x)

    # where the adapted part of the tower starts, per placement (index into ``convs``)
    FROZEN_PREFIX = {"dense": 15, "conv-late": 10}

    def split(self, model: nn.Module, placement: str | None):
        """``(prefix, suffix)`` with ``model(x) == suffix(prefix(x))`` and no LoRA in ``prefix``: training
        computes the frozen prefix once per input instead of every step. ``placement`` None (no LoRA):
        the prefix is the whole tower's features, in the mode the tower is in when it runs."""
        if placement is None:
            return model.image_tower.features, model.logits_from_features
        k = self.FROZEN_PREFIX.get(placement, 0)
        if not k:
            return None, model
        tower = model.image_tower

        def prefix(x):
            return tower.convs[:k](x)

        def suffix(h):
            h = tower.convs[k:](h)
            h = tower.dropout(h.permute(0, 2, 3, 1).flatten(1))  # as DoodleNet.features
            return model.logits_from_features(torch.tanh(tower.dense(h)))

        return prefix, suffix


def _pooled(out) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out.pooler_output


class ClipVLM(nn.Module):
    """``logits = exp(s) * normalize(CLIP image embedding) · class_featuresᵀ`` (CLIP zero-shot form)."""

    def __init__(self, clip: nn.Module, text_features: torch.Tensor):
        super().__init__()
        self.clip = clip
        self.register_buffer("text_features", F.normalize(text_features.float(), dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        img = F.normalize(_pooled(self.clip.get_image_features(pixel_values=x)), dim=-1)
        return self.clip.logit_scale.exp() * img @ self.text_features.T

    def head_state_dict(self) -> dict:
        return {"text_features": self.text_features, "clip.logit_scale": self.clip.logit_scale.detach()}


@register_backbone("clip")
class ClipBackbone:
    name = "clip"
    # LoRA on the vision transformer: q, k, v, out projections; v and out; the MLP
    placements = {
        "attn-qkvo": r".*layers\.\d+\.self_attn\.(q_proj|k_proj|v_proj|out_proj)",
        "attn-vo": r".*layers\.\d+\.self_attn\.(v_proj|out_proj)",
        "mlp": r".*layers\.\d+\.mlp\.(fc1|fc2)",
    }
    reference = ("attn-qkvo", 8)
    shipped_head = False

    def __init__(self, source: str | None = None, revision: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import CLIPModel, CLIPProcessor

        from .settings import get_classifier_settings

        self.source = source or CLIP_DEFAULT
        # pinned Hub commit (SKETCHREF_CLASSIFIER_CLIP_REVISION); a local folder ignores it
        self.revision = revision or get_classifier_settings().clip_revision
        self.clip = CLIPModel.from_pretrained(self.source, revision=self.revision)
        self.processor = CLIPProcessor.from_pretrained(self.source, revision=self.revision)
        side = int(self.clip.config.vision_config.image_size)
        self.norm = SketchNorm(side=side, work=max(2, 896 // side))
        ip = self.processor.image_processor
        self.mean = torch.tensor(ip.image_mean, dtype=torch.float32)[:, None, None]
        self.std = torch.tensor(ip.image_std, dtype=torch.float32)[:, None, None]

    @torch.no_grad()
    def encode_labels(self, classes: list[str], prompts=PROMPTS) -> torch.Tensor:
        texts = [p.format(c) for c in classes for p in prompts]
        tok = self.processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        emb = F.normalize(_pooled(self.clip.get_text_features(**tok)).float(), dim=-1)
        return F.normalize(emb.reshape(len(classes), len(prompts), -1).mean(1), dim=-1)

    def build(self, classes: list[str] | None = None, text_features: torch.Tensor | None = None,
              head: dict | None = None):
        if head is not None:
            text_features = head["text_features"]
        if classes is None:
            classes = class_names()
        if text_features is None:
            text_features = self.encode_labels(classes)
        for p in self.clip.parameters():
            p.requires_grad_(False)
        model = ClipVLM(self.clip, text_features).eval()
        if head is not None:
            model.load_state_dict(head, strict=False)
        return model, classes

    def prepare(self, arrs: np.ndarray) -> torch.Tensor:
        """White-on-black ``[0, 1]`` sketches -> black-on-white RGB, CLIP's mean/std."""
        x = 1.0 - torch.from_numpy(np.ascontiguousarray(arrs, dtype=np.float32))[:, None]
        return (x.expand(-1, 3, -1, -1) - self.mean) / self.std

    def lora_root(self, model: nn.Module) -> nn.Module:
        return model.clip.vision_model

    def trainable_head(self, model: nn.Module) -> list[nn.Parameter]:
        return [model.clip.logit_scale]

    def split(self, model: nn.Module, placement: str | None):
        return None, model

    @torch.no_grad()
    def teacher(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """The unadapted model's zero-shot logits."""
        return model(x)
