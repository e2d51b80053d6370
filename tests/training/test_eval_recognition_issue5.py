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
