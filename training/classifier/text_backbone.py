"""``minilm-text``: LoRA on the MiniLM *text* tower — the attention-vs-MLP proxy of protocol v2.

The source's placement claim (LoRA on the MLP beats attention) is about a pretrained CLIP image
transformer. DoodleNet has no attention; the one pretrained transformer available offline here is the
MiniLM text tower that embeds the class prompts. This backbone keeps DoodleNet's image features frozen
(computed once) and adapts the prompt side: the class embeddings are recomputed through MiniLM with
LoRA at every step (``attn``: query/key/value/attention-output of all 6 layers; ``mlp``: the
intermediate and output dense layers). It is a **proxy**: a text transformer adapted to 345 fixed
prompt ensembles, not a vision transformer adapted to images. Registered on import (protocol v2
imports it for ``--backbone minilm-text``). ``--model <folder>`` swaps in another sentence-transformers
text tower (the tests use a tiny random one); DoodleNet always comes from its assets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from services.classifier.backbones import DoodleNetBackbone
from services.classifier.registry import register_backbone
from services.classifier.text_tower import PROMPTS, _model_path, encode_labels
from services.classifier.vlm import SketchVLM


class TextLoRAVLM(SketchVLM):
    """:class:`SketchVLM` whose class embeddings come through a (LoRA-adapted) MiniLM each call."""

    def __init__(self, image_tower: nn.Module, text_features: torch.Tensor, text_model: nn.Module,
                 tokens: dict[str, torch.Tensor], n_prompts: int):
        super().__init__(image_tower, text_features)
        self.text_model = text_model
        self.tokens = tokens
        self.n_prompts = n_prompts
        self._cache: torch.Tensor | None = None

    def train(self, mode: bool = True):
        self._cache = None
        return super().train(mode)

    def text_embed(self) -> torch.Tensor:
        out = self.text_model(**self.tokens).last_hidden_state
        mask = self.tokens["attention_mask"][..., None].float()
        emb = F.normalize((out * mask).sum(1) / mask.sum(1), dim=-1)  # sentence-transformers mean pooling
        return F.normalize(emb.reshape(-1, self.n_prompts, emb.shape[-1]).mean(1), dim=-1)

    def head_state_dict(self) -> dict:
        return {k: v for k, v in super().head_state_dict().items() if not k.startswith("text_model.")}

    def class_embed(self) -> torch.Tensor:
        if not self.training and self._cache is not None:
            return self._cache
        if not self.training:
            with torch.no_grad():
                self._cache = F.normalize(self.text_proj(self.text_embed()), dim=-1)
            return self._cache
        return F.normalize(self.text_proj(self.text_embed()), dim=-1)


@register_backbone("minilm-text")
class MiniLMTextBackbone(DoodleNetBackbone):
    name = "minilm-text"
    placements = {
        "attn": r"encoder\.layer\.\d+\.attention\.(self\.(query|key|value)|output\.dense)",
        "mlp": r"encoder\.layer\.\d+\.(intermediate\.dense|output\.dense)",
    }
    reference = ("attn", 4)  # 73,728 LoRA parameters; mlp at rank 3: 69,120
    shipped_head = False

    def build(self, classes=None, text_features=None, head=None):
        from sentence_transformers import SentenceTransformer

        from services.classifier.labels import class_names

        path = self.source or _model_path()
        if text_features is None:  # the starting class embeddings come from the tower that LoRA adapts
            text_features = encode_labels(classes or class_names(), model_path=path)
        base, names = super().build(classes, text_features, head)
        st = SentenceTransformer(path, device="cpu")
        text_model, tokenizer = st[0].auto_model, st[0].tokenizer
        for p in text_model.parameters():
            p.requires_grad_(False)
        texts = [p.format(c) for c in (classes or class_names()) for p in PROMPTS]
        tokens = dict(tokenizer(texts, padding=True, truncation=True, return_tensors="pt"))
        model = TextLoRAVLM(base.image_tower, base.text_features, text_model, tokens, len(PROMPTS))
        model.load_state_dict(base.state_dict(), strict=False)  # projections as the DoodleNet path made them
        return model, names

    def lora_root(self, model: nn.Module) -> nn.Module:
        return model.text_model

    def split(self, model: nn.Module, placement: str):
        """The image side has no LoRA: DoodleNet's features are computed once (eval mode)."""
        tower = model.image_tower

        def prefix(x):
            was = tower.training
            tower.eval()
            f = tower.features(x)
            tower.train(was)
            return f

        return prefix, model.logits_from_features
