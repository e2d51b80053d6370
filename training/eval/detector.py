"""``sketchref eval detector RUN [RUN ...]``: detectors on the fixed held-out scene set, BCE vs focal.

Each RUN is a training output directory (``config.json`` + ``train/weights/best.pt``, as written by
``sketchref train detector``) or a ``.pt`` file. Every detector sees the same held-out scenes
(:func:`training.data.scenes.heldout_scenes`: hard phone scenes built only from **test-split** drawings)
through the serving path (:class:`services.detector.model.Detector`: area downscale, YOLO, NMS, boxes
in input pixels), with a low confidence floor so the whole precision/recall curve is seen.

Metrics (boxes match one-to-one, greedily by score then IoU, COCO style):

- class-agnostic AP at IoU 0.5 (``map50``) and averaged over IoU 0.50:0.05:0.95 (``map50_95``),
  101-point interpolated; precision/recall at IoU 0.5 at the serving confidence (``conf``) and at the
  confidence that maximises F1 on this set (ultralytics' convention, optimistic);
- for models trained on class ids: class-aware mAP50 (mean over classes present), per-class P/R at
  the max-F1 confidence, the worst-10 classes (lowest mean recall over all runs, selected on both
  losses together so the selection favours neither) and the rarest-10 classes (fewest training
  instances, a selection the results cannot influence).

Writes ``<out>/runs/<name>.json`` per run, ``<out>/summary.json``, ``<out>/summary.md`` (tables, mean
and 95% t-interval over seeds) and plots. Summaries group runs by ``config.json``'s ``loss``.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

IOUS = np.round(np.arange(0.5, 0.96, 0.05), 2)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), xyxy."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def match_image(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, thr: float,
                same: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Greedy one-to-one matching at IoU ``thr``, highest score first. ``same`` (N, M) restricts
    matches (e.g. to equal classes). Returns (tp flag per prediction, matched truth index or -1)."""
    tp = np.zeros(len(pred), bool)
    which = np.full(len(pred), -1)
    if len(pred) == 0 or len(truth) == 0:
        return tp, which
    ious = iou_matrix(pred, truth)
    if same is not None:
        ious = np.where(same, ious, 0.0)
    used = np.zeros(len(truth), bool)
    for i in np.argsort(-scores, kind="stable"):
        cand = np.where(~used & (ious[i] >= thr), ious[i], -1.0)
        j = int(cand.argmax())
        if cand[j] >= thr:
            used[j] = True
            tp[i], which[i] = True, j
    return tp, which


def average_precision(tp: np.ndarray, scores: np.ndarray, n_truth: int) -> float:
    """101-point interpolated AP (COCO) from per-prediction TP flags over the whole set."""
    if n_truth == 0:
        return float("nan")
    if len(tp) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    ctp = np.cumsum(tp[order])
    recall = ctp / n_truth
    precision = ctp / np.arange(1, len(tp) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    points = np.linspace(0, 1, 101)
    idx = np.searchsorted(recall, points, side="left")
    return float(np.mean([envelope[i] if i < len(envelope) else 0.0 for i in idx]))


def pr_at(tp: np.ndarray, scores: np.ndarray, n_truth: int, conf: float) -> tuple[float, float]:
    keep = scores >= conf
    k = int(keep.sum())
    t = int(tp[keep].sum())
    return (t / k if k else 0.0), (t / n_truth if n_truth else 1.0)  # no predictions: precision 0


def best_f1_conf(tp: np.ndarray, scores: np.ndarray, n_truth: int) -> float:
    order = np.argsort(-scores, kind="stable")
    ctp = np.cumsum(tp[order])
    p = ctp / np.arange(1, len(tp) + 1)
    r = ctp / max(n_truth, 1)
    f1 = 2 * p * r / np.maximum(p + r, 1e-9)
    return float(scores[order][int(f1.argmax())]) if len(tp) else 0.5


def predict(detector, scenes) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
    out = []
    for s in scenes:
        dets = detector.detect(s.image)
        out.append((np.array([d[0] for d in dets], float).reshape(-1, 4), np.array([d[1] for d in dets], float),
                    [d[2] for d in dets]))
    return out


def evaluate(preds, scenes, conf: float, train_counts: dict[str, int] | None = None) -> dict:
    """All metrics of one detector's predictions on the scenes (see the module docstring)."""
    truths = [np.array(s.boxes, float).reshape(-1, 4) for s in scenes]
    n_truth = sum(len(t) for t in truths)
    scores = np.concatenate([p[1] for p in preds]) if preds else np.zeros(0)
    aps, tp50 = [], None
    for thr in IOUS:
        tp = np.concatenate([match_image(p[0], p[1], t, thr)[0] for p, t in zip(preds, truths, strict=True)])
        aps.append(average_precision(tp, scores, n_truth))
        if thr == 0.5:
            tp50 = tp
    p_serv, r_serv = pr_at(tp50, scores, n_truth, conf)
    f1c = best_f1_conf(tp50, scores, n_truth)
    p_f1, r_f1 = pr_at(tp50, scores, n_truth, f1c)
    curve_conf = np.linspace(0.0, 1.0, 51)
    curve = [pr_at(tp50, scores, n_truth, c) for c in curve_conf]
    res = {"scenes": len(scenes), "objects": n_truth, "map50": aps[0], "map50_95": float(np.mean(aps)),
           "precision": p_serv, "recall": r_serv, "conf": conf,
           "precision_f1": p_f1, "recall_f1": r_f1, "conf_f1": f1c,
           "pr_curve": {"conf": curve_conf.tolist(), "precision": [c[0] for c in curve],
                        "recall": [c[1] for c in curve]}}
    labelled = any(lab != "object" for p in preds for lab in p[2])
    if labelled:
        res.update(_per_class(preds, scenes, truths, f1c))
    return res


def _per_class(preds, scenes, truths, conf: float) -> dict:
    """Class-aware mAP50 and per-class P/R at ``conf`` (a prediction counts for the class it names)."""
    words = sorted({w for s in scenes for w in s.words})
    cls_tp, cls_scores = defaultdict(list), defaultdict(list)
    gt_n = defaultdict(int)
    pred_n, hit = defaultdict(int), defaultdict(int)
    for (pb, ps, pl), t, s in zip(preds, truths, scenes, strict=True):
        same = np.array([[lab == w for w in s.words] for lab in pl], bool).reshape(len(pl), len(s.words))
        tp, _ = match_image(pb, ps, t, 0.5, same)
        for w in s.words:
            gt_n[w] += 1
        for lab, flag, sc in zip(pl, tp, ps, strict=True):
            cls_tp[lab].append(flag)
            cls_scores[lab].append(sc)
            if sc >= conf:
                pred_n[lab] += 1
                hit[lab] += int(flag)
    ap = [average_precision(np.array(cls_tp[w], bool), np.array(cls_scores[w]), gt_n[w]) for w in words]
    per = {w: {"n": gt_n[w], "recall": hit[w] / gt_n[w],
               "precision": (hit[w] / pred_n[w]) if pred_n[w] else None} for w in words}
    return {"map50_classes": float(np.nanmean(ap)) if ap else 0.0, "per_class": per,
            "class_recall_macro": float(np.mean([v["recall"] for v in per.values()])),
            "class_precision_macro": float(np.mean([v["precision"] or 0.0 for v in per.values()]))}


def _run_info(path: Path) -> tuple[str, Path, dict]:
    if path.suffix in (".pt", ".onnx"):
        cfg_path = path.parent / "config.json"
        weights = path
    else:
        cfg_path = path / "config.json"
        weights = path / "train" / "weights" / "best.pt"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    name = path.stem if path.suffix else path.name
    return name, weights, cfg


def run_names(run: Path) -> list[str]:
    """The class names a run trained on (its ``data/data.yaml``; all 345 when it is missing)."""
    import yaml

    from training.data.quickdraw import class_names

    data = run / "data" / "data.yaml"
    if run.is_dir() and data.exists():
        names = yaml.safe_load(data.read_text()).get("names") or {}
        return [names[i] for i in sorted(names)]
    return class_names()


def train_counts(run: Path) -> dict[str, int]:
    """Instances per class in a run's training scenes (its ``data/labels/train``)."""
    names = run_names(run)
    counts: dict[str, int] = defaultdict(int)
    for f in (run / "data" / "labels" / "train").glob("*.txt"):
        for line in f.read_text().split("\n"):
            if line.strip():
                counts[names[int(line.split()[0])]] += 1
    return dict(counts)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="training output dirs (config.json + train/weights/best.pt) or .pt files")
    p.add_argument("--scenes", type=int, default=400, help="held-out scenes (hard, test-split drawings)")
    p.add_argument("--seed", type=int, default=None, help="held-out set seed (default: the fixed one)")
    p.add_argument("--preset", choices=["hard", "issue5"], default="hard",
                   help="scene distribution: hard (default) or issue 5's must-show scenes")
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="drawings to compose from: test (held-out, default) or val (for choosing settings)")
    p.add_argument("--conf", type=float, default=None, help="serving confidence (default: the detector setting)")
    p.add_argument("--floor", type=float, default=1e-5,
                   help="confidence floor of the predictions (AP is rank-based: a 345-way head early in training "
                        "scores everything far below ultralytics' 0.001)")
    p.add_argument("--out", default="reports/detector")


def main(args: argparse.Namespace) -> int:
    from services.detector.model import Detector
    from services.detector.settings import get_detector_settings
    from training.data.quickdraw import load_drawings
    from training.data.scenes import HELDOUT_SEED, SceneConfig, heldout_scenes

    from .detector_report import write_report

    settings = get_detector_settings()
    conf = settings.conf if args.conf is None else args.conf
    seed = HELDOUT_SEED if args.seed is None else args.seed
    preset = getattr(args, "preset", "hard")
    scene_cfg = SceneConfig.issue5() if preset == "issue5" else SceneConfig.hard()
    split = getattr(args, "split", "test")
    # runs trained on a subset of the words (``--num-words``) are all seen on scenes of those words
    subsets = {tuple(run_names(Path(r))) for r in args.runs
               if Path(r).is_dir() and _run_info(Path(r))[2].get("num_words")}
    if len(subsets) > 1:
        raise SystemExit("the runs were trained on different word subsets: evaluate them separately")
    words = list(subsets.pop()) if subsets else None
    scenes = list(heldout_scenes(args.scenes, seed, scene_cfg, load_drawings("raw", split=split, words=words)))
    out = Path(args.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    results = {}
    for run in map(Path, args.runs):
        name, weights, cfg = _run_info(run)
        det = Detector(weights, imgsz=cfg.get("imgsz", settings.imgsz), conf=getattr(args, "floor", 1e-5), iou=settings.iou,
                       max_objects=100)
        res = evaluate(predict(det, scenes), scenes, conf)
        res["config"] = cfg
        res["weights"] = str(weights)
        if run.is_dir() and cfg.get("labels") == "words":
            res["train_counts"] = train_counts(run)
        (out / "runs" / f"{name}.json").write_text(json.dumps(res, indent=1))
        results[name] = res
        print(f"{name:>24}: mAP50 {res['map50']:.3f}  mAP50-95 {res['map50_95']:.3f}  "
              f"P {res['precision']:.3f} R {res['recall']:.3f} @conf {conf}  "
              f"P {res['precision_f1']:.3f} R {res['recall_f1']:.3f} @F1-conf {res['conf_f1']:.3f}"
              + (f"  class mAP50 {res['map50_classes']:.3f}" if "map50_classes" in res else ""))
    write_report(results, out, heldout={"scenes": args.scenes, "seed": seed, "preset": preset, "split": split,
                                        "objects": sum(len(s.boxes) for s in scenes),
                                        "words": len(words) if words else 345})
    print(f"wrote {out / 'summary.md'}")
    return 0
