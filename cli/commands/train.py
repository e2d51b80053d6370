"""``sketchref train detector|classifier [options]``: each trainer's own ``main(argv)``."""

from __future__ import annotations

import argparse

TRAINERS = {"detector": "training.detector.train", "classifier": "training.classifier.train"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", choices=sorted(TRAINERS))
    p.add_argument("options", nargs=argparse.REMAINDER, help="trainer options (see --help of each)")


def run(args: argparse.Namespace) -> int:
    import importlib

    return importlib.import_module(TRAINERS[args.model]).main(args.options)
