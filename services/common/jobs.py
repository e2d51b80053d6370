"""Job records in Redis: one JSON document per job, with a TTL, updated atomically.

Keys (all under ``sketchref:``):

- ``job:<id>``: the :class:`JobRecord` as JSON, expiring ``ttl_s`` after creation (default 24 h);
  updates keep the TTL.
- ``jobs:active``: sorted set of unfinished job ids scored by their deadline (epoch seconds); the
  sweeper marks the overdue ones ``failed`` so no job stays ``running`` forever.
- ``jobs:quiet``: sorted set of unfinished job ids scored by the time of their last change. A job
  that has not changed for a while may have lost its message (Redis' transport pops a message before
  it records it as unacknowledged: a worker killed, or Redis itself killed, in between drops it);
  the sweeper sends its current stage again (:meth:`JobStore.requeue_stalled`) unless the message is
  still there, waiting in its queue or held by a worker (:func:`queued_messages`), so a job that only
  waits behind others is never sent twice and the threshold can be short.
- ``sweeper:leader``: which gateway replica runs the sweeps (:meth:`JobStore.lead`): a lock with a
  TTL (``SKETCHREF_SWEEP_LEADER_TTL_S``, default 15 s) that its holder renews on every sweep; when
  the holder dies, another replica takes over once it expires. Only the leader's
  :meth:`JobStore.sweep` and :meth:`JobStore.requeue_stalled` act; the others return nothing.
- ``idem:<hash>``: Idempotency-Key -> ``{"payload": sha256, "job": id}``, same TTL as jobs.
- ``metrics:jobs`` and ``metrics:stage:<stage>``: counters and histogram buckets the workers write
  and the gateway's ``/metrics`` reads (workers are separate processes).

Every change of a record is also published (inside the same transaction) on the pub/sub channel
``changed:<id>`` (:func:`change_message`: the new status, or the finished job itself), so a client
waiting on a job (``GET /v1/jobs/{id}?wait=``) is answered as soon as it finishes instead of polling.

Stage idempotency: a stage's result is written with :meth:`JobStore.complete_stage`, which applies
only while the job is still at that stage; a redelivered task finds the job past it and does not
write again (objects are replaced as a whole, never appended, so nothing is duplicated).
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable

from pydantic import Field

from .contracts import DetectedObject, Job, JobStatus, Stage, utcnow

PREFIX = "sketchref:"
ACTIVE = PREFIX + "jobs:active"
QUIET = PREFIX + "jobs:quiet"
JOB_METRICS = PREFIX + "metrics:jobs"
LEADER = PREFIX + "sweeper:leader"
# take the lock when free, renew it when ours; 1 when we lead
_LEAD_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""
DEFAULT_TTL_S = 24 * 3600
# Histogram buckets of stage latencies, in seconds.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
TERMINAL = (JobStatus.succeeded, JobStatus.failed)


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
    def __init__(self, redis_client, ttl_s: int = DEFAULT_TTL_S, leader_ttl_s: float = 15.0):
        self.r = redis_client
        self.ttl_s = int(ttl_s)
        self.leader_ttl_s = float(leader_ttl_s)  # the gateway's SKETCHREF_SWEEP_LEADER_TTL_S
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def lead(self) -> bool:
        """Take or renew the sweeper lock; True when this store is the one that sweeps."""
        ms = max(1, int(self.leader_ttl_s * 1000))
        return bool(self.r.eval(_LEAD_SCRIPT, 1, LEADER, self.owner, ms))

    # -- records ---------------------------------------------------------------------------------
    def create(self, job: JobRecord) -> None:
        data = job.model_dump_json()
        pipe = self.r.pipeline(transaction=True)
        pipe.set(job_key(job.id), data, ex=self.ttl_s, nx=True)
        pipe.zadd(ACTIVE, {job.id: job.deadline_at})
        pipe.zadd(QUIET, {job.id: time.time()})
        pipe.hincrby(JOB_METRICS, "created", 1)
        pipe.hincrby(JOB_METRICS, job.status.value, 1)
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
                       models: dict[str, str] | None = None) -> JobRecord | None:
        """Store the result of ``stage`` and move on, and count its latency in the stage histogram;
        returns the record as stored, or None when the job was not at that stage (nothing written)."""
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

        stored = self.update(job_id, change, also=lambda pipe: _observe(pipe, stage, elapsed_ms / 1000))
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
            pipe.delete(f"{PREFIX}idem:{rec.idempotency_hash}")
        pipe.execute()

    # -- deadlines ---------------------------------------------------------------------------------
    def sweep(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Mark every unfinished job past its deadline ``failed``; returns their ids (nothing unless
        this store leads: :meth:`lead`)."""
        if not self.lead():
            return []
        now = time.time() if now is None else now
        failed = []
        for raw in self.r.zrangebyscore(ACTIVE, "-inf", now, start=0, num=limit):
            job_id = raw.decode() if isinstance(raw, bytes) else raw
            rec = self.fail(job_id, "deadline exceeded: the job was not done in time")
            if rec is None or rec.status in TERMINAL:
                self.r.zrem(ACTIVE, job_id)  # expired or finished meanwhile
            if rec is not None and rec.status == JobStatus.failed:
                failed.append(job_id)
        return failed

    def requeue_stalled(self, older_than: float, max_requeues: int = 3, now: float | None = None,
                        limit: int = 100) -> list[tuple[str, str]]:
        """Unfinished jobs unchanged for ``older_than`` seconds whose message is gone (neither
        queued nor held by a worker): count a requeue on each (at most ``max_requeues`` per job;
        after that only the deadline ends it) and return ``(id, stage)`` pairs whose stage the
        caller sends again. A quiet job whose message is still there is looked at again
        ``older_than`` later. Only the leader (:meth:`lead`) does this."""
        if not self.lead():
            return []
        now = time.time() if now is None else now
        quiet = [raw.decode() if isinstance(raw, bytes) else raw
                 for raw in self.r.zrangebyscore(QUIET, "-inf", now - older_than, start=0, num=limit)]
        recs = {job_id: self.get(job_id) for job_id in quiet}
        present = set()
        if quiet:
            from .routing import queue_for

            # a canary version's stage waits in its own queue (classify@v4): look there too
            queues = {"detect", "classify", "recommend"} | {
                queue_for(r.stage.value, r.routes) for r in recs.values() if r is not None and r.stage.value != "done"}
            present = queued_messages(self.r, tuple(sorted(queues)))
        out = []
        for job_id in quiet:
            rec = recs[job_id]
            if rec is not None and rec.status not in TERMINAL and (rec.stage.value, job_id) in present:
                self.r.zadd(QUIET, {job_id: now}, xx=True)  # waiting its turn: not lost
                continue

            counted = False

            def change(j: JobRecord):
                nonlocal counted
                if j.status in TERMINAL or j.requeues >= max_requeues:
                    return None
                j.requeues += 1
                counted = True
                return j

            rec = self.update(job_id, change)
            if not counted:
                self.r.zrem(QUIET, job_id)  # gone, finished, or out of requeues: stop watching it
                continue
            out.append((job_id, rec.stage.value))
        return out

    def check_deadline(self, job: JobRecord, now: float | None = None) -> JobRecord:
        """The job, failed first if it is overdue (so a reader never sees a job stuck forever)."""
        now = time.time() if now is None else now
        if job.status not in TERMINAL and job.deadline_at and now > job.deadline_at:
            return self.fail(job.id, "deadline exceeded: the job was not done in time") or job
        return job

    # -- idempotency keys --------------------------------------------------------------------------
    def claim_idempotency_key(self, key_hash: str, payload_sha: str, job_id: str) -> tuple[str, str] | None:
        """Remember ``key -> (payload, job)``; returns the earlier ``(payload, job)`` if there was one."""
        key = f"{PREFIX}idem:{key_hash}"
        value = json.dumps({"payload": payload_sha, "job": job_id})
        if self.r.set(key, value, ex=self.ttl_s, nx=True):
            return None
        raw = self.r.get(key)
        if raw is None:  # expired in between: claim again
            return self.claim_idempotency_key(key_hash, payload_sha, job_id)
        old = json.loads(raw)
        return old["payload"], old["job"]

    def release_idempotency_key(self, key_hash: str, job_id: str) -> None:
        """Forget a claim whose job was never created (so a retry with the same key can succeed)."""
        key = f"{PREFIX}idem:{key_hash}"
        raw = self.r.get(key)
        if raw is not None and json.loads(raw)["job"] == job_id:
            self.r.delete(key)

    # -- metrics -----------------------------------------------------------------------------------
    def job_counts(self) -> dict[str, int]:
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in self.r.hgetall(JOB_METRICS).items()}

    def stage_histogram(self, stage: str) -> tuple[list[tuple[str, int]], float, int]:
        raw = {(k.decode() if isinstance(k, bytes) else k): v for k, v in
               self.r.hgetall(f"{PREFIX}metrics:stage:{stage}").items()}
        buckets = [(repr(b), int(raw.get(repr(b), 0))) for b in BUCKETS]
        count = int(raw.get("+Inf", 0))
        buckets.append(("+Inf", count))
        return buckets, float(raw.get("sum", 0.0)), count

    def active_count(self) -> int:
        return int(self.r.zcard(ACTIVE))


def _message_job(message: dict) -> str | None:
    """The job id a Celery message (kombu's Redis format, task protocol 2) carries."""
    import base64

    body = message.get("body", "")
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    try:
        args = json.loads(body)[0]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    return args[0] if args and isinstance(args[0], str) else None


def queued_messages(r, queues: tuple[str, ...] = ("detect", "classify", "recommend")) -> set[tuple[str, str]]:
    """``(stage, job id)`` of every message waiting in one of ``queues`` (kombu keeps a queue as a
    Redis list of its name; ``classify@v4`` counts as stage ``classify``) or delivered and not yet
    acknowledged (kombu's ``unacked`` hash)."""
    out = set()
    pipe = r.pipeline(transaction=False)
    for q in queues:
        pipe.lrange(q, 0, -1)
    pipe.hvals("unacked")
    *lists, unacked = pipe.execute()
    for q, items in zip(queues, lists, strict=True):
        for raw in items:
            job = _message_job(json.loads(raw))
            if job:
                out.add((q.split("@", 1)[0], job))
    for raw in unacked:
        message, _exchange, routing_key = json.loads(raw)
        job = _message_job(message)
        if job:
            out.add((str(routing_key).split("@", 1)[0], job))
    return out


def _observe(pipe, stage: str, seconds: float) -> None:
    """Count one ``stage`` latency in its histogram (cumulative buckets, sum) on ``pipe``."""
    key = f"{PREFIX}metrics:stage:{stage}"
    for b in BUCKETS:
        if seconds <= b:
            pipe.hincrby(key, repr(b), 1)
    pipe.hincrby(key, "+Inf", 1)
    pipe.hincrbyfloat(key, "sum", seconds)
