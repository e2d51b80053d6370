"""``python -m training.eval.recognition_report``: the README's table of recognition figures per style,
read from ``reports/recognition/*.json`` (written by ``sketchref eval recognition ...``), with the
command that makes each row and the issue-14 bar it is held to."""

from __future__ import annotations

import json
from pathlib import Path

from training.data.styles import STYLES

BARS = {"clean": (0.98, 0.98), "dark": (0.95, 0.95), "colour": (0.95, 0.95), "photo": (0.95, 0.95),
        "touching": (0.90, 0.90), "strays": (None, 0.97)}


def _ci(r: dict, key: str) -> str:
    lo, hi = r[f"{key}_ci"]
    return f"{r[key]:.3f} ({lo:.3f}–{hi:.3f})"


def table(root: str | Path = "reports/recognition") -> str:
    root = Path(root)
    rows = ["| input (test split) | recall | precision | objects marked confident | bar (R / P) | command |",
            "|---|---|---|---|---|---|"]
    for style in STYLES:
        path = root / f"scenes-{style}.json"
        if not path.exists():
            continue
        r = json.loads(path.read_text())
        bar = BARS.get(style)
        met = ""
        if bar:
            ok = (bar[0] is None or r["recall"] >= bar[0]) and r["precision"] >= bar[1]
            met = f"{bar[0] or '–'} / {bar[1]}: {'met' if ok else 'not met'}"
        rows.append(f"| {style}, {r['scenes']} scenes, {r['objects']} drawings | {_ci(r, 'recall')} | "
                    f"{_ci(r, 'precision')} | {r.get('confident_share', 0):.2f} | {met} | "
                    f"`sketchref eval recognition scenes --style {style} --scenes {r['scenes']}` |")
    path = root / "nonsense.json"
    if path.exists():
        r = json.loads(path.read_text())
        for kind in ("scribble", "photo"):
            if kind in r:
                k = r[kind]
                lo, hi = k["confident_rate_ci"]
                rows.append(f"| {kind}s ({k['inputs']}): inputs with any confident object | – | – | "
                            f"{k['confident_rate']:.3f} ({lo:.3f}–{hi:.3f}) | ≤ 0.10: "
                            f"{'met' if k['confident_rate'] <= 0.10 else 'not met'} | "
                            "`sketchref eval recognition nonsense` |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
