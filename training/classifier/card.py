"""Model card for a shipped classifier adapter: ``MODEL_CARD.md`` + ``card.json``.

``python -m training.classifier.card ADAPTER_DIR [--recognition reports/recognition/single.json]
[--baseline DIR] --out models/classifier`` reads the adapter's resolved config, metrics and test
predictions, adds 95% intervals (Wilson for proportions, bootstrap over classes for macro accuracy)
and, when given, the end-to-end ``sketchref recognize`` evaluation and the model it replaces. Written by
the project's one card writer (:func:`training.model_card.write_card`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from training.eval.stats import bootstrap_mean, wilson
from training.model_card import write_card as write_model_card

from .metrics import accuracy


def test_metrics(adapter: Path) -> dict:
    """The adapter's test accuracy (:func:`~training.classifier.metrics.accuracy` of its saved test
    predictions) with 95% intervals."""
    z = np.load(adapter / "predictions.npz")
    a = accuracy(z["test_top5"], z["test_y"], per_class=True)
    n, per_class = a["n"], a["per_class"]
    return {"n": n, "classes": len(per_class),
            "top1": a["top1"], "top1_ci": wilson(round(a["top1"] * n), n),
            "top5": a["top5"], "top5_ci": wilson(round(a["top5"] * n), n),
            "macro": a["macro"], "macro_ci": bootstrap_mean(per_class)}


def _fmt(m: dict, k: str) -> str:
    ci = m.get(f"{k}_ci")
    return f"{m[k]:.3f}" + (f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def write_adapter_card(adapter: Path, out: Path, recognition: Path | None = None, baseline: dict | None = None) -> dict:
    cfg = json.loads((adapter / "config.json").read_text())
    metrics = json.loads((adapter / "metrics.json").read_text())
    t = test_metrics(adapter)
    card_metrics = {"val": metrics["val"], "test_direct": t}
    v = metrics["val"]
    lines = [f"val (selection), {v['n']} drawings: top-1 {v['top1']:.3f}, top-5 {v['top5']:.3f}, "
             f"macro {v['macro']:.3f}",
             f"test (unseen, once), {t['n']} drawings, classifier on the normalized reference rendering: "
             f"top-1 {_fmt(t, 'top1')}, top-5 {_fmt(t, 'top5')}, macro {_fmt(t, 'macro')}"]
    if recognition and recognition.exists():
        r = card_metrics["test_recognize_single"] = json.loads(recognition.read_text())
        lines.append(f"test through `sketchref recognize` (512 px PNG, 6 px strokes, 10% margin; detector + "
                     f"classifier), {r['n']} drawings: top-1 {_fmt(r, 'top1')}, top-5 {_fmt(r, 'top5')}, "
                     f"macro {_fmt(r, 'macro')}, exactly one object {r['exactly_one_object']:.3f}")
    if baseline:
        lines.append(f"replaces: {json.dumps(baseline)}")
    return write_model_card(
        out, name="Model card: sketchref classifier",
        summary=f"Version `{adapter.name}`: {cfg['backbone']} backbone (DoodleNet image tower, MiniLM prompt "
                f"embeddings, trained projections) with a LoRA adapter at `{cfg['placement']}` (rank "
                f"{cfg['rank']}, {metrics['params']['lora']:,} adapter + {metrics['params']['head']:,} head "
                f"parameters), loss `{cfg['train']['loss']}` + distillation to DoodleNet's head (weight "
                f"{cfg['train']['distill']}). Epoch and configuration chosen on val only.",
        data=f"Real Quick, Draw! drawings of all 345 classes, train split only ({metrics['train_drawings']} "
             f"distinct drawings, raw and simplified formats, {metrics['train_samples']} rendered samples: each "
             f"drawing rendered as a user's PNG — the reference way plus {cfg['train']['renders']} random "
             "canvas/pen/margin — then normalized by the serving path). Split: SHA-1(key_id)[0] % 10: 0-6 "
             "train, 7 val, 8-9 test, both formats share a key's split; no val/test key is in train "
             "(checked at training time).",
        config=cfg, metrics=card_metrics, metric_lines=lines,
        sections={"Intended use and limits":
                  "Labels single hand-drawn objects (crops from the detector) among the 345 Quick, Draw! "
                  "categories. Not for photos. Trained on ~25 drawings per class on top of DoodleNet (50k per "
                  "class); classes whose drawings look alike (see the ablation's confusion plot) stay weak. "
                  "Ablation behind the choice: `reports/classifier/README.md`."},
        licences=["quickdraw", "doodlenet", "minilm"],
        reproduce=f"python -m training.classifier.adapt --placement {cfg['placement']} --loss {cfg['train']['loss']}"
                  f"\npython -m training.classifier.card {adapter} --out {out}",
        extra={"version": adapter.name, "task": "345-way sketch classification",
               "adapter": {"placement": cfg["placement"], "rank": cfg["rank"],
                           "trainable_parameters": metrics["params"]},
               **({"replaces": baseline} if baseline else {})},
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.classifier.card")
    p.add_argument("adapter")
    p.add_argument("--out", default="models/classifier")
    p.add_argument("--recognition", default="")
    p.add_argument("--baseline", default="", help="JSON string describing the replaced model")
    a = p.parse_args(argv)
    write_adapter_card(Path(a.adapter), Path(a.out), Path(a.recognition) if a.recognition else None,
               json.loads(a.baseline) if a.baseline else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
