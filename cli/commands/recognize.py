"""``sketchref recognize IMAGE... [--json] [--top-k K]``: the embedded mode, all stages in-process.

An input is a PNG, JPEG or WebP sketch, or a ``.json`` file holding the API's strokes body
(``{"strokes": [[xs, ys], ...], "width": W, "height": H}``, what the app sends): it is drawn by the
project's one renderer, as the gateway draws it, and its strokes are used as the services use them
(touching drawings told apart by the order they were drawn in).

Several inputs are recognized together: the detector's and the classifier's model calls are batched
across them (the same batch APIs as the workers, services/core/batching.py). Every input gets one entry; an unreadable input gets a message on stderr and an ``error`` entry, the
others are still recognized, and the exit code is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.core.requests import StrokesError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", help="PNG, JPEG or WebP sketches, or .json strokes bodies")
    p.add_argument("--json", action="store_true", help="print one JSON array, one entry per input")
    p.add_argument("--top-k", type=int, default=5, help="label candidates per object (default 5)")
    p.add_argument("--references", type=int, default=6, help="references per object (default 6)")
    p.add_argument("--annotate", metavar="PNG", help="write the sketch with boxes and labels "
                   "(with several inputs: a folder, one PNG per input)")


def _table(path: str, objects) -> str:
    lines = [f"{path}: {len(objects)} object(s)"]
    if objects:
        lines.append(f"  {'#':>2}  {'box (x1,y1,x2,y2)':<24} {'label':<22} {'score':>6}  {'also':<40} refs")
    for i, o in enumerate(objects, 1):
        box = ",".join(f"{v:.0f}" for v in o.box)
        top = o.labels[0] if o.labels else None
        also = ", ".join(f"{lab.label} {lab.score:.2f}" for lab in o.labels[1:3])
        name = top.label if top and o.confident else "?"
        if top and not o.confident:  # "not sure": the candidates are only guesses
            also = "Not sure — maybe: " + ", ".join(lab.label for lab in o.labels[:3])
        refs = str(len(o.references))
        if o.references_label and top and o.references_label != (o.picked_label or top.label):
            refs += f" (no photos of {o.picked_label or top.label}: of {o.references_label})"
        lines.append(f"  {i:>2}  {box:<24} {name:<22} "
                     f"{top.score if top else 0:>6.2f}  {also:<40} {refs}")
    return "\n".join(lines)


def _read(path: str) -> tuple[bytes, dict | None]:
    """An input's sketch bytes, and its strokes for a ``.json`` strokes body (StrokesError if bad)."""
    from services.core.requests import drawn_sketch, read_strokes_body

    data = Path(path).read_bytes()
    if path.lower().endswith(".json"):
        return drawn_sketch(read_strokes_body(data))
    return data, None


def _recognize_all(recognizer, args) -> dict:
    """path -> (bytes, Recognition or its exception): every readable input through one batched
    ``recognize_many`` (the detector and classifier calls batched across inputs, 16 at a time)."""
    read: dict = {}
    for path in args.images:
        try:
            read[path] = _read(path)
        except (OSError, StrokesError) as exc:
            read[path] = exc
    paths = [p for p, d in read.items() if isinstance(d, tuple)]
    out: dict = {p: (b"", d) for p, d in read.items() if not isinstance(d, tuple)}
    for i in range(0, len(paths), 16):
        chunk = paths[i:i + 16]
        rs = recognizer.recognize_many([read[p][0] for p in chunk], top_k=args.top_k, references=args.references,
                                       strokes=[read[p][1] for p in chunk])
        out.update({p: (read[p][0], r) for p, r in zip(chunk, rs, strict=True)})
    return out


def run(args: argparse.Namespace) -> int:
    from services.core.annotate import annotate
    from services.core.imaging import ImageError, load_image
    from services.embedded import load_recognizer

    if args.top_k < 1 or args.references < 0:
        print("error: --top-k must be >= 1 and --references >= 0", file=sys.stderr)
        return 2
    recognizer = load_recognizer()
    entries, failed = [], False
    results = _recognize_all(recognizer, args)
    for path in args.images:
        try:
            data, result = results[path]
            if isinstance(result, Exception):
                raise result
        except (OSError, ImageError, StrokesError) as exc:
            failed = True
            code = getattr(exc, "code", "unreadable_file")
            message = getattr(exc, "message", None) or str(exc)
            print(f"error: {path}: {message}", file=sys.stderr)
            entries.append({"image": path, "objects": [], "error": {"code": code, "message": message}})
            continue
        objects = result.objects
        entries.append({"image": path, "objects": [o.model_dump(exclude_none=True) for o in objects]})
        if args.annotate:
            out = Path(args.annotate)
            if len(args.images) > 1:
                out.mkdir(parents=True, exist_ok=True)
                out = out / (Path(path).stem + ".annotated.png")
            out.parent.mkdir(parents=True, exist_ok=True)
            annotate(load_image(data), objects).save(out)
        if not args.json:
            print(_table(path, objects))
            print(f"  time: {result.timings_ms.total:.0f} ms"
                  + (f"  annotated: {out}" if args.annotate else ""))
    if args.json:
        json.dump(entries, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 2 if failed else 0
