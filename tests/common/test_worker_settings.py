"""The workers' environment variables reach them through their settings classes (no ``os.environ``
reads in the code: tests/project/test_environ.py), under the names docs/operators.md lists, and the
CLI's flags go in as settings overrides."""

from __future__ import annotations

import argparse

import pytest

from services.classifier.settings import get_classifier_settings
from services.common import model_source
from services.common.settings import CommonSettings
from services.detector.settings import get_detector_settings
from services.recommender.settings import get_recommender_settings

GETTERS = (get_detector_settings, get_classifier_settings, get_recommender_settings)


@pytest.fixture
def fresh(monkeypatch):
    """Cached settings re-read from the (monkeypatched) environment, and cleared again after."""
    for g in GETTERS:
        g.cache_clear()
    saved = dict(model_source._OVERRIDES)
    yield monkeypatch
    model_source._OVERRIDES.clear()
    model_source._OVERRIDES.update(saved)
    for g in GETTERS:
        g.cache_clear()


@pytest.mark.parametrize("kind", ["detector", "classifier", "recommender"])
def test_a_loader_setting_swaps_the_model(fresh, kind):
    import importlib

    ctx = importlib.import_module(f"services.{kind}.worker").ctx
    fresh.delenv(f"SKETCHREF_{kind.upper()}_LOADER", raising=False)
    assert ctx.loader_path() == ctx.default_loader
    fresh.setenv(f"SKETCHREF_{kind.upper()}_LOADER", "tests.services.doubles:load_" + kind)
    for g in GETTERS:
        g.cache_clear()
    assert ctx.loader_path() == "tests.services.doubles:load_" + kind


@pytest.mark.integration  # text_tower imports torch (its CUDA probe starts ldconfig)
def test_text_model_setting(fresh, tmp_path):
    from services.classifier.text_tower import _model_path

    fresh.setenv("SKETCHREF_CLASSIFIER_TEXT_MODEL", str(tmp_path))
    assert _model_path() == str(tmp_path)


def test_shared_worker_settings(monkeypatch):
    for name in ("SKETCHREF_WORKER_METRICS_PORT", "SKETCHREF_WORKER_METRICS_ADDR", "SKETCHREF_LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    s = CommonSettings()
    assert (s.worker_metrics_port, s.worker_metrics_addr, s.log_format) == (0, "127.0.0.1", "json")
    monkeypatch.setenv("SKETCHREF_WORKER_METRICS_PORT", "9108")
    monkeypatch.setenv("SKETCHREF_WORKER_METRICS_ADDR", "0.0.0.0")
    monkeypatch.setenv("SKETCHREF_LOG_FORMAT", "text")
    s = CommonSettings()
    assert (s.worker_metrics_port, s.worker_metrics_addr, s.log_format) == (9108, "0.0.0.0", "text")
    monkeypatch.setenv("SKETCHREF_LOG_FORMAT", "yaml")
    with pytest.raises(ValueError):
        CommonSettings()


def test_batch_flags_are_settings_overrides(monkeypatch):
    import os

    from cli.commands.worker import batch_overrides
    from services.core.batching import BatchSettings

    monkeypatch.setenv("SKETCHREF_BATCH_MAX_WAIT_MS", "25")
    args = argparse.Namespace(batch_size=4, batch_wait_ms=None)
    assert batch_overrides(args) == {"max_size": 4}
    bs = BatchSettings(**batch_overrides(args))
    assert (bs.max_size, bs.max_wait_ms) == (4, 25.0)  # the flag wins, the environment fills the rest
    assert "SKETCHREF_BATCH_MAX_SIZE" not in os.environ  # handed on as an override, not an env variable
    assert batch_overrides(argparse.Namespace(batch_size=None, batch_wait_ms=0.0)) == {"max_wait_ms": 0.0}


def test_a_pinned_model_version_is_a_settings_override(fresh):
    import os

    from cli.commands.worker import _pin_version

    fresh.setenv("SKETCHREF_CLASSIFIER_MODEL_URI", "s3://elsewhere/models/classifier/old/")
    fresh.setenv("SKETCHREF_S3_BUCKET", "sketchref")
    from services.common.settings import get_settings

    get_settings.cache_clear()
    try:
        _pin_version("classifier", "v7")
    finally:
        get_settings.cache_clear()
    assert model_source.model_source_settings().classifier_model_uri == "s3://sketchref/models/classifier/v7/"
    assert os.environ["SKETCHREF_CLASSIFIER_MODEL_URI"] == "s3://elsewhere/models/classifier/old/"  # untouched
    assert model_source.model_source_settings().detector_model_uri is None
