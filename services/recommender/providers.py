"""``load_recommender()``: the reference provider the settings ask for.

- ``local``: the local gallery (:mod:`.gallery`).
- ``unsplash``: Unsplash search through the result cache, with the local gallery as fallback; without
  an access key it degrades to ``local`` with a warning instead of failing.
- ``auto`` (default): ``unsplash`` when ``SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY`` is set, else ``local``.

Every provider has ``recommend(label, n, crop=None) -> list[Reference]`` and never raises into a job
(:class:`services.core.stages.ReferenceProvider`). Providers are registered by name
(:func:`register_provider`); a new one is a factory in its own module with that decorator.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx

from services.common.settings import CommonSettings, warn_renamed
from services.common.storage import Storage, get_storage
from services.core.stages import ReferenceProvider

from .cache import SearchCache
from .gallery import LocalGallery
from .settings import RecommenderSettings, get_recommender_settings
from .unsplash import UnsplashClient, UnsplashProvider

log = logging.getLogger(__name__)

# (settings, storage, common settings, HTTP transport or None) -> the provider
ProviderFactory = Callable[[RecommenderSettings, Storage, CommonSettings, httpx.BaseTransport | None],
                           ReferenceProvider]
PROVIDERS: dict[str, ProviderFactory] = {}


def register_provider(name: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Decorator: ``factory`` makes the provider ``SKETCHREF_RECOMMENDER_PROVIDER=name`` selects."""

    def add(factory: ProviderFactory) -> ProviderFactory:
        if name in PROVIDERS or name == "auto":
            raise ValueError(f"provider name {name!r} is taken")
        PROVIDERS[name] = factory
        return factory

    return add


@register_provider("local")
def _local(s: RecommenderSettings, storage: Storage, common: CommonSettings,
           transport: httpx.BaseTransport | None) -> ReferenceProvider:
    return LocalGallery(storage, s, common=common)


@register_provider("unsplash")
def _unsplash(s: RecommenderSettings, storage: Storage, common: CommonSettings,
              transport: httpx.BaseTransport | None) -> ReferenceProvider:
    if s.unsplash_access_key is None:  # provider_name() falls back to local before this
        raise ValueError("the unsplash provider needs SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY")
    client = UnsplashClient(s.unsplash_access_key, s.unsplash_api_url, s.unsplash_timeout_s, transport)
    return UnsplashProvider(client, SearchCache.from_settings(storage, s, common),
                            fallback=LocalGallery(storage, s, common=common), settings=s)


def provider_name(settings: RecommenderSettings) -> str:
    name = settings.provider
    if name == "auto":
        return "unsplash" if settings.unsplash_access_key else "local"
    if name == "unsplash" and not settings.unsplash_access_key:
        log.warning("SKETCHREF_RECOMMENDER_PROVIDER=unsplash but no SKETCHREF_RECOMMENDER_UNSPLASH_ACCESS_KEY: "
                    "using the local gallery")
        return "local"
    if name not in PROVIDERS:
        raise ValueError(f"unknown SKETCHREF_RECOMMENDER_PROVIDER {name!r}; "
                         f"choose from auto, {', '.join(sorted(PROVIDERS))}")
    return name


def load_recommender(settings: RecommenderSettings | None = None, storage: Storage | None = None,
                     common: CommonSettings | None = None,
                     transport: httpx.BaseTransport | None = None) -> ReferenceProvider:
    """The configured provider; ``storage``/``transport`` are injectable (tests, other backends)."""
    if settings is None:
        warn_renamed(RecommenderSettings, log)
    s = settings or get_recommender_settings()
    c = common or s  # the service's settings carry the shared ones (storage, the shared folder)
    storage = storage if storage is not None else get_storage(c)
    return PROVIDERS[provider_name(s)](s, storage, c, transport)
