"""The detector: YOLO over an area-downscaled greyscale sketch, boxes back in input pixels.

Inputs are shrunk with area averaging to the serving size (thin strokes stay visible; YOLO's own
resize would drop them), exactly as the training scenes were. Class-agnostic: every box is an
``object``; the classifier names it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from .settings import DetectorSettings, get_detector_settings
from .ultralytics_env import configure_ultralytics

Detection = tuple[tuple[float, float, float, float], float, str]


def downscale(gray: Image.Image, max_side: int) -> tuple[Image.Image, float]:
    s = min(1.0, max_side / max(gray.size))
    if s >= 1.0:
        return gray, 1.0
    size = (max(1, round(gray.width * s)), max(1, round(gray.height * s)))
    return gray.resize(size, Image.Resampling.BOX), s


class Detector:
    def __init__(self, weights: str | Path, imgsz: int = 320, conf: float = 0.35, iou: float = 0.5,
                 max_objects: int = 30, device: str = "cpu"):
        configure_ultralytics()
        from ultralytics import YOLO

        self.model = YOLO(str(weights), task="detect")
        self.imgsz, self.conf, self.iou, self.max_objects, self.device = imgsz, conf, iou, max_objects, device
        self.label = "object"

    def detect(self, gray: Image.Image) -> list[Detection]:
        small, s = downscale(gray.convert("L"), self.imgsz)
        rgb = np.repeat(np.asarray(small)[:, :, None], 3, axis=2)
        res = self.model.predict(rgb, imgsz=self.imgsz, conf=self.conf, iou=self.iou, agnostic_nms=True,
                                 max_det=self.max_objects, device=self.device, verbose=False)[0]
        out: list[Detection] = []
        for (x1, y1, x2, y2), score in zip(res.boxes.xyxy.tolist(), res.boxes.conf.tolist(), strict=True):
            box = (max(0.0, x1 / s), max(0.0, y1 / s), min(float(gray.width), x2 / s), min(float(gray.height), y2 / s))
            out.append((tuple(round(v, 1) for v in box), round(float(score), 4), self.label))
        out.sort(key=lambda d: -d[1])
        return out


def load_detector(settings: DetectorSettings | None = None) -> Detector:
    from services.common.model_source import resolve_model_dir

    s = settings or get_detector_settings()
    model_dir = resolve_model_dir("detector", Path(s.model_dir))
    cfg_path = model_dir / "config.json"
    imgsz = json.loads(cfg_path.read_text()).get("imgsz", s.imgsz) if cfg_path.exists() else s.imgsz
    return Detector(model_dir / s.weights, imgsz=imgsz, conf=s.conf, iou=s.iou, max_objects=s.max_objects,
                    device=s.device)
