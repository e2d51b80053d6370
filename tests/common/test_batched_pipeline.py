"""No regression from batching: the trained models over unseen test-split 3-object scenes give the
same labels batched (``Recognizer.recognize_many``, ``detect_many``/``classify_many``) as one image at a
time, and an unreadable input among them fails alone."""

from __future__ import annotations

import random

import pytest

from services.core import pipeline
from services.core.imaging import encode_image
from services.embedded import load_recognizer

N = 8


@pytest.fixture(scope="module")
def scenes() -> list[bytes]:
    from training.data.quickdraw import load_drawings
    from training.data.scenes import SceneConfig, compose_scene

    drawings = load_drawings("raw", split="test")
    cfg = SceneConfig(min_objects=3, max_objects=3, min_size=0.25, max_size=0.4, min_gap=12, max_rotation=0)
    return [encode_image(compose_scene(drawings, random.Random(100 + s), cfg, canvas=(512, 512)).image)
            for s in range(N)]


@pytest.fixture(scope="module")
def recognizer():
    return load_recognizer()


def _labels(objects) -> list[tuple]:
    return [(tuple(round(v) for v in o.box), o.labels[0].label if o.labels else None, o.confident) for o in objects]


def test_batched_recognition_gives_the_same_labels(scenes, recognizer):
    single = [_labels(recognizer.recognize(d).objects) for d in scenes]
    batched = recognizer.recognize_many(scenes)
    assert [_labels(r.objects) for r in batched] == single
    assert sum(len(s) for s in single) >= 2 * N  # the scenes have objects to compare


def test_a_poisoned_input_fails_alone(scenes, recognizer):
    mixed = [scenes[0], b"\x89PNG\r\n\x1a\n not a png", scenes[1]]
    out = recognizer.recognize_many(mixed)
    assert isinstance(out[1], Exception)
    assert _labels(out[0].objects) == _labels(recognizer.recognize(scenes[0]).objects)
    assert _labels(out[2].objects) == _labels(recognizer.recognize(scenes[1]).objects)


def test_torch_detector_batches_in_one_call_with_the_same_boxes(scenes, recognizer):
    from services.core.preprocess import clean_sketch
    from services.detector.model import load_detector
    from services.detector.settings import DetectorSettings

    det = load_detector(DetectorSettings(runtime="torch"))
    calls = []
    run = det._run
    det._run = lambda rgbs: calls.append(len(rgbs)) or run(rgbs)
    from services.core.imaging import load_image

    cleans = [clean_sketch(load_image(d, flatten=False)) for d in scenes]
    batched = pipeline.detect_many(cleans, det)
    assert max(calls) == N  # one model call per pass over all the scenes
    single = [pipeline.detect(c, det) for c in cleans]
    for b, s in zip(batched, single, strict=True):
        assert len(b) == len(s)
        for ob, os_ in zip(b, s, strict=True):
            assert ob.box == pytest.approx(os_.box, abs=0.5)
    # and the classifier's batched call over all their boxes labels them as one at a time does
    jobs = [(c, objs, 5) for c, objs in zip(cleans, single, strict=True)]
    many = pipeline.classify_many(jobs, recognizer.classifier)
    assert [_labels(m) for m in many] == [_labels(pipeline.classify(*j[:2], recognizer.classifier)) for j in jobs]
