"""Detector worker settings: its own under ``SKETCHREF_DETECTOR_``, on top of the shared ones
(services/common/settings.py)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from services.common.settings import ROOT, CommonSettings, service_config, with_flags


class DetectorSettings(CommonSettings):
    model_config = service_config("detector", shared=CommonSettings.model_fields, old_name=lambda field: None)

    model_dir: Path = ROOT / "models" / "detector"
    # The model version to serve instead of model_dir: s3://bucket/models/detector/v3/ (downloaded once
    # into the shared model_cache_dir) or a local folder; unset: model_dir (services/common/model_source.py)
    model_uri: str | None = None
    weights: str = "best.pt"
    imgsz: int = 320
    conf: float = 0.35  # minimum box confidence
    iou: float = 0.5  # NMS IoU
    max_objects: int = 30
    # passes on the sketch as is (1) and shrunk onto a larger white canvas; see pad_margin for the choice
    pads: list[float] = [1.0, 2.0]
    # a later pass wins only when its mean box confidence is higher by more than this (the model's
    # config.json may set its own value, chosen on val, unless this setting is given)
    pad_margin: float = 0.0
    # also keep the other passes' boxes that hold two or more of the chosen pass's boxes: the
    # classifier then keeps the whole drawing or its parts (pipeline.resolve_parts); the model's
    # config.json may set it, unless this setting is given
    keep_wholes: bool = False
    device: str = "cpu"
    # torch: <weights> (best.pt) through PyTorch; onnx: best.onnx beside it through ONNX Runtime (CPU),
    # falling back to torch when no .onnx file is there. `make bench` measures both.
    runtime: str = "onnx"  # measured faster on this CPU (reports/detector/README.md)
    # ONNX Runtime: intra-op threads (0: one per core) and whether they spin-wait for work while a
    # run lasts (they always stop once it returns: spinning on cost ~3x a detection's CPU; model.py).
    threads: int = 0
    spin: bool = True
    # "module:function" that loads the model instead of the real one (test doubles); unset: the real one
    loader: str | None = None


@lru_cache
def get_detector_settings() -> DetectorSettings:
    return with_flags(DetectorSettings)
