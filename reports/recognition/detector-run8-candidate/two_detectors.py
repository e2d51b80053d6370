"""The probe behind this folder's "two detectors" rows: ``sketchref eval recognition`` with the
candidate's boxes plus each box of the shipped detector that holds two or more of them
(:func:`services.detector.model.wholes_of_parts`), the classifier then keeping the whole or the parts
(:func:`services.core.pipeline.resolve_parts` with ``whole_margin=WHOLE_MARGIN``).

    WHOLE_MARGIN=0.15 python reports/recognition/detector-run8-candidate/two_detectors.py CANDIDATE_DIR \\
        eval recognition single --split val --limit 250
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import services.core.pipeline as pl
import services.detector.model as dm
from services.detector.settings import DetectorSettings

real_load = dm.load_detector
MARGIN = float(os.environ.get("WHOLE_MARGIN", "0"))


class TwoDetectors:
    def __init__(self, candidate_dir: str):
        self.shipped = real_load(DetectorSettings(model_dir=Path("models/detector"), runtime="torch"))
        self.candidate = real_load(DetectorSettings(model_dir=Path(candidate_dir), runtime="torch"))

    def detect(self, gray):
        found = self.candidate.detect(gray)
        return found + dm.wholes_of_parts(found, self.shipped.detect(gray))

    def detect_many(self, grays):
        return [self.detect(g) for g in grays]


if __name__ == "__main__":
    from cli.main import main

    candidate = sys.argv[1]
    dm.load_detector = lambda settings=None: TwoDetectors(candidate)
    pl.resolve_parts = functools.partial(pl.resolve_parts, whole_margin=MARGIN)
    sys.exit(main(sys.argv[2:]))
