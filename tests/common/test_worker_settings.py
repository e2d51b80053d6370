"""The workers' environment variables reach them through their settings classes (no ``os.environ``
reads in the code: tests/project/test_environ.py), under the names docs/operators.md lists, and the
CLI's flags go in as settings overrides."""

from __future__ import annotations

import argparse

import pytest

from services.classifier.settings import get_classifier_settings
from services.common import settings as common_settings
from services.common.settings import CommonSettings
from services.detector.settings import get_detector_settings
from services.recommender.settings import get_recommender_settings

GETTERS = (get_detector_settings, get_classifier_settings, get_recommender_settings)


@pytest.fixture
def fresh(monkeypatch):
    """Cached settings re-read from the (monkeypatched) environment, and cleared again after."""
    for g in GETTERS:
        g.cache_clear()
    saved = dict(common_settings._FLAGS)
    yield monkeypatch
    common_settings._FLAGS.clear()
    common_settings._FLAGS.update(saved)
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


def test_batch_flags_win_over_the_environment(fresh):
    import os

    from cli.commands.worker import apply_flags, flags
    from services.detector.worker import ctx

    fresh.setenv("SKETCHREF_BATCH_MAX_WAIT_MS", "25")
    args = argparse.Namespace(kind="detector", batch_size=4, batch_wait_ms=None, model_version=None)
    assert flags(args) == {"batch_max_size": 4}
    apply_flags(ctx, flags(args))
    s = ctx.settings()
    assert (s.batch_max_size, s.batch_max_wait_ms) == (4, 25.0)  # the flag wins, the environment fills the rest
    assert get_classifier_settings().batch_max_size == 8  # another service's settings: untouched
    assert "SKETCHREF_BATCH_MAX_SIZE" not in os.environ  # handed on as a flag, not an env variable
    assert flags(argparse.Namespace(kind="detector", batch_size=None, batch_wait_ms=0.0, model_version=None)) \
        == {"batch_max_wait_ms": 0.0}
    with pytest.raises(ValueError):  # validated like the environment's values
        apply_flags(ctx, {"batch_max_size": "many"})


def test_a_pinned_model_version_is_a_flag(fresh):
    import os

    from cli.commands.worker import apply_flags, flags
    from services.classifier.worker import ctx

    fresh.setenv("SKETCHREF_CLASSIFIER_MODEL_URI", "s3://elsewhere/models/classifier/old/")
    fresh.setenv("SKETCHREF_S3_BUCKET", "sketchref")
    from services.common.settings import get_settings

    get_settings.cache_clear()
    try:
        values = flags(argparse.Namespace(kind="classifier", batch_size=None, batch_wait_ms=None, model_version="v7"))
    finally:
        get_settings.cache_clear()
    apply_flags(ctx, values)
    assert ctx.model_uri() == "s3://sketchref/models/classifier/v7/"
    assert os.environ["SKETCHREF_CLASSIFIER_MODEL_URI"] == "s3://elsewhere/models/classifier/old/"  # untouched
    assert get_detector_settings().model_uri is None
    with pytest.raises(SystemExit):  # the recommender has no model versions
        flags(argparse.Namespace(kind="recommender", batch_size=None, batch_wait_ms=None, model_version="v7"))
