"""Detector metrics on hand-made boxes: matching, AP, P/R, per-class; and the report files."""

import argparse

import numpy as np
import pytest

from training.data.scenes import Scene
from training.eval.detector import average_precision, evaluate, iou_matrix, match_image
from training.eval.detector_report import write_report


def _scene(boxes, words):
    return Scene(image=None, boxes=boxes, words=words)


def test_iou_and_greedy_matching():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 5]], float)
    b = np.array([[0, 0, 10, 10]], float)
    assert iou_matrix(a, b)[:, 0].tolist() == pytest.approx([1.0, 0.5])
    tp, which = match_image(a, np.array([0.9, 0.8]), b, 0.5)
    assert tp.tolist() == [True, False] and which.tolist() == [0, -1]  # one truth, matched once
    tp, _ = match_image(a, np.array([0.1, 0.8]), b, 0.5)
    assert tp.tolist() == [False, True]  # the higher score takes it


def test_average_precision_hand_computed():
    # ranks: TP, FP, TP over 2 truths -> precision envelope 1 up to recall .5, 2/3 up to recall 1
    ap = average_precision(np.array([True, False, True]), np.array([0.9, 0.8, 0.7]), 2)
    want = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert ap == pytest.approx(want)
    assert average_precision(np.array([], bool), np.array([]), 3) == 0.0


def test_evaluate_perfect_and_duplicate_predictions():
    scenes = [_scene([(10, 10, 50, 50), (60, 60, 90, 90)], ["cat", "sun"])]
    perfect = [(np.array(scenes[0].boxes, float), np.array([0.9, 0.8]), ["object", "object"])]
    r = evaluate(perfect, scenes, conf=0.5)
    assert r["map50"] == pytest.approx(1.0) and r["map50_95"] == pytest.approx(1.0)
    assert r["precision"] == 1.0 and r["recall"] == 1.0 and "per_class" not in r
    dup = [(np.array([(10, 10, 50, 50), (11, 11, 50, 50)], float), np.array([0.9, 0.8]), ["cat", "sun"])]
    r = evaluate(dup, scenes, conf=0.5)
    assert r["precision"] == 0.5 and r["recall"] == 0.5
    # class-aware, at the max-F1 confidence (0.9 here): "cat" right; the "sun" duplicate falls below it
    assert r["per_class"]["cat"] == {"n": 1, "recall": 1.0, "precision": 1.0}
    assert r["conf_f1"] == 0.9
    assert r["per_class"]["sun"]["recall"] == 0.0 and r["per_class"]["sun"]["precision"] is None


def test_report_tables_and_bottom_classes(tmp_path):
    scenes = [_scene([(10, 10, 50, 50), (60, 60, 90, 90)], ["cat", "sun"])]
    results = {}
    for loss, seed, labels in (("bce", 0, ["cat", "sun"]), ("bce", 1, ["cat", "cat"]),
                               ("focal", 0, ["cat", "sun"]), ("focal", 1, ["sun", "sun"])):
        preds = [(np.array(scenes[0].boxes, float), np.array([0.9, 0.8]), labels)]
        r = evaluate(preds, scenes, conf=0.5)
        r["config"] = {"loss": loss, "seed": seed}
        r["train_counts"] = {"cat": 5, "sun": 2}
        results[f"{loss}-{seed}"] = r
    summary = write_report(results, tmp_path, {"scenes": 1, "seed": 0, "objects": 2})
    md = (tmp_path / "summary.md").read_text()
    assert "| mAP50 (agnostic) | 1.000 ± 0.000 | 1.000 ± 0.000 |" in md
    assert "Rarest-10" in md and "Worst-10" in md
    assert summary["bottom"]["Rarest-10 classes (fewest training instances)"]["classes"] == ["sun", "cat"]
    for f in ("metrics.png", "pr_curve.png", "per_class_recall.png", "summary.json"):
        assert (tmp_path / f).stat().st_size > 0


def test_eval_detector_is_a_cli_subcommand():
    from cli.commands import eval as eval_cmd

    p = argparse.ArgumentParser()
    eval_cmd.add_arguments(p)
    args = p.parse_args(["detector", "runs/x", "--scenes", "5"])
    assert args.what == "detector" and args.runs == ["runs/x"] and args.scenes == 5
