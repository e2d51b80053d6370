import random

from training.data.quickdraw import load_drawings
from training.data.scenes import SceneConfig, compose_scene, write_yolo_split


def test_scene_boxes_are_ink_extents_and_do_not_overlap():
    ds = load_drawings("raw", split="train", words=["cat", "house", "sun"])
    rng = random.Random(0)
    for _ in range(5):
        s = compose_scene(ds, rng, SceneConfig(min_objects=3, max_objects=3))
        import numpy as np

        ink = np.asarray(s.image) < 128
        for x1, y1, x2, y2 in s.boxes:
            region = ink[int(y1):int(y2) + 1, int(x1):int(x2) + 1]
            assert region.any()
        for i, a in enumerate(s.boxes):
            for b in s.boxes[i + 1:]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_splits_use_disjoint_drawings(tmp_path):
    words = ["cat", "house", "sun", "tree"]
    train = {d.key_id for d in load_drawings("raw", split="train", words=words)}
    test = {d.key_id for d in load_drawings("raw", split="test", words=words)}
    assert train and test and not train & test
    write_yolo_split(tmp_path, "train", load_drawings("raw", split="train", words=words), 3, 0, 128)
    labels = sorted((tmp_path / "labels" / "train").glob("*.txt"))
    assert len(labels) == 3
    for f in labels:
        for line in f.read_text().split("\n"):
            if line:
                cls, *xywh = line.split()
                assert cls == "0" and all(0 <= float(v) <= 1 for v in xywh)
