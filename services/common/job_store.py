"""The job store: job records in Redis, one JSON document per job, with a TTL, updated atomically.

Keys (all under ``sketchref:``):

- ``job:<id>``: the :class:`JobRecord` as JSON, expiring ``ttl_s`` after creation (default 24 h);
  updates keep the TTL.
- ``jobs:active``: sorted set of unfinished job ids scored by their deadline (epoch seconds), and
  ``jobs:quiet``: the same ids scored by the time of their last change; the sweeper
  (:mod:`services.common.sweeper`) reads both to fail overdue jobs and resend stalled ones.
- ``metrics:jobs``: how many jobs reached each status; the gateway's ``/metrics`` reads it. (Stage
  latencies are each worker's own Prometheus histogram: :mod:`services.common.worker_metrics`.)

Idempotency-Key claims live beside the records (:mod:`services.common.idempotency`); deleting a job
deletes its claim too.

Every change of a record is also published (inside the same transaction) on the pub/sub channel
``changed:<id>`` (:func:`change_message`: the new status, or the finished job itself), so a client
waiting on a job (``GET /v1/jobs/{id}?wait=``) is answered as soon as it finishes instead of polling.

Stage idempotency: a stage's result is written with :meth:`JobStore.complete_stage`, which applies
only while the job is still at that stage; a redelivered task finds the job past it and does not
write again (objects are replaced as a whole, never appended, so nothing is duplicated).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from pydantic import Field

from services.core.contracts import DetectedObject, Job, JobStatus, Stage, utcnow

from .idempotency import idempotency_key

PREFIX = "sketchref:"
ACTIVE = PREFIX + "jobs:active"
QUIET = PREFIX + "jobs:quiet"
JOB_METRICS = PREFIX + "metrics:jobs"
DEFAULT_TTL_S = 24 * 3600
TERMINAL = (JobStatus.succeeded, JobStatus.failed)
DEADLINE_EXCEEDED = "deadline exceeded: the job was not done in time"


class JobRecord(Job):
    """The stored job: the public :class:`Job` plus what the pipeline needs internally."""

    sketch_key: str = ""
    crop_keys: list[str] = Field(default_factory=list)
    deadline_at: float = 0.0
    started_at: float = 0.0
    created_ts: float = Field(default_factory=time.time)
    requeues: int = 0  # times the sweeper re-sent the current stage of this stalled job
    owner: str = ""  # a hash of the submitting client (API key id or address): who may delete it
    idempotency_hash: str = ""  # the ``idem:`` key that points at this job, if any
    routes: dict[str, str] = Field(default_factory=dict)  # canary versions chosen at submission (routing.py)
    picks: list[dict] = Field(default_factory=list)  # {"object", "label", "at"}: feedback for retraining

    def public(self) -> Job:
        return Job.model_validate(self.model_dump(include=set(Job.model_fields)))


def new_job_id() -> str:
    return uuid.uuid4().hex


def job_key(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def changed_channel(job_id: str) -> str:
    """The pub/sub channel on which every change of the job is announced (message: its status)."""
    return f"{PREFIX}changed:{job_id}"


def change_message(rec: JobRecord) -> str:
    """What ``changed:<id>`` carries: the status, or for a finished job the public job as JSON, which
    a waiting client is answered with as it is (no second read of the record)."""
    return rec.public().model_dump_json() if rec.status in TERMINAL else rec.status.value


def finished_job_json(message: bytes) -> bytes | None:
    """The finished job's JSON from a ``changed:<id>`` message; None for a mere status change."""
    return message if message[:1] == b"{" else None


class JobStore:
    def __init__(self, redis_client, ttl_s: int = DEFAULT_TTL_S):
        self.r = redis_client
        self.ttl_s = int(ttl_s)

    # -- records ---------------------------------------------------------------------------------
    def create(self, job: JobRecord, also: Callable[[object], None] | None = None) -> None:
        """Store a new record; ``also(pipe)`` adds commands to the same transaction (its first stage's
        message: services/common/queue.py::task_message)."""
        data = job.model_dump_json()
        pipe = self.r.pipeline(transaction=True)
        pipe.set(job_key(job.id), data, ex=self.ttl_s, nx=True)
        pipe.zadd(ACTIVE, {job.id: job.deadline_at})
        pipe.zadd(QUIET, {job.id: time.time()})
        pipe.hincrby(JOB_METRICS, "created", 1)
        pipe.hincrby(JOB_METRICS, job.status.value, 1)
        if also is not None:
            also(pipe)
        pipe.execute()

    def get(self, job_id: str) -> JobRecord | None:
        raw = self.r.get(job_key(job_id))
        return JobRecord.model_validate_json(raw) if raw else None

    def update(self, job_id: str, change: Callable[[JobRecord], JobRecord | None],
               also: Callable[[object], None] | None = None) -> JobRecord | None:
        """Apply ``change`` atomically (optimistic WATCH/MULTI, retried on conflict).

        ``change`` returns the new record, or None to leave it as it is. Returns the record as stored
        afterwards (None when the job does not exist). Terminal transitions update the metrics and
        leave the deadline set. ``also(pipe)`` adds commands to the same transaction when the record
        changes (one round trip instead of two).
        """
        key = job_key(job_id)
        import redis

        while True:
            with self.r.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if not raw:
                        pipe.unwatch()
                        return None
                    old = JobRecord.model_validate_json(raw)
                    new = change(JobRecord.model_validate_json(raw))  # a second parse: cheaper than a deep copy
                    if new is None:
                        pipe.unwatch()
                        return old
                    new.updated_at = utcnow()
                    pipe.multi()
                    pipe.set(key, new.model_dump_json(), keepttl=True)
                    if new.status != old.status:
                        pipe.hincrby(JOB_METRICS, new.status.value, 1)
                        if new.status in TERMINAL:
                            pipe.zrem(ACTIVE, job_id)
                    if new.status in TERMINAL:
                        pipe.zrem(QUIET, job_id)
                    else:
                        pipe.zadd(QUIET, {job_id: time.time()})
                    pipe.publish(changed_channel(job_id), change_message(new))
                    if also is not None:
                        also(pipe)
                    pipe.execute()
                    return new
                except redis.WatchError:
                    continue

    # -- stage transitions -------------------------------------------------------------------------
    def start_stage(self, job_id: str, stage: str) -> JobRecord | None:
        """Mark the job running at ``stage`` if it is there and not finished; returns the record."""

        def change(j: JobRecord):
            if j.status in TERMINAL or j.stage.value != stage or j.status == JobStatus.running and j.started_at:
                return None
            j.status = JobStatus.running
            j.started_at = j.started_at or time.time()
            return j

        return self.update(job_id, change)

    def complete_stage(self, job_id: str, stage: str, next_stage: str | None, objects: list[DetectedObject],
                       elapsed_ms: float, crop_keys: list[str] | None = None,
                       models: dict[str, str] | None = None,
                       also: Callable[[object], None] | None = None) -> JobRecord | None:
        """Store the result of ``stage`` (its time, ``elapsed_ms``, goes into the job's timings) and move
        on; returns the record as stored, or None when the job was not at that stage (nothing written).
        ``also(pipe)``: commands for the same transaction, run only when the result is stored (the next
        stage's message)."""
        applied = False

        def change(j: JobRecord):
            nonlocal applied
            if j.status in TERMINAL or j.stage.value != stage:
                return None
            applied = True
            j.objects = objects
            setattr(j.timings_ms, stage, round(elapsed_ms, 2))
            if crop_keys is not None:
                j.crop_keys = crop_keys
            if models:
                j.models = {**j.models, **models}
            if next_stage is None:
                j.stage = Stage.done
                j.status = JobStatus.succeeded
                j.timings_ms.total = round((time.time() - j.created_ts) * 1000, 2)
            else:
                j.stage = Stage(next_stage)
            return j

        stored = self.update(job_id, change, also)
        return stored if applied else None

    def pick_label(self, job_id: str, index: int, label: str, deadline_s: float) -> JobRecord | None:
        """Record that the user picked ``label`` for object ``index`` of a succeeded job, and send the
        job back to the recommend stage (queued) so that its references follow the pick. Returns the
        stored record, or None when the job is not (any longer) a succeeded one with that object."""
        applied = False

        def change(j: JobRecord):
            nonlocal applied
            if j.status != JobStatus.succeeded or not 0 <= index < len(j.objects):
                return None
            applied = True
            j.objects[index].picked_label = label
            j.picks.append({"object": index, "label": label, "at": utcnow()})
            j.status = JobStatus.queued
            j.stage = Stage.recommend
            j.started_at = 0.0
            j.requeues = 0
            j.deadline_at = time.time() + deadline_s
            return j

        def also(pipe):
            pipe.zadd(ACTIVE, {job_id: time.time() + deadline_s})

        stored = self.update(job_id, change, also=also)
        return stored if applied else None

    def fail(self, job_id: str, reason: str) -> JobRecord | None:
        """Mark an unfinished job failed with ``reason`` (a finished one is left as it is)."""

        def change(j: JobRecord):
            if j.status in TERMINAL:
                return None
            j.status = JobStatus.failed
            j.error = reason
            return j

        return self.update(job_id, change)

    def delete(self, job_id: str) -> None:
        """Remove every trace of the job in Redis: its record, its place in the active and quiet
        sets, and the Idempotency-Key that points at it. A stage message still queued for it then
        finds no job and does nothing (the worker logs it as missing)."""
        rec = self.get(job_id)
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(job_key(job_id))
        pipe.zrem(ACTIVE, job_id)
        pipe.zrem(QUIET, job_id)
        if rec is not None and rec.idempotency_hash:
            pipe.delete(idempotency_key(rec.idempotency_hash))
        pipe.execute()

    def check_deadline(self, job: JobRecord, now: float | None = None) -> JobRecord:
        """The job, failed first if it is overdue (so a reader never sees a job stuck forever)."""
        now = time.time() if now is None else now
        if job.status not in TERMINAL and job.deadline_at and now > job.deadline_at:
            return self.fail(job.id, DEADLINE_EXCEEDED) or job
        return job

    # -- metrics -----------------------------------------------------------------------------------
    def job_counts(self) -> dict[str, int]:
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in self.r.hgetall(JOB_METRICS).items()}

    def active_count(self) -> int:
        return int(self.r.zcard(ACTIVE))

