"""``POST /v1/jobs/{id}/objects/{i}/label``: the user picks the right label for an object.

Body ``{"label": "mug"}`` (one of the 345 class names). The pick is kept with the job (``picks``, the
feedback a later retraining can use; the app asks for it with the user's consent stated) and shown
as the object's ``picked_label``; the job goes back to the ``recommend`` stage through the queue, so
the references follow the pick (the gateway never calls reference providers itself). Answers ``202``
with the job (``status: queued, stage: recommend``); wait for it as for a new job.

Only the client that submitted the job may pick: with API keys on, the same key, else the same
address (403 ``not_your_job`` otherwise; the same rule as ``DELETE``).
A job that has not succeeded (or is re-running) answers 409. A pick queues work as a submission does,
so it counts against the same per-client rate limit (429 ``rate_limited`` with ``Retry-After``).
"""

from __future__ import annotations

import json
from functools import lru_cache

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.common.queue import enqueue
from services.common.routing import queue_for
from services.core.contracts import Job

from ...deps import CeleryDep, ClientDep, RateLimitDep, SettingsDep, StoreDep
from ...errors import ApiError
from ...intake import read_capped
from .jobs import _owned, job_response

router = APIRouter(tags=["jobs"])


class LabelPick(BaseModel):
    label: str


@lru_cache(maxsize=1)
def class_names() -> frozenset[str]:
    from services.gateway.guess import MODEL_DIR

    return frozenset(c.strip() for c in (MODEL_DIR / "classes.txt").read_text().splitlines() if c.strip())


def _pick(body: bytes, job_id: str, index: int, client: str, settings, store, celery):
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc
    label = obj.get("label") if isinstance(obj, dict) else None
    if not isinstance(label, str) or label.strip().lower() not in class_names():
        raise ApiError(422, "unknown_label", "label must be one of the 345 class names (e.g. \"mug\")")
    label = label.strip().lower()
    rec = _owned(store, job_id, client)
    if not 0 <= index < len(rec.objects):
        raise ApiError(404, "object_not_found", f"the job has {len(rec.objects)} objects; no object {index}")
    stored = store.pick_label(job_id, index, label, settings.job_deadline_s)
    if stored is None:
        raise ApiError(409, "job_not_finished", "the job is not finished; pick a label once it has succeeded")
    try:
        enqueue(celery, "recommend", job_id, queue_for("recommend", rec.routes))
    except Exception as exc:
        store.fail(job_id, "the pick could not be queued")
        raise ApiError(503, "queue_unavailable", "the pick could not be queued; try again") from exc
    return stored


@router.post("/jobs/{job_id}/objects/{index}/label", status_code=202, response_model=Job,
             summary="Pick the right label for an object (its references follow)",
             responses={429: {"description": "Over the per-client rate limit (see Retry-After)"}},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": LabelPick.model_json_schema()}}}})
async def pick_label(job_id: str, index: int, request: Request, response: Response, client: ClientDep,
                     settings: SettingsDep, store: StoreDep, celery: CeleryDep, _limited: RateLimitDep):
    body = await read_capped(request, 4096)
    rec = await run_in_threadpool(_pick, body, job_id, index, client, settings, store, celery)
    return job_response(rec, 202, response)
