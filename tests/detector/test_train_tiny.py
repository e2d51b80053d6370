"""`sketchref train detector --tiny` builds YOLO from its yaml, trains offline and serves boxes."""

from PIL import Image

from services.cli import main as cli
from services.detector.model import Detector


def test_tiny_training_and_detection_in_input_pixels(tmp_path):
    assert cli(["train", "detector", "--tiny", "--out", str(tmp_path / "det")]) == 0
    best = tmp_path / "det" / "train" / "weights" / "best.pt"
    assert best.exists() and (tmp_path / "det" / "config.json").exists()
    det = Detector(best, imgsz=64, conf=0.0)
    boxes = det.detect(Image.new("L", (640, 400), 255))
    for (x1, y1, x2, y2), _score, label in boxes:
        assert 0 <= x1 <= x2 <= 640 and 0 <= y1 <= y2 <= 400 and label == "object"
