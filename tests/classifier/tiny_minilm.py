"""A tiny random sentence-transformers text tower (BERT, 2 layers, width 32) saved in a folder.

It borrows only the vocabulary of the installed all-MiniLM-L6-v2 (so prompts tokenise as they do in
the product); the weights are random. Nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path


def make_tiny_minilm(folder: Path, seed: int = 0) -> Path:
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from services.classifier.text_tower import _model_path

    tokenizer = AutoTokenizer.from_pretrained(_model_path())
    torch.manual_seed(seed)
    bert = BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=64,
                                num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=64))
    raw = folder.parent / f"{folder.name}-hf"
    bert.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    word = models.Transformer(str(raw), max_seq_length=32)
    SentenceTransformer(modules=[word, models.Pooling(32, "mean")], device="cpu").save(str(folder))
    return folder
