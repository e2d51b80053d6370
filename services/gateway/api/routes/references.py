"""Reference pictures: the local gallery's images, and Unsplash download tracking.

- ``GET /v1/gallery/{id}`` and ``GET /v1/gallery/{id}/thumb``: a gallery photo or its thumbnail, read
  from storage (S3 in services mode). Public, like any picture an ``<img>`` shows; cacheable.
- ``POST /v1/references/unsplash/{photo_id}/download``: the user picked this Unsplash photo; the
  gateway calls the photo's ``download_location`` with the access key, server-side, as Unsplash's
  guidelines ask. Optional JSON body ``{"download_location": "..."}`` (from the reference); it is used
  only when it points at the configured API's ``/photos/{photo_id}/download``, so the key is never
  sent anywhere else.

What is served comes from ``app.state.references`` (:class:`services.core.stages.ReferenceFiles`,
the recommender's by default: :mod:`services.gateway.composition`); this module imports no stage
package, and no torch.
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.core.stages import DownloadNotTracked, ReferenceFiles

from ...deps import ApiKeyDep
from ...errors import error_response

log = logging.getLogger("sketchref.gateway")
router = APIRouter(tags=["references"])

_IMAGE_ID = re.compile(r"^[0-9a-f]{16}$")


def _references(request: Request) -> ReferenceFiles:
    return request.app.state.references


async def _serve(request: Request, image_id: str, thumb: bool):
    if not _IMAGE_ID.match(image_id):
        return error_response(404, "image_not_found", "no such gallery image")
    try:
        found = await run_in_threadpool(_references(request).gallery_image, image_id, thumb)
    except Exception as exc:
        log.warning("gallery read failed: %s", type(exc).__name__)
        return error_response(503, "storage_unavailable", "the gallery cannot be read right now")
    if found is None:
        return error_response(404, "image_not_found", "no such gallery image")
    data, content_type = found
    return Response(data, media_type=content_type, headers={
        "Cache-Control": "public, max-age=86400, immutable", "X-Content-Type-Options": "nosniff"})


@router.get("/gallery/{image_id}", summary="A local gallery photo", response_class=Response)
async def gallery_image(image_id: str, request: Request):
    return await _serve(request, image_id, thumb=False)


@router.get("/gallery/{image_id}/thumb", summary="A local gallery photo's thumbnail", response_class=Response)
async def gallery_thumb(image_id: str, request: Request):
    return await _serve(request, image_id, thumb=True)


class DownloadBody(BaseModel):
    download_location: str | None = None


@router.post("/references/unsplash/{photo_id}/download",
             summary="Record that a user picked an Unsplash photo (its download event)")
async def unsplash_download(photo_id: str, request: Request, _: ApiKeyDep, body: DownloadBody | None = None):
    location = body.download_location if body else None
    try:
        await run_in_threadpool(_references(request).track_download, photo_id, location)
    except DownloadNotTracked as exc:
        return _not_tracked(exc)
    return {"id": photo_id, "tracked": True}


def _not_tracked(exc: DownloadNotTracked) -> Response:
    if exc.reason == "bad_photo_id":
        return error_response(400, "bad_photo_id", "photo ids are 1-64 letters, digits, '-' or '_'")
    if exc.reason == "not_configured":
        return error_response(503, "unsplash_not_configured", "Unsplash is not configured on this server")
    if exc.reason == "not_found":
        return error_response(404, "photo_not_found", "Unsplash has no such photo")
    if exc.reason == "rate_limited":
        return error_response(503, "unsplash_rate_limited", "Unsplash's rate limit is reached; try later",
                              headers={"Retry-After": "600"})
    if exc.reason == "unreachable":
        log.warning("Unsplash download tracking failed: %s", exc.detail)
        return error_response(502, "unsplash_unreachable", "Unsplash cannot be reached")
    log.warning("Unsplash download tracking answered %s", exc.status)
    return error_response(502, "unsplash_error", "Unsplash did not accept the download event")
