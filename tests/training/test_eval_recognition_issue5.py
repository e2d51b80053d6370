"""`sketchref eval recognition scenes --issue5` with the shipped models: issue 5's must-show scenes."""

import json

import pytest

from cli.main import main as cli
from services.common.settings import ROOT

pytestmark = pytest.mark.skipif(not (ROOT / "models" / "detector" / "best.pt").exists(),
                                reason="detector weights not shipped yet")


def test_issue5_mode_writes_its_report(tmp_path):
    assert cli(["eval", "recognition", "scenes", "--issue5", "--scenes", "4", "--seed", "7",
                "--out", str(tmp_path)]) == 0
    r = json.loads((tmp_path / "scenes-issue5.json").read_text())
    assert r["scenes"] == 4 and r["objects_per_scene"] == "1-6" and isinstance(r["bar_met"], bool)
    assert 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1
    assert sum(v["scenes"] for v in r["by_object_count"].values()) == 4


class _Recorder:
    """A recognizer double: one object per input, a whole-image box; records the strokes it was given."""

    def __init__(self):
        self.strokes = []

    def recognize(self, data, top_k=5, references=6, strokes=None):
        from types import SimpleNamespace

        from services.core.contracts import DetectedObject
        from services.core.imaging import load_image

        self.strokes.append(strokes)
        w, h = load_image(data).size
        return SimpleNamespace(objects=[DetectedObject(box=[0, 0, w, h], score=1.0, detector_label="object")])


def test_strokes_mode_sends_the_scene_as_the_app_does_and_unused_keeps_the_pixels_only():
    from training.eval.recognition import eval_scenes, eval_single

    used, unused = _Recorder(), _Recorder()
    a = eval_scenes(used, 3, 0, 7, style="touching", strokes="used")
    b = eval_scenes(unused, 3, 0, 7, style="touching", strokes="unused")
    assert all(s and s["strokes"] and s["stroke_width"] > 0 for s in used.strokes)
    assert unused.strokes == [None] * 3
    assert a["objects"] == b["objects"] and a["recall"] == b["recall"]  # the same scenes, the same truth
    single = _Recorder()
    r = eval_single(single, 2, 0, strokes="used")
    assert r["n"] == 2 and r["exactly_one_object"] == 1.0 and all(single.strokes)
    with pytest.raises(SystemExit):
        cli(["eval", "recognition", "scenes", "--style", "dark", "--strokes", "--scenes", "1"])
