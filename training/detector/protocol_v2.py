"""Detector BCE vs focal, protocol v2: settings and thresholds chosen on val scenes, 5 seeds, paired.

``python -m training.detector.protocol_v2 [--tiny] [--out runs/detector/v2] [--report reports/detector/v2]``
(resumable: a run whose ``result.json`` is in the report is skipped; the report is committed, so a
fresh checkout resumes too):

1. **Tune on val** (seed 0): BCE at class-loss gains {0.5, 1, 2}; focal at the same gains × γ {1, 1.5, 2}
   × α {none, 0.25}. Each run is scored on *val* scenes (val-split drawings) by the class-aware mAP50;
   the best setting per loss is kept. Where a loss's best gain is the largest it tried, its best
   setting is tried again at twice that gain, up to :data:`GAIN_CAP` (:func:`widen_at_edge`): a best
   value on the grid's edge says the optimum may lie beyond it. Test scenes are never looked at in
   this step.
2. **Compare** the two chosen settings over seeds 0–4. Each run's confidence threshold is the one that
   maximises its class-aware F1 on the val scenes; at that threshold every test object (test-split
   drawings, the fixed held-out scenes) is a hit or a miss. ``compact.npz`` per run holds those hits and
   the objects' class ids, so the comparison — macro recall over classes and over the rarest third by
   training instances, with hierarchical seed × object bootstrap intervals, paired by seed, Holm
   across the two — recomputes from the committed files (:func:`compare`).

Setting: 12 classes at evenly spaced frequency ranks (``--num-words 12``), hard scenes, started from
the shipped class-agnostic detector, as the v1 12-class experiment (``reports/detector/README.md``).
Cost on this 2-core machine: 29 runs (up to 33 with the widening) of ~6 min each (one core, ~50 s an
epoch) ≈ 3 h (~1 h on one GPU).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from .config import DetectorTrainConfig

SEEDS = (0, 1, 2, 3, 4)
BASE = DetectorTrainConfig(model="models/detector/best.pt", labels="words", num_words=12, scenes="hard",
                           imgsz=256, train_scenes=900, val_scenes=80, large_scenes=0, epochs=6, batch=16,
                           optimizer="AdamW", lr0=0.002, warmup_epochs=1)
GAINS = (0.5, 1.0, 2.0)
GAIN_CAP = 8.0  # widen_at_edge goes up to this class-loss gain


def tuning_grid() -> list[dict]:
    grid = [{"loss": "bce", "cls_gain": g} for g in GAINS]
    grid += [{"loss": "focal", "cls_gain": g, "focal_gamma": ga, "focal_alpha": a}
             for g in GAINS for ga in (1.0, 1.5, 2.0) for a in (None, 0.25)]
    return grid


def total_runs(seeds=SEEDS) -> int:
    """Runs of the whole protocol, at least: the tuning grid at the first seed, then both chosen settings
    at the others (:func:`widen_at_edge` may add one run per loss per doubling of the gain)."""
    return len(tuning_grid()) + 2 * (len(seeds) - 1)


def widen_at_edge(tried: list[tuple[float, dict]], run, cap: float = GAIN_CAP) -> list[tuple[float, dict]]:
    """``tried``: one loss's (val score, setting) pairs. While its best setting uses the largest class-loss
    gain tried, try that setting at twice the gain (``run(setting)`` -> its val score), up to ``cap``."""
    tried = list(tried)
    while True:
        best = max(tried, key=lambda t: t[0])[1]
        top = max(s["cls_gain"] for _, s in tried)
        if best["cls_gain"] < top or 2 * top > cap:
            return tried
        setting = {**best, "cls_gain": 2 * top}
        tried.append((run(setting), setting))


def run_name(setting: dict, seed: int) -> str:
    parts = [setting["loss"], f"cls{setting['cls_gain']:g}"]
    if setting["loss"] == "focal":
        parts += [f"g{setting['focal_gamma']:g}", f"a{setting['focal_alpha']}"]
    return "-".join(parts) + f"-s{seed}"


def val_threshold(preds, scenes) -> float:
    """The confidence that maximises class-aware F1 (a box counts for the class it names) on ``scenes``."""
    from training.eval.detector import best_f1_conf, match_image

    tps, scores, n = [], [], 0
    for (pb, ps, pl), s in zip(preds, scenes, strict=True):
        truth = np.array(s.boxes, float).reshape(-1, 4)
        same = np.array([[lab == w for w in s.words] for lab in pl], bool).reshape(len(pl), len(s.words))
        tp, _ = match_image(pb, ps, truth, 0.5, same)
        tps.append(tp)
        scores.append(ps)
        n += len(truth)
    return best_f1_conf(np.concatenate(tps) if tps else np.zeros(0, bool),
                        np.concatenate(scores) if scores else np.zeros(0), n)


def object_hits(preds, scenes, conf: float, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per truth object: found (class-aware, IoU 0.5, score >= ``conf``) and its class id."""
    from training.eval.detector import match_image

    hits, ys = [], []
    index = {w: i for i, w in enumerate(names)}
    for (pb, ps, pl), s in zip(preds, scenes, strict=True):
        keep = ps >= conf
        pb, ps, pl = pb[keep], ps[keep], [lab for lab, k in zip(pl, keep, strict=True) if k]
        truth = np.array(s.boxes, float).reshape(-1, 4)
        same = np.array([[lab == w for w in s.words] for lab in pl], bool).reshape(len(pl), len(s.words))
        _, which = match_image(pb, ps, truth, 0.5, same)
        found = np.zeros(len(truth), bool)
        found[which[which >= 0]] = True
        hits.append(found)
        ys += [index[w] for w in s.words]
    return np.concatenate(hits) if hits else np.zeros(0, bool), np.asarray(ys, dtype=np.int16)


def _scenes(split: str, n: int, words: list[str], tiny: bool):
    from training.data.quickdraw import load_drawings
    from training.data.scenes import HELDOUT_SEED, SceneConfig, heldout_scenes

    drawings = load_drawings("raw", split=split, words=words, per_class=5 if tiny else None)
    return list(heldout_scenes(n, HELDOUT_SEED + (0 if split == "test" else 17), SceneConfig.hard(), drawings))


def run_one(cfg: DetectorTrainConfig, val_scenes, test_scenes, report: Path) -> dict:
    """Train (unless trained to the end), then score on val (threshold, mAP) and test (hits at the val
    threshold). What is kept goes to ``report/<run>/`` (committed): ``result.json``, ``compact.npz``.
    A run with its result there is skipped; a training cut off mid-way (no ``metrics.json``, which
    ``train`` writes last) is trained again from the start, never scored from its last epoch."""
    from services.detector.model import Detector
    from training.eval.detector import evaluate, predict, run_names, train_counts

    from .train import train

    out, kept = Path(cfg.out), report / Path(cfg.out).name
    if (kept / "result.json").exists():
        return json.loads((kept / "result.json").read_text())
    best = out / "train" / "weights" / "best.pt"
    if not (best.exists() and (out / "metrics.json").exists()):
        best = train(cfg)
    det = Detector(best, imgsz=cfg.resolved().imgsz, conf=1e-5, iou=0.7, max_objects=100)
    val_preds = predict(det, val_scenes)
    conf = val_threshold(val_preds, val_scenes)
    val = evaluate(val_preds, val_scenes, conf)
    names = run_names(out)
    hits, y = object_hits(predict(det, test_scenes), test_scenes, conf, names)
    counts = train_counts(out)
    kept.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(kept / "compact.npz", test_hits=hits, test_y=y,
                        train_counts=np.asarray([counts.get(w, 0) for w in names], dtype=np.int32))
    train_s = json.loads((out / "metrics.json").read_text()).get("train_seconds")
    result = {"config": asdict(cfg), "val_conf": conf, "val_map50_classes": val.get("map50_classes", 0.0),
              "test_recall": float(hits.mean()) if len(hits) else 0.0, "train_seconds": train_s}
    (kept / "result.json").write_text(json.dumps(result, indent=2))
    return result


def _config(setting: dict, seed: int, root: Path, tiny: bool) -> DetectorTrainConfig:
    kw = {k: v for k, v in setting.items()}
    return replace(BASE, **kw, seed=seed, tiny=tiny, out=str(root / run_name(setting, seed)))


def compare(root: Path, bce: dict, focal: dict, seeds=SEEDS, n_boot: int = 2000) -> dict:
    """Focal − BCE in macro test recall (all classes, rarest third), paired by seed, from ``compact.npz``."""
    from training.eval.stats import hierarchical_bootstrap, holm, item_weights

    def load(setting):
        return [dict(np.load(root / run_name(setting, s) / "compact.npz")) for s in seeds]

    b, f = load(bce), load(focal)
    y = b[0]["test_y"].astype(int)
    counts = np.mean([r["train_counts"] for r in b + f], 0)
    present = np.unique(y)
    rare = present[np.argsort(counts[present], kind="stable")][: max(1, len(present) // 3)]
    diff = np.stack([fr["test_hits"].astype(float) - br["test_hits"].astype(float) for fr, br in zip(f, b, strict=True)])
    res = {name: hierarchical_bootstrap(diff, y, item_weights(y, sub), n_boot)
           for name, sub in (("macro recall", None), ("rarest third recall", rare))}
    for r, p in zip(res.values(), holm([r["p"] for r in res.values()]), strict=True):
        r["p_holm"] = p
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.detector.protocol_v2")
    p.add_argument("--out", default="runs/detector/v2", help="training runs (weights, scenes)")
    p.add_argument("--report", default=None, help="what is kept and committed: each run's result.json and "
                   "compact.npz, chosen.json, comparison.json (default reports/detector/v2; --tiny: OUT/report)")
    p.add_argument("--tiny", action="store_true", help="seconds-long runs on 4 words (tests)")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--val-scenes", type=int, default=200)
    p.add_argument("--test-scenes", type=int, default=300)
    args = p.parse_args(argv)
    root = Path(args.out)
    report = Path(args.report or (root / "report" if args.tiny else "reports/detector/v2"))
    seeds = tuple(int(s) for s in args.seeds.split(","))
    from .train import long_tail_words

    words = ["cat", "house", "tree", "sun"] if args.tiny else long_tail_words(BASE.num_words)
    n_val, n_test = (4, 4) if args.tiny else (args.val_scenes, args.test_scenes)
    val_scenes, test_scenes = _scenes("val", n_val, words, args.tiny), _scenes("test", n_test, words, args.tiny)
    grid = [tuning_grid()[0], tuning_grid()[3]] if args.tiny else tuning_grid()

    def tune(setting: dict) -> float:
        r = run_one(_config(setting, seeds[0], root, args.tiny), val_scenes, test_scenes, report)
        print(f"tune {run_name(setting, seeds[0])}: val class mAP50 {r['val_map50_classes']:.4f}", flush=True)
        return r["val_map50_classes"]

    tuned: dict[str, list[tuple[float, dict]]] = {s_["loss"]: [] for s_ in grid}
    for setting in grid:
        tuned[setting["loss"]].append((tune(setting), setting))
    if not args.tiny:  # (the tiny runs' one-point grids would always widen)
        tuned = {loss: widen_at_edge(tried, tune) for loss, tried in tuned.items()}
    chosen = {loss: max(v, key=lambda t: t[0])[1] for loss, v in tuned.items()}
    report.mkdir(parents=True, exist_ok=True)
    (report / "chosen.json").write_text(json.dumps(chosen, indent=2))
    for seed in seeds:
        for setting in chosen.values():
            run_one(_config(setting, seed, root, args.tiny), val_scenes, test_scenes, report)
    if "focal" in chosen and "bce" in chosen:
        res = compare(report, chosen["bce"], chosen["focal"], seeds)
        (report / "comparison.json").write_text(json.dumps(res, indent=2))
        for k, r in res.items():
            print(f"focal - bce, {k}: {100 * r['mean']:+.1f} [{100 * r['lo']:+.1f}, {100 * r['hi']:+.1f}] points, "
                  f"Holm p = {r['p_holm']:.3g}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
