"""Reference providers by name: a new one is a factory with ``@register_provider``, chosen by the
setting ``SKETCHREF_RECOMMENDER_PROVIDER`` without any other file knowing its name."""

from __future__ import annotations

import pytest

from services.common.settings import CommonSettings
from services.common.storage import LocalStorage
from services.core.contracts import Reference
from services.core.stages import ReferenceProvider
from services.recommender.gallery import LocalGallery
from services.recommender.providers import PROVIDERS, load_recommender, register_provider
from services.recommender.settings import RecommenderSettings


class Echo:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def recommend(self, label, n=6, crop=None):
        return [Reference(provider="echo", id=f"{self.prefix}{label}-{i}", url="file:///x", thumb_url="file:///x")
                for i in range(n)]


@register_provider("echo")
def make_echo(settings, storage, common, transport):
    return Echo(prefix=settings.unsplash_app_name + ":")


def test_a_registered_provider_is_chosen_by_the_setting(tmp_path):
    common = CommonSettings(local_storage_dir=tmp_path)
    storage = LocalStorage(tmp_path)
    rec = load_recommender(RecommenderSettings(provider="echo", unsplash_app_name="t"), storage, common)
    assert isinstance(rec, ReferenceProvider)
    assert [r.id for r in rec.recommend("owl", 2)] == ["t:owl-0", "t:owl-1"]
    local = load_recommender(RecommenderSettings(provider="local"), storage, common)
    assert isinstance(local, LocalGallery) and isinstance(local, ReferenceProvider)
    assert {"local", "unsplash", "echo"} <= set(PROVIDERS)


def test_unknown_or_taken_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="choose from auto, echo, local, unsplash"):
        load_recommender(RecommenderSettings(provider="nope"), LocalStorage(tmp_path),
                         CommonSettings(local_storage_dir=tmp_path))
    with pytest.raises(ValueError, match="taken"):
        register_provider("local")(make_echo)
