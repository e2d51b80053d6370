"""Classifier worker settings (env prefix ``SKETCHREF_CLASSIFIER_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import ROOT


class ClassifierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKETCHREF_CLASSIFIER_", extra="ignore")

    model_dir: Path = ROOT / "models" / "classifier"
    device: str = "cpu"
    batch_size: int = 64


@lru_cache
def get_classifier_settings() -> ClassifierSettings:
    return ClassifierSettings()
