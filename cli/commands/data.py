"""``sketchref data fetch quickdraw --per-class N [--words a,b] [--out DIR]``: the scale path's data.

Downloads Google's simplified Quick, Draw! drawings (train-split key_ids only) for all 345 words, or
``--words``; see :mod:`training.data.fetch`. ``SKETCHREF_ASSET_MIRROR`` points it at a mirror.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["fetch"])
    p.add_argument("dataset", choices=["quickdraw"])
    p.add_argument("--per-class", type=int, required=True, help="train-split drawings to keep per word")
    p.add_argument("--words", default="", help="comma-separated words (default: all 345)")
    p.add_argument("--out", default=".cache/quickdraw/simplified")


def run(args: argparse.Namespace) -> int:
    from training.data.fetch import fetch_quickdraw
    from training.data.quickdraw import class_names

    if args.per_class < 1:
        print("--per-class must be at least 1")
        return 2
    words = [w for w in args.words.split(",") if w] or class_names()
    unknown = sorted(set(words) - set(class_names()))
    if unknown:
        print(f"unknown words: {', '.join(unknown)}")
        return 2
    manifest = fetch_quickdraw(words, args.per_class, args.out)
    total = sum(manifest[w]["drawings"] for w in words)
    print(f"{len(words)} words, {total} train-split drawings in {args.out} (manifest.json)")
    return 0
