"""The load test's parts that need no running stack: real scenes, PNG rendering, the summary."""

from __future__ import annotations

import json
import random

from loadtest import scenes, summary  # not the locustfile: importing locust monkey-patches this process


def test_scenes_are_real_drawings_on_phone_canvases():
    scenes.DRAWINGS[:] = scenes.load_drawings()
    assert len(scenes.DRAWINGS) >= 50
    rng = random.Random(3)
    for _ in range(20):
        strokes, w, h = scenes.compose_scene(rng)
        assert (w, h) in scenes.CANVASES and strokes
        xs = [x for s in strokes for x in s[0]]
        ys = [y for s in strokes for y in s[1]]
        assert 0 <= min(xs) and max(xs) <= w and 0 <= min(ys) and max(ys) <= h
    img = scenes.render_strokes(strokes, size=(w, h), stroke_width=6.0, margin=None)
    assert img.size == (w, h) and img.getextrema() == (0, 255)


def test_summary_reports_throughput_and_percentiles(tmp_path):
    jobs = [{"ms": float(v), "status": "succeeded", "objects": 2, "timings_ms": None} for v in range(100, 1100, 10)]
    (tmp_path / "jobs.json").write_text(json.dumps({"started": 0.0, "stopped": 50.0, "jobs": jobs}))
    text, good = summary.summarise(tmp_path, "10", "60s")
    assert good and "| 100 | 100 | 0 | 2.00 | 595 | 1040 | 1090 |" in text
    jobs.append({"ms": 5.0, "status": "timeout", "objects": 0, "timings_ms": None})
    (tmp_path / "jobs.json").write_text(json.dumps({"started": 0.0, "stopped": 50.0, "jobs": jobs}))
    text, good = summary.summarise(tmp_path)
    assert not good and "timeout × 1" in text
