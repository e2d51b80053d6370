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


def test_hard_scenes_strays_touching_and_class_ids(tmp_path):
    import numpy as np

    from training.data.quickdraw import class_names

    ds = load_drawings("raw", split="train", words=["cat", "rain", "star", "snowflake", "sun"])
    rng = random.Random(3)
    cfg = SceneConfig.hard(stray_prob=1.0, multipart_prob=0.5)
    strays = 0
    for _ in range(8):
        s = compose_scene(ds, rng, cfg)
        assert len(s.boxes) == len(s.words) == len(s.key_ids)
        strays += len(s.strays)
        for st in s.strays:  # stray marks are never objects and never touch one
            for b in s.boxes:
                assert st[2] <= b[0] or b[2] <= st[0] or st[3] <= b[1] or b[3] <= st[1]
        for i, a in enumerate(s.boxes):  # touching allowed, overlap only a little
            for b in s.boxes[i + 1:]:
                ix = min(a[2], b[2]) - max(a[0], b[0])
                iy = min(a[3], b[3]) - max(a[1], b[1])
                if ix > 0 and iy > 0:
                    assert ix * iy <= cfg.max_overlap * min((a[2] - a[0]) * (a[3] - a[1]),
                                                            (b[2] - b[0]) * (b[3] - b[1])) + 1e-6
        assert (np.asarray(s.image) < 128).any()
    assert strays > 0
    ids = {w: i for i, w in enumerate(class_names())}
    write_yolo_split(tmp_path, "train", ds, 4, 0, 128, cfg, ids)
    seen = {int(line.split()[0]) for f in (tmp_path / "labels" / "train").glob("*.txt")
            for line in f.read_text().split("\n") if line}
    assert seen and seen <= {ids[w] for w in ["cat", "rain", "star", "snowflake", "sun"]}


def test_issue5_scenes_and_fixed_heldout_set():
    from training.data.scenes import heldout_scenes

    ds = load_drawings("raw", split="test", words=["cat", "house", "sun", "rain"])
    rng = random.Random(0)
    cfg = SceneConfig.issue5()
    for _ in range(6):
        s = compose_scene(ds, rng, cfg)
        w, h = s.image.size
        assert 512 <= min(w, h) <= 720 and max(w, h) <= 1280 and 1 <= len(s.boxes) <= 6 and not s.strays
        for x1, y1, x2, y2 in s.boxes:
            assert max(x2 - x1, y2 - y1) <= 0.42 * min(w, h) + 1
    a = [s.boxes for s in heldout_scenes(3, drawings=ds)]
    b = [s.boxes for s in heldout_scenes(3, drawings=ds)]
    assert a == b


def test_a_scene_as_the_app_sends_it_draws_the_same_ink():
    """``strokes_request``: each drawing's strokes in order, stray marks last; drawn at one pen (no
    per-object widths), it puts ink where the scene has ink."""
    import numpy as np

    from services.core.imaging import load_image
    from services.core.requests import StrokesBody, drawn_sketch

    ds = load_drawings("raw", split="train", words=["cat", "house", "sun"])
    cfg = SceneConfig.issue5(pen_vary=0.0, stray_prob=1.0, max_strays=2)
    s = compose_scene(ds, random.Random(1), cfg)
    body = s.strokes_request()
    assert len(s.strokes) == len(s.boxes) + len(s.strays) and body["stroke_width"] == s.pen
    assert sum(len(obj) for obj in s.strokes) == len(body["strokes"])
    png, drawn = drawn_sketch(StrokesBody.model_validate(body))
    again = np.asarray(load_image(png)) < 128
    ink = np.asarray(s.image) < 128
    assert drawn["stroke_width"] == s.pen and (again == ink).mean() > 0.995
