"""Per-photo credits of the local gallery: COCO photos by their image id (and their licence when the
folder holds COCO's annotations), the Open Images test photos by their file's page, other folders by
what the person adding them said; and an index from before per-photo credits credited again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image

from services.recommender.credits import Credit, coco_credits, coco_image_id, creditor_for
from services.recommender.gallery import CREDITS_VERSION, LocalGallery, ensure_default_gallery
from tests.recommender.conftest import OPEN_IMAGES


def _coco_folder(root: Path, with_annotations: bool) -> Path:
    ds = root / "coco-mini"
    (ds / "images" / "val2017").mkdir(parents=True)
    (ds / "labels" / "val2017").mkdir(parents=True)
    (ds / "config.yaml").write_text("names:\n  0: cat\n")
    for image_id, colour in ((139, (200, 40, 40)), (285, (40, 200, 40))):
        Image.new("RGB", (64, 48), colour).save(ds / "images" / "val2017" / f"{image_id:012d}.jpg")
        (ds / "labels" / "val2017" / f"{image_id:012d}.txt").write_text("0 0.5 0.5 0.8 0.8\n")
    if with_annotations:
        (ds / "annotations").mkdir()
        (ds / "annotations" / "instances_val2017.json").write_text(json.dumps({
            "licenses": [{"id": 4, "name": "Attribution License", "url": "http://creativecommons.org/licenses/by/2.0/"}],
            "images": [{"id": 139, "license": 4, "file_name": "000000000139.jpg",
                        "flickr_url": "http://farm9.staticflickr.com/8035/8024364858_9c41dc1666_z.jpg"}]}))
    return ds


def test_coco_photos_link_their_own_explore_page(tmp_path):
    assert coco_image_id(Path("images/train2017/000000000370.jpg")) == 370
    assert coco_image_id(Path("COCO_val2014_000000000042.jpg")) == 42
    assert coco_image_id(Path("owl.jpg")) is None
    ds = _coco_folder(tmp_path, with_annotations=False)
    credit = creditor_for(ds)(ds / "images" / "val2017" / "000000000285.jpg")
    assert credit == Credit(collection="COCO 2017", title="COCO image 285",
                            source_url="https://cocodataset.org/#explore?id=285")
    assert credit.license == "" and credit.author == ""  # not known without the annotations: not made up


def test_coco_licence_from_the_annotations_when_present(tmp_path):
    ds = _coco_folder(tmp_path, with_annotations=True)
    credit = coco_credits(ds)
    with_licence = credit(ds / "images" / "val2017" / "000000000139.jpg")
    assert with_licence.license == "Attribution License"
    assert with_licence.license_url == "http://creativecommons.org/licenses/by/2.0/"
    assert with_licence.source_url == "https://cocodataset.org/#explore?id=139"
    assert credit(ds / "images" / "val2017" / "000000000285.jpg").license == ""  # not in the file


def test_gallery_references_carry_the_photo_credit(tmp_path, storage, make_settings, common):
    ds = _coco_folder(tmp_path, with_annotations=True)
    g = LocalGallery(storage, make_settings(None), common=common, autobuild=False)
    assert g.add_folder(ds)["added"] == 2
    refs = {r.source_url: r for r in g.recommend("cat", 6)}
    assert set(refs) == {"https://cocodataset.org/#explore?id=139", "https://cocodataset.org/#explore?id=285"}
    ref = refs["https://cocodataset.org/#explore?id=139"]
    assert (ref.collection, ref.title, ref.license) == ("COCO 2017", "COCO image 139", "Attribution License")
    # Another folder: the person's own credit for every photo.
    other = tmp_path / "mine"
    other.mkdir()
    Image.new("RGB", (50, 50), (9, 9, 200)).save(other / "owl.jpg")
    g.add_folder(other, credit="Ada's photos", source_url="https://example.org/ada")
    owl = g.recommend("owl", 1)[0]
    assert (owl.collection, owl.source_url, owl.license) == ("Ada's photos", "https://example.org/ada", "")


def test_an_index_from_before_per_photo_credits_is_credited_again(tmp_path, storage, make_settings, common):
    src = tmp_path / "photos"
    (src / "open-images").mkdir(parents=True)
    for name in ("owl.jpg", "parrot.jpg"):
        shutil.copy(OPEN_IMAGES / name, src / "open-images" / name)
    g = LocalGallery(storage, make_settings(None, gallery_source_dir=src), common=common)
    owl = g.recommend("owl", 1)[0]  # built lazily, credited per photo
    assert owl.source_url == "https://github.com/google-coral/test_data/blob/104342d2/owl.jpg"
    assert (owl.license, owl.title) == ("Apache-2.0", "owl.jpg")
    # Make it an index as the previous release wrote it: one credit line and a home page per set.
    index = json.loads(storage.get("gallery/index.json"))
    assert index["credits"] == CREDITS_VERSION
    del index["credits"]
    for e in index["images"].values():
        e["credit"], e["source_url"] = "Open Images, via google-coral/test_data (Apache-2.0)", "https://example.org/"
    storage.put("gallery/index.json", json.dumps(index).encode())
    stale = LocalGallery(storage, make_settings(None, gallery_source_dir=src), common=common, autobuild=False)
    assert stale.recommend("owl", 1)[0].source_url == "https://example.org/"  # still readable
    (src / "open-images" / "extra.jpg").write_bytes((OPEN_IMAGES / "hot_dog.jpg").read_bytes())
    fresh = LocalGallery(storage, make_settings(None, gallery_source_dir=src), common=common)
    assert fresh.recommend("owl", 1)[0].source_url == owl.source_url
    assert len(fresh.entries()) == 2  # credited again; the photo added to the folder since is not taken
    assert json.loads(storage.get("gallery/index.json"))["credits"] == CREDITS_VERSION
    assert ensure_default_gallery(fresh) == 2
