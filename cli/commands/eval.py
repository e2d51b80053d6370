"""``sketchref eval recognition single|scenes ...`` (and the model-specific evaluations)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", required=True)
    from training.eval import detector, recognition

    recognition.add_arguments(sub.add_parser("recognition", help="end to end through the embedded recognizer"))
    detector.add_arguments(sub.add_parser("detector", help="detectors on the held-out scenes: BCE vs focal"))


def run(args: argparse.Namespace) -> int:
    if args.what == "recognition":
        from training.eval import recognition

        return recognition.main(args)
    if args.what == "detector":
        from training.eval import detector

        return detector.main(args)
    raise SystemExit(f"unknown evaluation {args.what}")
