"""``load_recommender()``: the reference provider the settings ask for.

- ``local``: the local gallery (:mod:`.gallery`).
- ``unsplash``: Unsplash search through the result cache, with the local gallery as fallback; without
  an access key it degrades to ``local`` with a warning instead of failing.
- ``auto`` (default): ``unsplash`` when ``SKETCHREF_UNSPLASH_ACCESS_KEY`` is set, else ``local``.

Every provider has ``recommend(label, n, crop=None) -> list[Reference]`` and never raises into a job.
"""

from __future__ import annotations

import logging

import httpx

from services.common.settings import CommonSettings, get_settings
from services.common.storage import Storage, get_storage

from .cache import SearchCache
from .gallery import LocalGallery
from .settings import RecommenderSettings, get_recommender_settings
from .unsplash import UnsplashClient, UnsplashProvider

log = logging.getLogger(__name__)


def provider_name(settings: RecommenderSettings) -> str:
    name = settings.recommender_provider
    if name == "auto":
        return "unsplash" if settings.unsplash_access_key else "local"
    if name == "unsplash" and not settings.unsplash_access_key:
        log.warning("SKETCHREF_RECOMMENDER_PROVIDER=unsplash but no SKETCHREF_UNSPLASH_ACCESS_KEY: "
                    "using the local gallery")
        return "local"
    return name


def load_recommender(settings: RecommenderSettings | None = None, storage: Storage | None = None,
                     common: CommonSettings | None = None, transport: httpx.BaseTransport | None = None):
    """The configured provider; ``storage``/``transport`` are injectable (tests, other backends)."""
    s = settings or get_recommender_settings()
    c = common or get_settings()
    storage = storage if storage is not None else get_storage(c)
    gallery = LocalGallery(storage, s, common=c)
    if provider_name(s) == "local":
        return gallery
    client = UnsplashClient(s.unsplash_access_key, s.unsplash_api_url, s.unsplash_timeout_s, transport)
    return UnsplashProvider(client, SearchCache.from_settings(storage, s, c), fallback=gallery, settings=s)
