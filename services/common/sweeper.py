"""The sweeper: ends jobs past their deadline and sends again the stage of jobs whose message was lost.

Every gateway replica runs the sweep loop, but only one acts: ``sketchref:sweeper:leader`` is a lock
with a TTL (``SKETCHREF_GATEWAY_SWEEP_LEADER_TTL_S``, default 15 s) that its holder takes or renews on every
sweep (:meth:`Sweeper.lead`); when the holder dies, another replica takes over once it expires.

- Deadlines (:meth:`Sweeper.sweep`): every unfinished job in the store's ``jobs:active`` set (scored
  by its deadline) that is overdue is marked ``failed``, so no job stays ``running`` forever.
- Stalls (:meth:`Sweeper.requeue_stalled`): a job in ``jobs:quiet`` (scored by its last change) that
  has not changed for a while may have lost its message (Redis' transport pops a message before it
  records it as unacknowledged: a worker killed, or Redis itself killed, in between drops it). Its
  current stage is sent again unless the message is still there, waiting in its queue or held by a
  worker (:func:`queued_messages`), so a job that only waits behind others is never sent twice and
  the threshold can be short.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid

from services.core.contracts import JobStatus

from .job_store import ACTIVE, DEADLINE_EXCEEDED, PREFIX, QUIET, TERMINAL, JobRecord, JobStore
from .queue import QUEUES
from .routing import queue_for

LEADER = PREFIX + "sweeper:leader"
# take the lock when free, renew it when ours; 1 when we lead
_LEAD_SCRIPT = """
local v = redis.call('GET', KEYS[1])
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""


class Sweeper:
    def __init__(self, store: JobStore, leader_ttl_s: float = 15.0):
        self.store = store
        self.r = store.r
        self.leader_ttl_s = float(leader_ttl_s)  # the gateway's SKETCHREF_GATEWAY_SWEEP_LEADER_TTL_S
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def lead(self) -> bool:
        """Take or renew the sweeper lock; True when this sweeper is the one that sweeps."""
        ms = max(1, int(self.leader_ttl_s * 1000))
        return bool(self.r.eval(_LEAD_SCRIPT, 1, LEADER, self.owner, ms))

    def sweep(self, now: float | None = None, limit: int = 100) -> list[str]:
        """Mark every unfinished job past its deadline ``failed``; returns their ids (nothing unless
        this sweeper leads: :meth:`lead`)."""
        if not self.lead():
            return []
        now = time.time() if now is None else now
        failed = []
        for raw in self.r.zrangebyscore(ACTIVE, "-inf", now, start=0, num=limit):
            job_id = raw.decode() if isinstance(raw, bytes) else raw
            rec = self.store.fail(job_id, DEADLINE_EXCEEDED)
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
        recs = {job_id: self.store.get(job_id) for job_id in quiet}
        present = set()
        if quiet:
            # a canary version's stage waits in its own queue (classify@v4): look there too
            queues = set(QUEUES) | {
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

            rec = self.store.update(job_id, change)
            if not counted or rec is None:
                self.r.zrem(QUIET, job_id)  # gone, finished, or out of requeues: stop watching it
                continue
            out.append((job_id, rec.stage.value))
        return out


def _message_job(message: dict) -> str | None:
    """The job id a Celery message (kombu's Redis format, task protocol 2) carries."""
    body = message.get("body", "")
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    try:
        args = json.loads(body)[0]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    return args[0] if args and isinstance(args[0], str) else None


def queued_messages(r, queues: tuple[str, ...] = QUEUES) -> set[tuple[str, str]]:
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
