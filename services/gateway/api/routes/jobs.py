"""``POST /v1/jobs`` (submit a sketch), ``GET /v1/jobs/{id}`` (poll it, or wait for it), ``DELETE`` it.

``GET /v1/jobs/{id}?wait=S`` is a long poll: it answers as soon as the job has finished, or after
``S`` seconds (at most :data:`MAX_WAIT_S`) with the job as it is then. The gateway subscribes to the
job's change channel (published by the job store in the same transaction as each change), so a
waiting client costs one idle Redis subscription, not a request every few milliseconds, and hears
of the result within a millisecond or two.

``POST /v1/jobs`` with ``Prefer: wait=S`` (RFC 7240) submits and waits in one request: ``201`` with
the finished job if it finished within ``S`` seconds (at most :data:`MAX_WAIT_S`), else the usual
``202``. The subscription is made before the job is queued, so its end cannot be missed; a client
saves the second request (and its round trip) of submit-then-poll. Without the header nothing
changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from services.common.inline import upload_payload, with_strokes
from services.common.job_store import TERMINAL, JobRecord, changed_channel, finished_job_json, new_job_id
from services.common.queue import enqueue, pushes_in_transaction, pushing, task_message
from services.common.routing import queue_for
from services.core.contracts import ErrorBody, ImageInfo, Job
from services.core.requests import REFERENCES, TOP_K, References, StrokesBody, TopK

from ...deps import (
    ApiKeyDep,
    CeleryDep,
    ClientDep,
    IdempotencyDep,
    RateLimitDep,
    SettingsDep,
    StorageDep,
    StoreDep,
)
from ...errors import ApiError
from ...intake import Submission, read_submission
from ...rendering import render

log = logging.getLogger("sketchref.gateway")
router = APIRouter(tags=["jobs"])
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")

_IMAGE_SCHEMA = {"type": "string", "format": "binary", "description": "a PNG, JPEG or WebP image"}
_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["image"], "properties": {
                "image": _IMAGE_SCHEMA,
                "top_k": TOP_K.json_schema(),
                "references": REFERENCES.json_schema()}}},
            "application/json": {"schema": StrokesBody.model_json_schema()},
            "image/png": {"schema": _IMAGE_SCHEMA},
            "image/jpeg": {"schema": _IMAGE_SCHEMA},
            "image/webp": {"schema": _IMAGE_SCHEMA},
            "application/octet-stream": {"schema": _IMAGE_SCHEMA},
        },
    }
}


def job_response(job: JobRecord | bytes, status_code: int = 200, headers_from: Response | None = None) -> Response:
    """The public job as JSON, serialized once by pydantic, or ``job`` as it is when it is the finished
    job's JSON already (as its last change message brought it). (Returning the model would have FastAPI
    dump it, validate the dump against ``response_model`` and encode it again: a few milliseconds per
    answer here, on the path a waiting phone is on.) ``response_model`` still documents the shape."""
    body = job if isinstance(job, bytes) else job.public().model_dump_json()
    out = Response(body, status_code=status_code, media_type="application/json")
    if headers_from is not None:  # headers the route and its dependencies set (Location, RateLimit-*)
        out.headers.update(headers_from.headers)
    return out


_STORES = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sketch-store")


def _put_all(storage, items: list[tuple[str, bytes, str]]) -> None:
    for key, data, content_type in items:
        storage.put(key, data, content_type)


def _store_sketch(storage, key: str, sub: Submission, defer: bool = False,
                  strokes_key: str = "") -> tuple[tuple[int, int], Future | None]:
    """Store the sketch under ``key`` (and a strokes body under ``strokes_key``) while its pixels are
    decoded (an upload's last check): the S3 round trip and the decode take a few milliseconds each,
    and side by side they cost the longer one only. A sketch that fails to decode is deleted again
    (nothing stays behind) and refused (4xx); a storage failure is a 503 (:func:`_stored`). Returns the
    upright (width, height) and, with ``defer``, the store still under way, for the caller to wait on
    before it answers (:func:`_submit`)."""
    items = [(key, sub.data, f"image/{sub.kind}")]
    if strokes_key and sub.strokes_json is not None:
        items.append((strokes_key, sub.strokes_json, "application/json"))
    storing = _STORES.submit(_put_all, storage, items)
    try:
        size = sub.decode() if sub.decode is not None else (sub.width, sub.height)
    except Exception:  # ApiError (a bad image), or anything else: nothing may stay behind
        if storing.exception() is None:
            _forget(storage, key, strokes_key)
        raise
    if defer:
        return size, storing
    _stored(storing)
    return size, None


def _stored(storing: Future) -> None:
    """Wait for the sketch's store; its failure is the 503 ``storage_unavailable``."""
    exc = storing.exception()
    if exc is not None:
        log.error("storing the sketch failed: %s", type(exc).__name__)
        raise ApiError(503, "storage_unavailable", "the sketch could not be stored; try again",
                       headers={"Retry-After": "5"}) from exc


def _forget(storage, *keys: str) -> None:
    for key in filter(None, keys):
        try:
            storage.delete(key)
        except Exception as exc:  # the object is unreferenced either way; a lifecycle rule can collect it
            log.warning("could not delete a refused sketch: %s", type(exc).__name__)


def _release_quietly(claims, key_hash: str, job_id: str) -> None:
    try:
        claims.release(key_hash, job_id)
    except Exception as exc:  # Redis down: the claim expires with its TTL
        log.warning("could not release an idempotency key: %s", type(exc).__name__)


@dataclass
class Accepted:
    """What :func:`_submit` did: the job, whether it is an earlier one (an Idempotency-Key replay),
    and for a new job whose upload travels inline, its S3 store still under way with the detect
    message that went out (:func:`_kept`)."""

    rec: JobRecord
    replayed: bool = False
    storing: Future | None = None
    message: tuple[str, str] | None = None


def _submit(sub: Submission, settings, store, claims, storage, celery, client: str, idem_key: str | None,
            backpressure=None, router=None, job_id: str | None = None) -> Accepted:
    """Check, store, record and queue a submission.

    When the upload travels inline in the detect message (at most ``queue_inline_max_bytes``), no
    stage reads its S3 copy before the job is answered, so the job is queued while the copy is still
    being stored (``defer``): the store's round trip overlaps the detector instead of preceding it.
    The caller still answers nothing before the copy is stored (:func:`_kept`): a failed store takes
    the job back (its record, Idempotency-Key and queued message) and answers 503, as before. Only a
    gateway that dies in those few milliseconds leaves a job without its S3 copy; it is answered from
    the inline upload all the same (a later pick re-runs the recommender from S3 and fails it)."""
    job_id = job_id or new_job_id()
    if backpressure is not None:
        backpressure.check(store.r)  # 503 no_worker / queue_full before anything is stored
    key_hash = None
    if idem_key is not None:
        if not 1 <= len(idem_key) <= 255:
            raise ApiError(422, "invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters")
        key_hash = hashlib.sha256(f"{client}\x00{idem_key}".encode()).hexdigest()  # per client
        earlier = claims.claim(key_hash, sub.payload_sha, job_id)
        if earlier is not None:
            payload, existing = earlier
            if payload != sub.payload_sha:
                raise ApiError(422, "idempotency_key_reused",
                               "this Idempotency-Key was used with a different request")
            rec = store.get(existing)
            if rec is None:
                raise ApiError(409, "idempotency_key_in_use", "the first request with this key is still being processed")
            return Accepted(store.check_deadline(rec), replayed=True)
    # the upload also travels inline when small (decode once: services/common/inline.py)
    inline = with_strokes(upload_payload(sub.data, settings.queue_inline_max_bytes), sub.strokes_json,
                          settings.queue_inline_max_bytes)
    key = f"sketches/{job_id}.{sub.ext}"
    strokes_key = f"sketches/{job_id}.strokes.json" if sub.strokes_json is not None else ""
    strokes_sha = hashlib.sha256(sub.strokes_json).hexdigest() if sub.strokes_json is not None else ""
    try:
        (width, height), storing = _store_sketch(storage, key, sub, defer=inline is not None, strokes_key=strokes_key)
    except ApiError:
        if key_hash is not None:
            _release_quietly(claims, key_hash, job_id)
        raise
    rec = JobRecord(id=job_id, image=ImageInfo(width=width, height=height, sha256=sub.sha256),
                    top_k=sub.top_k, references=sub.references, sketch_key=key, strokes_key=strokes_key,
                    strokes_sha256=strokes_sha,
                    deadline_at=time.time() + settings.job_deadline_s, owner=owner_of(client),
                    idempotency_hash=key_hash or "",
                    routes=router.choose(job_id) if router is not None else {})
    message = None  # the detect message, queued in the record's own transaction
    if pushes_in_transaction(celery):
        message = task_message("detect", job_id, queue_for("detect", rec.routes), inline)
    try:
        store.create(rec, also=pushing(message))
    except Exception:
        if storing is not None:
            storing.exception()  # stored or not, nothing may stay behind
        _forget(storage, key, strokes_key)  # no job refers to them
        if key_hash is not None:
            _release_quietly(claims, key_hash, job_id)
        raise  # RedisError: 503 queue_unavailable (errors.py)
    if message is None:
        try:
            enqueue(celery, "detect", job_id, queue_for("detect", rec.routes), inline)
        except Exception as exc:
            log.error("enqueueing job %s failed: %s", job_id, type(exc).__name__)
            try:
                store.fail(job_id, "the job could not be queued")
            except Exception as exc2:  # the deadline sweeper fails it later
                log.warning("could not mark job %s failed: %s", job_id, type(exc2).__name__)
            raise ApiError(503, "queue_unavailable", "the job could not be queued; try again",
                           headers={"Retry-After": str(settings.outage_retry_after_s)}) from exc
    return Accepted(rec, storing=storing, message=message)


def _take_back(store, storage, accepted: Accepted) -> None:
    """Undo an accepted job whose sketch could not be stored: its record and Idempotency-Key, its
    detect message if still queued (else the detector finds no job and does nothing), the object."""
    try:
        store.delete(accepted.rec.id)
        if accepted.message is not None:
            store.r.lrem(accepted.message[0], 1, accepted.message[1])
    except Exception as exc:  # Redis down too: the job fails at its deadline (no S3 copy is needed)
        log.warning("could not take back job %s: %s", accepted.rec.id, type(exc).__name__)
    _forget(storage, accepted.rec.sketch_key, accepted.rec.strokes_key)


async def _kept(store, storage, accepted: Accepted) -> None:
    """Wait for a deferred S3 store; if it failed, take the job back and answer its 503."""
    if accepted.storing is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wrap_future(accepted.storing)
    try:
        _stored(accepted.storing)
    except ApiError:
        await run_in_threadpool(_take_back, store, storage, accepted)
        raise


MAX_WAIT_S = 30.0
_PREFER_WAIT = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,6}(?:\.\d{1,3})?)\"?\s*$", re.IGNORECASE)


def prefer_wait(header: str | None) -> float:
    """Seconds of RFC 7240's ``wait`` preference in a ``Prefer`` header (0: none, or not understood;
    a preference the server does not understand is ignored, never an error), capped at
    :data:`MAX_WAIT_S`."""
    for pref in (header or "").split(","):
        m = _PREFER_WAIT.match(pref.split(";", 1)[0])
        if m:
            return min(float(m.group(1)), MAX_WAIT_S)
    return 0.0


@router.post("/jobs", status_code=202, response_model=Job, openapi_extra=_BODY_DOC,
             summary="Submit a sketch (multipart image, or strokes JSON)",
             responses={201: {"model": Job, "description": "With `Prefer: wait=S`: the job, finished within S s"},
                        429: {"description": "Over the per-client rate limit (see Retry-After)"}})
async def create_job(
    request: Request, response: Response, client: ClientDep, settings: SettingsDep, store: StoreDep,
    claims: IdempotencyDep, storage: StorageDep, celery: CeleryDep, _limited: RateLimitDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    prefer: Annotated[str | None, Header(description=(
        "`wait=S` (RFC 7240): answer when the job has finished (201) or after S seconds (202), at most "
        f"{MAX_WAIT_S:g}"))] = None,
    top_k: Annotated[TopK | None, Query(description="labels per object (default 5)")] = None,
    references: Annotated[References | None, Query(description="reference pictures per object (default 6)")] = None,
) -> Response:
    wait = prefer_wait(prefer)
    validate = await read_submission(request, settings, top_k, references)
    job_id = new_job_id()
    async with contextlib.AsyncExitStack() as stack:
        # subscribed before the job is queued (its end cannot slip by); the subscription's round trip
        # to Redis runs while a thread validates the upload
        subscribing = (asyncio.ensure_future(stack.enter_async_context(
            request.app.state.job_watch.watch(changed_channel(job_id)))) if wait > 0 else None)
        try:
            sub = await run_in_threadpool(validate)
        except BaseException:  # the refusal is the answer, whatever the subscription does
            if subscribing is not None:
                subscribing.cancel()
                with contextlib.suppress(BaseException):
                    await subscribing
            raise
        try:
            changes = await subscribing if subscribing is not None else None
            if sub.render is not None:  # strokes: drawn in the render process pool, never in this process
                sub.data = await render(request.app, sub.render)
                sub.sha256 = hashlib.sha256(sub.data).hexdigest()
            # decoding, storing and queueing block: one hand-off to a worker thread for all of them
            accepted = await run_in_threadpool(
                lambda: _submit(sub, settings, store, claims, storage, celery, client, idempotency_key,
                                request.app.state.backpressure,
                                getattr(request.app.state, "router", None), job_id))
        finally:
            sub.release()  # the decode budget, if the decode never ran (a replay, a refusal, Redis down)
        await _kept(store, storage, accepted)
        rec, replayed = accepted.rec, accepted.replayed
        response.headers["Location"] = f"/v1/jobs/{rec.id}"
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        if wait <= 0:
            return job_response(rec, 202, response)
        response.headers["Preference-Applied"] = f"wait={wait:g}"
        if replayed:  # an earlier job: wait on its own channel, reading it again once subscribed
            changes = await stack.enter_async_context(request.app.state.job_watch.watch(changed_channel(rec.id)))
        job = await _await_finish(request, store, rec.id, changes, wait, None if replayed else rec)
    finished = isinstance(job, bytes) or job.status in TERMINAL
    return job_response(job, 201 if finished else 202, response)


def _current(store, job_id: str) -> JobRecord:
    rec = store.get(job_id) if _JOB_ID.match(job_id) else None
    if rec is None:
        raise ApiError(404, "job_not_found", "no such job (unknown, or expired)")
    return store.check_deadline(rec)


async def _await_finish(request: Request, store, job_id: str, changes: asyncio.Queue, seconds: float,
                        rec: JobRecord | None = None) -> JobRecord | bytes:
    """Wait on ``changes`` (the job's subscription) until the job has finished or ``seconds`` have
    passed: the finished job's JSON as its last change message brought it, else the record as last
    read (``rec``: as just stored, else read now)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    if rec is None:
        rec = await run_in_threadpool(_current, store, job_id)  # after subscribing: no change slips by
    while rec.status not in TERMINAL:
        left = until - loop.time()
        if left <= 0:
            break
        try:
            data = await asyncio.wait_for(changes.get(), min(left, 1.0))
        except TimeoutError:
            data = None
        if isinstance(data, Exception):  # the subscription's connection failed
            raise data
        if data is None and await request.is_disconnected():
            break
        finished = finished_job_json(data) if data is not None else None
        if finished is not None:  # the job as it was stored finished, as the message brings it
            return finished
        if until - loop.time() <= 0:
            rec = await run_in_threadpool(_current, store, job_id)
    return rec


async def _wait_until_finished(request: Request, store, job_id: str, seconds: float) -> Response:
    """The job once it is finished, or as it is when ``seconds`` have passed."""
    async with request.app.state.job_watch.watch(changed_channel(job_id)) as changes:
        return job_response(await _await_finish(request, store, job_id, changes, seconds))


@router.get("/jobs/{job_id}", response_model=Job, summary="The job: status, stage, objects")
async def get_job(
    request: Request, job_id: str, _: ApiKeyDep, store: StoreDep,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S, description=(
        "long poll: answer as soon as the job has finished, or after this many seconds"))] = 0,
) -> Response:
    if wait <= 0:
        return job_response(await run_in_threadpool(_current, store, job_id))
    return await _wait_until_finished(request, store, job_id, wait)


def owner_of(client: str) -> str:
    """What a job stores of its submitter: a hash of the client id, never the address or key."""
    return hashlib.sha256(f"owner\x00{client}".encode()).hexdigest()[:32]


def _owned(store, job_id: str, client: str) -> JobRecord:
    rec = store.get(job_id) if _JOB_ID.match(job_id) else None
    if rec is None:
        raise ApiError(404, "job_not_found", "no such job (unknown, expired or deleted)")
    if rec.owner and not hmac.compare_digest(rec.owner, owner_of(client)):
        raise ApiError(403, "not_your_job", "only the client (API key or address) that submitted a job may change or delete it")
    return rec


def _delete_objects(storage, rec: JobRecord) -> int:
    """Delete the job's sketch, its strokes and crops (those it lists and any under its crop prefix)."""
    keys = {k for k in [rec.sketch_key, rec.strokes_key, *rec.crop_keys] if k}
    keys.update(storage.list(f"crops/{rec.id}/"))
    for k in keys:
        storage.delete(k)
    return len(keys)


def _delete_job(store, storage, rec: JobRecord) -> None:
    _delete_objects(storage, rec)  # S3 first: if it is down (503), the job is still there to retry
    store.delete(rec.id)  # no record: a stage still queued or running finds nothing and stops
    _delete_objects(storage, rec)  # what a running stage wrote in between


async def _delete_again_later(storage, rec: JobRecord, after_s: float) -> None:
    """One more pass after a stage that was running has surely finished writing its crops."""
    await asyncio.sleep(after_s)
    try:
        n = await run_in_threadpool(_delete_objects, storage, rec)
        if n:
            log.info("deleted %d late object(s) of deleted job %s", n, rec.id)
    except Exception as exc:
        log.warning("late cleanup of deleted job %s failed: %s", rec.id, type(exc).__name__)


_LATER: set[asyncio.Task] = set()


@router.delete("/jobs/{job_id}", status_code=204, response_class=Response,
               summary="Delete a job, its sketch and its crops (the submitting client only)",
               responses={204: {"description": "Deleted: nothing of the job is left in Redis or S3"},
                          403: {"model": ErrorBody, "description": "Another client's job"},
                          404: {"model": ErrorBody, "description": "No such job"}})
async def delete_job(request: Request, job_id: str, client: ClientDep, store: StoreDep,
                     storage: StorageDep) -> Response:
    rec = await run_in_threadpool(_owned, store, job_id, client)
    await run_in_threadpool(_delete_job, store, storage, rec)
    task = asyncio.create_task(_delete_again_later(storage, rec, request.app.state.settings.delete_recheck_s))
    _LATER.add(task)
    task.add_done_callback(_LATER.discard)
    return Response(status_code=204)
