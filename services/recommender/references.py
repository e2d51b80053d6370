"""The recommender's :class:`~services.core.stages.ReferenceFiles`: what the gateway serves of the
references a job answered, without knowing where they come from.

- :meth:`GalleryAndUnsplash.gallery_image`: a local gallery photo or its thumbnail, read from the
  gallery's storage (S3 in services mode);
- :meth:`GalleryAndUnsplash.track_download`: Unsplash's download event for a picked photo, sent with
  the access key (Unsplash's guidelines); a ``download_location`` elsewhere than the configured API's
  ``/photos/{id}/download`` is never called, so the key goes nowhere else.

The gateway builds one per app from ``"services.recommender.references:for_gateway"``
(``services/gateway/composition.py``). No torch here: the gallery index reader and the httpx client.
"""

from __future__ import annotations

import httpx

from services.common.storage import Storage
from services.core.stages import DownloadNotTracked

from .gallery import LocalGallery
from .settings import RecommenderSettings, get_recommender_settings
from .unsplash import PHOTO_ID, UnsplashClient, UnsplashError


class GalleryAndUnsplash:
    """Both built on first use: the gallery over ``storage`` (it never builds itself here), the
    Unsplash client only when the settings have an access key. ``settings`` None: the process's
    recommender settings (``SKETCHREF_*``), read at each use until a client exists."""

    def __init__(self, storage: Storage, settings: RecommenderSettings | None = None,
                 transport: httpx.BaseTransport | None = None):
        self.storage = storage
        self._settings = settings
        self.transport = transport
        self._gallery: LocalGallery | None = None
        self._client: UnsplashClient | None = None

    @property
    def settings(self) -> RecommenderSettings:
        return self._settings or get_recommender_settings()

    def _the_gallery(self) -> LocalGallery:
        if self._gallery is None:
            self._gallery = LocalGallery(self.storage, self.settings, autobuild=False)
        return self._gallery

    def gallery_image(self, image_id: str, thumb: bool = False) -> tuple[bytes, str] | None:
        return self._the_gallery().read(image_id, thumb)

    def _unsplash(self) -> UnsplashClient | None:
        if self._client is None:
            s = self.settings
            if not s.unsplash_access_key:
                return None
            self._client = UnsplashClient(s.unsplash_access_key, s.unsplash_api_url, s.unsplash_timeout_s,
                                          self.transport)
        return self._client

    def track_download(self, photo_id: str, download_location: str | None = None) -> None:
        if not PHOTO_ID.match(photo_id):
            raise DownloadNotTracked("bad_photo_id")
        client = self._unsplash()
        if client is None:
            raise DownloadNotTracked("not_configured")
        try:
            client.track_download(photo_id, download_location)
        except UnsplashError as exc:
            if exc.status == 404:
                raise DownloadNotTracked("not_found", exc.status) from exc
            if exc.status in (403, 429):
                raise DownloadNotTracked("rate_limited", exc.status) from exc
            raise DownloadNotTracked("rejected", exc.status) from exc
        except httpx.HTTPError as exc:
            raise DownloadNotTracked("unreachable", detail=type(exc).__name__) from exc


def for_gateway(storage: Storage) -> GalleryAndUnsplash:
    """The gateway's :class:`~services.core.stages.ReferenceFiles` over its storage."""
    return GalleryAndUnsplash(storage)
