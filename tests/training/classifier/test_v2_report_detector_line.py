"""The v2 conclusion's detector line: where protocol v2 stands, and its verdict once compared."""

import json

from training.classifier.v2_report import _detector_state


def _comparison(tmp_path, lo, hi, p):
    (tmp_path / "comparison.json").write_text(json.dumps({
        "macro recall": {"mean": 0.0, "lo": -0.05, "hi": 0.05, "p": 0.9, "p_holm": 0.9},
        "rarest third recall": {"mean": (lo + hi) / 2, "lo": lo, "hi": hi, "p": p, "p_holm": p}}))
    return _detector_state(tmp_path)


def test_the_verdict_follows_the_rarest_thirds_interval(tmp_path):
    assert "**not supported**" in _comparison(tmp_path, -0.04, 0.08, 0.81)
    assert "**supported**" in _comparison(tmp_path, 0.01, 0.08, 0.02)
    assert "**contradicted**" in _comparison(tmp_path, -0.08, -0.01, 0.02)
    assert "**not supported**" in _comparison(tmp_path, 0.01, 0.08, 0.2)  # no Holm-corrected evidence


def test_while_running_it_counts_the_runs_left(tmp_path):
    for name in ("bce-cls1-s0", "bce-cls2-s0", "bce-cls2-s1"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text("{}")
    assert "3 of at least" in _detector_state(tmp_path)
    (tmp_path / "chosen.json").write_text("{}")
    assert "3 of 10 runs" in _detector_state(tmp_path)  # 2 tuning runs at seed 0, then 2 x 4 seeds
