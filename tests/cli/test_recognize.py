"""`sketchref recognize` with the shipped models: JSON contract, tables, bad inputs."""

import json
import random
import subprocess
import sys

import pytest
from PIL import Image

from services.common.settings import ROOT
from services.core.imaging import encode_image
from services.core.requests import StrokesBody, drawn_sketch
from training.classifier.renders import reference_image
from training.data.quickdraw import load_drawings
from training.data.scenes import SceneConfig, compose_scene

pytestmark = pytest.mark.skipif(not (ROOT / "models" / "detector" / "best.pt").exists(),
                                reason="detector weights not shipped yet")


def _run(*args):
    return subprocess.run([sys.executable, "-m", "cli", "recognize", *args], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    drawings = load_drawings("raw", split="test", words=["cat", "house", "bicycle", "fish", "tree"])
    reference_image(next(x for x in drawings if x.word == "house")).save(d / "one.png")
    cfg = SceneConfig(min_objects=3, max_objects=3, min_size=0.25, max_size=0.35, min_gap=20, max_rotation=0)
    scene = compose_scene(drawings, random.Random(3), cfg, canvas=(720, 1280))
    scene.image.save(d / "three.png")
    (d / "text.png").write_text("this is not an image")
    (d / "empty.png").write_bytes(b"")
    data = encode_image(Image.open(d / "one.png"))
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    return d


def test_json_one_entry_per_input_with_contract_fields(inputs):
    r = _run(str(inputs / "one.png"), str(inputs / "three.png"), "--json", "--top-k", "3")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [e["image"] for e in out] == [str(inputs / "one.png"), str(inputs / "three.png")]
    assert len(out[0]["objects"]) == 1 and len(out[1]["objects"]) == 3
    for e in out:
        for o in e["objects"]:
            assert set(o) >= {"box", "score", "detector_label", "labels", "references"}
            scores = [lab["score"] for lab in o["labels"]]
            assert len(scores) == 3 and scores == sorted(scores, reverse=True)
            x1, y1, x2, y2 = o["box"]
            assert 0 <= x1 < x2 <= 720 and 0 <= y1 < y2 <= 1280


def test_bad_inputs_exit_2_and_others_still_printed(inputs):
    bad = ["text.png", "empty.png", "truncated.png", "missing.png"]
    r = _run(str(inputs / "one.png"), *[str(inputs / b) for b in bad], "--json")
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert len(out) == 5 and len(out[0]["objects"]) == 1
    for e, name in zip(out[1:], bad, strict=True):
        assert e["objects"] == [] and e["error"]["code"] and name in r.stderr
    assert "Traceback" not in r.stderr


def test_table_and_annotation(inputs, tmp_path):
    r = _run(str(inputs / "three.png"), "--annotate", str(tmp_path / "a.png"))
    assert r.returncode == 0, r.stderr
    assert "3 object(s)" in r.stdout
    assert Image.open(tmp_path / "a.png").size == (720, 1280)


def test_a_strokes_body_is_drawn_and_recognized_with_its_strokes(inputs, tmp_path):
    """The app's strokes JSON as an input: drawn as the gateway draws it; a bad body is an error entry
    with the API's code. Two drawings drawn one after the other and touching come back as two objects."""
    drawings = load_drawings("raw", split="test", words=["cat", "house", "bicycle", "fish", "tree"])
    cfg = SceneConfig.issue5(min_objects=2, max_objects=2, near_gaps=((0.0, 1.0),))
    scene = compose_scene(drawings, random.Random(6), cfg, canvas=(720, 720))  # a bicycle, then a cat
    (tmp_path / "touching.json").write_text(json.dumps(scene.strokes_request()))
    png, _ = drawn_sketch(StrokesBody.model_validate(scene.strokes_request()))
    (tmp_path / "touching.png").write_bytes(png)
    (tmp_path / "bad.json").write_text(json.dumps({"strokes": [[[1, 2], [3]]], "width": 100, "height": 100}))
    r = _run(str(ROOT / "examples" / "three_objects.json"), str(tmp_path / "touching.json"),
             str(tmp_path / "touching.png"), str(tmp_path / "bad.json"), "--json")
    assert r.returncode == 2, r.stderr
    out = json.loads(r.stdout)
    assert len(out[0]["objects"]) == 3
    assert len(out[1]["objects"]) == 2, out[1]  # from its strokes: each drawing its own object
    assert len(out[2]["objects"]) == 1, out[2]  # the same pixels alone: one box around both
    assert out[3]["error"]["code"] == "invalid_strokes" and "Traceback" not in r.stderr
