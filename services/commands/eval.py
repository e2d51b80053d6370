"""``sketchref eval recognition single|scenes ...`` (and the model-specific evaluations)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", required=True)
    from training.eval import recognition

    recognition.add_arguments(sub.add_parser("recognition", help="end to end through the embedded recognizer"))


def run(args: argparse.Namespace) -> int:
    if args.what == "recognition":
        from training.eval import recognition

        return recognition.main(args)
    raise SystemExit(f"unknown evaluation {args.what}")
