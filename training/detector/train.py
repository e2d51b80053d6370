"""``sketchref train detector``: compose scenes from real drawings, train YOLO from its yaml.

Writes the YOLO dataset under ``<out>/data``, trains single-class ("object": localization is what the
product needs; the classifier names the object) or, with ``--labels words``, on the 345 class ids (the
class-head experiment: ``--loss bce|focal``, ``--focal-gamma``, ``--focal-alpha``), and saves ``best.pt`` with the resolved config and
metrics beside it. ``--tiny`` runs in seconds (tests).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from services.detector.ultralytics_env import configure_ultralytics
from training.cli_args import add_dataclass_arguments
from training.data.quickdraw import class_names, load_drawings
from training.data.scenes import SceneConfig, write_yolo_split
from training.data.styles import STYLES

from .config import DetectorTrainConfig

NEAR_STYLES = ("touching", "overlap")  # layouts where neighbours merge into one box


def long_tail_words(k: int) -> list[str]:
    """``k`` classes at evenly spaced ranks of their train-split drawing counts, most drawn first:
    a long tail (the shared drawings have 11-111 per class) for the class-head experiment."""
    from collections import Counter

    counts = Counter(d.word for d in load_drawings("raw", split="train"))
    ranked = sorted(class_names(), key=lambda w: (-counts[w], w))
    picks = sorted({round(i * (len(ranked) - 1) / max(k - 1, 1)) for i in range(k)})
    return [ranked[i] for i in picks]


def build_dataset(cfg: DetectorTrainConfig, root: Path) -> Path:
    words = None
    per_class = None
    subset = long_tail_words(cfg.num_words) if cfg.labels == "words" and cfg.num_words and not cfg.tiny else None
    if cfg.tiny:
        words, per_class = ["cat", "house", "tree", "sun"], 5
    elif subset:
        words = subset
    scene_cfg = {"hard": SceneConfig.hard, "issue5": SceneConfig.issue5}.get(cfg.scenes, SceneConfig)()
    names = (subset or class_names()) if cfg.labels == "words" else ["object"]
    class_ids = {w: i for i, w in enumerate(names)} if cfg.labels == "words" else None
    for split, n, seed in (("train", cfg.train_scenes, cfg.seed), ("val", cfg.val_scenes, cfg.seed + 1000)):
        drawings = load_drawings(cfg.data_format, split=split, words=words, per_class=per_class,
                                 fetched=cfg.fetched_data)  # used for the train split only
        write_yolo_split(root, split, drawings, n, seed, cfg.imgsz, scene_cfg, class_ids)
        for extra, extra_cfg, offset, prefix in ((cfg.large_scenes, SceneConfig.large(), 7, "large"),
                                                 (cfg.hard_scenes, SceneConfig.hard(), 11, "hard"),
                                                 (cfg.style_scenes, None, 13, "style"),
                                                 (cfg.near_scenes, None, 17, "near")):
            k = extra if split == "train" else max(1, extra // 7) if extra else 0
            write_yolo_split(root, split, drawings, k, seed + offset, cfg.imgsz, extra_cfg, class_ids, prefix=prefix,
                             styles={"style": STYLES, "near": NEAR_STYLES}.get(prefix, ()))
    data_yaml = root / "data.yaml"
    lines = [f"path: {json.dumps(str(root.resolve()))}", "train: images/train", "val: images/val", "names:"]
    lines += [f"  {i}: {json.dumps(n)}" for i, n in enumerate(names)]
    data_yaml.write_text("\n".join(lines) + "\n")
    return data_yaml


def train(cfg: DetectorTrainConfig) -> Path:
    cfg = cfg.resolved()
    configure_ultralytics()
    from ultralytics import YOLO

    out = Path(cfg.out)
    t0 = time.time()
    if cfg.data:
        data_yaml = Path(cfg.data)
    else:
        data_dir = out / "data"
        if data_dir.exists():
            shutil.rmtree(data_dir)
        data_yaml = build_dataset(cfg, data_dir)
    model = YOLO(cfg.model)
    trainer_kwargs = {}
    if cfg.loss == "focal":
        from .focal import FocalDetectionTrainer

        trainer_kwargs["trainer"] = FocalDetectionTrainer.configured(cfg.focal_gamma, cfg.focal_alpha)
    results = model.train(
        data=str(data_yaml), imgsz=cfg.imgsz, epochs=cfg.epochs, batch=cfg.batch, seed=cfg.seed,
        time=cfg.hours, project=str(out.resolve()), name="train", exist_ok=True, device="cpu",
        workers=0, amp=False, plots=False, verbose=False, single_cls=cfg.labels != "words",
        hsv_h=0.0, hsv_s=0.0, hsv_v=0.0, deterministic=False, patience=100, optimizer=cfg.optimizer,
        lr0=cfg.lr0, warmup_epochs=cfg.warmup_epochs, mosaic=cfg.mosaic, cls=cfg.cls_gain, **trainer_kwargs,
    )
    best = out / "train" / "weights" / "best.pt"
    metrics = {k: float(v) for k, v in getattr(results, "results_dict", {}).items()}
    metrics["train_seconds"] = round(time.time() - t0, 1)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return best


CHOICES = {"loss": ["bce", "focal"], "scenes": ["basic", "hard", "issue5"], "labels": ["agnostic", "words"]}


def _alpha(v: str) -> float | None:
    return None if v.lower() in ("none", "null", "") else float(v)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_dataclass_arguments(p, DetectorTrainConfig, types={"focal_alpha": _alpha}, choices=CHOICES)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="sketchref train detector")
    add_arguments(p)
    args = p.parse_args(argv)
    cfg = DetectorTrainConfig(**{k: v for k, v in vars(args).items()})
    best = train(cfg)
    print(f"best weights: {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
