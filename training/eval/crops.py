"""``python -m training.eval.crops``: choose the classifier's crop policy on **val** drawings.

Each policy is a widening of the detector box (``widen``, :func:`services.core.preprocess.widen_boxes`),
whether the crop keeps the object's own ink only (``own_ink``: other detections' ink inside the
crop erased, :func:`services.core.preprocess.object_crops`) and whether boxes are first grown to the
ink components they cut (``fit_to_ink``, :mod:`services.core.ink_boxes`). The detector runs once per input; every
policy then labels the same boxes through :func:`services.core.pipeline.classify` (what serving does,
parts resolution included).

- singles: every val drawing (or ``--limit``) as a user's 512 px PNG (6 px pen, 10% margin): top-1 and
  top-5 of the first object, as ``sketchref eval recognition single`` counts them; ``whole``: the
  classifier on the whole image, no detector (the pipeline's ceiling for these inputs);
- scenes: val-split drawings in the ``clean``, ``touching`` and ``overlap`` layouts with **train**
  parameters: the share of true objects found (IoU >= 0.5) and labelled right (top-1).

Paired differences against the current policy come with 95% intervals (normal, per-item differences).
Writes ``reports/recognition/crops-val.json``.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

# (widen, own_ink, fit_to_ink's (join, min_inside): None = boxes as the detector gives them)
POLICIES: list[tuple[float, bool, tuple[int, float] | None]] = [
    (0.10, False, None), (0.10, True, None), (0.10, True, (0, 0.0)), (0.10, True, (0, 0.3)), (0.10, True, (0, 0.5)),
    (0.10, True, (4, 0.5)), (0.10, True, (8, 0.5))]
BASE = (0.10, False, None)


def _paired(a: np.ndarray, b: np.ndarray) -> dict:
    d = b.astype(float) - a.astype(float)
    half = 1.96 * float(d.std(ddof=1)) / np.sqrt(len(d)) if len(d) > 1 else 0.0
    return {"diff": float(d.mean()), "diff_ci": [float(d.mean()) - half, float(d.mean()) + half]}


def _first_hits(objs, word: str) -> tuple[int, int]:
    labels = [lab.label for lab in objs[0].labels] if objs else []
    return int(bool(labels) and labels[0] == word), int(word in labels[:5])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=None, help="a random subset of the val drawings")
    p.add_argument("--scenes", type=int, default=60, help="scenes per layout (clean, touching, overlap)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layouts", default="clean,touching,overlap", help="style families of the val scenes")
    p.add_argument("--out", default="reports/recognition/crops-val.json")
    p.add_argument("--dets", default=None, help="cache of the detections (JSON): read if there, else written")
    args = p.parse_args(argv)

    from services.core.imaging import encode_image
    from services.core.ink_boxes import fit_to_ink
    from services.core.pipeline import classify, load_sketch
    from services.embedded import load_recognizer
    from training.classifier.renders import reference_image
    from training.data.quickdraw import load_drawings
    from training.data.styles import styled_scene

    from .recognition import _NoReferences, match_pairs

    rec = load_recognizer(recommender=_NoReferences())
    clf = rec.classifier
    drawings = load_drawings("raw", split="val")
    singles = drawings if not args.limit else random.Random(args.seed).sample(drawings, min(args.limit, len(drawings)))
    from services.core.contracts import DetectedObject

    cache = json.loads(Path(args.dets).read_text()) if args.dets and Path(args.dets).exists() else None
    found: list = []

    def boxes_of(i: int, clean):
        if cache is not None:
            return [DetectedObject(**o) for o in cache[i]]
        objs = [DetectedObject(box=list(b), score=s, detector_label=lab) for b, s, lab in rec.detector.detect(clean)]
        found.append([o.model_dump() for o in objs])  # the detector's own boxes (not yet fitted to the ink)
        return objs

    single_in = []
    for d in singles:
        clean = load_sketch(encode_image(reference_image(d)))
        single_in.append((clean, boxes_of(len(single_in), clean), d.word))
    rng = random.Random(args.seed)
    scene_in = []
    for style in args.layouts.split(","):
        for _ in range(args.scenes):
            s = styled_scene(drawings, rng, style, "train")
            clean = load_sketch(encode_image(s.image))
            scene_in.append((style, clean, boxes_of(len(single_in) + len(scene_in), clean), s.boxes, s.words))
    if args.dets and cache is None:
        Path(args.dets).parent.mkdir(parents=True, exist_ok=True)
        Path(args.dets).write_text(json.dumps(found))

    res: dict = {"n_single": len(single_in), "scenes_per_layout": args.scenes, "policies": {}}
    clf.widen, clf.own_ink = 0.0, False  # the whole image: one box covering everything
    whole = np.array([_first_hits(classify(c, [DetectedObject(box=[0, 0, c.width, c.height], score=1.0,
                                                              detector_label="object")], clf), w)[0]
                      for c, _, w in single_in])
    res["whole_top1"] = float(whole.mean())
    per: dict = {}
    def fitted(c, objs, fit: tuple[int, float] | None):
        if fit is None:
            return objs
        return [o.model_copy(update={"box": b}) for o, b in zip(objs, fit_to_ink(c, [o.box for o in objs], *fit), strict=True)]

    for widen, own, fit in POLICIES:
        clf.widen, clf.own_ink = widen, own
        hits = np.array([_first_hits(classify(c, fitted(c, objs, fit), clf), w) for c, objs, w in single_in])
        right: dict = {}
        counts: dict = {}
        for style, c, objs, truth, words in scene_in:
            labelled = classify(c, fitted(c, objs, fit), clf)
            ok = [0] * len(truth)
            pairs = match_pairs([o.box for o in labelled], truth)
            for i, j in pairs:
                ok[j] = int(labelled[i].labels[0].label == words[j])
            right.setdefault(style, []).extend(ok)
            tp_pred_true = counts.setdefault(style, [0, 0, 0])
            tp_pred_true[0] += len(pairs)
            tp_pred_true[1] += len(labelled)
            tp_pred_true[2] += len(truth)
        key = f"widen={widen:.2f} own_ink={own} fit_to_ink(join,min_inside)={fit}"
        per[(widen, own, fit)] = (hits[:, 0], {k: np.array(v) for k, v in right.items()})
        res["policies"][key] = {"single_top1": float(hits[:, 0].mean()), "single_top5": float(hits[:, 1].mean()),
                                **{f"{k}_found_and_right": float(np.mean(v)) for k, v in right.items()},
                                **{f"{k}_precision_recall": [v[0] / max(v[1], 1), v[0] / max(v[2], 1)]
                                   for k, v in counts.items()}}
        print(key, json.dumps(res["policies"][key]), flush=True)
    b1, bs = per[BASE]
    for (widen, own, fit), (h1, sc) in per.items():
        key = f"widen={widen:.2f} own_ink={own} fit_to_ink(join,min_inside)={fit}"
        res["policies"][key]["vs_current"] = {"single_top1": _paired(b1, h1),
                                              **{k: _paired(bs[k], v) for k, v in sc.items()}}
    print(json.dumps(res, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
