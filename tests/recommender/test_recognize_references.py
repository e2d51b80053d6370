"""Whole recognitions (real detector and classifier, in-process) with Unsplash as the stand-in server:
one API call per distinct label the first time, none the second, and references even when rate-limited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.core.pipeline import Recognizer
from services.recommender.gallery import LocalGallery
from services.recommender.providers import load_recommender

SKETCH = Path(__file__).resolve().parents[2] / "examples" / "three_objects.png"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models():
    try:
        from services.classifier.model import load_classifier
        from services.detector.model import load_detector

        return load_detector(), load_classifier()
    except Exception as exc:  # trained weights not shipped yet
        pytest.skip(f"trained models not available: {type(exc).__name__}: {exc}")


def test_one_call_per_label_then_none(models, fake_unsplash, make_settings, storage, common):
    recognizer = Recognizer(*models, load_recommender(make_settings(fake_unsplash), storage, common))
    data = SKETCH.read_bytes()
    first = recognizer.recognize(data, references=4)
    labels = {o.labels[0].label for o in first.objects if o.labels}
    assert first.objects and labels
    assert sorted(fake_unsplash.search_calls) == sorted(labels)
    for o in first.objects:
        assert o.references and all(r.provider == "unsplash" for r in o.references)
        assert all(r.url.startswith("https://images.unsplash.com/") and "utm_source=" in r.author_url
                   for r in o.references)
    second = recognizer.recognize(data, references=4)
    assert len(fake_unsplash.search_calls) == len(labels)
    assert [[r.id for r in o.references] for o in second.objects] == \
        [[r.id for r in o.references] for o in first.objects]


def test_rate_limited_recognition_still_has_references(models, fake_unsplash, make_settings, storage, common,
                                                       photo_source, tmp_path):
    settings = make_settings(fake_unsplash)
    # A gallery that shows whatever the sketch's objects are, so the fallback has something to give.
    probe = Recognizer(*models, LocalGallery(storage, settings, common=common, autobuild=False))
    labels = {o.labels[0].label for o in probe.recognize(SKETCH.read_bytes(), references=0).objects if o.labels}
    (tmp_path / "labels.json").write_text(json.dumps({"cat.bmp": sorted(labels), "owl.jpg": sorted(labels)}))
    LocalGallery(storage, settings, common=common, autobuild=False).add_folder(photo_source, tmp_path / "labels.json")

    fake_unsplash.exhaust()
    result = Recognizer(*models, load_recommender(settings, storage, common)).recognize(SKETCH.read_bytes())
    assert result.objects
    for o in result.objects:
        assert len(o.references) == 2 and {r.provider for r in o.references} == {"local"}
    assert len(fake_unsplash.search_calls) <= 1  # one 403, then the back-off holds
