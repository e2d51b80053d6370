"""``sketchref train classifier``: the command line of the one classifier trainer
(:mod:`training.classifier.adapt`, its options are the fields of ``AdaptConfig``).

Without any of ``--backbone``, ``--placement``, ``--loss``, ``--rank``, ``--longtail`` it trains the
shipped default, the two-tower classifier's projections (:data:`SHIPPED`: ``--mode projections``):
image tower DoodleNet (frozen), text tower MiniLM (frozen, prompt ensembles); trained: the two
projections and the logit scale, with cross-entropy on the real raw drawings of the train split (each
rendered the reference way plus ``--renders`` random ways) plus a distillation term towards
DoodleNet's own 345-way head (it has seen 50k drawings per class; our ~17 per class alone would
overfit). Selects the epoch by val top-1; writes ``head.pt``, ``classes.txt``, ``config.json``,
``metrics.json`` into ``--out`` (default ``models/classifier``). With one of those flags it trains a
LoRA adapter with the trainer's own defaults (``--help`` after one of them lists them).
"""

from __future__ import annotations

import sys

from . import adapt

# The shipped model's recipe: `sketchref train classifier` (models/classifier/MODEL_CARD.md)
SHIPPED = {"out": "models/classifier", "mode": "projections", "formats": "raw", "renders": 3, "epochs": 10,
           "batch": 256, "lr": 3e-4, "init_head": "", "threads": 1, "progress": False}
ADAPT_FLAGS = ("--backbone", "--placement", "--loss", "--rank", "--longtail")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a.split("=")[0] in ADAPT_FLAGS for a in argv):
        return adapt.main(argv)
    return adapt.main(argv, SHIPPED, prog="sketchref train classifier")


if __name__ == "__main__":
    raise SystemExit(main())
