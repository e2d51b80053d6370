"""The job store: job records in Redis, one JSON document per job, with a TTL, updated atomically
(compare-and-set in one Lua script: :meth:`JobStore.update`).

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

Every change that finishes a job is also published (atomically with it) on the pub/sub channel
``changed:<id>`` (:func:`change_message`: the finished job itself), so a client waiting on a job
(``GET /v1/jobs/{id}?wait=``, ``Prefer: wait``) is answered as soon as it finishes instead of
polling. The changes in between are not: nobody waits for them, and each woke the gateway at the
moment the next stage started (three times a job).

Stage idempotency: a stage's result is written with :meth:`JobStore.complete_stage`, which applies
only while the job is still at that stage; a redelivered task finds the job past it and does not
write again (objects are replaced as a whole, never appended, so nothing is duplicated).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable

from pydantic import Field, PrivateAttr

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
    strokes_key: str = ""  # for a sketch drawn from strokes: the request body, kept for the classifier
    strokes_sha256: str = ""  # ...and its SHA-256 (an inline copy in a message is checked against it)
    crop_keys: list[str] = Field(default_factory=list)
    deadline_at: float = 0.0
    started_at: float = 0.0
    created_ts: float = Field(default_factory=time.time)
    requeues: int = 0  # times the sweeper re-sent the current stage of this stalled job
    owner: str = ""  # a hash of the submitting client (API key id or address): who may delete it
    idempotency_hash: str = ""  # the ``idem:`` key that points at this job, if any
    routes: dict[str, str] = Field(default_factory=dict)  # canary versions chosen at submission (routing.py)
    picks: list[dict] = Field(default_factory=list)  # {"object", "label", "at"}: feedback for retraining
    _raw: bytes | None = PrivateAttr(default=None)  # the JSON as read or written (JobStore.update's seen)

    def public(self) -> Job:
        return Job.model_validate(self.model_dump(include=set(Job.model_fields)))


def new_job_id() -> str:
    return uuid.uuid4().hex


def job_key(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def changed_channel(job_id: str) -> str:
    """The pub/sub channel on which the job's finishing is announced (:func:`change_message`)."""
    return f"{PREFIX}changed:{job_id}"


def change_message(rec: JobRecord) -> str:
    """What ``changed:<id>`` carries: for a finished job the public job as JSON, which a waiting client
    is answered with as it is (no second read of the record); else the status (published by earlier
    versions, which announced every change: a gateway still understands it)."""
    return rec.public().model_dump_json() if rec.status in TERMINAL else rec.status.value


def finished_job_json(message: bytes) -> bytes | None:
    """The finished job's JSON from a ``changed:<id>`` message; None for a mere status change."""
    return message if message[:1] == b"{" else None


# Replace a record only if it is still the one the caller read (the SHA-1 of its JSON), then run the
# commands that go with the change; all or nothing, one round trip. KEYS[1]: the record. ARGV[1]: the
# SHA-1 it must have, ARGV[2]: its new JSON (the TTL is kept), then the commands, each as its word
# count followed by its words. Returns 1 (done), 0 (changed meanwhile: nothing done), -1 (no record).
_SET_IF_UNCHANGED = """
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if redis.sha1hex(cur) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
local i = 3
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return 1
"""


class Commands:
    """Redis commands recorded to run inside :data:`_SET_IF_UNCHANGED` (the ``also`` of
    :meth:`JobStore.update`): the few that a change of a record brings with it."""

    def __init__(self) -> None:
        self.words: list = []

    def _add(self, *words) -> None:
        self.words += [len(words), *words]

    def lpush(self, name: str, *values) -> None:
        self._add("LPUSH", name, *values)

    def zadd(self, name: str, mapping: dict) -> None:
        self._add("ZADD", name, *(w for member, score in mapping.items() for w in (repr(float(score)), member)))

    def zrem(self, name: str, *members) -> None:
        self._add("ZREM", name, *members)

    def hincrby(self, name: str, key: str, amount: int = 1) -> None:
        self._add("HINCRBY", name, key, amount)

    def publish(self, channel: str, message) -> None:
        self._add("PUBLISH", channel, message)


class JobStore:
    def __init__(self, redis_client, ttl_s: int = DEFAULT_TTL_S):
        self.r = redis_client
        self.ttl_s = int(ttl_s)
        self._set_if_unchanged = redis_client.register_script(_SET_IF_UNCHANGED)

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
        """The record (keeping its JSON: ``seen`` of :meth:`update`), or None."""
        raw = self.r.get(job_key(job_id))
        if not raw:
            return None
        rec = JobRecord.model_validate_json(raw)
        rec._raw = raw
        return rec

    def update(self, job_id: str, change: Callable[[JobRecord], JobRecord | None],
               also: Callable[[object], None] | None = None, seen: JobRecord | None = None) -> JobRecord | None:
        """Apply ``change`` atomically: compare-and-set, retried on conflict.

        ``change`` returns the new record, or None to leave it as it is. Returns the record as stored
        afterwards (None when the job does not exist). Terminal transitions update the metrics and
        leave the deadline set. ``also(commands)`` adds commands (``lpush``, ``zadd``) that run with the
        change, atomically, only when the record changes. ``seen``: the record as this caller last
        read or wrote it (:meth:`get` and this method keep its JSON), tried first instead of reading it
        again; if the stored one is no longer that, it is read again and ``change`` applied to it.

        One round trip per attempt (:data:`_SET_IF_UNCHANGED`), where WATCH, GET and MULTI/EXEC took
        three: a stage's result and its next message are written in one.
        """
        key = job_key(job_id)
        raw = getattr(seen, "_raw", None) if seen is not None else None
        while True:
            fresh = raw is None
            if fresh:
                raw = self.r.get(key)
                if not raw:
                    return None
            old = JobRecord.model_validate_json(raw)
            new = change(JobRecord.model_validate_json(raw))  # a second parse: cheaper than a deep copy
            if new is None:
                if not fresh:  # "nothing to do" was decided on the caller's copy: decide on the stored one
                    raw = None
                    continue
                old._raw = raw
                return old
            new.updated_at = utcnow()
            data = new.model_dump_json()
            then = Commands()
            if new.status != old.status:
                then.hincrby(JOB_METRICS, new.status.value, 1)
                if new.status in TERMINAL:
                    then.zrem(ACTIVE, job_id)
            if new.status in TERMINAL:
                then.zrem(QUIET, job_id)
                then.publish(changed_channel(job_id), change_message(new))
            else:
                then.zadd(QUIET, {job_id: time.time()})
            if also is not None:
                also(then)
            expected = hashlib.sha1(raw, usedforsecurity=False).hexdigest()  # an equality check, not security
            done = self._set_if_unchanged(keys=[key], args=[expected, data, *then.words])
            if done == 1:
                new._raw = data.encode()
                return new
            if done == -1:  # deleted meanwhile
                return None
            raw = None  # changed meanwhile: read it again

    # -- stage transitions -------------------------------------------------------------------------
    def start_stage(self, job_id: str, stage: str, seen: JobRecord | None = None) -> JobRecord | None:
        """Mark the job running at ``stage`` if it is there and not finished; returns the record.
        ``seen``: as in :meth:`update`."""

        def change(j: JobRecord):
            if j.status in TERMINAL or j.stage.value != stage or j.status == JobStatus.running and j.started_at:
                return None
            j.status = JobStatus.running
            j.started_at = j.started_at or time.time()
            return j

        return self.update(job_id, change, seen=seen)

    def complete_stage(self, job_id: str, stage: str, next_stage: str | None, objects: list[DetectedObject],
                       elapsed_ms: float, crop_keys: list[str] | None = None,
                       models: dict[str, str] | None = None,
                       also: Callable[[object], None] | None = None,
                       seen: JobRecord | None = None) -> JobRecord | None:
        """Store the result of ``stage`` (its time, ``elapsed_ms``, goes into the job's timings) and move
        on; returns the record as stored, or None when the job was not at that stage (nothing written).
        ``also(commands)``: commands that run with the change, only when the result is stored (the next
        stage's message). ``seen``: as in :meth:`update`."""
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

        stored = self.update(job_id, change, also, seen)
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

        def also(then):
            then.zadd(ACTIVE, {job_id: time.time() + deadline_s})

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

