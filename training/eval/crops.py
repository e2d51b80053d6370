"""``python -m training.eval.crops``: choose the classifier's crop policy on **val** drawings.

Each policy is a widening of the detector box (``widen``, :func:`services.common.preprocess.widen_boxes`)
and whether the crop keeps the object's own ink only (``own_ink``: other detections' ink inside the
crop erased, :func:`services.common.preprocess.object_crops`). The detector runs once per input; every
policy then labels the same boxes through :func:`services.common.pipeline.classify` (what serving does,
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

POLICIES = [(w, own) for own in (False, True) for w in (0.0, 0.05, 0.10, 0.20)]
BASE = (0.10, False)


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
    p.add_argument("--out", default="reports/recognition/crops-val.json")
    p.add_argument("--dets", default=None, help="cache of the detections (JSON): read if there, else written")
    args = p.parse_args(argv)

    from services.common.imaging import encode_image
    from services.common.pipeline import Recognizer, classify, detect, load_sketch
    from training.classifier.renders import reference_image
    from training.data.quickdraw import load_drawings
    from training.data.styles import styled_scene

    from .recognition import _NoReferences, match_pairs

    rec = Recognizer(recommender=_NoReferences())
    clf = rec.classifier
    drawings = load_drawings("raw", split="val")
    singles = drawings if not args.limit else random.Random(args.seed).sample(drawings, min(args.limit, len(drawings)))
    from services.common.contracts import DetectedObject

    cache = json.loads(Path(args.dets).read_text()) if args.dets and Path(args.dets).exists() else None
    found: list = []

    def boxes_of(i: int, clean):
        if cache is not None:
            return [DetectedObject(**o) for o in cache[i]]
        objs = detect(clean, rec.detector)
        found.append([o.model_dump() for o in objs])
        return objs

    single_in = []
    for d in singles:
        clean = load_sketch(encode_image(reference_image(d)))
        single_in.append((clean, boxes_of(len(single_in), clean), d.word))
    rng = random.Random(args.seed)
    scene_in = []
    for style in ("clean", "touching", "overlap"):
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
    for widen, own in POLICIES:
        clf.widen, clf.own_ink = widen, own
        hits = np.array([_first_hits(classify(c, objs, clf), w) for c, objs, w in single_in])
        right = {}
        for style, c, objs, truth, words in scene_in:
            labelled = classify(c, objs, clf)
            ok = [0] * len(truth)
            for i, j in match_pairs([o.box for o in labelled], truth):
                ok[j] = int(labelled[i].labels[0].label == words[j])
            right.setdefault(style, []).extend(ok)
        key = f"widen={widen:.2f} own_ink={own}"
        per[(widen, own)] = (hits[:, 0], {k: np.array(v) for k, v in right.items()})
        res["policies"][key] = {"single_top1": float(hits[:, 0].mean()), "single_top5": float(hits[:, 1].mean()),
                                **{f"{k}_found_and_right": float(np.mean(v)) for k, v in right.items()}}
        print(key, json.dumps(res["policies"][key]), flush=True)
    b1, bs = per[BASE]
    for (widen, own), (h1, sc) in per.items():
        key = f"widen={widen:.2f} own_ink={own}"
        res["policies"][key]["vs_current"] = {"single_top1": _paired(b1, h1),
                                              **{k: _paired(bs[k], v) for k, v in sc.items()}}
    print(json.dumps(res, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
