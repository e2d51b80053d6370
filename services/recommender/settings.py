"""Settings of the recommender: which provider, how to reach Unsplash, the cache and the gallery.

Read from ``SKETCHREF_RECOMMENDER_<NAME>`` environment variables (the Unsplash and gallery ones
were ``SKETCHREF_UNSPLASH_*`` and ``SKETCHREF_GALLERY_*`` until this release: still read) through
:func:`get_recommender_settings` (cached; tests call ``get_recommender_settings.cache_clear()``). The Unsplash access key is a ``SecretStr``
with no default, so it never appears in a repr, a log line or an API answer.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from services.common.settings import PREFIX, CommonSettings, service_config, with_flags

WEEK_S = 7 * 24 * 3600


class RecommenderSettings(CommonSettings):
    model_config = service_config(
        "recommender", shared=CommonSettings.model_fields, old_name=lambda field: PREFIX + field if field.startswith(("unsplash_", "gallery_")) else None)

    # auto: Unsplash when an access key is set, else the local gallery.
    # auto, or a registered provider (services/recommender/providers.py: local, unsplash)
    provider: str = "auto"
    # "module:function" that loads the recommender instead of the real one (test doubles)
    loader: str | None = None

    unsplash_access_key: SecretStr | None = None
    unsplash_api_url: str = "https://api.unsplash.com"
    # Goes into every attribution link as utm_source=<app name> (Unsplash's guidelines).
    unsplash_app_name: str = "sketchref"
    # Results asked per search; a fixed page size keeps one cache entry per label (max 30).
    unsplash_per_page: int = 12
    unsplash_timeout_s: float = 6.0
    # Stop calling once X-Ratelimit-Remaining falls to this many (kept for other clients of the key).
    unsplash_reserve: int = 0
    # Back-off after a 403/429/5xx or a network error; doubles on repeats, capped at an hour.
    unsplash_backoff_s: float = 60.0

    # Search results (JSON only, never image bytes) are cached in storage for this long.
    cache_ttl_s: int = WEEK_S
    cache_prefix: str = "cache/recommender"
    # Single-flight lock for concurrent misses: redis (services), file (embedded), none; auto picks
    # redis when storage is S3, else a file lock under the local storage folder.
    lock: Literal["auto", "redis", "file", "none"] = "auto"
    lock_timeout_s: float = 20.0

    # The local gallery: images, thumbnails and index.json live in storage under this prefix.
    gallery_prefix: str = "gallery"
    # Folder the default gallery is built from when storage has none yet (default: <shared>/data/photos).
    gallery_source_dir: Path | None = None
    # Build the default gallery lazily on first use when storage holds no index.
    gallery_autobuild: bool = True
    # Base of the URLs of gallery images. Unset: file:// URIs with local storage (embedded mode),
    # the gateway's /v1/gallery routes with S3 (services mode).
    gallery_url_base: str | None = None
    gallery_thumb_px: int = 256


@lru_cache
def get_recommender_settings() -> RecommenderSettings:
    return with_flags(RecommenderSettings)
