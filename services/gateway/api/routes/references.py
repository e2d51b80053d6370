"""Reference pictures: the local gallery's images, and Unsplash download tracking.

- ``GET /v1/gallery/{id}`` and ``GET /v1/gallery/{id}/thumb``: a gallery photo or its thumbnail, read
  from storage (S3 in services mode). Public, like any picture an ``<img>`` shows; cacheable.
- ``POST /v1/references/unsplash/{photo_id}/download``: the user picked this Unsplash photo; the
  gateway calls the photo's ``download_location`` with the access key, server-side, as Unsplash's
  guidelines ask. Optional JSON body ``{"download_location": "..."}`` (from the reference); it is used
  only when it points at the configured API's ``/photos/{photo_id}/download``, so the key is never
  sent anywhere else.

No torch here: only the gallery index reader and the httpx Unsplash client are imported.
"""

from __future__ import annotations

import logging
import re

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.recommender.gallery import LocalGallery
from services.recommender.settings import RecommenderSettings, get_recommender_settings
from services.recommender.unsplash import PHOTO_ID, UnsplashClient, UnsplashError

from ...deps import ApiKeyDep, StorageDep
from ...errors import error_response

log = logging.getLogger("sketchref.gateway")
router = APIRouter(tags=["references"])

_IMAGE_ID = re.compile(r"^[0-9a-f]{16}$")


def _settings(request: Request) -> RecommenderSettings:
    return getattr(request.app.state, "recommender_settings", None) or get_recommender_settings()


def _gallery(request: Request, storage) -> LocalGallery:
    g = getattr(request.app.state, "gallery", None)
    if g is None or g.storage is not storage:
        g = LocalGallery(storage, _settings(request), autobuild=False)
        request.app.state.gallery = g
    return g


def _unsplash(request: Request) -> UnsplashClient | None:
    client = getattr(request.app.state, "unsplash_client", None)
    if client is None:
        s = _settings(request)
        if not s.unsplash_access_key:
            return None
        client = UnsplashClient(s.unsplash_access_key, s.unsplash_api_url, s.unsplash_timeout_s,
                                getattr(request.app.state, "unsplash_transport", None))
        request.app.state.unsplash_client = client
    return client


async def _serve(request: Request, storage, image_id: str, thumb: bool):
    if not _IMAGE_ID.match(image_id):
        return error_response(404, "image_not_found", "no such gallery image")
    try:
        found = await run_in_threadpool(_gallery(request, storage).read, image_id, thumb)
    except Exception as exc:
        log.warning("gallery read failed: %s", type(exc).__name__)
        return error_response(503, "storage_unavailable", "the gallery cannot be read right now")
    if found is None:
        return error_response(404, "image_not_found", "no such gallery image")
    data, content_type = found
    return Response(data, media_type=content_type, headers={
        "Cache-Control": "public, max-age=86400, immutable", "X-Content-Type-Options": "nosniff"})


@router.get("/gallery/{image_id}", summary="A local gallery photo", response_class=Response)
async def gallery_image(image_id: str, request: Request, storage: StorageDep):
    return await _serve(request, storage, image_id, thumb=False)


@router.get("/gallery/{image_id}/thumb", summary="A local gallery photo's thumbnail", response_class=Response)
async def gallery_thumb(image_id: str, request: Request, storage: StorageDep):
    return await _serve(request, storage, image_id, thumb=True)


class DownloadBody(BaseModel):
    download_location: str | None = None


@router.post("/references/unsplash/{photo_id}/download",
             summary="Record that a user picked an Unsplash photo (its download event)")
async def unsplash_download(photo_id: str, request: Request, _: ApiKeyDep, body: DownloadBody | None = None):
    if not PHOTO_ID.match(photo_id):
        return error_response(400, "bad_photo_id", "photo ids are 1-64 letters, digits, '-' or '_'")
    client = _unsplash(request)
    if client is None:
        return error_response(503, "unsplash_not_configured", "Unsplash is not configured on this server")
    location = body.download_location if body else None
    try:
        await run_in_threadpool(client.track_download, photo_id, location)
    except UnsplashError as exc:
        if exc.status == 404:
            return error_response(404, "photo_not_found", "Unsplash has no such photo")
        if exc.status in (403, 429):
            return error_response(503, "unsplash_rate_limited", "Unsplash's rate limit is reached; try later",
                                  headers={"Retry-After": "600"})
        log.warning("Unsplash download tracking answered %s", exc.status)
        return error_response(502, "unsplash_error", "Unsplash did not accept the download event")
    except httpx.HTTPError as exc:
        log.warning("Unsplash download tracking failed: %s", type(exc).__name__)
        return error_response(502, "unsplash_unreachable", "Unsplash cannot be reached")
    return {"id": photo_id, "tracked": True}
