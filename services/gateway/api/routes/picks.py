"""``POST /v1/jobs/{id}/objects/{i}/label``: the user picks the right label for an object.

Body ``{"label": "mug"}`` (one of the 345 class names). The pick is kept with the job (``picks``, the
feedback a later retraining can use; the app asks for it with the user's consent stated) and shown
as the object's ``picked_label``; the job goes back to the ``recommend`` stage through the queue, so
the references follow the pick (the gateway never calls reference providers itself). Answers ``202``
with the job (``status: queued, stage: recommend``); wait for it as for a new job.

Only the client that submitted the job may pick: with API keys on, the same key (else 403); with
auth off, whoever holds the job's id (an unguessable 128-bit id only the submitter was given).
A job that has not succeeded (or is re-running) answers 409.
"""

from __future__ import annotations

import json
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.common.contracts import Job
from services.common.queue import enqueue

from ...deps import ApiKeyDep, CeleryDep, SettingsDep, StoreDep
from ...errors import ApiError
from ...intake import read_capped
from .jobs import _JOB_ID, job_response

router = APIRouter(tags=["jobs"])


class LabelPick(BaseModel):
    label: str


@lru_cache(maxsize=1)
def class_names() -> frozenset[str]:
    from services.gateway.guess import MODEL_DIR

    return frozenset(c.strip() for c in (MODEL_DIR / "classes.txt").read_text().splitlines() if c.strip())


def _pick(body: bytes, job_id: str, index: int, key_scope: str, settings, store, celery):
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc
    label = obj.get("label") if isinstance(obj, dict) else None
    if not isinstance(label, str) or label.strip().lower() not in class_names():
        raise ApiError(422, "unknown_label", "label must be one of the 345 class names (e.g. \"mug\")")
    label = label.strip().lower()
    rec = store.get(job_id) if _JOB_ID.match(job_id) else None
    if rec is None:
        raise ApiError(404, "job_not_found", "no such job (unknown, or expired)")
    if rec.client != key_scope:
        raise ApiError(403, "not_your_job", "only the client that submitted this job may pick its labels")
    if not 0 <= index < len(rec.objects):
        raise ApiError(404, "object_not_found", f"the job has {len(rec.objects)} objects; no object {index}")
    stored = store.pick_label(job_id, index, label, settings.job_deadline_s)
    if stored is None:
        raise ApiError(409, "job_not_finished", "the job is not finished; pick a label once it has succeeded")
    try:
        enqueue(celery, "recommend", job_id)
    except Exception as exc:
        store.fail(job_id, "the pick could not be queued")
        raise ApiError(503, "queue_unavailable", "the pick could not be queued; try again") from exc
    return stored


@router.post("/jobs/{job_id}/objects/{index}/label", status_code=202, response_model=Job,
             summary="Pick the right label for an object (its references follow)",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": LabelPick.model_json_schema()}}}})
async def pick_label(job_id: str, index: int, request: Request, key_scope: ApiKeyDep, settings: SettingsDep,
                     store: StoreDep, celery: CeleryDep):
    body = await read_capped(request, 4096)
    rec = await run_in_threadpool(_pick, body, job_id, index, key_scope, settings, store, celery)
    return job_response(rec, 202)
