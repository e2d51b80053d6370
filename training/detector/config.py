"""Detector training configuration (mirrored, with comments, by ``training/detector/config.yaml``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class DetectorTrainConfig:
    model: str = "yolov8n.yaml"  # architecture yaml (built from scratch), or a .pt to continue from
    data: str | None = None  # an existing YOLO data.yaml to reuse instead of composing new scenes
    imgsz: int = 320  # serving size too: inputs are area-downscaled to this longer side
    train_scenes: int = 2000
    val_scenes: int = 300
    large_scenes: int = 700  # extra train scenes of 1-2 big drawings (SceneConfig.large); val gets 1/7
    epochs: int = 15
    hours: float | None = None  # wall-clock cap; ultralytics rescales its schedule to it
    batch: int = 32
    optimizer: str = "auto"  # ultralytics' choice; "auto" gives AdamW lr 0.002*5/(4+nc): ~3e-5 for 345 classes
    lr0: float = 0.01  # used when optimizer is not "auto"
    warmup_epochs: float = 3.0
    seed: int = 0
    loss: str = "bce"  # bce | focal (class head)
    focal_gamma: float = 1.5
    focal_alpha: float | None = 0.25  # None (CLI: --focal-alpha none): no alpha balancing
    cls_gain: float = 0.5  # ultralytics' class-loss gain (its ``cls``; 0.5 is its default)
    scenes: str = "basic"  # basic | hard (SceneConfig.hard(): touching, tiny/huge, strays, multi-part...) | issue5
    hard_scenes: int = 0  # extra train scenes of SceneConfig.hard() mixed in (val gets 1/7)
    style_scenes: int = 0  # extra scenes of every style family in turn (training.data.styles, train looks)
    near_scenes: int = 0  # extra scenes of the touching and overlap layouts in turn (train gaps/overlaps)
    mosaic: float = 1.0  # ultralytics' mosaic probability (it cuts big drawings; lower it for fine-tuning)
    labels: str = "agnostic"  # agnostic (one class: object) | words (the 345 class ids: class-head experiment)
    num_words: int = 0  # words: only this many classes, at evenly spaced ranks of train-split frequency
    # (a long tail from the most to the least drawn class); 0: all 345
    data_format: str = "raw"
    fetched_data: str | None = None  # a `sketchref data fetch quickdraw` folder: more train drawings
    out: str = "runs/detector"
    tiny: bool = False  # seconds-long run for tests: few scenes, imgsz 64, one epoch
    extra: dict = field(default_factory=dict)

    def resolved(self) -> DetectorTrainConfig:
        if not self.tiny:
            return self
        return DetectorTrainConfig(**{**asdict(self), "imgsz": 64, "train_scenes": 8, "val_scenes": 4,
                                      "large_scenes": 2, "hard_scenes": 0, "near_scenes": 0,
                                      "epochs": 1, "batch": 4, "hours": None})

    def to_dict(self) -> dict:
        return asdict(self)
