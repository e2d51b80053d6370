"""The recommend stage says whose photos it gives: the object's label, the next candidate that has
photos when its own label has none (``references_label``), or nothing at all."""

from __future__ import annotations

from PIL import Image

from services.common.settings import CommonSettings
from services.common.storage import LocalStorage
from services.core.contracts import DetectedObject, Label
from services.core.pipeline import recommend
from services.recommender.gallery import LocalGallery
from services.recommender.settings import RecommenderSettings


def _object(*labels: str, picked: str | None = None) -> DetectedObject:
    return DetectedObject(box=[0, 0, 40, 40], score=0.9, detector_label="object", picked_label=picked,
                          labels=[Label(label=w, score=0.5 / (i + 1)) for i, w in enumerate(labels)])


def test_references_say_which_label_they_show(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, colour in (("owl", (120, 90, 60)), ("cat", (90, 90, 90))):
        Image.new("RGB", (64, 64), colour).save(photos / f"{name}.jpg")
    common = CommonSettings(local_storage_dir=tmp_path / "storage")
    gallery = LocalGallery(LocalStorage(common.local_storage_dir),
                           RecommenderSettings(gallery_source_dir=tmp_path / "none"), common=common, autobuild=False)
    gallery.add_folder(photos)

    face, cat, nothing, picked, unwanted = recommend(
        [_object("face", "owl", "cat"), _object("cat", "owl"), _object("face", "zigzag"),
         _object("face", "owl", picked="cat"), _object("owl")], gallery, n=3)
    assert (face.references_label, [r.source_url for r in face.references]) == ("owl", [""])
    assert face.references[0].id == gallery.recommend("owl", 1)[0].id  # the owl photo, said to be one
    assert cat.references_label == "cat" and len(cat.references) == 1
    assert nothing.references_label is None and nothing.references == []
    assert picked.references_label == "cat"  # the user's pick first
    # No references asked for: none given, and no label claimed.
    none = recommend([_object("owl")], gallery, n=0)[0]
    assert none.references == [] and none.references_label is None
    assert unwanted.references_label == "owl"
