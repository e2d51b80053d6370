"""Retention: sketches and crops expire with their job, and nothing is left behind by a lost Redis.

A job record lives ``job_ttl_s`` (``SKETCHREF_JOB_TTL_S``, default 24 h) in Redis; its sketch
(``sketches/<id>.<ext>``) and crops (``crops/<id>/<i>.png``) live in S3, which does not know that
TTL. :func:`sweep` deletes, under those two prefixes only:

- every object older than ``job_ttl_s`` (its job has expired, or is about to);
- every object older than ``retention_orphan_grace_s`` (default 1 h) whose job record does not exist
  (Redis lost its data, or the job was deleted): no orphan outlives the grace period.

It runs in every worker's main process (:func:`make_bootstep`, a thread, every
``retention_interval_s``, default 10 min; 0 turns it off), and a round token in Redis
(``SET NX EX``) lets only one worker of the whole deployment sweep per interval. Any S3 server works
(no bucket lifecycle support needed); on a managed S3 a lifecycle rule expiring ``sketches/`` and
``crops/`` after a day is a good second line (docs/operators.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from .job_store import PREFIX, job_key
from .settings import CommonSettings

log = logging.getLogger("sketchref.retention")
PREFIXES = ("sketches/", "crops/")
ROUND = PREFIX + "retention:round"


def job_id_of(key: str) -> str | None:
    """The job a stored object belongs to (``sketches/<id>.png``, ``crops/<id>/0.png``)."""
    if key.startswith("sketches/"):
        name = key[len("sketches/"):]
        return name.split(".", 1)[0] or None if "/" not in name else None
    if key.startswith("crops/"):
        parts = key.split("/")
        return parts[1] or None if len(parts) >= 3 else None
    return None


def objects(storage, prefix: str) -> Iterator[tuple[str, float]]:
    """``(key, last modified epoch)`` of every object under ``prefix``, S3 or local folder."""
    client = getattr(storage, "client", None)
    if client is not None:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                yield o["Key"], o["LastModified"].timestamp()
        return
    for key in storage.list(prefix):
        yield key, storage._path(key).stat().st_mtime


def sweep(storage, redis_client, ttl_s: float, orphan_grace_s: float, now: float | None = None) -> list[str]:
    """Delete the expired and orphaned sketches and crops (see the module doc); returns their keys."""
    now = time.time() if now is None else now
    candidates: list[tuple[str, str | None, float]] = []
    for prefix in PREFIXES:
        for key, modified in objects(storage, prefix):
            age = now - modified
            if age > min(ttl_s, orphan_grace_s):
                candidates.append((key, job_id_of(key), age))
    ids = sorted({j for _, j, _ in candidates if j})
    pipe = redis_client.pipeline(transaction=False)
    for j in ids:
        pipe.exists(job_key(j))
    alive = {j for j, n in zip(ids, pipe.execute(), strict=True) if n}
    deleted = []
    for key, job_id, age in candidates:
        if age > ttl_s or (age > orphan_grace_s and job_id not in alive):
            storage.delete(key)
            deleted.append(key)
    return deleted


def run_round(storage, redis_client, rs: CommonSettings, now: float | None = None) -> list[str] | None:
    """One sweep if no other process swept in the last interval (the round token); None if skipped."""
    token_s = max(1, int(rs.retention_interval_s * 0.9))
    if not redis_client.set(ROUND, "1", nx=True, ex=token_s):
        return None
    return sweep(storage, redis_client, rs.job_ttl_s, rs.retention_orphan_grace_s, now)


def make_bootstep(rs: CommonSettings):
    """A Celery worker bootstep: the retention sweep every ``retention_interval_s`` in a thread."""
    from celery import bootsteps

    class RetentionSweeper(bootsteps.StartStopStep):
        label = "retention sweeper"

        def __init__(self, worker, **kwargs):
            self.stop_event = threading.Event()
            self.broker_url = worker.app.conf.broker_url

        def start(self, worker):
            if rs.retention_interval_s <= 0:
                return
            import redis

            from .storage import get_storage

            client = redis.Redis.from_url(self.broker_url, socket_timeout=10, socket_connect_timeout=3)

            def loop():
                storage = None
                while not self.stop_event.wait(rs.retention_interval_s):
                    try:
                        storage = storage or get_storage()
                        deleted = run_round(storage, client, rs)
                        if deleted:
                            log.info("retention: deleted %d expired or orphaned object(s)", len(deleted))
                    except Exception as exc:  # Redis or S3 down a moment: the next round tries again
                        log.warning("retention sweep skipped: %s", type(exc).__name__)

            threading.Thread(target=loop, name="retention-sweeper", daemon=True).start()

        def stop(self, worker):
            self.stop_event.set()

    return RetentionSweeper
