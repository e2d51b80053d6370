"""Export the shipped classifier to ONNX for the gateway's live guesses (``POST /v1/guess``).

The exported graph is the classifier the workers run (``services.classifier.model.load_classifier``):
DoodleNet's image tower and the trained projection head, with the class embeddings (text tower
output, projected and normalised) folded in as a constant, so ``sketch (N,1,28,28) -> logits (N,345)``.
Then, on the val split, through the gateway's own path (render strokes -> normalize_sketch -> ONNX):
- agreement with the torch classifier (top-1 equal, max |Δp|),
- top-1 / top-3 accuracy, and the "confident" threshold: the lowest top-1 probability above which
  top-1 is right at least ``--precision`` of the time (seeded bootstrap 95% CI on accuracy).
Writes ``models/guess/{guess.onnx, classes.txt, config.json, card.json, MODEL_CARD.md}``.

    python scripts/export_guess_model.py [--per-class 6] [--precision 0.8]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "models" / "guess"


def build_export_module(clf):
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Exported(nn.Module):
        def __init__(self, vlm):
            super().__init__()
            self.tower = vlm.image_tower
            self.image_proj = vlm.image_proj
            with torch.no_grad():
                self.register_buffer("classes", vlm.class_embed().detach().clone())
                self.register_buffer("scale", vlm.logit_scale.exp().detach().clone())

        def forward(self, x):
            img = F.normalize(self.image_proj(self.tower.features(x)), dim=-1)
            return self.scale * img @ self.classes.T

    return Exported(clf.model).eval()


def render_for_guess(strokes) -> tuple:
    """A Quick, Draw! drawing as the phone would send it: fitted to a 392x640 canvas, the gateway's
    default stroke width for that canvas."""
    from services.core.rendering import render_strokes

    w, h = 392, 640
    im = render_strokes([s[:2] for s in strokes], size=(w, h), stroke_width=max(2.0, round(max(w, h) / 160, 1)),
                        margin=0.12)
    return im


def bootstrap_ci(hits: np.ndarray, seed: int = 0, n: int = 1000) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = [hits[rng.integers(0, len(hits), len(hits))].mean() for _ in range(n)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=6, help="val drawings per class for the card")
    ap.add_argument("--precision", type=float, default=0.8)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)

    import onnxruntime as ort
    import torch

    from services.classifier.model import load_classifier
    from services.core.preprocess import normalize_sketch
    from training.data.quickdraw import load_drawings

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    clf = load_classifier()
    mod = build_export_module(clf)
    dummy = torch.zeros(1, 1, clf.norm.side, clf.norm.side)
    path = out / "guess.onnx"
    torch.onnx.export(mod, (dummy,), str(path), input_names=["sketch"], output_names=["logits"],
                      dynamic_axes={"sketch": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
    (out / "classes.txt").write_text("\n".join(clf.classes) + "\n")

    # Evaluate through the gateway's own path.
    drawings = load_drawings("raw", split="val", per_class=args.per_class)
    index = {c: i for i, c in enumerate(clf.classes)}
    xs, ys = [], []
    for d in drawings:
        if d.word in index:
            xs.append(normalize_sketch(render_for_guess(d.strokes), norm=clf.norm))
            ys.append(index[d.word])
    x = np.stack(xs).astype(np.float32)[:, None]
    y = np.array(ys)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = sess.run(None, {"sketch": x})[0]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    with torch.inference_mode():
        pt = clf.model(torch.from_numpy(x)).softmax(-1).numpy()
    top1 = p.argmax(1)
    hits = (top1 == y).astype(float)
    top3 = (np.argsort(-p, 1)[:, :3] == y[:, None]).any(1).astype(float)
    conf = p.max(1)
    threshold = 1.0
    for t in np.unique(np.round(conf, 3)):
        sel = conf >= t
        if sel.sum() >= 20 and hits[sel].mean() >= args.precision:
            threshold = float(t)
            break
    sel = conf >= threshold
    t0 = time.perf_counter()
    for i in range(200):
        sess.run(None, {"sketch": x[i % len(x):i % len(x) + 1]})
    infer_ms = (time.perf_counter() - t0) / 200 * 1000

    version = f"guess-{time.strftime('%Y%m%d')}"
    cfg = {"file": "guess.onnx", "version": version, "threshold": round(threshold, 3),
           "norm": clf.norm.to_dict(), "input": "sketch (N,1,28,28) float32 in [0,1], white ink on black",
           "output": "logits (N,345), softmax gives the classifier's probabilities"}
    metrics = {
        "split": "val", "drawings": int(len(y)), "per_class": args.per_class,
        "top1": round(hits.mean(), 4), "top1_ci95": [round(v, 4) for v in bootstrap_ci(hits)],
        "top3": round(top3.mean(), 4), "top3_ci95": [round(v, 4) for v in bootstrap_ci(top3)],
        "onnx_vs_torch_top1_agreement": round(float((top1 == pt.argmax(1)).mean()), 4),
        "onnx_vs_torch_max_abs_prob_diff": float(np.abs(p - pt).max()),
        "confident_threshold": round(threshold, 3), "confident_share": round(float(sel.mean()), 4),
        "confident_top1": round(float(hits[sel].mean()) if sel.any() else 0.0, 4),
        "not_sure_top1": round(float(hits[~sel].mean()) if (~sel).any() else 0.0, 4),
        "onnx_ms_per_sketch_1_thread_busy_machine": round(infer_ms, 3),
        "onnx_bytes": path.stat().st_size,
    }
    (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    card = {"name": "sketchref live-guess model", "version": version, "format": "ONNX opset 17",
            "source": "models/classifier (the workers' classifier) + DoodleNet (ml5.js, MIT)",
            "licence": "MIT (DoodleNet weights from ml5.js; sketchref's trained head)",
            "data": "DoodleNet: Google Quick, Draw! (CC BY 4.0); head: sketchref's train split of Quick, Draw!",
            "made_by": "python scripts/export_guess_model.py", "metrics": metrics}
    (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
