"""Detector protocol v2: the val threshold, per-object hits and the tuning grid on hand-made scenes; a tiny run end to end."""

from types import SimpleNamespace

import numpy as np
import pytest

from training.detector.protocol_v2 import object_hits, run_name, total_runs, tuning_grid, val_threshold


def _case():
    scene = SimpleNamespace(boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], words=["cat", "dog"])
    pred = (np.array([[0, 0, 10, 10], [40, 40, 50, 50], [20, 20, 30, 30]], float), np.array([0.9, 0.6, 0.3]),
            ["cat", "cat", "dog"])
    return [pred], [scene]


def test_val_threshold_maximises_class_aware_f1():
    preds, scenes = _case()
    # by score: TP (P 1, R .5, F1 .667), FP (.5, .5, .5), TP (.667, 1, .8) -> the lowest score
    assert val_threshold(preds, scenes) == pytest.approx(0.3)
    wrong = [(preds[0][0], preds[0][1], ["dog", "cat", "cat"])]  # right boxes, wrong classes: no TP at all
    hits, _ = object_hits(wrong, scenes, 0.0, ["cat", "dog"])
    assert not hits.any()


def test_object_hits_at_a_threshold():
    preds, scenes = _case()
    hits, y = object_hits(preds, scenes, 0.5, ["cat", "dog"])
    assert hits.tolist() == [True, False] and y.tolist() == [0, 1]
    hits, _ = object_hits(preds, scenes, 0.3, ["cat", "dog"])
    assert hits.tolist() == [True, True]


def test_tuning_grid_names_are_unique():
    grid = tuning_grid()
    assert len(grid) == 21 and {g["loss"] for g in grid} == {"bce", "focal"}
    assert len({run_name(g, 0) for g in grid}) == 21
    assert total_runs() == 29  # 21 tuning runs at seed 0, then the two chosen settings at seeds 1-4


def test_a_best_gain_on_the_grid_edge_is_tried_doubled():
    """Where a loss's best val score is at the largest gain tried, its best setting runs again at twice
    the gain (other settings kept) until the best is inside the range or the cap is reached."""
    from training.detector.protocol_v2 import widen_at_edge

    def setting(g, gamma=1.0):
        return {"loss": "focal", "cls_gain": g, "focal_gamma": gamma, "focal_alpha": None}

    peak = {0.5: 0.10, 1.0: 0.15, 2.0: 0.20, 4.0: 0.22, 8.0: 0.21}
    ran = []

    def run(s):
        ran.append(s)
        return peak[s["cls_gain"]]

    tried = [(0.12, setting(2.0, 2.0)), (0.20, setting(2.0)), (0.15, setting(1.0)), (0.10, setting(0.5))]
    out = widen_at_edge(tried, run, cap=8.0)
    assert ran == [setting(4.0), setting(8.0)]  # γ kept from the best; 8 is tried, 4 stays the best
    assert max(out, key=lambda t: t[0])[1] == setting(4.0)
    ran.clear()
    assert widen_at_edge([(0.3, setting(1.0)), (0.2, setting(2.0))], run) == [(0.3, setting(1.0)), (0.2, setting(2.0))]
    assert ran == []  # best inside the range: nothing more
    assert len(widen_at_edge([(0.2, setting(8.0))], run, cap=8.0)) == 1  # at the cap: nothing more


def test_tiny_protocol_runs_end_to_end_and_resumes(tmp_path, capsys):
    """Tune (one BCE and one focal setting), compare over two seeds; a rerun trains only what was cut off."""
    import json

    from training.detector.protocol_v2 import main

    out, report = tmp_path / "v2", tmp_path / "report"
    args = ["--tiny", "--out", str(out), "--report", str(report), "--seeds", "0,1"]
    assert main(args) == 0
    chosen = json.loads((report / "chosen.json").read_text())
    assert set(chosen) == {"bce", "focal"}
    runs = sorted(p.name for p in report.iterdir() if p.is_dir())
    assert len(runs) == 4 and all((report / r / "compact.npz").exists() for r in runs)
    assert sorted(p.name for p in out.iterdir()) == runs  # the training runs stay apart from the report
    comparison = json.loads((report / "comparison.json").read_text())
    assert set(comparison) == {"macro recall", "rarest third recall"}
    for r in comparison.values():
        assert r["lo"] <= r["mean"] <= r["hi"] and 0.0 <= r["p_holm"] <= 1.0
    stamps = {r: (report / r / "result.json").stat().st_mtime_ns for r in runs}
    # a training cut off mid-way (weights of some epoch, no metrics.json yet) is trained again
    cut = runs[0]
    (report / cut / "result.json").unlink()
    (out / cut / "metrics.json").unlink()
    weights = out / cut / "train" / "weights" / "best.pt"
    before = weights.stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    assert weights.stat().st_mtime_ns > before and (out / cut / "metrics.json").exists()
    assert {r: (report / r / "result.json").stat().st_mtime_ns for r in runs if r != cut} == \
        {r: t for r, t in stamps.items() if r != cut}
