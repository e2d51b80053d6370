"""Fixtures of the recommender tests: the stand-in Unsplash server, the session's real redis-server and
SeaweedFS (from ``tests/services/stack.py``), a small gallery source made of the shared photos, and
settings pointing at all of them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.common.settings import CommonSettings
from services.common.storage import LocalStorage
from services.recommender.settings import RecommenderSettings
from tests.fakes.unsplash import KEY, FakeUnsplash
from tests.services.stack import BUCKET, S3_KEY, redis_url, s3_endpoint  # noqa: F401  (real redis-server, SeaweedFS)

SHARED = CommonSettings().shared_dir
PHOTOS = Path(SHARED) / "data" / "photos"
OPEN_IMAGES = PHOTOS / "open-images"
COCO = PHOTOS / "coco128" / "object_detection"


@pytest.fixture
def fake_unsplash():
    fake = FakeUnsplash().start()
    yield fake
    fake.stop()


@pytest.fixture
def common(tmp_path) -> CommonSettings:
    return CommonSettings(local_storage_dir=tmp_path / "storage", shared_dir=SHARED)


@pytest.fixture
def storage(common) -> LocalStorage:
    return LocalStorage(common.local_storage_dir)


@pytest.fixture(scope="session")
def photo_source(tmp_path_factory) -> Path:
    """A few real photos named by subject (cat, owl, parrot, hot dog, and two without a match)."""
    if not OPEN_IMAGES.is_dir():
        pytest.skip(f"shared photos missing: {OPEN_IMAGES}")
    src = tmp_path_factory.mktemp("photos")
    for name in ("cat.bmp", "owl.jpg", "parrot.jpg", "hot_dog.jpg", "grace_hopper.bmp", "dragonfly.bmp"):
        shutil.copy(OPEN_IMAGES / name, src / name)
    return src


def settings_for(fake: FakeUnsplash | None, photo_source: Path | None, **kw) -> RecommenderSettings:
    base = dict(provider="unsplash" if fake else "local",
                unsplash_access_key=KEY if fake else None,
                unsplash_api_url=fake.url if fake else "http://127.0.0.1:9",
                unsplash_app_name="sketchref_test", gallery_source_dir=photo_source,
                lock="file", unsplash_timeout_s=5.0)
    base.update(kw)
    return RecommenderSettings(**base)


@pytest.fixture
def make_settings(photo_source):
    """``make_settings(fake, **overrides)``: settings for the fake Unsplash (or local only when None)."""
    return lambda fake=None, **kw: settings_for(fake, photo_source, **kw)


@pytest.fixture(scope="module")
def s3_settings(s3_endpoint, tmp_path_factory) -> CommonSettings:  # noqa: F811
    """Settings on the session's real SeaweedFS S3 server (``tests/services/stack.py``)."""
    return CommonSettings(s3_endpoint_url=s3_endpoint, s3_bucket=BUCKET, s3_access_key=S3_KEY,
                          s3_secret_key=S3_KEY, shared_dir=SHARED,
                          local_storage_dir=tmp_path_factory.mktemp("unused-local"))
