"""End-to-end evaluation through the embedded recognizer (what ``sketchref recognize`` does).

- ``single``: each held-out (test split) drawing rendered as a 512x512 PNG, black 6 px strokes, 10%
  margin; counts inputs with exactly one object, top-1/top-5 of that object, macro accuracy.
- ``scenes``: held-out scenes of ``--objects`` separated drawings; class-agnostic precision/recall at
  IoU 0.5 and the share of scenes with exactly the right number of objects.
- ``scenes --style clean|dark|colour|photo|touching|overlap|strays|thin``: one style family of
  :mod:`training.data.styles` with its **eval** appearance parameters (disjoint from training's) on
  test-split drawings, 1-6 drawings per scene; precision/recall at IoU 0.5 and the share of objects
  marked confident.
- ``nonsense``: scribbles, hatching and text-like marks, and the photos under ``data/photos``: the
  share of inputs with any object marked ``confident`` (:mod:`training.eval.nonsense`).
- ``--strokes`` (``single``, and ``scenes`` of the layout families): each input sent as the app sends
  it, a strokes body (drawings one after the other, stray marks last, black on white in the scene's
  pen width), drawn by the project's one renderer and recognized with its strokes (touching drawings
  told apart by the order of their strokes: :mod:`services.core.stroke_groups`); boxes are the ink
  extents at that pen. ``--strokes unused``: the same drawn sketches from their pixels alone (the
  comparison). Appearance families (dark, colour, photo) do not apply: the app draws the strokes.
- ``scenes --issue5``: issue 5's must-show scenes instead (:meth:`SceneConfig.issue5`: 1-6 drawings,
  black 4-8 px strokes on white, canvases 512x512 to 720x1280 either way up, objects 18-42% of the
  short side, a few pixels apart), with recall/precision per object count; bar: both >= 0.95.
Writes ``reports/recognition/<mode>.json`` and prints a summary with 95% intervals.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

import numpy as np

from services.core.imaging import encode_image
from services.core.pipeline import iou
from services.core.rendering import extent, place_strokes
from services.core.requests import StrokesBody, drawn_sketch
from training.classifier.renders import REFERENCE, reference_image
from training.data.quickdraw import load_drawings
from training.data.scenes import SceneConfig, compose_scene
from training.data.styles import APPEARANCE, STYLES, styled_scene

from .stats import bootstrap_mean, wilson


def match_pairs(pred: list, truth: list, thr: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching by IoU, predictions in order: ``(pred index, truth index)`` pairs."""
    used: set[int] = set()
    pairs = []
    for i, p in enumerate(pred):
        best, bj = thr, None
        for j, t in enumerate(truth):
            if j not in used and iou(p, t) >= best:
                best, bj = iou(p, t), j
        if bj is not None:
            used.add(bj)
            pairs.append((i, bj))
    return pairs


def match(pred: list, truth: list, thr: float = 0.5) -> int:
    """Greedy one-to-one matching by IoU; returns the number of true positives."""
    return len(match_pairs(pred, truth, thr))


def single_strokes(d) -> dict:
    """A single drawing as the app would send it, placed as :func:`reference_image` draws it."""
    size, width, m = REFERENCE["size"], REFERENCE["stroke_width"], REFERENCE["margin"] * REFERENCE["size"]
    placed, _ = place_strokes(d.strokes, (m, m, size - m, size - m), width)
    return {"strokes": [[p[:, 0].tolist(), p[:, 1].tolist()] for p in placed], "width": size, "height": size,
            "stroke_width": width}


def as_strokes(body: dict) -> tuple[bytes, dict]:
    """(the sketch PNG, its strokes) of a strokes body, as the gateway and ``sketchref recognize`` draw it."""
    return drawn_sketch(StrokesBody.model_validate(body))


def drawn_boxes(scene) -> list:
    """The scene's object boxes as its strokes body draws them: centre-line extents grown by half its pen."""
    half = scene.pen / 2
    return [(x1 - half, y1 - half, x2 + half, y2 + half)
            for x1, y1, x2, y2 in (extent(obj) for obj in scene.strokes[:len(scene.boxes)])]


def eval_single(recognizer, limit: int | None, seed: int, split: str = "test", strokes: str | None = None) -> dict:
    drawings = load_drawings("raw", split=split)
    if limit:
        drawings = random.Random(seed).sample(drawings, min(limit, len(drawings)))
    one = top1 = top5 = conf = conf_hit = 0
    per_class = defaultdict(list)
    for d in drawings:
        if strokes:
            data, drawn = as_strokes(single_strokes(d))
            objs = recognizer.recognize(data, top_k=5, references=0,
                                        strokes=drawn if strokes == "used" else None).objects
        else:
            objs = recognizer.recognize(encode_image(reference_image(d)), top_k=5, references=0).objects
        one += len(objs) == 1
        labels = [lab.label for lab in objs[0].labels] if objs else []
        hit1 = bool(labels) and labels[0] == d.word
        sure = bool(objs) and objs[0].confident
        conf += sure
        conf_hit += sure and hit1
        top1 += hit1
        top5 += d.word in labels[:5]
        per_class[d.word].append(float(hit1))
    n = len(drawings)
    macro = [float(np.mean(v)) for v in per_class.values()]
    return {"n": n, "classes": len(per_class), "exactly_one_object": one / n, "exactly_one_ci": wilson(one, n),
            "top1": top1 / n, "top1_ci": wilson(top1, n), "top5": top5 / n, "top5_ci": wilson(top5, n),
            "macro": float(np.mean(macro)), "macro_ci": bootstrap_mean(macro, seed),
            "confident_share": conf / n, "confident_share_ci": wilson(conf, n),
            "confident_precision": conf_hit / max(conf, 1), "confident_precision_ci": wilson(conf_hit, conf)}


def eval_scenes(recognizer, n: int, objects: int, seed: int, cfg: SceneConfig | None = None,
                split: str = "test", style: str | None = None, sheet: str | None = None,
                looks: str = "eval", strokes: str | None = None) -> dict:
    drawings = load_drawings("raw", split=split)
    cfg = cfg or SceneConfig(min_objects=objects, max_objects=objects, min_size=0.18, max_size=0.42,
                             min_gap=12.0, max_rotation=0.0)
    rng = random.Random(seed)
    tp = npred = ntrue = exact = nconf = 0
    by_count = defaultdict(lambda: [0, 0, 0, 0])  # objects in scene -> [tp, predicted, true, scenes]
    examples = []
    for _ in range(n):
        scene = styled_scene(drawings, rng, style, looks) if style else compose_scene(drawings, rng, cfg)
        if strokes:
            data, drawn = as_strokes(scene.strokes_request())
            scene.boxes = drawn_boxes(scene)
            objs = recognizer.recognize(data, top_k=1, references=0,
                                        strokes=drawn if strokes == "used" else None).objects
        else:
            data = encode_image(scene.image, "JPEG", quality=95) if style == "photo" else encode_image(scene.image)
            objs = recognizer.recognize(data, top_k=1, references=0).objects
        nconf += sum(bool(getattr(o, "confident", True)) for o in objs)
        if sheet and len(examples) < 4:
            examples.append((scene, objs))
        pred = [o.box for o in objs]
        hits = match(pred, scene.boxes)
        tp += hits
        npred += len(pred)
        ntrue += len(scene.boxes)
        exact += len(pred) == len(scene.boxes)
        row = by_count[len(scene.boxes)]
        row[0], row[1], row[2], row[3] = row[0] + hits, row[1] + len(pred), row[2] + len(scene.boxes), row[3] + 1
    if sheet:
        from .sheet import contact_sheet

        contact_sheet(examples, sheet, title=style or "scenes")
    return {"scenes": n, "objects_per_scene": objects, "style": style, "precision": tp / max(npred, 1),
            "confident_share": nconf / max(npred, 1),
            "precision_ci": wilson(tp, npred), "recall": tp / max(ntrue, 1), "recall_ci": wilson(tp, ntrue),
            "exact_count": exact / n, "exact_count_ci": wilson(exact, n), "objects": ntrue,
            "by_object_count": {str(k): {"scenes": v[3], "precision": v[0] / max(v[1], 1), "recall": v[0] / max(v[2], 1)}
                                for k, v in sorted(by_count.items())}}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("mode", choices=["single", "scenes", "nonsense"])
    p.add_argument("--style", choices=list(STYLES), default=None,
                   help="scenes: one style family (eval appearance parameters, 1-6 drawings)")
    p.add_argument("--limit", type=int, default=None, help="single: evaluate a random subset")
    p.add_argument("--scenes", type=int, default=200)
    p.add_argument("--objects", type=int, default=3)
    p.add_argument("--issue5", action="store_true", help="scenes: issue 5's must-show scenes (1-6 objects)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="drawings: test (held out, what is reported) or val (for choosing settings)")
    p.add_argument("--looks", choices=["eval", "train"], default="eval",
                   help="--style: the family's eval parameters (reported) or its train ones (for choosing "
                        "settings on val drawings without seeing the evaluation looks)")
    p.add_argument("--strokes", nargs="?", const="used", choices=["used", "unused"], default=None,
                   help="send each input as the app does, a strokes body, and recognize it with its strokes "
                        "(single, and scenes of the layout families); 'unused': the same drawn sketch without "
                        "its strokes (pixels only), for comparison")
    p.add_argument("--out", default="reports/recognition")


def main(args: argparse.Namespace) -> int:
    from services.embedded import load_recognizer

    style, strokes = getattr(args, "style", None), getattr(args, "strokes", None)
    if strokes and (args.mode == "nonsense" or style in APPEARANCE):
        raise SystemExit("--strokes: single, or scenes of a layout family (the app draws its own strokes)")
    recognizer = load_recognizer(recommender=_NoReferences())
    split = getattr(args, "split", "test")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.mode == "single":
        result = eval_single(recognizer, args.limit, args.seed, split, strokes)
    elif args.mode == "nonsense":
        from .nonsense import eval_nonsense

        result = eval_nonsense(recognizer, args.scenes, args.seed, sheet=str(out / "nonsense.png"))
    elif style:
        result = eval_scenes(recognizer, args.scenes, 0, args.seed, split=split, style=style,
                             sheet=str(out / f"style-{style}{'-strokes-' + strokes if strokes else ''}.png"),
                             looks=getattr(args, "looks", "eval"), strokes=strokes)
        result["looks"] = getattr(args, "looks", "eval")
        result["objects_per_scene"] = "1-6"
    else:
        cfg = SceneConfig.issue5() if getattr(args, "issue5", False) else None
        result = eval_scenes(recognizer, args.scenes, args.objects, args.seed, cfg, split, strokes=strokes)
        if cfg is not None:
            result["objects_per_scene"] = f"{cfg.min_objects}-{cfg.max_objects}"
            result["bar_met"] = result["precision"] >= 0.95 and result["recall"] >= 0.95
    name = "scenes-issue5" if getattr(args, "issue5", False) and args.mode == "scenes" else args.mode
    name = f"scenes-{style}" if style and args.mode == "scenes" else name
    name += f"-strokes-{strokes}" if strokes else ""
    name += "-val" if split == "val" else ""
    result["split"], result["strokes"] = split, strokes
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    for k, v in result.items():
        if not k.endswith("_ci"):
            ci = result.get(f"{k}_ci")
            print(f"{k:>20}: {v:.4f}" + (f"  (95% CI {ci[0]:.4f}-{ci[1]:.4f})" if ci else "")
                  if isinstance(v, float) else f"{k:>20}: {v}")
    return 0


class _NoReferences:
    def recommend(self, label, n, crop=None):
        return []
