"""Detector worker settings (env prefix ``SKETCHREF_DETECTOR_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.settings import ROOT


class DetectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SKETCHREF_DETECTOR_", extra="ignore")

    model_dir: Path = ROOT / "models" / "detector"
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
    return DetectorSettings()
