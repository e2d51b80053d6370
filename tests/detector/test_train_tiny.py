"""`sketchref train detector --tiny` builds YOLO from its yaml, trains offline and serves boxes."""

from PIL import Image

from cli.main import main as cli
from services.detector.model import Detector


def test_tiny_training_and_detection_in_input_pixels(tmp_path):
    assert cli(["train", "detector", "--tiny", "--out", str(tmp_path / "det")]) == 0
    best = tmp_path / "det" / "train" / "weights" / "best.pt"
    assert best.exists() and (tmp_path / "det" / "config.json").exists()
    det = Detector(best, imgsz=64, conf=0.0)
    boxes = det.detect(Image.new("L", (640, 400), 255))
    for (x1, y1, x2, y2), _score, label in boxes:
        assert 0 <= x1 <= x2 <= 640 and 0 <= y1 <= y2 <= 400 and label == "object"


def test_style_and_near_scenes_join_the_mix(tmp_path):
    from dataclasses import replace

    from training.detector.config import DetectorTrainConfig
    from training.detector.train import build_dataset

    cfg = replace(DetectorTrainConfig(tiny=True).resolved(), style_scenes=3, near_scenes=2)
    build_dataset(cfg, tmp_path)
    train = sorted(p.name for p in (tmp_path / "images" / "train").iterdir())
    assert [n for n in train if n.startswith("near")] == ["near00000.png", "near00001.png"]
    assert len([n for n in train if n.startswith("style")]) == 3
    labels = (tmp_path / "labels" / "train" / "near00000.txt").read_text().split("\n")
    assert len([line for line in labels if line.strip()]) >= 2  # touching: at least two drawings, each boxed
