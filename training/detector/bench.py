"""Detector inference time per image at the serving size: PyTorch vs ONNX Runtime on CPU.

``bench_runtimes(runs)`` (used by ``make bench`` through ``scripts/bench.py``) times
:meth:`services.detector.model.Detector.detect` — area downscale, ultralytics pre-processing, the
network, NMS — on a 512x512 three-object scene of held-out drawings, for ``best.pt`` through PyTorch
and ``best.onnx`` through ONNX Runtime. The ONNX file is exported with ultralytics' own exporter
(offline, fixed input ``imgsz`` x ``imgsz``); :func:`export_onnx` writes it next to the weights, or
under ``.cache/`` when benchmarking without one shipped.

``python -m training.detector.bench --export [--weights models/detector/best.pt]`` ships the ONNX file.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import time
from pathlib import Path

from services.common.settings import ROOT


def export_onnx(weights: str | Path, imgsz: int, out: str | Path | None = None) -> Path:
    """Export ``weights`` (a YOLO ``.pt``) to ONNX at a fixed ``imgsz``; returns the ``.onnx`` path."""
    from services.detector.ultralytics_env import configure_ultralytics

    configure_ultralytics()
    from ultralytics import YOLO

    weights = Path(weights)
    src = weights
    if out is not None:  # export from a copy so that nothing is written beside the original
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        src = out.with_suffix(".pt")
        shutil.copy(weights, src)
    made = Path(YOLO(str(src), task="detect").export(format="onnx", imgsz=imgsz, dynamic=False, simplify=False,
                                                     device="cpu", verbose=False))
    if out is not None:
        src.unlink(missing_ok=True)
        if made != out:
            made.replace(out)
        made = out
    return made


def _scene(seed: int = 0):
    from training.data.quickdraw import load_drawings
    from training.data.scenes import SceneConfig, compose_scene

    drawings = load_drawings("raw", split="test", words=["cat", "house", "tree", "bicycle", "fish", "sun"])
    cfg = SceneConfig(min_objects=3, max_objects=3, min_size=0.25, max_size=0.4, min_gap=12, max_rotation=0)
    return compose_scene(drawings, random.Random(seed), cfg, canvas=(512, 512)).image


def _summary(samples: list[float]) -> dict:
    s = sorted(samples)
    return {"median_ms": round(statistics.median(s), 2), "p90_ms": round(s[int(0.9 * (len(s) - 1))], 2),
            "n": len(s)}


def time_detector(detector, image, runs: int, warmup: int = 3) -> dict:
    for _ in range(warmup):
        detector.detect(image)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        detector.detect(image)
        samples.append((time.perf_counter() - t) * 1000)
    return _summary(samples)


def bench_runtimes(runs: int, weights: str | Path | None = None, imgsz: int | None = None) -> dict:
    """``{"pytorch": {median_ms, p90_ms, n}, "onnxruntime": {...}}`` for the shipped detector (or
    ``weights``); ``{}`` when there are no weights to measure."""
    from services.detector.model import Detector
    from services.detector.settings import get_detector_settings

    s = get_detector_settings()
    weights = Path(weights) if weights else Path(s.model_dir) / s.weights
    if not weights.exists():
        return {}
    if imgsz is None:
        cfg = weights.parent / "config.json"
        imgsz = json.loads(cfg.read_text()).get("imgsz", s.imgsz) if cfg.exists() else s.imgsz
    onnx = weights.with_suffix(".onnx")
    if not onnx.exists():
        onnx = ROOT / ".cache" / "detector_onnx" / f"{weights.stem}-{imgsz}.onnx"
        if not onnx.exists() or onnx.stat().st_mtime < weights.stat().st_mtime:
            export_onnx(weights, imgsz, onnx)
    image = _scene()
    dets = {name: Detector(path, imgsz=imgsz, conf=s.conf, iou=s.iou, max_objects=s.max_objects, device="cpu")
            for name, path in (("pytorch", weights), ("onnxruntime", onnx))}
    samples: dict[str, list[float]] = {name: [] for name in dets}
    for det in dets.values():
        for _ in range(3):  # warm-up
            det.detect(image)
    for _ in range(runs):  # interleaved, so that load from other processes hits both alike
        for name, det in dets.items():
            t = time.perf_counter()
            det.detect(image)
            samples[name].append((time.perf_counter() - t) * 1000)
    return {name: _summary(v) for name, v in samples.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.detector.bench")
    p.add_argument("--weights", default=None, help="default: the shipped models/detector/best.pt")
    p.add_argument("--imgsz", type=int, default=None)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--export", action="store_true", help="write best.onnx beside the weights, then time both")
    args = p.parse_args(argv)
    if args.export:
        from services.detector.settings import get_detector_settings

        s = get_detector_settings()
        weights = Path(args.weights) if args.weights else Path(s.model_dir) / s.weights
        cfg = weights.parent / "config.json"
        imgsz = args.imgsz or (json.loads(cfg.read_text()).get("imgsz", s.imgsz) if cfg.exists() else s.imgsz)
        print(f"exported {export_onnx(weights, imgsz)}")
    result = bench_runtimes(args.runs, args.weights, args.imgsz)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
