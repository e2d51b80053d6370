"""The local gallery: building from labelled folders, label mapping, ranking, empty results, the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cli.main import main as cli
from services.common.settings import get_settings
from services.recommender.gallery import LocalGallery, ensure_default_gallery
from services.recommender.gallery_sources import read_labels_file, yolo_names
from services.recommender.labels import labels_from_name, to_quickdraw
from services.recommender.settings import get_recommender_settings

PHOTOS = get_settings().shared_dir / "data" / "photos"


def test_photo_labels_map_to_quickdraw_words():
    pairs = {"cat": "cat", "hot dog": "hot dog", "teddy bear": "teddy-bear", "cell phone": "cell phone",
             "airplane": "airplane", "tv": "television", "motorcycle": "motorbike", "Traffic_Light": "traffic light",
             "dining table": "table", "potted plant": "house plant", "mouse": None, "person": None,
             "frisbee": None}
    assert {k: to_quickdraw(k) for k in pairs} == pairs
    assert labels_from_name("hot_dog") == ["hot dog"]
    assert labels_from_name("kite_and_cold") == []
    assert labels_from_name("my-teddy_bear-02") == ["teddy-bear"]


def test_default_gallery_from_the_shared_photos(storage, make_settings, common):
    if not PHOTOS.is_dir():
        pytest.skip("no shared photos")
    g = LocalGallery(storage, make_settings(None, gallery_source_dir=PHOTOS), common=common, autobuild=False)
    n = ensure_default_gallery(g)
    assert n > 200
    words = {w for e in g.entries() for w in e["labels"]}
    assert {"cat", "hot dog", "teddy-bear", "cell phone", "airplane", "owl", "parrot"} <= words
    refs = g.recommend("teddy-bear", 3)
    assert len(refs) == 3 and {r.provider for r in refs} == {"local"}
    for r in refs:
        assert r.url.startswith("file://") and Path(r.url[7:]).is_file()
        with Image.open(r.thumb_url[7:]) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 256
        # credited per photo: its own page, never only a data set's home page
        entry = g.get(r.id)
        assert r.collection == "COCO 2017" and r.title == f"COCO image {int(Path(entry['source']).stem)}"
        assert r.source_url == f"https://cocodataset.org/#explore?id={int(Path(entry['source']).stem)}"
    owl = g.recommend("owl", 1)[0]
    assert owl.source_url == "https://github.com/google-coral/test_data/blob/104342d2/owl.jpg"
    assert owl.license == "Apache-2.0"
    index_before = storage.get("gallery/index.json")
    assert ensure_default_gallery(g) == n and storage.get("gallery/index.json") == index_before


def test_lazy_build_on_first_use_and_empty_results(storage, make_settings, common, tmp_path):
    g = LocalGallery(storage, make_settings(None), common=common)  # source: the small photo folder
    assert not storage.exists("gallery/index.json")
    owl = g.recommend("owl", 6)
    assert len(owl) == 1 and storage.exists("gallery/index.json")
    bmp = g.recommend("cat", 1)[0]  # a BMP source is stored as a JPEG any browser shows
    with Image.open(bmp.url[7:]) as im:
        assert bmp.url.endswith(".jpg") and im.format == "JPEG"
    assert g.recommend("zigzag", 6) == [] and g.recommend("", 6) == [] and g.recommend("owl", 0) == []
    # No source folder and no index: an empty gallery, not an error.
    empty = LocalGallery(storage.__class__(tmp_path / "other"),
                         make_settings(None, gallery_source_dir=tmp_path / "missing"), common=common)
    assert empty.recommend("cat", 6) == []
    # A broken index: still no error.
    storage.put("gallery/index.json", b"{not json")
    assert LocalGallery(storage, make_settings(None), common=common, autobuild=False).recommend("owl", 6) == []


def _jpeg(path: Path, image: Image.Image) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, "JPEG", quality=92)


def _noise(seed: int, size=(160, 120)) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.integers(90, 160, (size[1], size[0], 3))).astype(np.uint8))


def test_ranking_by_label_prominence(tmp_path, storage, make_settings, common):
    ds = tmp_path / "yolo"
    (ds / "config.yaml").parent.mkdir(parents=True)
    (ds / "config.yaml").write_text("path: .\ntrain: images/train\nnames:\n  0: cat\n  1: teddy bear\n")
    boxes = {"big": "0 0.5 0.5 0.8 0.8", "small": "0 0.2 0.2 0.1 0.1\n1 0.6 0.6 0.5 0.5", "mid": "0 0.5 0.5 0.4 0.4"}
    for i, (name, rows) in enumerate(boxes.items()):
        _jpeg(ds / "images" / "train" / f"{name}.jpg", _noise(i))
        (ds / "labels" / "train").mkdir(parents=True, exist_ok=True)
        (ds / "labels" / "train" / f"{name}.txt").write_text(rows + "\n")
    assert yolo_names(ds / "config.yaml") == {0: "cat", 1: "teddy bear"}
    g = LocalGallery(storage, make_settings(None), common=common, autobuild=False)
    assert g.add_folder(tmp_path) == {"added": 3, "unchanged": 0, "recredited": 0, "unlabelled": 0, "failed": 0}
    sources = {e["id"]: e["source"] for e in g.entries()}
    assert [sources[r.id] for r in g.recommend("cat", 6)] == ["yolo/images/train/big.jpg",
                                                               "yolo/images/train/mid.jpg",
                                                               "yolo/images/train/small.jpg"]
    assert [sources[r.id] for r in g.recommend("teddy-bear", 6)] == ["yolo/images/train/small.jpg"]
    assert g.add_folder(tmp_path)["unchanged"] == 3  # same bytes, same ids: nothing added twice


def _stripes(horizontal: bool, ink: int, paper: int, size=(200, 200), step=25, width=6) -> Image.Image:
    im = Image.new("L", size, paper)
    d = ImageDraw.Draw(im)
    for k in range(step // 2, size[0], step):
        d.line([(0, k), (size[0], k)] if horizontal else [(k, 0), (k, size[1])], fill=ink, width=width)
    return im


def test_ranking_by_similarity_to_the_sketch_crop(tmp_path, storage, make_settings, common):
    folder = tmp_path / "photos"
    _jpeg(folder / "a.jpg", _stripes(True, 40, 200))
    _jpeg(folder / "b.jpg", _stripes(False, 40, 200))
    (tmp_path / "labels.csv").write_text("# path,label\na.jpg,bird\nb.jpg,Bird\nmissing.jpg,bird\n")
    assert read_labels_file(tmp_path / "labels.csv") == {"a.jpg": ["bird"], "b.jpg": ["Bird"],
                                                         "missing.jpg": ["bird"]}
    g = LocalGallery(storage, make_settings(None), common=common, autobuild=False)
    assert g.add_folder(folder, tmp_path / "labels.csv")["added"] == 2
    src = {e["id"]: e["source"] for e in g.entries()}
    sketch_h = _stripes(True, 0, 255, (120, 90), step=30, width=3)  # a sketch crop: black on white
    sketch_v = _stripes(False, 0, 255, (120, 90), step=30, width=3)
    assert [src[r.id] for r in g.recommend("bird", 2, crop=sketch_h)] == ["a.jpg", "b.jpg"]
    assert [src[r.id] for r in g.recommend("bird", 2, crop=sketch_v)] == ["b.jpg", "a.jpg"]


def test_gallery_command(tmp_path, monkeypatch, capsys, photo_source):
    monkeypatch.setenv("SKETCHREF_LOCAL_STORAGE_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("SKETCHREF_RECOMMENDER_GALLERY_SOURCE_DIR", str(tmp_path / "nothing-here"))
    get_settings.cache_clear()
    get_recommender_settings.cache_clear()
    try:
        (tmp_path / "labels.json").write_text(json.dumps({"owl.jpg": "owl", "parrot.jpg": ["parrot", "bird"],
                                                          "grace_hopper.bmp": ["person"]}))
        assert cli(["gallery", "add", str(photo_source), "--labels", str(tmp_path / "labels.json")]) == 0
        out = capsys.readouterr().out
        assert "added 3" in out and "without a Quick, Draw! label 1" in out
        assert cli(["gallery", "list", "--json"]) == 0
        listing = json.loads(capsys.readouterr().out)
        assert listing == {"images": 3, "labels": {"bird": 1, "owl": 1, "parrot": 1}}
        assert cli(["gallery", "list", "--label", "bird", "--json"]) == 0
        refs = json.loads(capsys.readouterr().out)
        assert len(refs) == 1 and refs[0]["provider"] == "local"
        data = Path(refs[0]["url"][7:]).read_bytes()
        assert Image.open(io.BytesIO(data)).format == "JPEG"
        assert cli(["gallery", "add", str(tmp_path / "nope")]) == 2
        assert "no such folder" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
        get_recommender_settings.cache_clear()
