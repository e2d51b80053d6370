"""A two-tower sketch classifier: scaled cosine similarity between image and prompt embeddings.

``logits = exp(logit_scale) * normalize(P_img f(x)) · normalize(P_txt t(label))ᵀ``. For the default
backbone ``f`` is DoodleNet's 512-d penultimate layer and ``t`` the MiniLM embedding of the label's
prompt ensemble (precomputed: the text tower is frozen); the projections ``P`` are what training fits
(LiT-style: locked image tower, tuned projections).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class SketchVLM(nn.Module):
    def __init__(self, image_tower: nn.Module, text_features: torch.Tensor, image_dim: int = 512,
                 embed_dim: int = 512):
        super().__init__()
        self.image_tower = image_tower
        self.register_buffer("text_features", text_features.float())
        self.image_proj = nn.Linear(image_dim, embed_dim, bias=False)
        self.text_proj = nn.Linear(text_features.shape[1], embed_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(30.0)))

    @torch.no_grad()
    def init_from_head(self, head: nn.Linear) -> None:
        """Start where a trained closed-set head is: identity image projection, and a text projection
        fitted by least squares so each class's prompt embedding maps onto that class's head row.

        With 345 classes and 384-d text features the fit is exact; what remains different from the
        head is the cosine (per-class norms and biases are not kept), which training then adapts.
        """
        w = F.normalize(head.weight.float(), dim=-1)  # (classes, image_dim)
        if self.image_proj.weight.shape[0] != w.shape[1]:
            raise ValueError("init_from_head needs embed_dim == image_dim")
        self.image_proj.weight.copy_(torch.eye(w.shape[1]))
        sol = torch.linalg.lstsq(self.text_features, w).solution  # (text_dim, image_dim)
        self.text_proj.weight.copy_(sol.T)

    def image_embed(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.image_proj(self.image_tower.features(x)), dim=-1)

    def class_embed(self) -> torch.Tensor:
        return F.normalize(self.text_proj(self.text_features), dim=-1)

    def logits_from_features(self, feats: torch.Tensor) -> torch.Tensor:
        img = F.normalize(self.image_proj(feats), dim=-1)
        return self.logit_scale.exp() * img @ self.class_embed().T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_from_features(self.image_tower.features(x))

    def head_state_dict(self) -> dict:
        """What training produces (the towers are loaded from their own sources)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("image_tower.")}
